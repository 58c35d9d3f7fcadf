"""Regular expressions from other tools' markers (Reflector, Replicator), matched in bounded time.

Python's `re` backtracks: `(a+)+b` or `(a|aa)+b` against a 60-character namespace name runs for
minutes, and it has no timeout. The patterns these markers hold only ever decide whether a whole
namespace name matches, so the subset of syntax regex_syntax.py parses is compiled here into a
Thompson NFA and simulated: every name costs at most len(name) x states steps, whatever the
pattern. Patterns are bounded too: at most MAX_PATTERN characters, repeat counts up to
MAX_REPEAT (RE2's own limit) and MAX_STATES NFA states once repeats are expanded (after cutting
those longer than any name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from kubectl_mirror.engine.regex_syntax import (
    MAX_REPEAT,
    Alt,
    Assert,
    Cat,
    Char,
    CharSet,
    Node,
    RegexError,
    Rep,
    charset,
    parse,
)

__all__ = ["MAX_REPEAT", "Regex", "RegexError", "compile_regex", "regex_fullmatch"]

MAX_PATTERN = 1000
MAX_STATES = 2000
# The longest name any pattern is matched against (a Kubernetes object name; namespace names stop
# at 63). Repeats that could only match longer text are cut to this, so `.{0,999}` costs what
# `.{0,253}` does; a longer name never matches.
MAX_SUBJECT = 253
# Step results kept per compiled pattern (a lazily built DFA, keyed by the class of the next
# character among the pattern's character sets): after the first few names, a name costs one
# lookup per character. At most this many state numbers are kept per pattern.
MAX_CACHED_STATES = 50_000


# --- the NFA -------------------------------------------------------------------------------------

_NEVER = Char(charset([]))


def _min_width(node: Node) -> int:
    if isinstance(node, Char):
        return 1
    if isinstance(node, Assert):
        return 0
    if isinstance(node, Cat):
        return sum(_min_width(n) for n in node.items)
    if isinstance(node, Alt):
        return min(_min_width(n) for n in node.items)
    return node.low * _min_width(node.item)


def _clamp(node: Node) -> Node:
    """`node`, with every repeat cut to what a MAX_SUBJECT-character name can hold: the same
    answers for every name that long or shorter."""
    if isinstance(node, Cat):
        return Cat(tuple(_clamp(n) for n in node.items))
    if isinstance(node, Alt):
        return Alt(tuple(_clamp(n) for n in node.items))
    if not isinstance(node, Rep):
        return node
    item = _clamp(node.item)
    width = _min_width(item)
    if width == 0 or node.high is None:
        return Rep(item, node.low, node.high)
    most = MAX_SUBJECT // width
    if node.low > most:
        return _NEVER
    return Rep(item, node.low, min(node.high, most))


def _size(node: Node) -> int:
    """States the node compiles to (repeats expanded), computed without building them."""
    if isinstance(node, Char | Assert):
        return 1
    if isinstance(node, Cat):
        return sum(_size(n) for n in node.items)
    if isinstance(node, Alt):
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

    def build(self, node: Node) -> tuple[int, list[int]]:
        """(entry state, states whose out list must be patched to what follows)."""
        if isinstance(node, Char):
            s = self.add(CHAR, chars=node.chars)
            return s, [s]
        if isinstance(node, Assert):
            s = self.add(ASSERT, check=node.kind)
            return s, [s]
        if isinstance(node, Cat):
            if not node.items:
                s = self.add(EMPTY)
                return s, [s]
            entry, dangling = self.build(node.items[0])
            for item in node.items[1:]:
                nxt, more = self.build(item)
                self.patch(dangling, nxt)
                dangling = more
            return entry, dangling
        if isinstance(node, Alt):
            fork = self.add(SPLIT)
            dangling = []
            for item in node.items:
                entry, more = self.build(item)
                self.outs[fork].append(entry)
                dangling.extend(more)
            return fork, dangling
        return self.repeat(node)

    def repeat(self, node: Rep) -> tuple[int, list[int]]:
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
    tree = _clamp(parse(pattern))
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
