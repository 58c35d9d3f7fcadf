"""ConfigMapSync (apps.kapendra.com/v1) read as a policy: parsing, errors, combining, rendering."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects import configmapsync as cms
from kubectl_mirror.engine.model import ObjectKey, Target
from kubectl_mirror.engine.policy import Policy
from kubectl_mirror.errors import Ref, SpecError
from kubectl_mirror.io.emit import yaml_stream
from tests.helpers import errors_of, namespaces_of, ns, opts, render

SPEC = {"sourceNamespace": "production", "destinationNamespace": "staging", "configMapName": "app-config"}


def sync(name: str = "app-to-staging", namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps.kapendra.com/v1",
        "kind": "ConfigMapSync",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**SPEC, **spec},
    }


def configmap(name: str = "app-config", namespace: str = "production", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"url": "postgres://db"}}


def read(obj: dict[str, Any]) -> Policy:
    return cms.read_policy(obj, Ref.of(obj), opts())


def test_one_configmap_into_one_namespace_the_source_always_winning() -> None:
    policy = read(sync())
    assert (policy.namespace, policy.kinds, policy.names, policy.selector) == (
        "production",
        ("ConfigMap",),
        ("app-config",),
        None,
    )
    assert policy.spec.targets == (Target("name", "staging"),)
    assert policy.spec.strategy == "replace"
    assert policy.combines


def test_a_deleted_source_orphans_its_mirror_as_the_operator_leaves_the_destination() -> None:
    assert read(sync()).spec.on_source_delete == "orphan"


def test_the_watch_finds_its_source_and_its_mirror_from_the_parsed_policy() -> None:
    policy = read(sync())
    assert policy.key == ObjectKey("apps.kapendra.com", "ConfigMapSync", "default", "app-to-staging")
    [source] = policy.sources()
    assert source == ObjectKey("core", "ConfigMap", "production", "app-config")
    assert policy.places(source) == (ObjectKey("core", "ConfigMap", "staging", "app-config"),)
    assert policy.database is None


def test_only_its_configmap_in_its_source_namespace_is_selected() -> None:
    policy = read(sync())
    assert policy.selects(configmap())
    assert not policy.selects(configmap(name="other"))
    assert not policy.selects(configmap(namespace="staging"))
    assert not policy.selects({**configmap(), "kind": "Secret"})


def test_render_mirrors_the_configmap_naming_the_configmapsync(snapshot: SnapshotAssertion) -> None:
    out = render(sync(), configmap(app="web"), configmap("unrelated"), ns("production"), ns("staging"))
    assert errors_of(out) == []
    assert namespaces_of(out) == ["staging"]
    [mirror] = out.mirrors
    assert mirror["metadata"]["annotations"][m.SOURCE_POLICY] == "ConfigMapSync default/app-to-staging"
    assert mirror["metadata"]["annotations"][m.ON_SOURCE_DELETE] == "orphan"
    assert yaml_stream(out.mirrors) == snapshot


def test_several_configmapsyncs_of_one_configmap_add_up(snapshot: SnapshotAssertion) -> None:
    """Users keep one ConfigMapSync per destination: every one of them counts, and each mirror
    names the one that asked for it."""
    out = render(
        sync("to-staging"),
        sync("to-qa", destinationNamespace="qa"),
        sync("to-qa-again", namespace="other", destinationNamespace="qa"),
        configmap(),
    )
    assert [r.one_line() for r in out.results] == []
    assert namespaces_of(out) == ["qa", "staging"]
    policies = {
        x["metadata"]["namespace"]: x["metadata"]["annotations"][m.SOURCE_POLICY] for x in out.mirrors
    }
    assert policies == {"qa": "ConfigMapSync default/to-qa", "staging": "ConfigMapSync default/to-staging"}
    assert yaml_stream(out.mirrors) == snapshot


def test_a_mirror_policy_selecting_the_same_configmap_wins_with_a_warning() -> None:
    mirror_policy = {
        "apiVersion": "kubectl-mirror.io/v1alpha1",
        "kind": "MirrorPolicy",
        "metadata": {"name": "zzz"},
        "spec": {"source": {"namespace": "production"}, "targets": ["dev"]},
    }
    out = render(sync(), mirror_policy, configmap())
    assert namespaces_of(out) == ["dev"]
    [warning] = [r.message for r in out.results]
    assert warning == (
        "also selected by ConfigMapSync default/app-to-staging, which is ignored for it (MirrorPolicy zzz wins)"
    )


def test_own_markers_win_over_a_configmapsync() -> None:
    marked = configmap(**{"kubectl-mirror.io/source": "true"})
    marked["metadata"]["annotations"] = {"kubectl-mirror.io/targets": "dev"}
    out = render(sync(), marked)
    assert namespaces_of(out) == ["dev"]
    assert [r.message for r in out.results] == [
        "also selected by ConfigMapSync default/app-to-staging, which is ignored for it (its own markers win)"
    ]


def test_protected_namespace_is_reached_because_it_is_named_explicitly() -> None:
    # The operator's README syncs into kube-system; an explicit name is what our rule asks for.
    assert namespaces_of(render(sync(destinationNamespace="kube-system"), configmap())) == ["kube-system"]


def test_common_rules_hold_excluded_namespace_and_denied_target() -> None:
    out = render(sync(), configmap(), exclude_namespaces=("staging",))
    assert out.mirrors == ()
    out = render(sync(), configmap(), ns("staging", **{"kubectl-mirror.io/reject": "true"}))
    assert out.mirrors == ()


def test_a_target_that_is_not_a_mirror_is_left_alone_and_reported() -> None:
    theirs = configmap(namespace="staging")
    out = render(sync(), configmap(), theirs)
    assert out.mirrors == ()
    [error] = errors_of(out)
    assert "target namespace 'staging' already has ConfigMap app-config that is not a mirror" in error


def test_the_operators_labelled_copies_are_never_sources() -> None:
    copy = configmap(namespace="staging", **{cms.MANAGED_BY: cms.MANAGER, cms.SYNC_NAME: "x"})
    other = {**sync(), "spec": {**SPEC, "sourceNamespace": "staging", "destinationNamespace": "qa"}}
    out = render(other, copy)
    assert out.mirrors == ()
    assert cms.is_copy(copy) and not cms.is_copy(configmap())


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"sourceNamespace": None}, "spec.sourceNamespace", "is required"),
        ({"sourceNamespace": "Prod_NS"}, "spec.sourceNamespace", "'Prod_NS' is not a valid namespace name"),
        ({"sourceNamespace": 7}, "spec.sourceNamespace", "must be a string, got int"),
        ({"destinationNamespace": ""}, "spec.destinationNamespace", "is required"),
        ({"destinationNamespace": "-staging"}, "spec.destinationNamespace", "is not a valid namespace name"),
        (
            {"destinationNamespace": "production"},
            "spec.destinationNamespace",
            "is the source namespace 'production': a ConfigMap is never mirrored into its own namespace",
        ),
        ({"configMapName": None}, "spec.configMapName", "is required"),
        ({"configMapName": "App_Config"}, "spec.configMapName", "'App_Config' is not a valid object name"),
        ({"configMapName": ["a"]}, "spec.configMapName", "must be a string, got list"),
        ({"colour": "blue"}, "spec", "unknown field 'colour'"),
    ],
)
def test_every_bad_value_is_one_line_naming_its_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    obj = sync()
    obj["spec"] = {k: v for k, v in {**SPEC, **change}.items() if v is not None}
    with pytest.raises(SpecError) as err:
        read(obj)
    assert err.value.field_path == field
    assert message in err.value.message
    line = err.value.one_line()
    assert "\n" not in line and line.startswith(f"ConfigMapSync default/app-to-staging: {field}: ")


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({**sync(), "spec": "staging"}, "spec"),
        ({k: v for k, v in sync().items() if k != "spec"}, "spec"),
        ({**sync(), "metadata": {"name": "Bad_Name", "namespace": "default"}}, "metadata.name"),
    ],
)
def test_a_malformed_resource_is_one_line_naming_its_field(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as err:
        read(obj)
    assert err.value.field_path == field


def test_a_bad_configmapsync_never_stops_the_others() -> None:
    out = render(
        sync("broken", destinationNamespace="Nope"), sync("good", destinationNamespace="qa"), configmap()
    )
    assert namespaces_of(out) == ["qa"]
    assert errors_of(out) == [
        "input.yaml: ConfigMapSync default/broken: spec.destinationNamespace: 'Nope' is not a valid namespace "
        "name (lowercase letters, digits and '-', at most 63)"
    ]
