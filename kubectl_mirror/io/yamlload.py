"""Bounded YAML reading for every door YAML comes in by: render's files, the KRM function's
ResourceList, kustomize's exec-plugin stream, and YAML written inside marker values (transform rules).

The usual loaders are not safe on a repository many people can write to: an alias is expanded
every time the data is walked (a 600-byte "billion laughs" becomes gigabytes), merge keys copy
entries exponentially, PyYAML's pure composer recurses once per level and its C composer crashes
the process at ~100,000 levels, and every library's error message quotes the offending line (a
Secret's value, say). So libyaml's event parser (PyYAML's C extension, or PyYAML's pure-Python
parser where the extension is missing, as in the krew archive) feeds one iterative builder here:

- it builds JSON-like data straight from the events (dict, list, str, int, float, bool, None) with
  the YAML 1.2 core schema, as the ruamel loader used before did; timestamps stay the strings
  written (the API server stores strings), `!!binary` stays its base64 text, unknown tags are
  ignored (as kubectl does), and scalar keys that are not strings become their text;
- it counts the nodes aliases add, across everything one run reads, and stops past a budget;
- it stops past MAX_DEPTH levels;
- its messages give a line and column, never content (key names excepted);
- on request (`copy`), it notes each document's own text when writing that text out again is
  sure to read back as the value built (render --all copies unchanged inputs out that way).

It must not read files, print, or know what a Kubernetes object is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as ev

# Real manifests use anchors for a few repeated blocks (resources, env lists, labels): hundreds or
# thousands of nodes. A million added nodes is already ~100 MB and seconds for every consumer that
# walks the data, and as much as a plain 10 MB manifest holds: aliases may make the input no
# bigger than that. The budget is per run (every file render reads, or one ResourceList), so many
# small bombs cannot add up either.
MAX_ALIAS_NODES = 1_000_000
# Transform rules are at most a few KB of text; a hundred rules with values hold far fewer nodes.
MAX_ALIAS_NODES_IN_MARKER = 10_000
# Real manifests nest 10-30 levels (CRD schemas reach ~60). What reads the data afterwards
# recurses: PyYAML's representer (render --all, the KRM function's new items) takes 4 Python
# frames a level and stops at ~245 levels under the default recursion limit of 1,000. Deeper
# input is refused here, cleanly, before anything else sees it.
MAX_DEPTH = 200
# Integers longer than this stay the text written: Python refuses to print ints of more than
# 4,300 digits, and Kubernetes has no integer wider than 64 bits anyway.
_MAX_INT_BITS = 1024


def _libyaml_parser() -> Any:
    try:
        from yaml._yaml import CParser
    except ImportError:  # no libyaml (the krew archive is pure Python): PyYAML's own parser
        return None
    return CParser


_CParser: Any = _libyaml_parser()


class YamlError(ValueError):
    """Input YAML we will not read: one line, never quoting content. Not a MirrorError on purpose:
    callers add the file (documents), the item (krm) or the object and field (transform rules)."""

    def __init__(
        self,
        message: str,
        *,
        document: int = 0,
        line: int = 0,
        column: int = 0,
        path: tuple[Any, ...] = (),
        item: Any = None,
    ) -> None:
        self.message = message
        self.document = document
        self.line = line  # 1-based, 0 when unknown
        self.column = column
        self.path = path  # keys/indexes of the depth-1 and depth-2 nodes it happened in
        self.item = item  # what was read of that depth-2 node so far (krm names the item), if any
        where = [f"document {document}"] if document > 1 else []
        if line:
            where.append(f"line {line}, column {column}")
        super().__init__(": ".join([*where, message]) if where else message)


class BudgetExceeded(YamlError):
    """Aliases spent the run's budget: reading more files would only blame them for it."""


class AliasBudget:
    """How many more nodes aliases may add; one budget is shared by everything a run reads."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int = MAX_ALIAS_NODES) -> None:
        self.limit = limit
        self.left = limit


@dataclass(frozen=True)
class Span:
    """Where a node at depth 1 or 2 sits in the text: [start, end) character offsets, its first
    column, where its key starts (mapping entries), and whether it is a flow collection."""

    start: int
    end: int
    column: int
    key_start: int
    line: int
    flow: bool


@dataclass(frozen=True)
class Problem:
    """Content that has no JSON-like form (a recursive alias, a duplicate or non-scalar key, a bad
    merge), found inside the depth-2 node at `path`. Strict reading raises it instead."""

    path: tuple[Any, ...]
    line: int
    column: int
    message: str


@dataclass
class Document:
    value: Any
    index: int
    root_start: int = 0
    root_flow: bool = False
    spans: dict[tuple[Any, ...], Span] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # (offset of an alias, offset where its anchored node starts): a text slice holding the alias
    # but not the anchor cannot be copied out on its own.
    aliases: list[tuple[int, int]] = field(default_factory=list)
    # With `copy`: the document as written, from the line after its `---` (or the stream's start)
    # to where its root mapping ends, comments included; None unless that text reads back as
    # `value` under YAML 1.2 (this loader) and 1.1 (PyYAML, older kubectl) alike (_Builder.copying
    # and _document_text decide).
    text: str | None = None


# --- scalars: the YAML 1.2 core schema, as ruamel's resolver (the loader used before) has it ---

_INT = re.compile(r"[-+]?(?:0b[0-1_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)\Z")
_FLOAT = re.compile(
    r"(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
    r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)"
    r"|\.(?:nan|NaN|NAN))\Z"
)
_NULLS = frozenset(("~", "null", "Null", "NULL", ""))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}
_NUMERIC_START = frozenset("-+0123456789.")
_CORE = "tag:yaml.org,2002:"


def _int(text: str) -> Any:
    digits = text.replace("_", "")
    sign = -1 if digits[:1] == "-" else 1
    digits = digits.lstrip("+-") if digits[:1] in "+-" else digits
    try:
        if digits.startswith("0b"):
            value = int(digits[2:], 2)
        elif digits.startswith("0x"):
            value = int(digits[2:], 16)
        elif digits.startswith("0o"):
            value = int(digits[2:], 8)
        else:
            value = int(digits)
    except ValueError:  # "_", "0b_", more than 4,300 digits...: the text is the value
        return text
    return sign * value if value.bit_length() <= _MAX_INT_BITS else text


def _float(text: str) -> Any:
    lowered = text.replace("_", "").lower()
    try:
        if lowered.endswith(".nan"):
            return float("nan")
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        return float(lowered)
    except ValueError:
        return text


def _plain(text: str) -> Any:
    """The value of an untagged plain scalar."""
    if not text:
        return None
    first = text[0]
    if first in _NUMERIC_START:
        if _INT.match(text):
            return _int(text)
        if _FLOAT.match(text):
            return _float(text)
        return text
    if first in "tTfF":
        return _BOOLS.get(text, text)
    if first in "~nN" and text in _NULLS:
        return None
    return text


def reads_as_string(text: str) -> bool:
    """Whether `text` written as a plain scalar reads back as that string (YAML 1.2 core)."""
    return isinstance(_plain(text), str)


# What YAML 1.1 reads as something other than a string, by first character (PyYAML's table). Every
# first character the 1.2 core schema reads as something else is in it too: a plain scalar whose
# first character is not is a string in both.
_YAML_1_1: dict[str, tuple[re.Pattern[str], ...]] = {
    first: tuple(regexp for _, regexp in resolvers)
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?\Z")


def _reads_alike(text: str, value: Any) -> bool:
    """Whether the plain scalar `text`, read here as `value`, is read as that value by YAML 1.1
    too: no timestamp, `yes`, `0o17` or `1e5` that one version reads as a string and the other
    not. Numbers must be plain decimals (no `017`, which 1.1 reads as octal, no `_` or `+`)."""
    kind = type(value)
    if kind is str:
        resolvers = _YAML_1_1.get(text[:1])
        return resolvers is None or not any(regexp.match(text) for regexp in resolvers)
    if kind is int or kind is float:
        return _DECIMAL.match(text) is not None
    return True  # bool, None: the words the 1.2 core schema reads, 1.1 reads alike


def _tagged(tag: str, text: str) -> Any:
    """A scalar with an explicit tag. Only the core tags change the value; a timestamp stays the
    text written, `!!binary` its base64 text, and any other tag is ignored, as kubectl does."""
    if not tag.startswith(_CORE):
        return text
    name = tag[len(_CORE) :]
    if name == "int":
        return _int(text)
    if name == "float":
        return _float(text)
    if name == "bool":
        return _BOOL_WORDS.get(text.lower(), text)
    if name == "null":
        return None
    if name == "binary":
        return "".join(text.split())
    return text


# --- the builder -------------------------------------------------------------------------------


class _Open:
    """A collection being built."""

    __slots__ = (
        "anchor",
        "dupes",
        "flow",
        "is_map",
        "key",
        "key_mark",
        "key_start",
        "merges",
        "pairs",
        "seen",
        "size",
        "slot",
        "start",
        "values",
    )

    def __init__(self, is_map: bool, slot: Any, start: Any, anchor: str | None, flow: bool) -> None:
        self.is_map = is_map
        self.slot = slot  # key or index in the parent
        self.start = start  # start mark
        self.anchor = anchor
        self.flow = flow
        self.size = 1
        self.values: list[Any] = []
        self.pairs: list[tuple[str, Any]] = []
        self.merges: list[tuple[Any, Any]] = []  # (value, mark)
        self.seen: dict[str, int] = {}  # key -> line of its first occurrence
        self.dupes: list[tuple[str, Any, int]] = []
        self.key: Any = _NO_KEY
        self.key_mark: Any = None
        self.key_start = -1


class _NoKey:
    pass


_NO_KEY: Any = _NoKey()
_MERGE: Any = object()  # the `<<` key
_BAD_KEY: Any = object()  # a key with no string form (a problem is recorded)
_RECURSIVE = "<recursive alias>"  # what a recursive alias reads as, beside its problem


@dataclass
class _Anchor:
    value: Any
    size: int
    start: int
    open: bool


class _Builder:
    """Turns one document's events into data. `strict` raises the first problem; otherwise
    problems are recorded against the depth-2 node they are in (the KRM function passes such
    items through as written) and only problems outside one are raised."""

    def __init__(
        self, *, budget: AliasBudget, index: int, outline: bool, strict: bool, copying: bool = False
    ) -> None:
        self.budget = budget
        self.index = index
        self.outline = outline
        self.strict = strict
        # Still sure the text reads back as the value built: anchors, aliases, merge keys, tags
        # and plain scalars the two YAML versions read apart each turn it off (checks then stop).
        self.copying = copying
        self.root_end = -1
        self.stack: list[_Open] = []
        self.anchors: dict[str, _Anchor] = {}
        self.doc = Document(value=None, index=index)

    # errors

    def fail(self, message: str, mark: Any, kind: type[YamlError] = YamlError) -> YamlError:
        return kind(
            message,
            document=self.index,
            line=mark.line + 1 if mark is not None else 0,
            column=mark.column + 1 if mark is not None else 0,
            path=tuple(f.slot for f in self.stack[1:3]),
            item=self._partial_item(),
        )

    def _partial_item(self) -> Any:
        if len(self.stack) < 3:
            return None
        frame = self.stack[2]
        return dict(frame.pairs) if frame.is_map else None

    def problem(self, message: str, mark: Any) -> None:
        path = tuple(f.slot for f in self.stack[1:3])
        if self.strict or len(path) < 2:
            raise self.fail(message, mark)
        self.doc.problems.append(Problem(path, mark.line + 1, mark.column + 1, message))

    # events

    def scalar(self, event: Any) -> None:
        stack = self.stack
        parent = stack[-1] if stack else None
        if parent is not None and parent.is_map and parent.key is _NO_KEY:
            text = event.value
            if text == "<<" and event.tag is None and event.implicit[0]:
                self.take_key(parent, _MERGE, event)
            else:
                self.take_key(parent, text, event)
            if self.copying and not _key_reads_alike(event):
                self.copying = False
            if event.anchor is not None:
                self.anchors[event.anchor] = _Anchor(text, 1, event.start_mark.index, False)
            return
        tag = event.tag
        if tag is None and event.implicit[0]:
            value = _plain(event.value)
            if self.copying and event.value[:1] in _YAML_1_1 and not _reads_alike(event.value, value):
                self.copying = False
        elif tag is None or tag == "!":
            value = event.value
            self.copying = self.copying and tag is None
        else:
            value = _tagged(tag, event.value)
            self.copying = False
        if event.anchor is not None:
            self.copying = False
            self.anchors[event.anchor] = _Anchor(value, 1, event.start_mark.index, False)
        self.add(value, 1, event.start_mark, event.end_mark, flow=False)

    def alias(self, event: Any) -> None:
        mark = event.start_mark
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise self.fail("an alias refers to an anchor not defined before it", mark)
        self.copying = False
        if self.outline:
            self.doc.aliases.append((mark.index, anchor.start))
        if anchor.open:
            self.problem("recursive alias (a node that contains itself)", mark)
            value, size = _RECURSIVE, 1
        else:
            value, size = anchor.value, anchor.size
            self.budget.left -= size
            if self.budget.left < 0:
                message = f"aliases expand the input past {self.budget.limit:,} nodes (an alias bomb?)"
                raise self.fail(message, mark, BudgetExceeded)
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.is_map and parent.key is _NO_KEY:
            self.take_key(parent, value if isinstance(value, str) else _BAD_KEY, event)
            return
        self.add(value, size, mark, event.end_mark, flow=False)

    def start(self, event: Any, *, is_map: bool) -> None:
        stack = self.stack
        if len(stack) >= MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        slot: Any = None
        if stack:
            parent = stack[-1]
            if parent.is_map:
                if parent.key is _NO_KEY:
                    # A collection as a key: built (to stay in step with the events), then dropped.
                    self.problem("a mapping key must be a scalar", event.start_mark)
                slot = parent.key
            else:
                slot = len(parent.values)
        frame = _Open(is_map, slot, event.start_mark, event.anchor, bool(event.flow_style))
        if self.copying and (event.anchor is not None or event.tag is not None):
            self.copying = False
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchor(None, 0, event.start_mark.index, True)
        stack.append(frame)

    def end(self, event: Any) -> None:
        frame = self.stack[-1]
        value: Any = self.mapping(frame) if frame.is_map else frame.values
        if frame.anchor is not None:
            anchor = self.anchors.get(frame.anchor)
            if anchor is not None and anchor.open and anchor.start == frame.start.index:
                anchor.value, anchor.size, anchor.open = value, frame.size, False
        self.stack.pop()
        self.add(value, frame.size, frame.start, event.end_mark, flow=frame.flow)

    def mapping(self, frame: _Open) -> dict[str, Any]:
        for key, mark, first_line in frame.dupes:
            self.problem(f"duplicate key {_show(key)} (first at line {first_line})", mark)
        if not frame.merges:
            return dict(frame.pairs)
        merged: dict[str, Any] = {}
        for value, mark in reversed(frame.merges):
            sources = value if isinstance(value, list) else [value]
            for source in reversed(sources):
                if not isinstance(source, dict):
                    self.problem("a merge key (<<) takes a mapping or a list of mappings", mark)
                    continue
                merged.update(source)
        merged.update(frame.pairs)
        return merged

    def take_key(self, parent: _Open, key: Any, event: Any) -> None:
        mark = event.start_mark
        if key is _BAD_KEY:
            self.problem("a mapping key must be a string", mark)
        elif key is not _MERGE:
            first = parent.seen.get(key)
            if first is not None:
                parent.dupes.append((key, mark, first))
            else:
                parent.seen[key] = mark.line + 1
        parent.key, parent.key_mark, parent.key_start = key, mark, mark.index
        parent.size += 1

    def add(self, value: Any, size: int, start: Any, end: Any, *, flow: bool) -> None:
        stack = self.stack
        if not stack:
            self.doc.value = value
            self.doc.root_start = start.index
            self.doc.root_flow = flow
            self.root_end = end.index
            return
        parent = stack[-1]
        parent.size += size
        if not parent.is_map:
            if self.outline and len(stack) <= 2:
                self.record(parent, start, end, flow)
            parent.values.append(value)
            return
        key = parent.key
        if key is _NO_KEY:  # the collection that just ended was a key (its problem is recorded)
            parent.key, parent.key_mark, parent.key_start = _BAD_KEY, start, start.index
            return
        if self.outline and len(stack) <= 2:
            self.record(parent, start, end, flow)
        parent.key = _NO_KEY
        if key is _MERGE:
            parent.merges.append((value, parent.key_mark))
        elif key is not _BAD_KEY:
            parent.pairs.append((key, value))

    def record(self, parent: _Open, start: Any, end: Any, flow: bool) -> None:
        slot = parent.key if parent.is_map else len(parent.values)
        if slot is _MERGE or slot is _BAD_KEY:
            return
        path = (slot,) if len(self.stack) == 1 else (self.stack[1].slot, slot)
        key_start = parent.key_start if parent.is_map else start.index
        self.doc.spans[path] = Span(start.index, end.index, start.column, key_start, start.line + 1, flow)


def _key_reads_alike(event: Any) -> bool:
    """A scalar key every reader takes for the same string: no tag or anchor, and quoted, or
    plain text that YAML 1.1 and 1.2 both read as that string (not `1`, `null`, `on`, `<<`)."""
    if event.tag is not None or event.anchor is not None:
        return False
    text = event.value
    if not event.implicit[0] or text[:1] not in _YAML_1_1:
        return True
    value = _plain(text)
    return type(value) is str and _reads_alike(text, value)


def _show(key: str) -> str:
    """A key for a message: quoted, control characters escaped, long ones cut."""
    text = key if len(key) <= 60 else key[:57] + "..."
    return repr(text)


# --- parsers and errors ------------------------------------------------------------------------


class _PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def _parser(text: str, *, pure: bool = False) -> Any:
    if _CParser is not None and not pure:
        return _CParser(text)
    return _PyParser(text)


# A quoted piece of a parser message is either an indicator ('-', ',', ']'...) or a token name
# ('<block end>'), which stay, or the input's own text (a character, an escape, a tag): dropped.
_QUOTED = re.compile(r"""\s*('[^']*'|"[^"]*")""")
_INDICATORS = frozenset("-?:,[]{}#&*!|>%@`")


def _clean(problem: str | None) -> str:
    def keep(match: re.Match[str]) -> str:
        inner = match.group(1)[1:-1]
        token = inner.startswith("<") and inner.endswith(">")
        return match.group(0) if token or (inner and set(inner) <= _INDICATORS) else ""

    text = _QUOTED.sub(keep, problem or "invalid YAML")
    return " ".join(text.split()) or "invalid YAML"


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _syntax_error(err: Exception, text: str, document: int) -> YamlError:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = _clean(err.problem or err.context)
        if mark is not None and text[mark.index : mark.index + 1] == "\t":
            problem += " (a tab: indent with spaces)"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        return YamlError(f"invalid YAML: {problem}", document=document, line=line, column=column)
    if isinstance(err, yaml.reader.ReaderError):
        line, column = _line_column(text, err.position)
        reason = _clean(err.reason)
        return YamlError(f"invalid YAML: {reason}", document=document, line=line, column=column)
    if isinstance(err, UnicodeError):  # a lone surrogate cannot be handed to libyaml
        return YamlError("invalid YAML: the text is not valid Unicode", document=document)
    return YamlError(f"invalid YAML: {type(err).__name__}", document=document)


def _strip_bom(text: str) -> str:
    # libyaml skips a byte-order mark without counting it in offsets; PyYAML counts it.
    return text[1:] if text[:1] == "\ufeff" else text


def iter_documents(
    text: str,
    *,
    budget: AliasBudget,
    outline: bool = False,
    strict: bool = True,
    pure: bool = False,
    copy: bool = False,
) -> Iterator[Document]:
    """Every document of a stream, in order; raises YamlError (never another YAML error).
    `outline` records spans and aliases (the KRM function copies unchanged items out of the
    text); `copy` sets each document's `text` where it can stand for the value (render --all);
    `pure` forces PyYAML's pure-Python parser (tests of the krew archive's path)."""
    text = _strip_bom(text)
    try:
        parser = _parser(text, pure=pure)
    except (yaml.YAMLError, UnicodeError) as err:
        raise _syntax_error(err, text, 1) from None
    index = 0
    builder: _Builder | None = None
    head = -1  # where the current document's own text starts (copy), -1 if it cannot be copied
    get = parser.get_event
    scalar_event, alias_event = ev.ScalarEvent, ev.AliasEvent
    seq_start, map_start = ev.SequenceStartEvent, ev.MappingStartEvent
    seq_end, map_end = ev.SequenceEndEvent, ev.MappingEndEvent
    doc_start, doc_end = ev.DocumentStartEvent, ev.DocumentEndEvent
    try:
        while True:
            try:
                event = get()
            except (yaml.YAMLError, UnicodeError) as err:
                raise _syntax_error(err, text, max(index, 1)) from None
            kind = type(event)
            if builder is not None:
                if kind is scalar_event:
                    builder.scalar(event)
                elif kind is seq_end or kind is map_end:
                    builder.end(event)
                elif kind is map_start:
                    builder.start(event, is_map=True)
                elif kind is seq_start:
                    builder.start(event, is_map=False)
                elif kind is alias_event:
                    builder.alias(event)
                elif kind is doc_end:
                    if builder.copying:
                        builder.doc.text = _document_text(text, builder, head)
                    yield builder.doc
                    builder = None
                continue
            if kind is doc_start:
                index += 1
                head = _head(text, event, index) if copy else -1
                builder = _Builder(
                    budget=budget, index=index, outline=outline, strict=strict, copying=head >= 0
                )
            elif kind is ev.StreamEndEvent:
                return
    except RecursionError:  # not expected (nothing here recurses), but never a traceback
        raise YamlError("nested too deeply", document=max(index, 1)) from None
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()


# --- a document's own text (copy) ----------------------------------------------------------------

# Line breaks the parser normalizes (CR, NEL, LS, PS) and byte-order marks: a text holding any of
# them would not come out as it reads.
_NON_ASCII_NOT_AS_WRITTEN = ("\x85", "\u2028", "\u2029", "\ufeff")
_NEXT_DOCUMENT = ("---", "...", "%")


def _head(text: str, event: Any, index: int) -> int:
    """Where a document's own text starts: the line after its `---`, or the stream's start for a
    first document without one; -1 when it cannot be copied (directives, content after `---`)."""
    if event.version is not None or event.tags:
        return -1  # %YAML / %TAG directives change how the text reads
    if not event.explicit:
        return 0 if index == 1 else -1
    after = event.end_mark.index
    stop = text.find("\n", after)
    rest = text[after:] if stop < 0 else text[after:stop]
    if rest.strip(" \t") and not rest.lstrip(" \t").startswith("#"):
        return -1  # `--- {a: 1}`, `--- !!map`, `--- |`: the root starts on the `---` line
    return -1 if stop < 0 else stop + 1


def _document_text(text: str, builder: _Builder, head: int) -> str | None:
    """The document's text from `head` to where its root ends, if it can be written after a
    `---` line of its own and read back as the same value; None otherwise."""
    doc, start, end = builder.doc, builder.doc.root_start, builder.root_end
    if type(doc.value) is not dict or doc.root_flow or not head <= start < end <= len(text):
        return None  # only block mappings: JSON or flow documents are dumped as YAML
    if start > 0 and text[start - 1] != "\n":
        return None  # the root mapping must start at column 0
    if end < len(text) and not text.startswith(_NEXT_DOCUMENT, end):
        return None  # not where a document ends: the offsets are not what they should be
    if not all(line.lstrip(" \t")[:1] in ("", "#") for line in text[head:start].split("\n")):
        return None  # only comments may come before the root (never `...`)
    body = text[head:end]
    # Without its final line break, a last `key: |` would gain one if a line break were added.
    if not body.endswith("\n") or "\r" in body:
        return None
    if not body.isascii() and any(char in body for char in _NON_ASCII_NOT_AS_WRITTEN):
        return None
    return body


def load_all(text: str, *, budget: AliasBudget, pure: bool = False) -> list[Any]:
    """The values of every document of a stream (empty documents are None)."""
    return [doc.value for doc in iter_documents(text, budget=budget, pure=pure)]


def load_one(text: str, *, budget: AliasBudget, outline: bool = False, strict: bool = True) -> Document:
    """A stream that must hold exactly one document."""
    docs = iter_documents(text, budget=budget, outline=outline, strict=strict)
    first = next(docs, None)
    if first is None:
        return Document(value=None, index=1)
    second = next(docs, None)
    if second is not None:
        raise YamlError("expected one YAML document, found more", document=2)
    return first


def load_marker_value(text: str) -> Any:
    """YAML written inside an annotation (transform rules): its own small alias budget."""
    return load_one(text, budget=AliasBudget(MAX_ALIAS_NODES_IN_MARKER)).value
