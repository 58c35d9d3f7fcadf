from __future__ import annotations

from typing import Any

import pytest

from kubectl_mirror.engine.dialects import replicator as rp
from kubectl_mirror.engine.model import MirrorSpec, PullRef, Target, TransformRule
from kubectl_mirror.errors import Ref, SpecError
from tests.helpers import ns, opts, render


def secret(
    annotations: dict[str, Any],
    *,
    name: str = "creds",
    namespace: str = "platform",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations,
        },
        "type": "Opaque",
        "data": {"key": "dmFsdWU="},
    }


def read(obj: dict[str, Any]) -> MirrorSpec | None:
    return rp.read_source(obj, Ref.of(obj), opts())


def test_object_without_replicate_to_is_not_a_source() -> None:
    assert read(secret({rp.REPLICATION_ALLOWED: "true"})) is None


def test_replicate_to_entries_are_names_or_regexes() -> None:
    spec = read(secret({rp.REPLICATE_TO: "my-ns-1, namespace-[0-9]*"}))
    assert spec is not None
    assert spec.targets == (Target("name", "my-ns-1"), Target("regex", "namespace-[0-9]*"))
    assert (spec.strategy, spec.on_source_delete) == ("replace", "delete")


def test_replicate_to_matching_is_a_namespace_selector_added_to_the_list() -> None:
    spec = read(secret({rp.REPLICATE_TO: "tools", rp.REPLICATE_TO_MATCHING: "team,env notin (prod)"}))
    assert spec is not None
    assert spec.targets == (Target("name", "tools"), Target("selector", "team,env notin (prod)"))


def test_an_object_with_replicate_from_is_a_pull_not_a_source() -> None:
    assert read(secret({rp.REPLICATE_FROM: "platform/creds", rp.REPLICATE_TO: "tools"})) is None


def test_strip_labels_becomes_a_rule_deleting_the_copied_labels() -> None:
    spec = read(secret({rp.REPLICATE_TO: "tools", rp.STRIP_LABELS: "true"}))
    assert spec is not None
    assert spec.transforms == (TransformRule(path="metadata.labels", op="delete"),)


@pytest.mark.parametrize(
    ("annotations", "key"),
    [
        ({rp.REPLICATE_TO: ""}, rp.REPLICATE_TO),
        ({rp.REPLICATE_TO_MATCHING: " "}, rp.REPLICATE_TO_MATCHING),
        ({rp.REPLICATE_TO: "ns-("}, rp.REPLICATE_TO),
        (
            {rp.REPLICATE_TO: "tools", rp.REPLICATE_TO_MATCHING: "env in (a"},
            rp.REPLICATE_TO_MATCHING,
        ),
        ({rp.REPLICATE_TO: 7}, rp.REPLICATE_TO),
    ],
)
def test_bad_values_are_errors_naming_the_annotation(annotations: dict[str, Any], key: str) -> None:
    with pytest.raises(SpecError) as err:
        read(secret(annotations))
    assert err.value.field_path == f'metadata.annotations["{key}"]'


def test_replicate_from_is_read_as_a_pull() -> None:
    obj = secret({rp.REPLICATE_FROM: "platform/creds"}, name="replica", namespace="tools")
    assert rp.read_pull(obj, Ref.of(obj)) == PullRef("replicator", "platform", "creds")
    assert rp.read_pull(secret({}), Ref()) is None


@pytest.mark.parametrize("value", ["creds", "platform/", "platform/Creds", "-x/creds"])
def test_malformed_replicate_from_is_an_error_naming_the_annotation(value: str) -> None:
    obj = secret({rp.REPLICATE_FROM: value}, namespace="tools")
    with pytest.raises(SpecError) as err:
        rp.read_pull(obj, Ref.of(obj))
    assert err.value.field_path == f'metadata.annotations["{rp.REPLICATE_FROM}"]'


def test_pull_needs_replication_allowed() -> None:
    assert not rp.allows_pull(secret({rp.REPLICATION_ALLOWED_NAMESPACES: "tools"}), "tools")
    source = secret({rp.REPLICATION_ALLOWED: "false", rp.REPLICATION_ALLOWED_NAMESPACES: "tools"})
    assert not rp.allows_pull(source, "tools")


def test_missing_or_empty_allowed_namespaces_allow_no_pull() -> None:
    assert not rp.allows_pull(secret({rp.REPLICATION_ALLOWED: "true"}), "tools")
    source = secret({rp.REPLICATION_ALLOWED: "true", rp.REPLICATION_ALLOWED_NAMESPACES: ""})
    assert not rp.allows_pull(source, "tools")


def test_allowed_namespaces_match_whole_names_only() -> None:
    source = secret(
        {rp.REPLICATION_ALLOWED: "true", rp.REPLICATION_ALLOWED_NAMESPACES: "my-ns-1,app-ns-[0-9]*"}
    )
    assert rp.allows_pull(source, "my-ns-1")
    assert rp.allows_pull(source, "app-ns-42")
    assert not rp.allows_pull(source, "my-ns-10")
    assert not rp.allows_pull(source, "x-app-ns-1")


@pytest.mark.parametrize(
    "key", [rp.REPLICATE_FROM, rp.REPLICATED_AT, rp.REPLICATED_FROM_VERSION, rp.REPLICATED_KEYS]
)
def test_copies_replicator_made_or_fills_are_foreign_mirrors(key: str) -> None:
    assert rp.is_foreign_mirror(secret({key: "x"}))


def test_a_replicator_source_is_not_a_foreign_mirror() -> None:
    assert not rp.is_foreign_mirror(secret({rp.REPLICATE_TO: "tools"}))


def test_dialect_kinds_are_those_replicator_supports() -> None:
    assert rp.REPLICATOR.kinds == ("Secret", "ConfigMap", "Role", "RoleBinding", "ServiceAccount")


def test_render_end_to_end(snapshot: Any) -> None:
    source = secret(
        {
            rp.REPLICATE_TO: "app-ns-[0-9]+",
            rp.REPLICATE_TO_MATCHING: "team=a",
            rp.REPLICATION_ALLOWED: "true",
            rp.REPLICATION_ALLOWED_NAMESPACES: "tools",
        }
    )
    pull = secret({rp.REPLICATE_FROM: "platform/creds"}, name="replica", namespace="tools")
    refused = secret({rp.REPLICATE_FROM: "platform/creds"}, name="replica", namespace="other")
    old_copy = secret({rp.REPLICATED_FROM_VERSION: "12", rp.REPLICATE_TO: "x"}, namespace="app-ns-1")
    outcome = render(
        source,
        pull,
        refused,
        old_copy,
        ns("platform", team="a"),
        ns("app-ns-1"),
        ns("app-ns-x"),
        ns("team-a", team="a"),
        ns("tools"),
        ns("other"),
    )
    assert [r.one_line() for r in outcome.results] == [
        "input.yaml: Secret other/replica: pulls from platform/creds, which does not allow namespace 'other'"
    ]
    where = [(m["metadata"]["namespace"], m["metadata"]["name"]) for m in outcome.mirrors]
    assert where == [("app-ns-1", "creds"), ("team-a", "creds"), ("tools", "replica")]
    assert outcome.mirrors == snapshot


def test_strip_labels_renders_copies_with_only_our_ownership_labels() -> None:
    source = secret({rp.REPLICATE_TO: "tools", rp.STRIP_LABELS: "true"}, labels={"strimzi.io/kind": "Kafka"})
    outcome = render(source, ns("platform"), ns("tools"))
    assert [r.one_line() for r in outcome.results] == []
    (mirror,) = outcome.mirrors
    assert sorted(mirror["metadata"]["labels"]) == [
        "app.kubernetes.io/managed-by",
        "kubectl-mirror.io/mirror",
        "kubectl-mirror.io/source-id",
    ]
