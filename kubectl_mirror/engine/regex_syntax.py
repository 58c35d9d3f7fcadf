"""The syntax of the regexes other tools' markers hold (Reflector, Replicator), parsed into a
small tree for regexes.py to compile and match without backtracking.

Supported: literals, `.`, classes (`[a-z0-9-]`, `[^x]`, `\\d \\w \\s` and their negations),
groups `( )`, `(?: )`, `(?P<name> )`, `(?<name> )`, alternation `|`, quantifiers
`* + ? {n} {n,} {,m} {n,m}` (greedy or lazy: the same for a yes/no answer), anchors
`^ $ \\A \\Z \\z`, and the escapes `\\n \\t \\r \\f \\v \\xhh` and `\\` + punctuation: what
Replicator's Go `regexp` (RE2), Reflector's .NET and Python agree on. Refused with a message
naming the construct and its position: backreferences, lookaround, inline flags, word
boundaries, atomic groups, possessive quantifiers, Unicode property classes, conditionals and
POSIX `[:classes:]` - what RE2 lacks, or what no namespace name needs - and repeat counts over
MAX_REPEAT (RE2's own limit).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_REPEAT = 1000


class RegexError(ValueError):
    """A pattern that cannot be used; the message says what and where."""


# --- character sets ------------------------------------------------------------------------------


def _is_digit(ch: str) -> bool:
    return ch.isdecimal()


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_space(ch: str) -> bool:
    return ch.isspace()


_CLASS_ESCAPES: dict[str, tuple[Callable[[str], bool], bool]] = {
    "d": (_is_digit, False),
    "D": (_is_digit, True),
    "w": (_is_word, False),
    "W": (_is_word, True),
    "s": (_is_space, False),
    "S": (_is_space, True),
}


@dataclass(frozen=True)
class CharSet:
    """Characters one NFA state accepts: ranges of code points and escape classes, maybe negated."""

    lows: tuple[int, ...] = ()
    highs: tuple[int, ...] = ()
    classes: tuple[tuple[Callable[[str], bool], bool], ...] = ()
    negate: bool = False

    def matches(self, ch: str) -> bool:
        point = ord(ch)
        i = bisect_right(self.lows, point) - 1
        inside = (i >= 0 and point <= self.highs[i]) or any(test(ch) != neg for test, neg in self.classes)
        return inside != self.negate


def charset(
    ranges: list[tuple[int, int]],
    classes: tuple[tuple[Callable[[str], bool], bool], ...] = (),
    *,
    negate: bool = False,
) -> CharSet:
    merged: list[list[int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return CharSet(tuple(r[0] for r in merged), tuple(r[1] for r in merged), classes, negate)


_DOT = charset([(ord("\n"), ord("\n"))], negate=True)

# --- parsing into a small tree -------------------------------------------------------------------


@dataclass(frozen=True)
class Char:
    chars: CharSet


@dataclass(frozen=True)
class Assert:
    kind: str  # "start", "end" ($: end or before a final newline), "end-abs"


@dataclass(frozen=True)
class Cat:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Rep:
    item: Node
    low: int
    high: int | None  # None: unbounded


Node = Char | Assert | Cat | Alt | Rep

_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_REFUSED_ESCAPES = {
    "b": "word boundaries (\\b) are not supported",
    "B": "word boundaries (\\B) are not supported",
    "p": "Unicode classes (\\p{...}) are not supported",
    "P": "Unicode classes (\\P{...}) are not supported",
    "G": "\\G is not supported",
    "K": "\\K is not supported",
}
_GROUP_REFUSALS = (
    ("?=", "lookahead (?=...) is not supported"),
    ("?!", "lookahead (?!...) is not supported"),
    ("?<=", "lookbehind (?<=...) is not supported"),
    ("?<!", "lookbehind (?<!...) is not supported"),
    ("?P=", "backreferences (?P=name) are not supported"),
    ("?>", "atomic groups (?>...) are not supported"),
    ("?(", "conditionals (?(...)...) are not supported"),
    ("?#", "comments (?#...) are not supported"),
)


@dataclass
class _Parser:
    text: str
    pos: int = 0
    depth: int = 0
    names: set[str] = field(default_factory=set)

    def fail(self, message: str, at: int | None = None) -> RegexError:
        return RegexError(f"{message} at position {self.pos if at is None else at}")

    def peek(self, ahead: int = 0) -> str:
        i = self.pos + ahead
        return self.text[i] if i < len(self.text) else ""

    def parse(self) -> Node:
        node = self.alternation()
        if self.pos < len(self.text):
            raise self.fail("unbalanced ')'")
        return node

    def alternation(self) -> Node:
        branches = [self.concat()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.concat())
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def concat(self) -> Node:
        items: list[Node] = []
        while self.pos < len(self.text) and self.peek() not in "|)":
            items.append(self.repeat())
        return items[0] if len(items) == 1 else Cat(tuple(items))

    def repeat(self) -> Node:
        start = self.pos
        atom = self.atom()
        bounds = self.quantifier()
        if bounds is None:
            return atom
        if isinstance(atom, Assert):
            raise self.fail("nothing to repeat", start)
        if self.peek() == "?":
            self.pos += 1  # lazy: the same yes/no answer
        elif self.peek() == "+":
            raise self.fail("possessive quantifiers are not supported")
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self._brace() is not None):
            raise self.fail("multiple repeat")
        return Rep(atom, *bounds)

    def quantifier(self) -> tuple[int, int | None] | None:
        ch = self.peek()
        if ch in ("*", "+", "?"):
            self.pos += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        if ch == "{":
            brace = self._brace()
            if brace is None:
                return None  # not a repeat: `{` is a literal, as in Python and Go
            low, high, end = brace
            if (high is not None and low > high) or low > MAX_REPEAT or (high or 0) > MAX_REPEAT:
                what = (
                    "min repeat greater than max repeat"
                    if high is not None and low > high
                    else (f"repeat count over {MAX_REPEAT}")
                )
                raise self.fail(what)
            self.pos = end
            return low, high
        return None

    def _brace(self) -> tuple[int, int | None, int] | None:
        """`{n}`, `{n,}`, `{,m}`, `{n,m}` at pos: (low, high, index after `}`), else None."""
        end = self.text.find("}", self.pos)
        if end < 0:
            return None
        body = self.text[self.pos + 1 : end]
        low_text, comma, high_text = body.partition(",")
        if not all(part.isascii() and (part.isdigit() or not part) for part in (low_text, high_text)):
            return None
        if not low_text and not (comma and high_text):
            return None
        low = int(low_text[:6] or "0") if len(low_text) <= 6 else MAX_REPEAT + 1
        if not comma:
            return low, low, end + 1
        high = None if not high_text else (int(high_text) if len(high_text) <= 6 else MAX_REPEAT + 1)
        return low, high, end + 1

    def atom(self) -> Node:
        ch = self.peek()
        if ch == "(":
            return self.group()
        if ch == "[":
            return Char(self.char_class())
        if ch in ("*", "+", "?"):
            raise self.fail("nothing to repeat")
        self.pos += 1
        if ch == ".":
            return Char(_DOT)
        if ch == "^":
            return Assert("start")
        if ch == "$":
            return Assert("end")
        if ch == "\\":
            return self.escape()
        return Char(charset([(ord(ch), ord(ch))]))

    def group(self) -> Node:
        start = self.pos
        self.pos += 1
        if self.peek() == "?":
            rest = self.text[self.pos : self.pos + 3]
            for prefix, message in _GROUP_REFUSALS:
                if rest.startswith(prefix):
                    raise self.fail(message, start)
            if rest.startswith("?:"):
                self.pos += 2
            elif rest.startswith("?P<") or rest.startswith("?<"):
                close = self.text.find(">", self.pos)
                name = self.text[self.pos + (3 if rest.startswith("?P<") else 2) : close]
                if close < 0 or not name.isidentifier():
                    raise self.fail("bad group name", start)
                if name in self.names:
                    raise self.fail(f"redefinition of group name {name!r}", start)
                self.names.add(name)
                self.pos = close + 1
            else:
                raise self.fail("inline flags and other (?...) groups are not supported", start)
        self.depth += 1
        if self.depth > 100:
            raise self.fail("groups nested more than 100 deep", start)
        node = self.alternation()
        self.depth -= 1
        if self.peek() != ")":
            raise self.fail("missing ')', unterminated subpattern", start)
        self.pos += 1
        return node

    def escape(self) -> Node:
        at = self.pos - 1
        ch = self.peek()
        if not ch:
            raise self.fail("bad escape (end of pattern)", at)
        self.pos += 1
        if ch in ("A",):
            return Assert("start")
        if ch in ("Z", "z"):
            return Assert("end-abs")
        if ch in _CLASS_ESCAPES:
            return Char(charset([], (_CLASS_ESCAPES[ch],)))
        point = self.escaped_char(ch, at)
        return Char(charset([(point, point)]))

    def escaped_char(self, ch: str, at: int) -> int:
        """The code point of a one-character escape whose letter `ch` was just read."""
        if ch in _SIMPLE_ESCAPES:
            return ord(_SIMPLE_ESCAPES[ch])
        if ch == "x":
            digits = self.text[self.pos : self.pos + 2]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise self.fail("bad escape \\x", at)
            self.pos += 2
            return int(digits, 16)
        if ch.isdigit():
            raise self.fail("backreferences and octal escapes are not supported", at)
        if ch in _REFUSED_ESCAPES:
            raise self.fail(_REFUSED_ESCAPES[ch], at)
        if ch.isascii() and ch.isalnum():
            raise self.fail(f"bad escape \\{ch}", at)
        return ord(ch)

    def char_class(self) -> CharSet:
        start = self.pos
        self.pos += 1
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        classes: list[tuple[Callable[[str], bool], bool]] = []
        first = True
        while True:
            ch = self.peek()
            if not ch:
                raise self.fail("unterminated character set", start)
            if ch == "]" and not first:
                self.pos += 1
                break
            if ch == "[" and self.peek(1) in (":", ".", "="):
                raise self.fail("POSIX classes such as [:alpha:] are not supported", self.pos)
            first = False
            low = self.class_char(classes)
            if low is None:
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high = self.class_char(classes)
                if high is None:
                    raise self.fail("bad character range", self.pos)
                if low > high:
                    raise self.fail(f"bad character range {chr(low)}-{chr(high)}", self.pos)
                ranges.append((low, high))
            else:
                ranges.append((low, low))
        return charset(ranges, tuple(classes), negate=negate)

    def class_char(self, classes: list[tuple[Callable[[str], bool], bool]]) -> int | None:
        """One member of a class: its code point, or None for `\\d`-style classes (added)."""
        ch = self.peek()
        self.pos += 1
        if ch != "\\":
            return ord(ch)
        at = self.pos - 1
        esc = self.peek()
        if not esc:
            raise self.fail("bad escape (end of pattern)", at)
        self.pos += 1
        if esc in _CLASS_ESCAPES:
            classes.append(_CLASS_ESCAPES[esc])
            return None
        if esc == "b":
            return ord("\b")
        return self.escaped_char(esc, at)


def parse(pattern: str) -> Node:
    """The tree of `pattern`; RegexError says what is wrong or unsupported, and where."""
    return _Parser(pattern).parse()
