"""Valid but unusual values (what a YAML parser can hand over) cost their own object a one-line
error; the engine never raises anything but its results, and the other sources still render."""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_mirror.engine.gotemplate import compile_go_template
from kubectl_mirror.engine.jinja_sandbox import compile_jinja
from kubectl_mirror.engine.paths import MAX_SEGMENTS, parse_path
from kubectl_mirror.engine.plan import Item, render_all
from kubectl_mirror.engine.values import MAX_DEPTH, check_json_like
from kubectl_mirror.errors import InputError, Ref, TransformError
from tests.helpers import errors_of, ns, opts, render, source


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


HOSTILE_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("datetime", {"spec": {"when": datetime.datetime(2024, 1, 1)}}, "spec.when"),
    ("date", {"spec": {"day": datetime.date(2024, 1, 1)}}, "spec.day"),
    ("bytes", {"spec": {"blob": b"hello"}}, "spec.blob"),
    ("set", {"spec": {"s": {1, 2}}}, "spec.s"),
    ("huge int", {"spec": {"n": 10**5000}}, "spec.n"),
    ("nan", {"spec": {"a": math.nan}}, "spec.a"),
    ("inf", {"spec": {"b": -math.inf}}, "spec.b"),
    ("int key", {"data": {1: "one"}}, "data"),
    ("bool key", {"spec": {True: "yes"}}, "spec"),
    ("none key", {"spec": {None: "x"}}, "spec"),
    ("tuple key", {"spec": {("a", "b"): "v"}}, "spec"),
    ("lone surrogate", {"data": {"region": "\udcff"}}, "data.region"),
    ("deep", {"spec": deep(MAX_DEPTH + 5)}, "spec"),
    ("very deep", {"spec": deep(20_000)}, "spec"),
    ("configmap int", {"data": {"port": 8080}}, 'data["port"]'),
    ("configmap list data", {"data": ["a", "b"]}, "data"),
]


@pytest.mark.parametrize(("what", "body", "field"), HOSTILE_BODIES, ids=[h[0] for h in HOSTILE_BODIES])
def test_a_source_holding_a_value_json_cannot_is_one_error_and_others_render(
    what: str, body: dict[str, Any], field: str
) -> None:
    bad = source("bad", targets="team-a", body=body)
    good = source("good", targets="team-a")
    outcome = render(bad, good, ns("platform"), ns("team-a"))
    [error] = errors_of(outcome)
    assert error.startswith("input.yaml: ConfigMap platform/bad: ")
    assert field in error
    assert "\n" not in error
    assert [m["metadata"]["name"] for m in outcome.mirrors] == ["good"]


def test_secret_data_that_is_not_a_mapping_is_an_error_not_a_crash() -> None:
    bad = source("bad", kind="Secret", targets="team-a", body={"data": "hunter2", "stringData": {"a": "b"}})
    assert errors_of(render(bad, ns("team-a"))) == [
        "input.yaml: Secret platform/bad: data: must be a mapping of strings"
    ]


def test_the_check_walks_without_recursion() -> None:
    with pytest.raises(InputError) as info:
        check_json_like({"a": deep(50_000)}, Ref())
    assert info.value.message == f"is nested more than {MAX_DEPTH} levels deep"


def test_json_like_values_pass() -> None:
    check_json_like({"a": [1, 2.5, True, None, "x", {"b": -(2**63)}], "ü": "ß"}, Ref())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": datetime.datetime(2024, 1, 1)}, "a datetime is not a JSON value"),
        ({"x": 2**64}, "does not fit in 64 bits"),
        ({"x": {1: 2}}, "keys must be strings, found int 1"),
        ({"x": math.nan}, "nan is not a number JSON can hold"),
    ],
)
def test_transform_rule_values_are_checked_when_the_rules_are_read(
    value: dict[str, Any], message: str
) -> None:
    policy = {
        "apiVersion": "kubectl-mirror.io/v1alpha1",
        "kind": "MirrorPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "source": {"namespace": "platform"},
            "targets": ["team-a"],
            "transform": [{"path": "data.y", "value": value}],
        },
    }
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "namespace": "platform"}}
    outcome = render(policy, plain, ns("team-a"))
    [error] = errors_of(outcome)
    assert message in error and "spec.transform[0].value.x" in error


@pytest.mark.parametrize(
    "template",
    [
        "{{ " + " + ".join(["1"] * 2500) + " }}",
        "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
        "{{ " + "9" * 5000 + " }}",
        "{{ 1e999 }}",
        "{{ 1" + "0" * 400 + ".0 }}",
        "{% for i in [1] %}" * 120 + "x" + "{% endfor %}" * 120,
        "{{ value" + ".upper()" * 100 + " }}",
        "{{ 'a'" + " | upper" * 3000 + " }}",
    ],
    ids=[
        "long-sum",
        "deep-parens",
        "huge-int",
        "inf",
        "huge-float",
        "deep-for",
        "long-chain",
        "long-filters",
    ],
)
def test_jinja_templates_too_large_or_deep_to_compile_are_transform_errors(template: str) -> None:
    with pytest.raises(TransformError):
        compile_jinja(template)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ " + "9" * 5000 + " }}", "integer constant out of range"),
        ("{{ 9223372036854775808 }}", "integer constant out of range"),
        ("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}", "parentheses nested more than 100 deep"),
        ("{{if true}}" * 2000 + "{{end}}" * 2000, "nested more than 100 deep"),
    ],
)
def test_go_templates_with_huge_numbers_or_deep_nesting_are_transform_errors(
    template: str, message: str
) -> None:
    with pytest.raises(TransformError) as info:
        compile_go_template(template)
    assert message in info.value.message


def test_go_templates_keep_64_bit_integers() -> None:
    assert compile_go_template("{{ 9223372036854775807 }}").nodes


def test_paths_deeper_than_the_limit_are_refused() -> None:
    parse_path(".".join(["a"] * MAX_SEGMENTS))
    with pytest.raises(TransformError, match="more than 50 segments"):
        parse_path(".".join(["a"] * (MAX_SEGMENTS + 1)))


def test_a_transform_rule_with_a_very_deep_path_is_an_error_for_its_source() -> None:
    deep_path = ".".join(["a"] * 5000)
    bad = source(
        "bad",
        targets="team-a",
        annotations={"kubectl-mirror.io/transform": f"- path: {deep_path}\n  value: x\n"},
    )
    outcome = render(bad, source("good", targets="team-a"), ns("team-a"))
    assert len(errors_of(outcome)) == 1 and "more than 50 segments" in errors_of(outcome)[0]
    assert [m["metadata"]["name"] for m in outcome.mirrors] == ["good"]


# --- a property: whatever JSON- or YAML-like value a source holds, render_all returns ------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.dates(),
    st.datetimes(),
)
KEYS = st.one_of(st.text(max_size=6), st.integers(-3, 3), st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=VALUES,
    data=st.dictionaries(KEYS, VALUES, max_size=3),
    kind=st.sampled_from(["ConfigMap", "Secret", "Widget"]),
)
def test_render_all_never_raises_whatever_values_a_source_holds(spec: Any, data: Any, kind: str) -> None:
    api_version = "example.com/v1" if kind == "Widget" else "v1"
    bad = source(
        "bad", kind=kind, api_version=api_version, targets="team-a", body={"spec": spec, "data": data}
    )
    good = source("good", targets="team-a")
    outcome = render_all([Item(o, "in.yaml") for o in (bad, good, ns("team-a"))], opts())
    assert [m["metadata"]["name"] for m in outcome.mirrors if m["kind"] == "ConfigMap"][-1] == "good"
    for result in outcome.results:
        assert "\n" not in result.one_line()
    for mirror in outcome.mirrors:
        json.dumps(mirror)


MARKER_KEYS = st.sampled_from(
    [
        "kubectl-mirror.io/source",
        "kubectl-mirror.io/targets",
        "kubectl-mirror.io/exclude",
        "kubectl-mirror.io/transform",
        "kubectl-mirror.io/transform-strict",
        "kubectl-mirror.io/strategy",
        "kubemirror.raczylo.com/enabled",
        "kubemirror.raczylo.com/sync",
        "kubemirror.raczylo.com/target-namespaces",
        "mirrorverse.dev/sync-source",
        "mirrorverse.dev/targets",
        "reflector.v1.k8s.emberstack.com/reflection-allowed",
        "reflector.v1.k8s.emberstack.com/reflection-auto-enabled",
        "reflector.v1.k8s.emberstack.com/reflection-auto-namespaces",
        "reflector.v1.k8s.emberstack.com/reflects",
        "replicator.v1.mittwald.de/replicate-to",
        "team.example.com/x",
    ]
)
MARKER_VALUES = st.one_of(
    st.sampled_from(["true", "True", "team-a", "*", "(a+)+b", "- path: data.x\n  value: 1\n", "platform/s"]),
    st.text(max_size=10),
    SCALARS,
    st.lists(st.text(max_size=3), max_size=2),
)
NAMES = st.one_of(st.sampled_from(["s", "team-a", "a.b"]), st.text(max_size=12))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=NAMES,
    namespace=NAMES,
    labels=st.dictionaries(st.one_of(MARKER_KEYS, KEYS), MARKER_VALUES, max_size=4),
    annotations=st.dictionaries(st.one_of(MARKER_KEYS, KEYS), MARKER_VALUES, max_size=5),
    kind=st.sampled_from(["ConfigMap", "Secret"]),
    namespaces=st.lists(NAMES, max_size=3),
)
def test_render_all_never_raises_whatever_names_and_markers_an_object_holds(
    name: Any, namespace: Any, labels: Any, annotations: Any, kind: str, namespaces: list[Any]
) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "data": {"k": "dmFsdWU="},
    }
    items = [Item(obj, "in.yaml"), *(Item(ns(n), "ns.yaml") for n in namespaces)]
    outcome = render_all(items, opts(extra_namespaces=("team-a",)))
    for result in outcome.results:
        line = result.one_line()
        assert "\n" not in line and "\x1b" not in line
    for mirror in outcome.mirrors:
        json.dumps(mirror)
        assert mirror["metadata"]["namespace"] in ("team-a", *namespaces)


PATHS = st.sampled_from(
    [
        *(
            "data.x",
            "data",
            "metadata.labels.x",
            "metadata.annotations",
            "metadata",
            "spec[0]",
            'data["a.b"]',
        ),
        *("type", "kind", "spec.a.b.c", "data.x.y", "", "[0]", "metadata.labels", 'spec["\\x"]'),
    ]
)
TEMPLATES = st.sampled_from(
    [
        *(
            "{{ value }}",
            "{{ value.nope }}",
            "{{ target[value] }}",
            "{{ value | b64dec }}",
            "{{ range(10**6) }}",
        ),
        *(
            "{{ value * 10**9 }}",
            "{{ 1/0 }}",
            "{{ labels | upper }}",
            "{% for x in value %}{{ x }}{% endfor %}",
        ),
    ]
)
RULE = st.fixed_dictionaries(
    {"path": st.one_of(PATHS, VALUES)},
    optional={
        "value": VALUES,
        "template": st.one_of(TEMPLATES, VALUES),
        "merge": st.one_of(st.dictionaries(st.text(max_size=4), VALUES, max_size=2), VALUES),
        "delete": st.one_of(st.booleans(), VALUES),
        "namespacePattern": st.one_of(st.sampled_from(["team-*", "[", "*a*a*b"]), VALUES),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.one_of(st.lists(RULE, max_size=4), VALUES),
    kind=st.sampled_from(["ConfigMap", "Secret"]),
    strict=st.booleans(),
)
def test_render_all_never_raises_whatever_transform_rules_a_policy_holds(
    rules: Any, kind: str, strict: bool
) -> None:
    policy = {
        "apiVersion": "kubectl-mirror.io/v1alpha1",
        "kind": "MirrorPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "source": {"namespace": "platform", "kinds": [kind]},
            "targets": ["team-a"],
            "transform": rules,
            "transformStrict": strict,
        },
    }
    target = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "s", "namespace": "platform"}}
    target["data"] = {"x": "aHVudGVyMi1TdXAzci1zM2NyZXQ=", "a.b": "dg=="}
    outcome = render_all([Item(o, "in.yaml") for o in (policy, target, ns("team-a"))], opts())
    for result in outcome.results:
        assert "\n" not in result.one_line()
        if kind == "Secret":
            assert "hunter2-Sup3r-s3cret" not in result.one_line()
    for mirror in outcome.mirrors:
        json.dumps(mirror)
        where = (mirror["kind"], mirror["metadata"]["name"], mirror["metadata"]["namespace"])
        assert where == (kind, "s", "team-a")


def test_a_null_configmap_value_is_kept_as_the_api_server_keeps_it() -> None:
    outcome = render(source("s", targets="team-a", body={"data": {"empty": None}}), ns("team-a"))
    assert errors_of(outcome) == [] and outcome.mirrors[0]["data"] == {"empty": None}
