"""The KRM function's ResourceList as text: read once, written back mostly by copying.

kpt round-trips every item through the function, so items must come out as they went in:
comments, quoting, key order, anchors. Re-serializing them (ruamel's round-trip mode did) is
slow, about 2 s per MB. Instead the input is read once with the bounded loader, which also notes
where each item sits in the text, and the output copies each item the function returned
unchanged (the same object it was given) from the input text; only new or replaced items are
dumped. The assembled text is parsed again and compared with what it must hold; if anything
differs (a layout this copying does not cover), the whole list is dumped from data instead,
unless an unreadable item (below) is in it: that is an error, never a rewrite.

An item that has no JSON-like form (a recursive alias, a duplicate key...) is still copied
through as written; the engine sees what could be read of it, and if a new item takes its kind
and name (it was mirrored), that is an error: its content cannot be trusted.

Must not: know what the function does to items (krm.process decides), print, or read files.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kubectl_mirror.io import emit
from kubectl_mirror.io.yamlload import (
    AliasBudget,
    Document,
    Problem,
    Span,
    YamlError,
    load_one,
)

ITEMS = "items"
RESULTS = "results"


_Dumper = emit._MirrorDumper  # quotes what YAML 1.1 or 1.2 would not read back as a string


_OPTIONS: dict[str, Any] = {
    "Dumper": _Dumper,
    "sort_keys": False,
    "default_flow_style": False,
    "allow_unicode": True,
    "width": 1 << 30,
}


def to_yaml(obj: Any) -> str:
    return str(yaml.dump(obj, **_OPTIONS))


def to_yaml_stream(objs: Sequence[Any]) -> str:
    """Documents each after a `---` (kustomize's exec-plugin protocol)."""
    return str(yaml.dump_all(objs, explicit_start=True, **_OPTIONS)) if objs else ""


@dataclass(frozen=True)
class ResourceListText:
    """A ResourceList read from `text`: its data, and where its items are in the text."""

    text: str
    doc: Document
    items: list[Any]  # what the function gets: the items as read (unreadable parts replaced)
    unreadable: dict[int, Problem]  # item index -> the first problem that made it unreadable

    @property
    def value(self) -> Any:
        return self.doc.value

    def index_of(self) -> dict[int, int]:
        """id(item object) -> its index in the input."""
        return {id(item): i for i, item in enumerate(self.items)}


def read(text: str) -> ResourceListText:
    """Raises YamlError for input that is not YAML, too big to expand, or unreadable outside the
    items (a duplicate key in functionConfig, say)."""
    doc = load_one(text, budget=AliasBudget(), outline=True, strict=False)
    unreadable: dict[int, Problem] = {}
    for problem in doc.problems:
        if problem.path[0] != ITEMS or not isinstance(problem.path[1], int):
            raise YamlError(problem.message, line=problem.line, column=problem.column)
        unreadable.setdefault(problem.path[1], problem)
    items = doc.value.get(ITEMS) if isinstance(doc.value, dict) else None
    return ResourceListText(text, doc, items if isinstance(items, list) else [], unreadable)


# --- writing -----------------------------------------------------------------------------------


def write(source: ResourceListText, items: Sequence[Any], results: list[dict[str, Any]] | None) -> str:
    """The output ResourceList: `items` (input objects are copied from the text), `results` if
    given (else the input's, if any). Falls back to dumping everything when copying would not
    give back the same data."""
    copied = _copy_out(source, items, results)
    if copied is not None and _reads_back(copied, source, items, results):
        return copied
    given = {id(item) for item in items}
    for index in sorted(source.unreadable):
        if id(source.items[index]) in given:
            raise _not_copyable(source, index)
    return _dump_all(source, items, results)


def _not_copyable(source: ResourceListText, index: int) -> YamlError:
    """An unreadable item must be copied as written: dumping it would write what could be read."""
    problem = source.unreadable[index]
    return YamlError(
        f"items[{index}] cannot be passed through: {problem.message}, and its text cannot be copied "
        "out on its own (it uses an anchor defined outside it)",
        line=problem.line,
        column=problem.column,
    )


def _copy_out(
    source: ResourceListText, items: Sequence[Any], results: list[dict[str, Any]] | None
) -> str | None:
    doc, text = source.doc, source.text
    if not isinstance(doc.value, dict):
        return None
    parts = [_prefix(text[: doc.root_start])]
    index_of = source.index_of()
    for key, value in doc.value.items():
        if key == ITEMS:
            parts.append(_items_text(source, items, index_of))
        elif key == RESULTS and results is not None:
            parts.append(to_yaml({RESULTS: results}))
        else:
            parts.append(_entry_text(source, (key,)) or to_yaml({key: value}))
    if ITEMS not in doc.value:
        parts.append(_items_text(source, items, index_of))
    if RESULTS not in doc.value and results is not None:
        parts.append(to_yaml({RESULTS: results}))
    return "".join(parts)


def _prefix(before_root: str) -> str:
    """Comments, directives and `---` before the root, on lines of their own."""
    if before_root and not before_root.endswith("\n"):
        return before_root + "\n"
    return before_root


def _items_text(source: ResourceListText, items: Sequence[Any], index_of: dict[int, int]) -> str:
    if not items:
        return f"{ITEMS}: []\n"
    entries: list[str] = [f"{ITEMS}:\n"]
    for item in items:
        index = index_of.get(id(item))
        copied = _item_text(source, index) if index is not None else None
        if copied is None and index in source.unreadable:
            raise _not_copyable(source, index)
        entries.append(copied if copied is not None else _entry(to_yaml(item)))
    return "".join(entries)


def _entry(dumped: str) -> str:
    """A dumped object as an entry of a block sequence at column 0."""
    lines = dumped.splitlines(keepends=True)
    return "- " + lines[0] + "".join("  " + line if line.strip() else line for line in lines[1:])


def _item_text(source: ResourceListText, index: int) -> str | None:
    """Item `index` as written, as an entry of a block sequence at column 0; None if its text
    cannot stand alone (it uses an anchor defined outside it, or sits at column 0)."""
    span = source.doc.spans.get((ITEMS, index))
    if span is None or not _self_contained(source.doc, span):
        return None
    body = _trimmed(source.text[span.start : _line_comment_end(source.text, span.end)])
    if "\n" not in body[:-1]:
        return "- " + body
    if span.column >= 2:
        return "-" + " " * (span.column - 1) + body
    if span.column == 1:
        return "-\n " + body
    return None


def _entry_text(source: ResourceListText, path: tuple[Any, ...]) -> str | None:
    """A top-level entry (`key: value`) of a block mapping as written, starting at column 0."""
    span = source.doc.spans.get(path)
    if source.doc.root_flow or span is None or not _self_contained(source.doc, span, start=span.key_start):
        return None
    return _trimmed(source.text[span.key_start : _line_comment_end(source.text, span.end)])


def _line_comment_end(text: str, end: int) -> int:
    """`end`, or past the comment that follows it on the same line (`name: a  # why`)."""
    stop = text.find("\n", end)
    stop = len(text) if stop < 0 else stop
    rest = text[end:stop]
    return stop if rest[:1] in (" ", "\t") and rest.lstrip(" \t").startswith("#") else end


def _trimmed(text: str) -> str:
    """The text ending with one line break: a span ends where the next token starts, so it may
    end with that token's indentation."""
    cut = text.rfind("\n")
    if cut >= 0 and not text[cut + 1 :].strip(" \t"):
        return text[: cut + 1]
    return text + "\n"


def _self_contained(doc: Document, span: Span, *, start: int | None = None) -> bool:
    """No alias in the span refers to an anchor outside it (aliases are in text order)."""
    begin = span.start if start is None else start
    first = bisect.bisect_left(doc.aliases, (begin, -1))
    last = bisect.bisect_left(doc.aliases, (span.end, -1))
    return all(begin <= anchor < span.end for _, anchor in doc.aliases[first:last])


def _dump_all(source: ResourceListText, items: Sequence[Any], results: list[dict[str, Any]] | None) -> str:
    value = source.value if isinstance(source.value, dict) else {}
    out = {**value, ITEMS: list(items)}
    if results is not None:
        out[RESULTS] = results
    return to_yaml(out)


def _reads_back(
    text: str, source: ResourceListText, items: Sequence[Any], results: list[dict[str, Any]] | None
) -> bool:
    """The assembled text holds exactly the items (and results) it was built from."""
    try:
        again = read(text)
    except YamlError:
        return False
    value = again.value
    if not isinstance(value, dict) or len(again.items) != len(items):
        return False
    if results is not None and value.get(RESULTS) != results:
        return False
    copied_unreadable = {id(source.items[i]) for i in source.unreadable}
    return all(
        id(want) in copied_unreadable or got == want for got, want in zip(again.items, items, strict=True)
    )


def same_kind_and_name(items: Iterable[Any], key: tuple[str, str, str]) -> bool:
    """Does any of `items` have this (group, kind, name)?"""
    return any(kind_and_name(item) == key for item in items)


def kind_and_name(item: Any) -> tuple[str, str, str] | None:
    if not isinstance(item, dict):
        return None
    api_version, meta = item.get("apiVersion"), item.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(api_version, str) or not isinstance(name, str):
        return None
    group = api_version.rpartition("/")[0]
    return group, str(item.get("kind")), name
