"""Reading input objects from YAML/JSON files, directories and stdin.

Multi-document streams and `kind: List` are flattened; every object remembers its file so
errors can name it. Parsing is io.yamlload's (bounded, fast, never quoting content); its errors
become `InputError`s with the file, document and line.

With `keep_text`, an object that is a whole document of its own also keeps that document's text
when writing the text out again reads back as the object (yamlload decides; see `TextItem`).

Every file is read even after one fails, so one run names every unreadable file; but the run
then fails as a whole: rendering without a file would drop its sources' mirrors (and --output-dir
would delete their files) and its Namespaces from every target list.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_mirror.engine.plan import Item
from kubectl_mirror.errors import InputError, Ref
from kubectl_mirror.io.yamlload import AliasBudget, BudgetExceeded, YamlError, iter_documents

YAML_SUFFIXES = (".yaml", ".yml", ".json")
_NAMED_FAILURES = 3  # unreadable files named in the error besides the first


@dataclass(frozen=True)
class TextItem(Item):
    """An Item with its document's text as written (comments included), for render --all to copy
    out instead of dumping `obj`: set only where that text reads back as `obj`."""

    text: str | None = None


def parse_stream(
    text: str, file: str, *, budget: AliasBudget | None = None, keep_text: bool = False
) -> list[Item]:
    """All objects in one YAML/JSON stream; empty documents are skipped."""
    try:
        docs = list(iter_documents(text, budget=budget or AliasBudget(), copy=keep_text))
    except YamlError as err:
        raise InputError(str(err), Ref(file=file)) from err
    items: list[Item] = []
    for doc in docs:
        if doc.value is None:
            continue
        items.extend(_flatten(doc.value, file, doc.text))
    return items


def _flatten(doc: Any, file: str, text: str | None) -> Iterable[Item]:
    if isinstance(doc, dict) and doc.get("kind") == "List" and "items" in doc:
        entries = doc.get("items")
        if not isinstance(entries, list):
            raise InputError("must be a list", Ref.of(doc, file=file), "items")
        for entry in entries:
            yield Item(entry, file)  # the List's text is not its items'
    elif text is not None:
        yield TextItem(doc, file, text)
    else:
        yield Item(doc, file)


def _files_under(path: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root, f) for f in sorted(files) if f.endswith(YAML_SUFFIXES))
    return found


def _read(path: Path | None, shown: str) -> str:
    """A file's text, or stdin's when `path` is None."""
    try:
        if path is None:
            return sys.stdin.buffer.read().decode("utf-8")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError("not UTF-8 text", Ref(file=shown)) from err
    except FileNotFoundError as err:
        raise InputError("no such file or directory", Ref(file=shown)) from err
    except OSError as err:
        raise InputError(err.strerror or str(err), Ref(file=shown)) from err


def _expand(raw: str) -> list[tuple[str, Path | None]]:
    """(name shown in errors, file to read or None for stdin) for one command-line path."""
    if raw == "-":
        return [("<stdin>", None)]
    path = Path(raw)
    if path.is_dir():
        return [(str(file), file) for file in _files_under(path)]
    return [(raw, path)]


def read_inputs(paths: list[str], *, keep_text: bool = False) -> list[Item]:
    """Objects from every path (`-` is stdin); directories are read recursively, sorted.
    `keep_text`: TextItems where a document's text can stand for its object.

    Raises one InputError naming the first unreadable file (and how many others there are)."""
    items: list[Item] = []
    failed: list[InputError] = []
    budget = AliasBudget()
    for shown, path in (entry for raw in paths or ["-"] for entry in _expand(raw)):
        try:
            items.extend(parse_stream(_read(path, shown), shown, budget=budget, keep_text=keep_text))
        except InputError as err:
            failed.append(err)
            if isinstance(err.__cause__, BudgetExceeded):
                break  # every later file with an alias would be blamed for this one
    if failed:
        raise _summary(failed)
    return items


def _summary(failed: list[InputError]) -> InputError:
    first, rest = failed[0], failed[1:]
    if not rest:
        return first
    names = ", ".join(e.ref.file for e in rest[:_NAMED_FAILURES])
    more = ", ..." if len(rest) > _NAMED_FAILURES else ""
    noun = "file" if len(rest) == 1 else "files"
    message = f"{first.message} (and {len(rest)} more unreadable {noun}: {names}{more})"
    return InputError(message, first.ref, first.field_path)
