"""io.yamlload on its own: the values it builds, the problems it refuses, and what its messages
never say. Inputs that could expand without bound are in test_yaml_bombs.py (child processes)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from ruamel.yaml import YAML

from kubectl_mirror.io import yamlload
from kubectl_mirror.io.yamlload import AliasBudget, YamlError, load_all, load_marker_value, load_one

SECRET = "hunter2-Sup3r-s3cret"


def load(text: str, *, pure: bool = False) -> Any:
    (value,) = load_all(text, budget=AliasBudget(), pure=pure)
    return value


def refused(text: str, *, pure: bool = False) -> YamlError:
    with pytest.raises(YamlError) as caught:
        load_all(text, budget=AliasBudget(), pure=pure)
    return caught.value


# --- values ---------------------------------------------------------------------------------

# Plain scalars as the YAML 1.2 core schema (and ruamel, the loader used before) reads them.
SCALARS = [
    "1", "-1", "+1", "0", "017", "0o17", "0x1F", "0b101", "1_000", "1.5", "1e5", "1E+5", ".5",
    "-.5", "+.inf", "-.Inf", ".nan", "1.", "true", "True", "FALSE", "yes", "no", "on", "off",
    "y", "~", "null", "NULL", "", "abc", "12:30", "1:2:3", "0.1.2", "08", "09.5", "1e-5",
    "-1.5e+3", "<<x", "Infinity", "'1'", '"true"', "!!str 1", "!!int 1", "!!float 1",
    "!!bool true", "!!int 0x10",
]  # fmt: skip


@pytest.mark.parametrize("written", SCALARS)
def test_plain_scalars_read_as_the_yaml_1_2_core_schema_as_before(written: str) -> None:
    before = YAML(typ="safe", pure=True).load(f"k: {written}\n")["k"]
    now = load(f"k: {written}\n")["k"]
    if isinstance(before, float) and math.isnan(before):
        assert isinstance(now, float) and math.isnan(now)
    else:
        assert (now, type(now)) == (before, type(before))


def test_unquoted_timestamps_stay_the_text_written() -> None:
    text = "when: 2024-01-01T00:00:00Z\nday: 2024-01-01\nexplicit: !!timestamp 2001-12-14 21:59:43.10 -5\n"
    assert load(text) == {
        "when": "2024-01-01T00:00:00Z",
        "day": "2024-01-01",
        "explicit": "2001-12-14 21:59:43.10 -5",
    }


def test_binary_values_stay_their_base64_text() -> None:
    assert load("blob: !!binary |\n  aGVs\n  bG8=\n") == {"blob": "aGVsbG8="}


def test_unknown_and_python_tags_are_ignored_like_kubectl_does() -> None:
    text = "a: !vault secret/x\nb: !!python/object/apply:os.system ['touch pwned']\nc: !Ref {x: 1}\n"
    assert load(text) == {"a": "secret/x", "b": ["touch pwned"], "c": {"x": 1}}


def test_sets_and_ordered_maps_read_as_plain_collections() -> None:
    assert load("s: !!set {a, b}\no: !!omap [a: 1, b: 2]\n") == {
        "s": {"a": None, "b": None},
        "o": [{"a": 1}, {"b": 2}],
    }


def test_scalar_keys_that_are_not_strings_become_their_text() -> None:
    assert load("1: one\ntrue: yes\nnull: x\n~: y\n") == {"1": "one", "true": "yes", "null": "x", "~": "y"}


def test_integers_too_long_to_print_stay_their_text() -> None:
    nines, hexes = "9" * 5000, "0x" + "f" * 5000
    assert load(f"a: {nines}\nb: {hexes}\nc: 12345678901234567890\n") == {
        "a": nines,
        "b": hexes,
        "c": 12345678901234567890,
    }


def test_merge_keys_merge_earlier_sources_first_and_explicit_keys_last() -> None:
    text = "b: &b {a: 1, b: 2}\no: &o {b: 3, c: 4}\nm:\n  <<: [*b, *o]\n  a: 9\n"
    assert load(text)["m"] == {"a": 9, "b": 2, "c": 4}


def test_anchors_may_be_redefined_and_an_alias_takes_the_latest() -> None:
    assert load("- &a x\n- &a y\n- *a\n") == ["x", "y", "y"]


def test_a_byte_order_mark_and_crlf_line_ends_are_read() -> None:
    assert load("\ufeffa: 1\r\nb: [x, y]\r\n") == {"a": 1, "b": ["x", "y"]}


def test_empty_documents_read_as_none() -> None:
    assert load_all("---\n---\na: 1\n...\n", budget=AliasBudget()) == [None, {"a": 1}]


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = yamlload.MAX_DEPTH - 1
    value = load("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        (value,) = value
    assert value == []


def test_the_pure_python_parser_reads_the_same_values() -> None:
    text = (
        "a: &x {k: [1, 2.5, true, null, '3']}\nb: *x\nc:\n  <<: *x\n  d: 2024-01-01\n"
        "e: !!binary aGk=\nf: |\n  two\n  lines\n"
    )
    assert load(text, pure=True) == load(text)


# --- refused, with a line and column ----------------------------------------------------------


def test_a_recursive_alias_is_refused_with_its_line_and_column() -> None:
    err = refused("data:\n  region: eu\nspec: &a [*a]\n")
    assert (err.line, err.column) == (3, 11)
    assert "recursive alias" in str(err)


def test_a_duplicate_key_names_the_key_and_both_lines_never_the_values() -> None:
    err = refused(f"stringData:\n  password: {SECRET}\n  password: {SECRET}-2\n")
    assert str(err) == "line 3, column 3: duplicate key 'password' (first at line 2)"


def test_a_collection_as_a_key_is_refused() -> None:
    assert "a mapping key must be a scalar" in str(refused("? [a, b]\n: v\n"))


def test_a_merge_of_something_other_than_a_mapping_is_refused() -> None:
    assert "merge key" in str(refused("a: {<<: 1}\n"))


def test_an_alias_to_an_undefined_anchor_is_refused() -> None:
    assert (
        str(refused("a: *nowhere\n"))
        == "line 1, column 4: an alias refers to an anchor not defined before it"
    )


@pytest.mark.parametrize("pure", [False, True])
def test_nesting_past_the_limit_is_refused_cleanly(pure: bool) -> None:
    depth = yamlload.MAX_DEPTH + 100
    err = refused("x: " + "[" * depth + "]" * depth, pure=pure)
    assert f"nested deeper than {yamlload.MAX_DEPTH} levels" in str(err)


def test_the_document_is_named_from_the_second_on() -> None:
    err = refused("a: 1\n---\nb: 1\nb: 2\n")
    assert str(err).startswith("document 2: line 4, column 1: duplicate key 'b'")


def test_the_alias_budget_is_shared_by_every_document_read_with_it() -> None:
    budget = AliasBudget(limit=10)
    load_all("a: &a [1, 2, 3]\nb: *a\n", budget=budget)  # 4 nodes added
    assert budget.left == 6
    with pytest.raises(yamlload.BudgetExceeded, match="past 10 nodes"):
        load_all("a: &a [1, 2, 3, 4, 5, 6]\nb: *a\n", budget=budget)


def test_marker_values_have_their_own_smaller_budget() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    laughs += "c: [" + ", ".join(["*b"] * 100) + "]\n"  # 100 + 100 x 111 nodes added
    assert load_all(laughs, budget=AliasBudget())  # fine for a file
    with pytest.raises(YamlError, match=f"past {yamlload.MAX_ALIAS_NODES_IN_MARKER:,} nodes"):
        load_marker_value(laughs)


def test_one_document_is_expected_where_one_is_read() -> None:
    with pytest.raises(YamlError, match="expected one YAML document"):
        load_one("a: 1\n---\nb: 2\n", budget=AliasBudget())


# --- problems recorded instead of raised (the KRM function's items) ---------------------------


def test_lenient_reading_records_problems_against_the_item_they_are_in() -> None:
    text = "items:\n- ok: 1\n- spec: &s {self: *s}\n- data: {k: 1, k: 2}\n"
    doc = load_one(text, budget=AliasBudget(), outline=True, strict=False)
    assert [(p.path, p.line) for p in doc.problems] == [(("items", 1), 3), (("items", 2), 4)]
    assert doc.value["items"][2] == {"data": {"k": 2}}


def test_outline_gives_each_item_its_span_in_the_text() -> None:
    text = "kind: X\nitems:\n- a: 1   # note\n  b: 2\n- [3]\n"
    doc = load_one(text, budget=AliasBudget(), outline=True)
    first, second = doc.spans[("items", 0)], doc.spans[("items", 1)]
    assert text[first.start : first.end] == "a: 1   # note\n  b: 2\n"
    assert (first.column, first.line) == (2, 3)
    assert text[second.start : second.end] == "[3]"
    assert text[doc.spans[("kind",)].key_start :].startswith("kind: X")


# --- messages never quote content -------------------------------------------------------------

SYNTAX_ERRORS = [
    f"data:\n  password: x\n  broken: [{SECRET}\n",
    f'data:\n  password: "{SECRET}\\q"\n',
    f"data:\n  password: {SECRET}: more\n",
    f"data:\n\tpassword: {SECRET}\n",
    f"data:\n  password: '{SECRET}\n",
    f"data:\n  password: {SECRET}\x07\n",
    f"data:\n  password: !<{SECRET} x\n",
    f"data:\n  password: *{SECRET}\n",
    f"%TAG !{SECRET} x\n---\na: 1\n",
    f"data:\n- {SECRET}\n  x: {SECRET}\n",
]


@pytest.mark.parametrize("pure", [False, True])
@pytest.mark.parametrize("text", SYNTAX_ERRORS)
def test_syntax_errors_give_a_line_and_never_the_content(text: str, pure: bool) -> None:
    err = refused(text, pure=pure)
    assert SECRET not in str(err)
    assert "\n" not in str(err)
    assert err.line >= 1


def test_a_tab_used_as_indentation_says_so() -> None:
    assert str(refused("data:\n\tpassword: x\n")).endswith("(a tab: indent with spaces)")


def test_flow_indicators_are_named_in_messages() -> None:
    assert "did not find expected ',' or ']'" in str(refused(f"a: [{SECRET}\nb: 1\n"))
