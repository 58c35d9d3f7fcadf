"""Regular expressions from other tools' markers (Reflector, Replicator), matched in bounded time.

Python's `re` backtracks: `(a+)+b` or `(a|aa)+b` against a 60-character namespace name runs for
minutes, and it has no timeout. The patterns these markers hold only ever decide whether a whole
namespace name matches, so this module parses the subset of syntax that Replicator's Go `regexp`
(RE2) and Reflector's .NET patterns share with Python into a Thompson NFA and simulates it: every
name costs at most len(name) x states steps, whatever the pattern. Patterns are bounded too:
at most MAX_PATTERN characters, repeat counts up to MAX_REPEAT (RE2's own limit) and MAX_STATES
NFA states after repeats are expanded.

Supported: literals, `.`, classes (`[a-z0-9-]`, `[^x]`, `\\d \\w \\s` and their negations),
groups `( )`, `(?: )`, `(?P<name> )`, alternation `|`, quantifiers `* + ? {n} {n,} {,m} {n,m}`
(greedy or lazy: the same for a yes/no answer), anchors `^ $ \\A \\Z \\z`, and the escapes
`\\n \\t \\r \\f \\v \\xhh` and `\\` + punctuation. Refused with a message naming the construct:
backreferences, lookaround, inline flags, word boundaries, atomic groups, possessive
quantifiers, Unicode property classes, conditionals and POSIX `[:classes:]` - what RE2 lacks, or
what no namespace name needs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

MAX_PATTERN = 1000
MAX_REPEAT = 1000
MAX_STATES = 2000
# The longest name any pattern is matched against (a Kubernetes object name; namespace names stop
# at 63). Repeats that could only match longer text are cut to this, so `.{0,999}` costs what
# `.{0,253}` does; a longer name never matches.
MAX_SUBJECT = 253
# Step results kept per compiled pattern (a lazily built DFA, keyed by the class of the next
# character among the pattern's character sets): after the first few names, a name costs one
# lookup per character. At most this many state numbers are kept per pattern.
MAX_CACHED_STATES = 50_000


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


def _charset(
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


_DOT = _charset([(ord("\n"), ord("\n"))], negate=True)

# --- parsing into a small tree -------------------------------------------------------------------


@dataclass(frozen=True)
class _Char:
    chars: CharSet


@dataclass(frozen=True)
class _Assert:
    kind: str  # "start", "end" ($: end or before a final newline), "end-abs"


@dataclass(frozen=True)
class _Cat:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Alt:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Rep:
    item: _Node
    low: int
    high: int | None  # None: unbounded


_Node = _Char | _Assert | _Cat | _Alt | _Rep

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

    def parse(self) -> _Node:
        node = self.alternation()
        if self.pos < len(self.text):
            raise self.fail("unbalanced ')'")
        return node

    def alternation(self) -> _Node:
        branches = [self.concat()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.concat())
        return branches[0] if len(branches) == 1 else _Alt(tuple(branches))

    def concat(self) -> _Node:
        items: list[_Node] = []
        while self.pos < len(self.text) and self.peek() not in "|)":
            items.append(self.repeat())
        return items[0] if len(items) == 1 else _Cat(tuple(items))

    def repeat(self) -> _Node:
        start = self.pos
        atom = self.atom()
        bounds = self.quantifier()
        if bounds is None:
            return atom
        if isinstance(atom, _Assert):
            raise self.fail("nothing to repeat", start)
        if self.peek() == "?":
            self.pos += 1  # lazy: the same yes/no answer
        elif self.peek() == "+":
            raise self.fail("possessive quantifiers are not supported")
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self._brace() is not None):
            raise self.fail("multiple repeat")
        return _Rep(atom, *bounds)

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

    def atom(self) -> _Node:
        ch = self.peek()
        if ch == "(":
            return self.group()
        if ch == "[":
            return _Char(self.char_class())
        if ch in ("*", "+", "?"):
            raise self.fail("nothing to repeat")
        self.pos += 1
        if ch == ".":
            return _Char(_DOT)
        if ch == "^":
            return _Assert("start")
        if ch == "$":
            return _Assert("end")
        if ch == "\\":
            return self.escape()
        return _Char(_charset([(ord(ch), ord(ch))]))

    def group(self) -> _Node:
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

    def escape(self) -> _Node:
        at = self.pos - 1
        ch = self.peek()
        if not ch:
            raise self.fail("bad escape (end of pattern)", at)
        self.pos += 1
        if ch in ("A",):
            return _Assert("start")
        if ch in ("Z", "z"):
            return _Assert("end-abs")
        if ch in _CLASS_ESCAPES:
            return _Char(_charset([], (_CLASS_ESCAPES[ch],)))
        point = self.escaped_char(ch, at)
        return _Char(_charset([(point, point)]))

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
        return _charset(ranges, tuple(classes), negate=negate)

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


# --- the NFA -------------------------------------------------------------------------------------

_NEVER = _Char(_charset([]))


def _min_width(node: _Node) -> int:
    if isinstance(node, _Char):
        return 1
    if isinstance(node, _Assert):
        return 0
    if isinstance(node, _Cat):
        return sum(_min_width(n) for n in node.items)
    if isinstance(node, _Alt):
        return min(_min_width(n) for n in node.items)
    return node.low * _min_width(node.item)


def _clamp(node: _Node) -> _Node:
    """`node`, with every repeat cut to what a MAX_SUBJECT-character name can hold: the same
    answers for every name that long or shorter."""
    if isinstance(node, _Cat):
        return _Cat(tuple(_clamp(n) for n in node.items))
    if isinstance(node, _Alt):
        return _Alt(tuple(_clamp(n) for n in node.items))
    if not isinstance(node, _Rep):
        return node
    item = _clamp(node.item)
    width = _min_width(item)
    if width == 0 or node.high is None:
        return _Rep(item, node.low, node.high)
    most = MAX_SUBJECT // width
    if node.low > most:
        return _NEVER
    return _Rep(item, node.low, min(node.high, most))


def _size(node: _Node) -> int:
    """States the node compiles to (repeats expanded), computed without building them."""
    if isinstance(node, _Char | _Assert):
        return 1
    if isinstance(node, _Cat):
        return sum(_size(n) for n in node.items)
    if isinstance(node, _Alt):
        return sum(_size(n) for n in node.items) + len(node.items)
    inner = _size(node.item)
    copies = node.low + (1 if node.high is None else node.high - node.low)
    return (inner + 1) * max(copies, 1)


# State kinds: a state consumes one character (CHAR), forks (SPLIT), checks a position (ASSERT)
# or accepts (MATCH). Each state is (kind, arg, out1, out2).
CHAR, SPLIT, ASSERT, MATCH, EMPTY = range(5)


@dataclass
class _Builder:
    kinds: list[int] = field(default_factory=list)
    charsets: list[CharSet | None] = field(default_factory=list)
    asserts: list[str] = field(default_factory=list)
    outs: list[list[int]] = field(default_factory=list)

    def add(self, kind: int, *, chars: CharSet | None = None, check: str = "") -> int:
        self.kinds.append(kind)
        self.charsets.append(chars)
        self.asserts.append(check)
        self.outs.append([])
        return len(self.kinds) - 1

    def build(self, node: _Node) -> tuple[int, list[int]]:
        """(entry state, states whose out list must be patched to what follows)."""
        if isinstance(node, _Char):
            s = self.add(CHAR, chars=node.chars)
            return s, [s]
        if isinstance(node, _Assert):
            s = self.add(ASSERT, check=node.kind)
            return s, [s]
        if isinstance(node, _Cat):
            if not node.items:
                s = self.add(EMPTY)
                return s, [s]
            entry, dangling = self.build(node.items[0])
            for item in node.items[1:]:
                nxt, more = self.build(item)
                self.patch(dangling, nxt)
                dangling = more
            return entry, dangling
        if isinstance(node, _Alt):
            fork = self.add(SPLIT)
            dangling = []
            for item in node.items:
                entry, more = self.build(item)
                self.outs[fork].append(entry)
                dangling.extend(more)
            return fork, dangling
        return self.repeat(node)

    def repeat(self, node: _Rep) -> tuple[int, list[int]]:
        parts: list[tuple[int, list[int]]] = [self.build(node.item) for _ in range(node.low)]
        if node.high is None:
            fork = self.add(SPLIT)
            entry, dangling = self.build(node.item)
            self.outs[fork].append(entry)
            self.patch(dangling, fork)
            parts.append((fork, [fork]))
        else:
            for _ in range(node.high - node.low):
                fork = self.add(SPLIT)
                entry, dangling = self.build(node.item)
                self.outs[fork].append(entry)
                parts.append((fork, [fork, *dangling]))
        if not parts:
            s = self.add(EMPTY)
            return s, [s]
        entry, dangling = parts[0]
        for nxt, more in parts[1:]:
            self.patch(dangling, nxt)
            dangling = more
        return entry, dangling

    def patch(self, states: list[int], to: int) -> None:
        for s in states:
            self.outs[s].append(to)


@dataclass(frozen=True)
class Regex:
    """A compiled pattern: `fullmatch(name)` answers in at most len(name) x states steps.

    The three dicts are caches, filled only with answers the NFA gives anyway (so sharing a
    compiled pattern changes no result): the class of a character (which of the pattern's
    distinct character sets accept it), and the step from a state set on a character class."""

    pattern: str
    kinds: tuple[int, ...]
    charsets: tuple[CharSet | None, ...]
    asserts: tuple[str, ...]
    outs: tuple[tuple[int, ...], ...]
    start: int
    distinct: tuple[CharSet, ...] = ()
    classes: dict[str, int] = field(default_factory=dict, compare=False, hash=False, repr=False)
    signatures: dict[tuple[bool, ...], int] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    steps: dict[tuple[frozenset[int], int, int], frozenset[int]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    cached_states: list[int] = field(default_factory=lambda: [0], compare=False, hash=False, repr=False)

    def fullmatch(self, name: str) -> bool:
        return self.run(name)[0]

    def run(self, name: str) -> tuple[bool, int]:
        """Whether all of `name` matches, and the NFA states visited to decide (uncached work)."""
        if len(name) > MAX_SUBJECT:
            return False, 0
        steps = [0]
        current = self._closure((self.start,), name, 0, steps)
        for i, ch in enumerate(name):
            if not current:
                return False, steps[0]
            key = (current, self._class(ch), _flags(name, i + 1))
            cached = self.steps.get(key)
            if cached is None:
                moved = [
                    out
                    for s in current
                    if (chars := self.charsets[s]) is not None and chars.matches(ch)
                    for out in self.outs[s]
                ]
                cached = self._closure(moved, name, i + 1, steps)
                if self.cached_states[0] + len(cached) <= MAX_CACHED_STATES:
                    self.cached_states[0] += len(cached) + 1
                    self.steps[key] = cached
            current = cached
        return any(self.kinds[s] == MATCH for s in current), steps[0]

    def _class(self, ch: str) -> int:
        found = self.classes.get(ch)
        if found is None:
            signature = tuple(chars.matches(ch) for chars in self.distinct)
            found = self.signatures.setdefault(signature, len(self.signatures))
            if len(self.classes) < MAX_CACHED_STATES:
                self.classes[ch] = found
        return found

    def _closure(self, states: Sequence[int], name: str, pos: int, steps: list[int]) -> frozenset[int]:
        """The CHAR and MATCH states reachable from `states` without consuming a character."""
        seen: set[int] = set()
        found: set[int] = set()
        stack = list(states)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            steps[0] += 1
            kind = self.kinds[s]
            if kind in (CHAR, MATCH):
                found.add(s)
            elif kind == ASSERT and not _holds(self.asserts[s], name, pos):
                continue
            else:
                stack.extend(self.outs[s])
        return frozenset(found)


def _flags(name: str, pos: int) -> int:
    """What the anchors can see at `pos`: 1 at the end, 2 before a final newline (pos > 0 here)."""
    if pos == len(name):
        return 1
    if pos == len(name) - 1 and name[-1] == "\n":
        return 2
    return 0


def _holds(kind: str, name: str, pos: int) -> bool:
    if kind == "start":
        return pos == 0
    if kind == "end-abs":
        return pos == len(name)
    return pos == len(name) or (pos == len(name) - 1 and name[-1] == "\n")


@lru_cache(maxsize=128)
def compile_regex(pattern: str) -> Regex:
    """Parse and compile `pattern`; RegexError says what is wrong or unsupported, and where."""
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"pattern is {len(pattern)} characters long, more than {MAX_PATTERN}")
    tree = _clamp(_Parser(pattern).parse())
    size = _size(tree)
    if size > MAX_STATES:
        raise RegexError(f"pattern expands to {size} states, more than {MAX_STATES} (repeats too large)")
    builder = _Builder()
    entry, dangling = builder.build(tree)
    builder.patch(dangling, builder.add(MATCH))
    return Regex(
        pattern,
        tuple(builder.kinds),
        tuple(builder.charsets),
        tuple(builder.asserts),
        tuple(tuple(o) for o in builder.outs),
        entry,
        distinct=tuple(dict.fromkeys(c for c in builder.charsets if c is not None)),
    )


def regex_fullmatch(pattern: str, name: str) -> bool:
    """True when all of `name` matches `pattern`. Raises RegexError on a pattern it refuses."""
    return compile_regex(pattern).fullmatch(name)
