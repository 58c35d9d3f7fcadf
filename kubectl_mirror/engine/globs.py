"""Shell-style globs for namespace and object names, shared by targets, policies and transforms.

`fnmatch` would do, except that it accepts every pattern (an unclosed `[` silently becomes a
literal) and follows the platform's case rules; a typo in a marker must be an error the user sees,
and matching must be the same everywhere. So the translation to a regular expression is ours.
"""

from __future__ import annotations

import re
from functools import lru_cache

GLOB_CHARS = frozenset("*?[")


class GlobError(ValueError):
    """A pattern that is not a valid glob; the message says what and where."""


def is_glob(text: str) -> bool:
    """True when `text` uses any glob syntax (otherwise it is a plain name)."""
    return not GLOB_CHARS.isdisjoint(text)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile `*`, `?`, `[a-z]`, `[!x]` (and `[^x]`) into an anchored regular expression."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            cls, i = _char_class(pattern, i)
            out.append(cls)
            continue
        elif ch == "]":
            raise GlobError(f"unmatched ']' at position {i}")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    """Translate the class opening at `start`; return it and the index after its `]`."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    body: list[str] = []
    first = True
    while i < len(pattern) and (pattern[i] != "]" or first):
        # A `]` right after `[` or `[!` is a literal, as in every shell.
        ch = pattern[i]
        if ch == "-" and body and not first and i + 1 < len(pattern) and pattern[i + 1] != "]":
            low, high = pattern[i - 1], pattern[i + 1]
            if low > high:
                raise GlobError(f"bad range {low}-{high} at position {i - 1}")
            body.append("-")
        else:
            body.append(re.escape(ch) if ch != "-" else r"\-")
        first = False
        i += 1
    if i >= len(pattern):
        raise GlobError(f"unclosed '[' at position {start}")
    return ("[^" if negate else "[") + "".join(body) + "]", i + 1


def glob_match(pattern: str, name: str) -> bool:
    """True when the whole of `name` matches `pattern`. Raises GlobError on a bad pattern."""
    return compile_glob(pattern).fullmatch(name) is not None
