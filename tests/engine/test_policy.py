"""MirrorPolicy: selecting sources without markers, and its validation."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from kubectl_mirror.engine import markers as m
from kubectl_mirror.io.emit import yaml_stream
from tests.helpers import errors_of, namespaces_of, ns, render


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubectl-mirror.io/v1alpha1",
        "kind": "MirrorPolicy",
        "metadata": {"name": "p"},
        "spec": spec,
    }


def unmarked(name: str, namespace: str = "certs", kind: str = "Secret", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"k": "dg=="}}


def test_policy_mirrors_unmarked_objects_it_selects(snapshot: SnapshotAssertion) -> None:
    out = render(
        policy(source={"namespace": "certs", "names": ["wildcard-*"]}, targets=["team-*"]),
        unmarked("wildcard-tls"),
        unmarked("other-tls"),
        ns("team-a"),
        ns("team-b"),
    )
    assert [(x["metadata"]["name"], x["metadata"]["namespace"]) for x in out.mirrors] == [
        ("wildcard-tls", "team-a"),
        ("wildcard-tls", "team-b"),
    ]
    assert out.mirrors[0]["metadata"]["annotations"][m.SOURCE_POLICY] == "p"
    assert yaml_stream(out.mirrors) == snapshot


def test_policy_selects_by_kind_and_label_selector() -> None:
    out = render(
        policy(
            source={
                "namespace": "certs",
                "kinds": ["ConfigMap"],
                "selector": {"matchExpressions": [{"key": "share", "operator": "Exists"}]},
            },
            targets=["a"],
        ),
        unmarked("s1", share="yes"),
        unmarked("c1", kind="ConfigMap", share="yes"),
        unmarked("c2", kind="ConfigMap"),
    )
    assert [x["metadata"]["name"] for x in out.mirrors] == ["c1"]


def test_policy_target_selector_and_exclude() -> None:
    out = render(
        policy(
            source={"namespace": "certs"},
            targetSelector={"matchLabels": {"tls": "yes"}},
            exclude=["b"],
        ),
        unmarked("s"),
        ns("a", tls="yes"),
        ns("b", tls="yes"),
        ns("c"),
    )
    assert namespaces_of(out) == ["a"]


def test_own_markers_win_over_a_policy_with_a_warning() -> None:
    marked = unmarked("s", **{"kubectl-mirror.io/source": "true"})
    marked["metadata"]["annotations"] = {"kubectl-mirror.io/targets": "x"}
    out = render(policy(source={"namespace": "certs"}, targets=["y"]), marked)
    assert namespaces_of(out) == ["x"]
    assert any("also selected by MirrorPolicy p" in r.message for r in out.results)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"targets": ["a"]}, "spec.source: is required and must be a mapping"),
        (
            {"source": {"namespace": "certs"}},
            "spec.targets: policy has no targets or targetSelector",
        ),
        (
            {"source": {"namespace": "Bad_NS"}, "targets": ["a"]},
            "spec.source.namespace: 'Bad_NS' is not a valid",
        ),
        (
            {"source": {"namespace": "c"}, "targets": ["a"], "strategy": "sometimes"},
            "spec.strategy: unknown value",
        ),
        (
            {"source": {"namespace": "c"}, "targets": ["a"], "onSourceDelete": "keep"},
            "spec.onSourceDelete",
        ),
        (
            {"source": {"namespace": "c", "names": ["[a"]}, "targets": ["a"]},
            "spec.source.names[0]: invalid glob",
        ),
        (
            {"source": {"namespace": "c"}, "targets": ["a"], "colour": 1},
            "spec: unknown field 'colour'",
        ),
        (
            {"source": {"namespace": "c"}, "targets": "a", "transformStrict": "yes"},
            "spec.transformStrict",
        ),
        (
            {"source": {"namespace": "c", "selector": {"matchLabels": 3}}, "targets": ["a"]},
            "spec.source.selector",
        ),
    ],
)
def test_invalid_policy_is_reported_with_its_field(spec: dict[str, Any], message: str) -> None:
    errors = errors_of(render(policy(**spec)))
    assert len(errors) == 1
    assert message in errors[0]
    assert errors[0].startswith("input.yaml: MirrorPolicy p: ")
