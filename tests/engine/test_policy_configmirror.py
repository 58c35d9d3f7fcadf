"""ConfigMirror (mirror.configmirror.io/v1alpha1) read as a policy: parsing, errors, rendering."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects import configmirror as cmr
from kubectl_mirror.engine.model import ObjectKey, Target
from kubectl_mirror.engine.policy import Database, Policy
from kubectl_mirror.errors import Ref, SpecError
from kubectl_mirror.io.emit import yaml_stream
from tests.helpers import errors_of, namespaces_of, ns, opts, render

SPEC: dict[str, Any] = {
    "sourceNamespace": "app-source",
    "targetNamespaces": ["dev", "staging", "prod"],
    "selector": {"matchLabels": {"app": "myapp", "replicate": "true"}},
}


def mirror_cr(name: str = "app-config-mirror", namespace: str = "ops", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mirror.configmirror.io/v1alpha1",
        "kind": "ConfigMirror",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**SPEC, **spec},
    }


def configmap(name: str, namespace: str = "app-source", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": {"config.yaml": "key: value\n"},
        "binaryData": {"logo": "iVBORw0K"},
    }


SELECTED = {"app": "myapp", "replicate": "true"}


def read(obj: dict[str, Any]) -> Policy:
    return cmr.read_policy(obj, Ref.of(obj), opts())


def test_labelled_configmaps_of_the_source_namespace_into_every_target() -> None:
    policy = read(mirror_cr())
    assert (policy.namespace, policy.kinds, policy.names) == ("app-source", ("ConfigMap",), ())
    assert policy.spec.targets == (Target("name", "dev"), Target("name", "staging"), Target("name", "prod"))
    assert (policy.spec.strategy, policy.spec.on_source_delete) == ("replace", "delete")
    assert policy.selects(configmap("a", **SELECTED))
    assert not policy.selects(configmap("b", app="myapp"))
    assert not policy.selects(configmap("c", namespace="ops", **SELECTED))


def test_the_watch_finds_its_sources_by_selector_and_their_mirrors_by_name() -> None:
    policy = read(mirror_cr())
    assert policy.key == ObjectKey("mirror.configmirror.io", "ConfigMirror", "ops", "app-config-mirror")
    assert policy.sources() == ()  # selected by labels: a watch lists the source namespace
    source = ObjectKey("core", "ConfigMap", "app-source", "a")
    assert [p.namespace for p in policy.places(source)] == ["dev", "prod", "staging"]


def test_database_is_parsed_and_checked_and_its_namespace_defaults_to_the_configmirrors() -> None:
    policy = read(mirror_cr(database={"enabled": True, "secretRef": {"name": "rds-credentials"}}))
    assert policy.database == Database(enabled=True, secret_name="rds-credentials", secret_namespace="ops")
    policy = read(mirror_cr(database={"secretRef": {"name": "rds", "namespace": "configmirror-system"}}))
    assert policy.database == Database(
        enabled=True, secret_name="rds", secret_namespace="configmirror-system"
    )
    assert read(mirror_cr()).database is None


def test_database_changes_nothing_rendered() -> None:
    """The PostgreSQL copy is the watch's part: rendering ignores it."""
    with_db = mirror_cr(database={"enabled": True, "secretRef": {"name": "rds"}})
    assert (
        render(with_db, configmap("a", **SELECTED)).mirrors
        == render(mirror_cr(), configmap("a", **SELECTED)).mirrors
    )


def test_render_mirrors_every_selected_configmap(snapshot: SnapshotAssertion) -> None:
    out = render(
        mirror_cr(),
        configmap("app-config", **SELECTED),
        configmap("not-selected", app="other"),
        ns("app-source"),
        ns("dev"),
        ns("staging"),
        ns("prod"),
    )
    assert errors_of(out) == []
    assert [(x["metadata"]["name"], x["metadata"]["namespace"]) for x in out.mirrors] == [
        ("app-config", "dev"),
        ("app-config", "prod"),
        ("app-config", "staging"),
    ]
    assert {x["metadata"]["annotations"][m.SOURCE_POLICY] for x in out.mirrors} == {
        "ConfigMirror ops/app-config-mirror"
    }
    assert all(x["binaryData"] == {"logo": "iVBORw0K"} for x in out.mirrors)
    assert yaml_stream(out.mirrors) == snapshot


def test_an_empty_selector_selects_every_configmap_of_the_namespace() -> None:
    out = render(mirror_cr(selector={}, targetNamespaces=["dev"]), configmap("a"), configmap("b", x="y"))
    assert [x["metadata"]["name"] for x in out.mirrors] == ["a", "b"]


def test_the_source_namespace_among_the_targets_is_skipped() -> None:
    out = render(mirror_cr(targetNamespaces=["app-source", "dev"]), configmap("a", **SELECTED))
    assert namespaces_of(out) == ["dev"]


def test_max_targets_is_an_error_for_each_source_never_a_truncation() -> None:
    out = render(mirror_cr(), configmap("a", **SELECTED), max_targets=2)
    assert out.mirrors == ()
    assert "resolves to 3 target namespaces, more than the limit of 2" in errors_of(out)[0]


def test_a_configmirror_and_a_configmapsync_of_one_configmap_add_up() -> None:
    sync = {
        "apiVersion": "apps.kapendra.com/v1",
        "kind": "ConfigMapSync",
        "metadata": {"name": "extra", "namespace": "ops"},
        "spec": {"sourceNamespace": "app-source", "destinationNamespace": "qa", "configMapName": "a"},
    }
    out = render(mirror_cr(targetNamespaces=["dev"]), sync, configmap("a", **SELECTED))
    assert [r.one_line() for r in out.results] == []
    by_ns = {x["metadata"]["namespace"]: x["metadata"]["annotations"] for x in out.mirrors}
    assert by_ns["dev"][m.SOURCE_POLICY] == "ConfigMirror ops/app-config-mirror"
    assert by_ns["qa"][m.SOURCE_POLICY] == "ConfigMapSync ops/extra"
    # The ConfigMapSync keeps its mirror when the source goes: so do all of this source's.
    assert {a[m.ON_SOURCE_DELETE] for a in by_ns.values()} == {"orphan"}


def test_the_operators_replicas_are_never_sources() -> None:
    replica = configmap("a", namespace="dev", **SELECTED, **{cmr.OWNER: "ops.app-config-mirror"})
    out = render(mirror_cr(sourceNamespace="dev", targetNamespaces=["qa"]), replica)
    assert out.mirrors == ()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sourceNamespace": None}, "spec.sourceNamespace", "is required"),
        ({"sourceNamespace": "App_Source"}, "spec.sourceNamespace", "is not a valid namespace name"),
        ({"targetNamespaces": None}, "spec.targetNamespaces", "is required"),
        ({"targetNamespaces": "dev"}, "spec.targetNamespaces", "must be a list of namespace names, got str"),
        ({"targetNamespaces": []}, "spec.targetNamespaces", "must name at least one namespace"),
        (
            {"targetNamespaces": ["dev", "Prod"]},
            "spec.targetNamespaces[1]",
            "'Prod' is not a valid namespace name",
        ),
        ({"targetNamespaces": ["dev", 3]}, "spec.targetNamespaces[1]", "must be a string, got int"),
        ({"selector": None}, "spec.selector", "is required"),
        ({"selector": {"matchLabels": {"app": 1}}}, "spec.selector", "invalid label selector"),
        (
            {"selector": {"matchExpressions": [{"key": "app", "operator": "Like"}]}},
            "spec.selector",
            "matchExpressions[0].operator 'Like' is not In, NotIn, Exists or DoesNotExist",
        ),
        ({"database": "postgres"}, "spec.database", "must be a mapping"),
        (
            {"database": {"enabled": "yes", "secretRef": {"name": "r"}}},
            "spec.database.enabled",
            "must be true",
        ),
        ({"database": {"enabled": True}}, "spec.database.secretRef", "is required and must be a mapping"),
        ({"database": {"secretRef": {}}}, "spec.database.secretRef.name", "is required"),
        (
            {"database": {"secretRef": {"name": "R_D_S"}}},
            "spec.database.secretRef.name",
            "is not a valid object",
        ),
        (
            {"database": {"secretRef": {"name": "r", "namespace": "Sys"}}},
            "spec.database.secretRef.namespace",
            "is not a valid namespace name",
        ),
        (
            {"database": {"secretRef": {"name": "r", "key": "x"}}},
            "spec.database.secretRef",
            "unknown field 'key'",
        ),
        ({"database": {"secretRef": {"name": "r"}, "host": "x"}}, "spec.database", "unknown field 'host'"),
        ({"replicas": 2}, "spec", "unknown field 'replicas'"),
    ],
)
def test_every_bad_value_is_one_line_naming_its_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    obj = mirror_cr()
    obj["spec"] = {k: v for k, v in {**SPEC, **change}.items() if v is not None}
    with pytest.raises(SpecError) as err:
        read(obj)
    assert err.value.field_path == field
    assert message in err.value.message
    line = err.value.one_line()
    assert "\n" not in line and line.startswith(f"ConfigMirror ops/app-config-mirror: {field}: ")


def test_a_bad_configmirror_never_stops_the_others() -> None:
    out = render(
        mirror_cr("broken", targetNamespaces=[]),
        mirror_cr("good", targetNamespaces=["dev"]),
        configmap("a", **SELECTED),
    )
    assert namespaces_of(out) == ["dev"]
    assert errors_of(out) == [
        "input.yaml: ConfigMirror ops/broken: spec.targetNamespaces: must name at least one namespace"
    ]
