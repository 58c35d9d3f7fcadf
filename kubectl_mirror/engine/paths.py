"""Field paths inside plain-dict objects: `spec.containers[0].image`, `data["app.properties"]`.

Transform rules name the field they change with such a path. Parsing is strict (an empty segment
or an unclosed bracket is an error, not silently skipped as KubeMirror does) so a typo is reported
at parse time, not discovered as a field that never changes. Writes are copy-on-write: every
container on the path is copied, nothing else, and the input is never mutated.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from kubectl_mirror.errors import TransformError

Segment = str | int
Segments = tuple[Segment, ...]

_BARE_STOP = frozenset(".[]\"'")
# Reading and writing recurse once per segment; no real field is this deep.
MAX_SEGMENTS = 50
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_\-/]+")


class PathError(TransformError):
    """A path that is malformed or does not fit the object it is applied to."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_REQUIRED: Any = _Missing()


@lru_cache(maxsize=1024)
def parse_path(text: str) -> Segments:
    """Split a path into map keys (str) and list indexes (int)."""
    if not text:
        raise PathError("path is empty")
    segs: list[Segment] = []
    i = 0
    while i < len(text):
        if text[i] == "[":
            seg, i = _bracket(text, i)
            segs.append(seg)
        else:
            if segs:
                if text[i] != ".":
                    raise PathError(f"expected '.' or '[' at position {i} in path {text!r}")
                i += 1
            key, i = _bare(text, i)
            segs.append(key)
        if len(segs) > MAX_SEGMENTS:
            raise PathError(f"path has more than {MAX_SEGMENTS} segments")
    return tuple(segs)


def _bare(text: str, start: int) -> tuple[str, int]:
    i = start
    while i < len(text) and text[i] not in _BARE_STOP and not text[i].isspace():
        i += 1
    if i == start:
        what = repr(text[i]) if i < len(text) else "end of path"
        raise PathError(f"expected a key at position {start} in path {text!r}, found {what}")
    return text[start:i], i


def _bracket(text: str, start: int) -> tuple[Segment, int]:
    i = start + 1
    if i < len(text) and text[i] in "\"'":
        key, i = _quoted(text, i)
        if i >= len(text) or text[i] != "]":
            raise PathError(f"expected ']' at position {i} in path {text!r}")
        return key, i + 1
    end = text.find("]", i)
    if end < 0:
        raise PathError(f"unclosed '[' at position {start} in path {text!r}")
    inner = text[i:end]
    if not inner.isascii() or not inner.isdigit():
        raise PathError(
            f"list index must be a non-negative integer, not {inner!r} in path {text!r} "
            '(quote map keys: ["key"])'
        )
    return int(inner), end + 1


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "\\\"'":
                raise PathError(f"bad escape at position {i} in path {text!r}")
            i += 1
            ch = text[i]
        out.append(ch)
        i += 1
    raise PathError(f"unclosed quote at position {start} in path {text!r}")


def format_path(segs: Segments) -> str:
    """The canonical text of a path; `parse_path(format_path(s)) == s`."""
    parts: list[str] = []
    for seg in segs:
        if isinstance(seg, int):
            parts.append(f"[{seg}]")
        elif _SIMPLE_KEY.fullmatch(seg):
            parts.append(f".{seg}" if parts else seg)
        else:
            escaped = seg.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'["{escaped}"]')
    return "".join(parts)


def _step(node: Any, seg: Segment, segs: Segments, depth: int) -> Any:
    """The child of `node` at `seg`, MISSING if absent; PathError if `node` has the wrong type."""
    if isinstance(seg, int):
        if not isinstance(node, list):
            raise _type_error(node, "list", segs, depth)
        return node[seg] if seg < len(node) else MISSING
    if not isinstance(node, dict):
        raise _type_error(node, "mapping", segs, depth)
    return node.get(seg, MISSING)


def _type_error(node: Any, wanted: str, segs: Segments, depth: int) -> PathError:
    where = format_path(segs[:depth]) or "the object"
    return PathError(f"{where} is {_kind(node)}, not a {wanted}")


def _kind(node: Any) -> str:
    if isinstance(node, dict):
        return "a mapping"
    if isinstance(node, list):
        return "a list"
    return "null" if node is None else f"a {type(node).__name__}"


def get_path(obj: Any, segs: Segments, *, default: Any = _REQUIRED) -> Any:
    """The value at `segs`; `default` (e.g. MISSING) when absent, PathError when none is given."""
    node = obj
    for depth, seg in enumerate(segs):
        node = _step(node, seg, segs, depth)
        if node is MISSING:
            if default is _REQUIRED:
                raise PathError(f"{format_path(segs[: depth + 1])} does not exist")
            return default
    return node


def set_path(obj: Any, segs: Segments, value: Any) -> Any:
    """A copy of `obj` with `value` at `segs`; missing mappings on the way are created."""
    return _set(obj, segs, value, 0)


def _set(node: Any, segs: Segments, value: Any, depth: int) -> Any:
    if depth == len(segs):
        return value
    seg = segs[depth]
    child = _step(node, seg, segs, depth)
    if child is MISSING:
        if isinstance(seg, int):
            raise PathError(
                f"list index {format_path(segs[: depth + 1])} is out of range "
                f"(the list has {len(node)} items)"
            )
        if depth + 1 < len(segs) and isinstance(segs[depth + 1], int):
            raise PathError(f"{format_path(segs[: depth + 1])} does not exist (cannot create a list)")
        child = {}
    new_child = _set(child, segs, value, depth + 1)
    if isinstance(seg, int):
        items = list(node)
        items[seg] = new_child
        return items
    return {**node, seg: new_child}


def delete_path(obj: Any, segs: Segments) -> Any:
    """A copy of `obj` without the field at `segs`; `obj` itself when the field is absent."""
    if not segs:
        raise PathError("cannot delete the whole object")
    return _delete(obj, segs, 0)


def _delete(node: Any, segs: Segments, depth: int) -> Any:
    if node is None:
        return node  # `data: null` has no keys to delete
    seg = segs[depth]
    child = _step(node, seg, segs, depth)
    if child is MISSING:
        return node
    if depth + 1 < len(segs):
        new_child = _delete(child, segs, depth + 1)
        if new_child is child:
            return node
    if isinstance(seg, int):
        items = list(node)
        if depth + 1 < len(segs):
            items[seg] = new_child
        else:
            del items[seg]
        return items
    out = dict(node)
    if depth + 1 < len(segs):
        out[seg] = new_child
    else:
        del out[seg]
    return out
