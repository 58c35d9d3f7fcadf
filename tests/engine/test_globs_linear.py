"""The glob matcher: the same answers as the regex translation it replaced, in bounded steps.

Pathological patterns are bounded by the matcher's own step count, never by a clock."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_mirror.engine.globs import GlobError, compile_glob, glob_match


def reference(pattern: str) -> re.Pattern[str]:
    """The translation to `re` that globs.py used before (kept as the oracle)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            j = i + 1
            negate = j < len(pattern) and pattern[j] in "!^"
            j += negate
            body: list[str] = []
            first = True
            while j < len(pattern) and (pattern[j] != "]" or first):
                c = pattern[j]
                if c == "-" and body and not first and j + 1 < len(pattern) and pattern[j + 1] != "]":
                    if pattern[j - 1] > pattern[j + 1]:
                        raise GlobError("bad range")
                    body.append("-")
                else:
                    body.append(re.escape(c) if c != "-" else r"\-")
                first = False
                j += 1
            if j >= len(pattern):
                raise GlobError("unclosed")
            out.append(("[^" if negate else "[") + "".join(body) + "]")
            i = j + 1
            continue
        elif ch == "]":
            raise GlobError("unmatched")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


GLOB_ALPHABET = st.sampled_from([*"ab-*?", "[ab]", "[!a]", "[a-b]", "[]a]", "[^b]"])
NAME_ALPHABET = "ab-]!"


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.lists(GLOB_ALPHABET, max_size=8).map("".join),
    name=st.text(alphabet=NAME_ALPHABET, max_size=10),
)
def test_glob_matcher_agrees_with_the_regex_translation_on_small_inputs(pattern: str, name: str) -> None:
    assert glob_match(pattern, name) == (reference(pattern).fullmatch(name) is not None)


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.lists(st.sampled_from(list("ab-*")), max_size=8).map("".join),
    name=st.text(alphabet="ab-", max_size=10),
)
def test_plain_character_patterns_take_the_segment_path_with_the_same_answers(
    pattern: str, name: str
) -> None:
    glob = compile_glob(pattern)
    assert glob.literals is not None
    assert glob.match(name) == glob.run(name)[0] == (reference(pattern).fullmatch(name) is not None)


@pytest.mark.parametrize(
    "pattern",
    [
        "*a" * 20 + "*b",
        "*[a]" * 11 + "*b",
        "*?" * 30 + "*b",
        "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c",
    ],
)
@pytest.mark.parametrize("name", ["a" * 60, "a" * 51 + "b", "a" * 253])
def test_pathological_globs_decide_within_name_times_tokens_steps(pattern: str, name: str) -> None:
    # (The regex oracle would backtrack for minutes here: the expected answer is worked out by
    # hand. Every name has enough characters for the tokens before the last one.)
    glob = compile_glob(pattern)
    matched, steps = glob.run(name)
    assert matched == name.endswith(pattern[-1])
    assert steps <= (len(name) + 1) * (len(glob.tokens) + 1)


def test_a_pattern_longer_than_the_name_is_refused_in_one_step() -> None:
    glob = compile_glob("*a" * 5000)
    assert glob.run("a" * 63) == (False, 1)


def test_consecutive_stars_collapse_to_one() -> None:
    assert compile_glob("a***b").tokens == ("a", "*", "b")


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("[a-c-e]", "-", True),
        ("[a-c-e]", "d", False),
        ("[--0]", "/", True),
        ("[]-a]", "^", True),
        ("a\\b", "a\\b", True),
        ("*", "line\nbreak", True),
        ("?", "\n", True),
    ],
)
def test_class_and_escape_corner_cases_keep_their_old_meaning(pattern: str, name: str, matches: bool) -> None:
    assert glob_match(pattern, name) is matches
    assert (reference(pattern).fullmatch(name) is not None) is matches
