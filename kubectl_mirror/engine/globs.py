"""Shell-style globs for namespace and object names, shared by targets, policies and transforms.

`fnmatch` would do, except that it accepts every pattern (an unclosed `[` silently becomes a
literal) and follows the platform's case rules; a typo in a marker must be an error the user sees,
and matching must be the same everywhere. Patterns come from annotations anyone with write access
to a source can set, so matching must not backtrack either: `*a*a*a*a*b` compiled to a regular
expression takes minutes against a long name. Here a pattern is a list of tokens (`*`, or one
token per character: a literal, `?` or a class) matched by the greedy-star algorithm, which only
ever returns to the most recent `*`: at most (len(name) + 1) x (tokens + 1) steps, and a pattern
with more single-character tokens than the name has characters is refused before any. A pattern
of plain characters and stars (`team-*`, the usual kind) is matched segment by segment with
`str` methods instead: same answers, C speed.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

GLOB_CHARS = frozenset("*?[")


class GlobError(ValueError):
    """A pattern that is not a valid glob; the message says what and where."""


@dataclass(frozen=True)
class CharClass:
    """`[...]`: sorted, non-overlapping inclusive ranges of code points, maybe negated."""

    lows: tuple[int, ...]
    highs: tuple[int, ...]
    negate: bool

    def matches(self, ch: str) -> bool:
        point = ord(ch)
        i = bisect_right(self.lows, point) - 1
        inside = i >= 0 and point <= self.highs[i]
        return inside != self.negate


# A token: STAR, ANY (`?`), a literal character, or a CharClass.
STAR = "*"
ANY = "?"
Token = str | CharClass


@dataclass(frozen=True)
class Glob:
    """A compiled pattern. `tokens` holds no two STARs in a row; `fixed` counts the others.
    `literals` is set when every other token is a plain character: the pattern is then literal
    segments between stars, matched with str.startswith/endswith/find (the common `team-*`)."""

    pattern: str
    tokens: tuple[Token, ...]
    fixed: int
    literals: tuple[str, ...] | None = None

    def match(self, name: str) -> bool:
        if self.literals is None:
            return self.run(name)[0]
        return _segments_match(self.literals, name) if len(name) >= self.fixed else False

    def run(self, name: str) -> tuple[bool, int]:
        """Whether the whole of `name` matches, and how many steps it took to decide."""
        tokens = self.tokens
        if self.fixed > len(name) or (STAR not in tokens and self.fixed != len(name)):
            return False, 1
        p = s = steps = 0
        star_p, star_s = -1, 0
        n, m = len(name), len(tokens)
        while s < n:
            steps += 1
            token = tokens[p] if p < m else None
            if token is STAR:
                star_p, star_s = p, s
                p += 1
            elif token is not None and _one(token, name[s]):
                p += 1
                s += 1
            elif star_p >= 0:
                # Let the most recent star take one more character; earlier stars never need to.
                star_s += 1
                p, s = star_p + 1, star_s
            else:
                return False, steps
        while p < m and tokens[p] is STAR:
            p += 1
        return p == m, steps


def _segments_match(segments: tuple[str, ...], name: str) -> bool:
    """`segments` are the literal text between stars (one segment: no star at all). The first
    must start the name and the last end it; each middle one is taken at its leftmost place,
    which never loses a match, so no position is looked at twice."""
    if len(segments) == 1:
        return name == segments[0]
    first, *middle, last = segments
    if not name.startswith(first):
        return False
    pos, end = len(first), len(name) - len(last)
    if end < pos or not name.endswith(last):
        return False
    for segment in middle:
        found = name.find(segment, pos, end)
        if found < 0:
            return False
        pos = found + len(segment)
    return True


def _one(token: Token, ch: str) -> bool:
    if isinstance(token, CharClass):
        return token.matches(ch)
    return token is ANY or token == ch


def is_glob(text: str) -> bool:
    """True when `text` uses any glob syntax (otherwise it is a plain name)."""
    return not GLOB_CHARS.isdisjoint(text)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    """Compile `*`, `?`, `[a-z]`, `[!x]` (and `[^x]`); GlobError says what is wrong and where."""
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if not tokens or tokens[-1] is not STAR:
                tokens.append(STAR)
        elif ch == "?":
            tokens.append(ANY)
        elif ch == "[":
            cls, i = _char_class(pattern, i)
            tokens.append(cls)
            continue
        elif ch == "]":
            raise GlobError(f"unmatched ']' at position {i}")
        else:
            tokens.append(ch)
        i += 1
    fixed = sum(1 for t in tokens if t is not STAR)
    literals: tuple[str, ...] | None = None
    chars = [t for t in tokens if isinstance(t, str) and t is not ANY]
    if len(chars) == len(tokens) and "\0" not in pattern:
        literals = tuple("".join(t if t is not STAR else "\0" for t in chars).split("\0"))
    return Glob(pattern, tuple(tokens), fixed, literals)


def _char_class(pattern: str, start: int) -> tuple[CharClass, int]:
    """Parse the class opening at `start`; return it and the index after its `]`.

    A `]` right after `[` or `[!` is a literal, as in every shell; `-` between two characters is
    a range, anywhere else (first, last, right after a range) a literal."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    ranges: list[tuple[int, int]] = []
    first = True
    while i < len(pattern) and (pattern[i] != "]" or first):
        low = pattern[i]
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            high = pattern[i + 2]
            if low > high:
                raise GlobError(f"bad range {low}-{high} at position {i}")
            ranges.append((ord(low), ord(high)))
            i += 3
        else:
            ranges.append((ord(low), ord(low)))
            i += 1
        first = False
    if i >= len(pattern):
        raise GlobError(f"unclosed '[' at position {start}")
    return _merged(ranges, negate), i + 1


def _merged(ranges: list[tuple[int, int]], negate: bool) -> CharClass:
    out: list[list[int]] = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], high)
        else:
            out.append([low, high])
    return CharClass(tuple(r[0] for r in out), tuple(r[1] for r in out), negate)


def glob_match(pattern: str, name: str) -> bool:
    """True when the whole of `name` matches `pattern`. Raises GlobError on a bad pattern."""
    return compile_glob(pattern).match(name)
