"""Reflector's and Replicator's regexes: Python's answers, without Python's backtracking.

Pathological patterns are bounded by the NFA's own step count, never by a clock; the oracle
(`re`) only ever sees small patterns and short names."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_mirror.engine.dialects import reflector as rf
from kubectl_mirror.engine.dialects import replicator as rp
from kubectl_mirror.engine.model import NamespaceInfo, Target
from kubectl_mirror.engine.regexes import MAX_PATTERN, MAX_STATES, MAX_SUBJECT, RegexError, compile_regex
from kubectl_mirror.engine.targets import resolve_targets, target_matches
from kubectl_mirror.errors import Ref, SpecError
from tests.helpers import errors_of, ns, opts, render

ATOMS = ["a", "b", ".", "[ab]", "[^a]", "\\d", "\\w", "\\s", "-", "(a|b)", "(a|)", "(?:ab)", "^", "$"]
ATOMS += ["[a-]", "\\.", "{", "[]a]", "(a*)", "(?P<x>b)", "[\\d-]", "\\x61"]
QUANTIFIERS = ["", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "*?", "{,2}", "+?"]
PIECE = st.tuples(st.sampled_from(ATOMS), st.sampled_from(QUANTIFIERS)).map("".join)
PATTERN = st.builds(
    lambda pieces, alt: "".join(pieces) + alt,
    st.lists(PIECE, min_size=1, max_size=5),
    st.sampled_from(["", "|a", "|", "|b*"]),
)


@settings(max_examples=1000, deadline=None)
@given(pattern=PATTERN, names=st.lists(st.text(alphabet="ab-1 .\n", max_size=7), max_size=8))
def test_fullmatch_agrees_with_python_re_on_small_inputs(pattern: str, names: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            oracle: re.Pattern[str] | None = re.compile(pattern)
        except re.error:
            oracle = None
    try:
        compiled = compile_regex(pattern)
    except RegexError:
        assert oracle is None
        return
    assert oracle is not None, pattern
    for name in names:
        assert compiled.fullmatch(name) == (oracle.fullmatch(name) is not None), (pattern, name)


PATHOLOGICAL = ["(a+)+b", "(a|aa)+b", "(a*)*b", "(.*a){20}b", "([a-z]+)*$b", "(a|a|a)*(a|aa)*b"]


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
@pytest.mark.parametrize("name", ["a" * 60, "a" * 59 + "b", "a" * 63])
def test_backtracking_patterns_decide_within_name_times_states_steps(pattern: str, name: str) -> None:
    compiled = compile_regex(pattern)
    matched, steps = compiled.run(name)
    assert matched == (name.endswith("b") and "$b" not in pattern)
    assert steps <= (len(name) + 1) * len(compiled.kinds)


def test_the_largest_allowed_pattern_stays_within_its_state_bound() -> None:
    compiled = compile_regex("(a?){666}")
    assert len(compiled.kinds) <= MAX_STATES
    assert compiled.run("a" * 63)[1] <= 64 * MAX_STATES


def test_repeats_longer_than_any_name_are_cut_with_the_same_answers() -> None:
    assert len(compile_regex(".{0,999}").kinds) < 2 * MAX_SUBJECT + 10
    assert compile_regex(".{0,999}").fullmatch("a" * MAX_SUBJECT)
    assert not compile_regex(".{0,999}").fullmatch("a" * (MAX_SUBJECT + 1))  # no name is that long
    never = compile_regex("(a{100}){100}")
    assert len(never.kinds) < 10 and not never.fullmatch("a" * 200)
    assert not compile_regex("x|a{300}").fullmatch("a" * 253) and compile_regex("x|a{300}").fullmatch("x")
    assert compile_regex("(ab){2,999}").fullmatch("ab" * 126)


def test_many_names_against_one_pattern_reuse_its_steps() -> None:
    compiled = compile_regex("team-[a-z0-9]{0,40}-(dev|prod)")
    names = [f"team-{i:05d}-dev" for i in range(500)]
    first = compiled.run(names[0])[1]
    later = sum(compiled.run(n)[1] for n in names[1:])
    assert first > 0 and later < first * 50  # far less than 499 names' worth of fresh steps
    assert all(compiled.fullmatch(n) for n in names)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a{1000000}", "repeat count over 1000 at position 1"),
        ("(a?){999}", "more than 2000"),
        ("x" * (MAX_PATTERN + 1), f"more than {MAX_PATTERN}"),
        ("(a)\\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreferences"),
        ("(?=a)a", "lookahead"),
        ("(?!a)b", "lookahead"),
        ("(?<=a)b", "lookbehind"),
        ("(?<!a)b", "lookbehind"),
        ("(?i)team", "inline flags"),
        ("(?>a)", "atomic groups"),
        ("a*+", "possessive"),
        ("\\bteam", "word boundaries"),
        ("\\p{L}", "Unicode classes"),
        ("[[:alpha:]]", "POSIX classes"),
        ("team-(", "missing ')'"),
        ("a)", "unbalanced ')'"),
        ("*a", "nothing to repeat"),
        ("a**", "multiple repeat"),
        ("a{3,2}", "min repeat greater than max repeat"),
        ("[z-a]", "bad character range"),
        ("\\q", "bad escape"),
        ("(" * 101 + ")" * 101, "nested more than 100"),
    ],
)
def test_unsupported_or_unbounded_patterns_are_refused_naming_the_construct(
    pattern: str, message: str
) -> None:
    with pytest.raises(RegexError) as info:
        compile_regex(pattern)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("team-\\z", "team-", True),  # Go's end of text
        ("(?<n>team)-a", "team-a", True),  # .NET and Go 1.22 named groups
        ("a{x}", "a{x}", True),  # not a repeat: literal braces, as in Python and Go
        ("a$", "a\n", False),
        ("[\\w.]+", "team.a_1", True),
        ("namespace-[0-9]*", "namespace-", True),
    ],
)
def test_dialect_syntax_that_is_supported(pattern: str, name: str, matches: bool) -> None:
    assert compile_regex(pattern).fullmatch(name) is matches


def _universe(*names: str) -> dict[str, NamespaceInfo]:
    return {n: NamespaceInfo(n) for n in names}


def test_outside_target_matches_names_no_entry_matches() -> None:
    target = Target("outside", "team-a,tool.*")
    assert not target_matches(target, "team-a", {})
    assert not target_matches(target, "tools", {})
    assert target_matches(target, "team-b", {})
    assert target.text() == "outside(team-a,tool.*)"


def test_reflector_allowed_list_is_an_outside_exclusion_not_a_lookahead() -> None:
    obj = _reflector({rf.ALLOWED_NAMESPACES: "team-a,(a+)+b"})
    spec = rf.read_source(obj, Ref.of(obj), opts())
    assert spec is not None
    assert spec.exclude == (Target("outside", "team-a,(a+)+b"),)
    names, _ = resolve_targets(
        spec,
        source_namespace="platform",
        universe=_universe("team-a", "a" * 60, "a" * 59 + "b"),
        options=opts(),
        ref=Ref(),
    )
    assert names == ("a" * 59 + "b", "team-a")


def _reflector(extra: dict[str, Any]) -> dict[str, Any]:
    annotations = {rf.ALLOWED: "true", rf.AUTO_ENABLED: "true", **extra}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls", "namespace": "platform", "annotations": annotations},
        "type": "Opaque",
        "data": {"k": "dmFsdWU="},
    }


def test_hostile_reflector_and_replicator_patterns_render_against_long_namespace_names() -> None:
    long_names = [ns("a" * 60), ns("a" * 59 + "b"), ns("platform")]
    reflector = _reflector({rf.AUTO_NAMESPACES: "(a+)+b,(a|aa)+b,(.*a){20}b"})
    replicator = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "namespace": "platform",
            "annotations": {rp.REPLICATE_TO: "(a*)*b,([a-z]+)*$b"},
        },
        "data": {"k": "v"},
    }
    outcome = render(reflector, replicator, *long_names)
    assert errors_of(outcome) == []
    where = sorted((m["kind"], m["metadata"]["namespace"]) for m in outcome.mirrors)
    assert where == [("ConfigMap", "a" * 59 + "b"), ("Secret", "a" * 59 + "b")]


def test_a_refused_pattern_is_an_error_naming_the_annotation() -> None:
    obj = _reflector({rf.AUTO_NAMESPACES: "a{1000000}"})
    with pytest.raises(SpecError) as info:
        rf.read_source(obj, Ref.of(obj), opts())
    assert info.value.field_path == f'metadata.annotations["{rf.AUTO_NAMESPACES}"]'
    assert "repeat count over 1000" in info.value.message


def test_a_refused_allowed_pattern_fails_a_pull_closed() -> None:
    source = _reflector({rf.ALLOWED_NAMESPACES: "(?=team)team-a"})
    assert not rf.allows_pull(source, "team-a")
