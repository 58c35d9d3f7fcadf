"""Reading input objects from YAML/JSON files, directories and stdin.

Multi-document streams and `kind: List` are flattened; every object remembers its file so
errors can name it. Parse errors become `InputError`s with the file and line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubectl_mirror.engine.plan import Item
from kubectl_mirror.errors import InputError, Ref

YAML_SUFFIXES = (".yaml", ".yml", ".json")


def _loader() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    return yaml


def parse_stream(text: str, file: str) -> list[Item]:
    """All objects in one YAML/JSON stream; empty documents are skipped."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        docs = list(_loader().load_all(text))
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = err.problem or err.context or "invalid YAML"
        raise InputError(f"{line}invalid YAML: {problem}", Ref(file=file)) from err
    except YAMLError as err:
        raise InputError(f"invalid YAML: {err}", Ref(file=file)) from err
    items: list[Item] = []
    for doc in docs:
        if doc is None:
            continue
        items.extend(_flatten(doc, file))
    return items


def _flatten(doc: Any, file: str) -> Iterable[Item]:
    if isinstance(doc, dict) and doc.get("kind") == "List" and "items" in doc:
        entries = doc.get("items")
        if not isinstance(entries, list):
            raise InputError("must be a list", Ref.of(doc, file=file), "items")
        for entry in entries:
            yield Item(entry, file)
    else:
        yield Item(doc, file)


def _files_under(path: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root, f) for f in sorted(files) if f.endswith(YAML_SUFFIXES))
    return found


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError("not UTF-8 text", Ref(file=shown)) from err
    except OSError as err:
        raise InputError(err.strerror or str(err), Ref(file=shown)) from err


def read_inputs(paths: list[str]) -> list[Item]:
    """Objects from every path (`-` is stdin); directories are read recursively, sorted."""
    items: list[Item] = []
    for raw in paths or ["-"]:
        if raw == "-":
            items.extend(parse_stream(sys.stdin.read(), "<stdin>"))
            continue
        path = Path(raw)
        if path.is_dir():
            for file in _files_under(path):
                items.extend(parse_stream(_read(file, str(file)), str(file)))
        elif path.exists():
            items.extend(parse_stream(_read(path, raw), raw))
        else:
            raise InputError("no such file or directory", Ref(file=raw))
    return items
