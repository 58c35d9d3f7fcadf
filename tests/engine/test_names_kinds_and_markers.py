"""Names, kinds and markers as hostile repositories write them: invalid names never rendered,
typed markers are errors, kind rules hold after transforms, keys carry the API group."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubectl_mirror.engine.kinds import DENIED_SECRET_TYPES
from kubectl_mirror.engine.model import ObjectKey, Result
from kubectl_mirror.engine.render import source_id
from kubectl_mirror.errors import Ref
from tests.helpers import errors_of, namespaces_of, ns, render, source

# --- namespace names ---------------------------------------------------------------------------

BAD_NAMESPACES = [
    "Team-A",
    "team\x1b[31mred",
    "team a",
    "team\ttab",
    "-team",
    "team-" + "a" * 70,
    "x\nFORGED: line",
    "team-a\n",  # a `$`-anchored pattern would let this one through
    "..",
    "a/b",
    "team-\u202ea",
]


@pytest.mark.parametrize("name", BAD_NAMESPACES)
def test_an_invalid_namespace_object_is_an_error_and_never_receives_a_mirror(name: str) -> None:
    outcome = render(source(targets="*"), ns("platform"), ns(name), ns("team-b"))
    [error] = errors_of(outcome)
    assert "metadata.name" in error and "is not a valid namespace name" in error
    assert "\n" not in error and "\x1b" not in error
    assert namespaces_of(outcome) == ["team-b"]


@pytest.mark.parametrize("name", BAD_NAMESPACES)
def test_an_invalid_extra_namespace_is_an_error_and_never_receives_a_mirror(name: str) -> None:
    outcome = render(source(targets="*"), ns("platform"), extra_namespaces=(name, "team-b"))
    assert any("is not a valid namespace name" in e for e in errors_of(outcome))
    assert namespaces_of(outcome) == ["team-b"]


@pytest.mark.parametrize("entry", ["Team-A", "team-a\x00", "\x1b[2J", "team-" + "a" * 70])
def test_an_invalid_explicit_target_is_an_error_naming_the_annotation(entry: str) -> None:
    outcome = render(source(targets=f"team-b,{entry}"), ns("team-b"))
    [error] = errors_of(outcome)
    assert 'metadata.annotations["kubectl-mirror.io/targets"]' in error
    assert "\n" not in error and "\x1b" not in error
    assert outcome.mirrors == ()


def test_a_source_in_an_invalid_namespace_is_an_error() -> None:
    outcome = render(source(namespace="Platform", targets="team-a"), ns("team-a"))
    assert errors_of(outcome) == [
        "input.yaml: ConfigMap Platform/src: metadata.namespace: 'Platform' is not a valid namespace name "
        "(lowercase letters, digits and '-', at most 63)"
    ]


# --- object names and identity -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../../x", "a/../../b", "/abs", "..", "a\nb: c", "x" * 300, "..\\x", "Upper"]
)
def test_a_configmap_or_secret_source_needs_a_dns_subdomain_name(name: str) -> None:
    for kind in ("ConfigMap", "Secret"):
        outcome = render(source(name, kind=kind, targets="team-a"), ns("team-a"))
        [error] = errors_of(outcome)
        assert "metadata.name" in error and f"is not a valid {kind} name" in error
        assert "\n" not in error
        assert outcome.mirrors == ()


@pytest.mark.parametrize("name", ["a/b", "..", ".", "50%", "tab\tname", "bell\x07", "rtl\u202e", "x" * 254])
def test_other_kinds_need_at_least_a_path_safe_printable_name(name: str) -> None:
    obj = source(name, kind="Widget", api_version="example.com/v1", targets="team-a", body={"spec": {}})
    [error] = errors_of(render(obj, ns("team-a")))
    assert "metadata.name" in error and "\n" not in error


def test_other_kinds_keep_names_the_api_server_accepts() -> None:
    obj = source(
        "Web_Gateway:1", kind="Widget", api_version="example.com/v1", targets="team-a", body={"spec": {}}
    )
    outcome = render(obj, ns("team-a"))
    assert errors_of(outcome) == [] and len(outcome.mirrors) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("kind", "Con\nfig", "is not a kind name"), ("apiVersion", "v1\x1b[0m", "is not an apiVersion")],
)
def test_a_source_with_an_unprintable_kind_or_api_version_is_an_error(
    field: str, value: str, message: str
) -> None:
    obj = source("s", targets="team-a")
    obj[field] = value
    [error] = errors_of(render(obj, ns("team-a")))
    assert message in error and "\n" not in error and "\x1b" not in error


def test_result_lines_escape_every_control_character_whatever_put_it_there() -> None:
    result = Result(
        "error", "bad\nFORGED: line \x1b[2J", Ref(kind="ConfigMap", namespace="a", name="b\rc"), "x\ty"
    )
    line = result.one_line()
    assert line == "ConfigMap a/b\\rc: x\\ty: bad\\nFORGED: line \\x1b[2J"


def test_a_policy_with_an_invalid_name_is_an_error() -> None:
    policy = {
        "apiVersion": "kubectl-mirror.io/v1alpha1",
        "kind": "MirrorPolicy",
        "metadata": {"name": "p\nFORGED"},
        "spec": {"source": {"namespace": "platform"}, "targets": ["team-a"]},
    }
    [error] = errors_of(render(policy))
    assert "is not a valid MirrorPolicy name" in error and "\n" not in error


# --- typed markers -------------------------------------------------------------------------------


def test_an_unquoted_true_source_label_is_an_error_naming_the_label() -> None:
    obj = source(targets="team-a")
    obj["metadata"]["labels"]["kubectl-mirror.io/source"] = True
    [error] = errors_of(render(obj, ns("team-a")))
    assert error == (
        'input.yaml: ConfigMap platform/src: metadata.labels["kubectl-mirror.io/source"]: must be a string, '
        'got bool (quote it in YAML: kubectl-mirror.io/source: "true")'
    )


def _typed(kind: str, labels: dict[str, Any], annotations: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": "s", "namespace": "platform", "labels": labels, "annotations": annotations},
        "data": {"k": "dg=="},
    }


@pytest.mark.parametrize(
    ("labels", "annotations", "key"),
    [
        ({"mirrorverse.dev/sync-source": True}, {}, "mirrorverse.dev/sync-source"),
        ({"kubemirror.raczylo.com/enabled": True}, {}, "kubemirror.raczylo.com/enabled"),
        (
            {"kubemirror.raczylo.com/enabled": "true"},
            {"kubemirror.raczylo.com/sync": True},
            "kubemirror.raczylo.com/sync",
        ),
        (
            {},
            {"reflector.v1.k8s.emberstack.com/reflection-allowed": True},
            "reflector.v1.k8s.emberstack.com/reflection-allowed",
        ),
        (
            {},
            {
                "reflector.v1.k8s.emberstack.com/reflection-allowed": "true",
                "reflector.v1.k8s.emberstack.com/reflection-auto-enabled": 1,
            },
            "reflector.v1.k8s.emberstack.com/reflection-auto-enabled",
        ),
        (
            {},
            {
                "replicator.v1.mittwald.de/replicate-to": "team-a",
                "replicator.v1.mittwald.de/strip-labels": True,
            },
            "replicator.v1.mittwald.de/strip-labels",
        ),
    ],
)
def test_every_dialects_switch_markers_refuse_typed_values(
    labels: dict[str, Any], annotations: dict[str, Any], key: str
) -> None:
    [error] = errors_of(render(_typed("Secret", labels, annotations), ns("team-a")))
    assert f'["{key}"]: must be a string' in error


def test_a_typed_allowed_marker_on_a_pulled_source_is_an_error_not_a_silent_refusal() -> None:
    src = _typed("Secret", {}, {"replicator.v1.mittwald.de/replication-allowed": True})
    pull = _typed("Secret", {}, {"replicator.v1.mittwald.de/replicate-from": "platform/s"})
    pull["metadata"].update(name="copy", namespace="team-a")
    errors = errors_of(render(src, pull, ns("team-a")))
    assert any('["replicator.v1.mittwald.de/replication-allowed"]: must be a string' in e for e in errors)


def test_a_typed_reject_label_on_a_namespace_is_an_error_and_still_rejects() -> None:
    rejecting = ns("team-a")
    rejecting["metadata"]["labels"] = {"kubectl-mirror.io/reject": True}
    outcome = render(source(targets="team-a,team-b"), rejecting, ns("team-b"))
    [error] = errors_of(outcome)
    assert 'metadata.labels["kubectl-mirror.io/reject"]: must be a string' in error
    assert namespaces_of(outcome) == ["team-b"]


def test_a_source_label_value_that_is_not_a_string_is_an_error() -> None:
    obj = source(targets="team-a", labels={"tier": 3})  # type: ignore[dict-item]
    [error] = errors_of(render(obj, ns("team-a")))
    assert 'metadata.labels["tier"]: must be a string, got int' in error


# --- kind rules and transforms -----------------------------------------------------------------


def _rule(text: str) -> dict[str, str]:
    return {"kubectl-mirror.io/transform": text}


def test_a_transform_cannot_turn_a_secret_into_a_service_account_token() -> None:
    [denied] = sorted(DENIED_SECRET_TYPES)
    obj = source(
        "creds",
        kind="Secret",
        targets="team-a",
        annotations=_rule(f"- path: type\n  value: {denied}\n"),
        body={"type": "Opaque", "data": {"k": "dg=="}},
    )
    outcome = render(obj, ns("team-a"))
    [error] = errors_of(outcome)
    assert error.startswith(
        "input.yaml: Secret platform/creds: type: after the transform rules: Secrets of type"
    )
    assert outcome.mirrors == ()


@pytest.mark.parametrize(
    ("rules", "touched"),
    [
        ("- path: kind\n  value: Pod\n", "kind"),
        ("- path: apiVersion\n  value: v2\n", "apiVersion"),
        ("- path: metadata.name\n  value: other\n", "metadata.name"),
        ("- path: metadata.namespace\n  value: kube-system\n", "metadata.namespace"),
        ('- path: metadata["namespace"]\n  template: kube-system\n', "metadata.namespace"),
        ("- path: metadata.name\n  delete: true\n", "metadata.name"),
        ("- path: metadata\n  merge: {name: other}\n", "metadata.name"),
        ("- path: metadata\n  value: {}\n", "metadata"),
        ("- path: metadata\n  delete: true\n", "metadata"),
        ("- path: kind.x\n  value: y\n", "kind"),
    ],
)
def test_a_rule_that_would_change_the_mirrors_identity_is_refused_naming_rule_and_path(
    rules: str, touched: str
) -> None:
    outcome = render(source(targets="team-a", annotations=_rule(rules)), ns("team-a"))
    [error] = errors_of(outcome)
    assert 'metadata.annotations["kubectl-mirror.io/transform"][0].path' in error
    assert f"a rule cannot change {touched}:" in error
    assert outcome.mirrors == ()


def test_merging_labels_into_metadata_is_still_allowed() -> None:
    outcome = render(
        source(targets="team-a", annotations=_rule("- path: metadata\n  merge: {labels: {tier: shared}}\n")),
        ns("team-a"),
    )
    assert errors_of(outcome) == []
    assert outcome.mirrors[0]["metadata"]["labels"]["tier"] == "shared"


def test_a_rule_writing_an_invalid_label_fails_the_source() -> None:
    rules = _rule('- path: metadata.labels["bad key!"]\n  value: x\n')
    outcome = render(source(targets="team-a", annotations=rules), ns("team-a"))
    [error] = errors_of(outcome)
    assert "after the transform rules:" in error and "is not a valid label key" in error


# --- cluster-scoped custom kinds -----------------------------------------------------------------


def _crd(scope: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}
    if scope is not None:
        spec["scope"] = scope
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": spec,
    }


def _widget(api_version: str = "example.com/v1") -> dict[str, Any]:
    return source("w", kind="Widget", api_version=api_version, targets="team-a", body={"spec": {}})


@pytest.mark.parametrize("scope", ["Cluster", None, "cluster"])
def test_a_kind_the_inputs_crd_does_not_declare_namespaced_is_never_mirrored(scope: Any) -> None:
    outcome = render(_crd(scope), _widget(), ns("team-a"))
    [error] = errors_of(outcome)
    assert (
        "Widget.example.com is not a namespaced kind (CustomResourceDefinition 'widgets.example.com'" in error
    )
    assert outcome.mirrors == ()


def test_a_namespaced_crd_kind_is_mirrored_and_a_same_named_kind_of_another_group_is_not_affected() -> None:
    assert len(render(_crd("Namespaced"), _widget(), ns("team-a")).mirrors) == 1
    assert len(render(_crd("Cluster"), _widget("other.example.org/v1"), ns("team-a")).mirrors) == 1


# --- keys carry the API group --------------------------------------------------------------------


def _gateway(api_version: str) -> dict[str, Any]:
    return source("web", kind="Gateway", api_version=api_version, targets="team-a", body={"spec": {}})


def test_two_kinds_of_one_name_in_two_groups_are_two_objects_and_two_mirrors() -> None:
    a, b = _gateway("gateway.networking.k8s.io/v1"), _gateway("networking.istio.io/v1")
    outcome = render(a, b, ns("team-a"))
    assert errors_of(outcome) == []
    assert sorted(m["apiVersion"] for m in outcome.mirrors) == [
        "gateway.networking.k8s.io/v1",
        "networking.istio.io/v1",
    ]
    assert ObjectKey.of(a) != ObjectKey.of(b)
    assert source_id(a) != source_id(b)


def test_the_same_kind_and_name_in_one_group_still_appears_more_than_once() -> None:
    a, b = _gateway("gateway.networking.k8s.io/v1"), _gateway("gateway.networking.k8s.io/v1beta1")
    errors = errors_of(render(a, b, ns("team-a")))
    assert errors == ["input.yaml: Gateway platform/web: appears more than once in the input"]


def test_results_render_as_json_lines() -> None:
    # Every part of a result line is plain text: JSON can carry it unchanged.
    outcome = render(source(targets="Bad_x"), ns("team-a"))
    json.dumps([r.one_line() for r in outcome.results])
