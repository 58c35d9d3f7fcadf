"""What a value inside an object we copy may be: JSON's types, as the API server stores them.

A YAML parser can hand the engine more than JSON has: timestamps, `!!binary` bytes, sets,
integers of any size, NaN, keys that are numbers, nesting thousands deep. Hashing, sorting and
emitting such a value fails far from where it came from (`json.dumps` on a datetime, `sorted` on
mixed keys, `str()` of a 5,000-digit integer, recursion), and one such value must cost its own
object an error, not the run. So every object the engine copies, and every value a transform rule
writes, is checked here first, by a loop (no recursion, so no depth can overflow it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine.paths import Segment, format_path
from kubectl_mirror.errors import InputError, MirrorError, Ref

MAX_DEPTH = 100
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def check_json_like(value: Any, ref: Ref, *, base: str = "", error: type[MirrorError] = InputError) -> None:
    """Raise `error` naming the first field (under `base`) whose value JSON cannot hold."""
    stack: list[tuple[Any, tuple[Segment, ...]]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if len(where) > MAX_DEPTH:
            raise error(f"is nested more than {MAX_DEPTH} levels deep", ref, _at(base, where[:MAX_DEPTH]))
        problem = _problem(item)
        if problem:
            raise error(problem, ref, _at(base, where))
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    message = f"keys must be strings, found {_type(key)} {_short(key)}"
                    raise error(message, ref, _at(base, where))
                if not _valid_text(key):
                    raise error("a key is not valid Unicode text (lone surrogate)", ref, _at(base, where))
                stack.append((child, (*where, key)))
        elif isinstance(item, list):
            stack.extend((child, (*where, i)) for i, child in enumerate(item))


def _problem(item: Any) -> str:
    if item is None or isinstance(item, bool | Mapping | list):
        return ""
    if isinstance(item, str):
        return "" if _valid_text(item) else "is not valid Unicode text (lone surrogate)"
    if isinstance(item, int):
        if INT_MIN <= item <= INT_MAX:
            return ""
        return f"integer with {item.bit_length()} bits does not fit in 64 bits (quote it to keep it as text)"
    if isinstance(item, float):
        return "" if math.isfinite(item) else f"{item!r} is not a number JSON can hold"
    return f"a {_type(item)} is not a JSON value (quote it in YAML to make it a string)"


def _valid_text(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"({value.bit_length()}-bit integer)"
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _at(base: str, where: tuple[Segment, ...]) -> str:
    inner = format_path(where)
    if not base:
        return inner
    if not inner:
        return base
    return f"{base}{inner}" if inner.startswith("[") else f"{base}.{inner}"
