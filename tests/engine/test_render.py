"""What a mirror looks like: copied and dropped metadata, ownership, hashing, clean-ups."""

from __future__ import annotations

import base64

from syrupy.assertion import SnapshotAssertion

from kubectl_mirror.engine import markers as m
from kubectl_mirror.io.emit import yaml_stream
from tests.helpers import errors_of, render, source

NOISY_META = {
    "uid": "1234",
    "resourceVersion": "99",
    "generation": 3,
    "creationTimestamp": "2026-01-01T00:00:00Z",
    "managedFields": [{"manager": "kubectl"}],
    "ownerReferences": [{"kind": "ExternalSecret", "name": "x"}],
    "finalizers": ["example.com/keep"],
    "selfLink": "/api/v1/x",
}


def test_mirror_keeps_user_metadata_and_drops_control_and_foreign_ownership(
    snapshot: SnapshotAssertion,
) -> None:
    src = source(
        annotations={
            "reloader.stakater.com/match": "true",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "argocd.argoproj.io/tracking-id": "app:/ConfigMap:platform/src",
            "meta.helm.sh/release-name": "r",
            "kubectl-mirror.io/strategy": "merge",
            "reflector.v1.k8s.emberstack.com/reflection-allowed": "true",
            "team.example.com/owner": "platform",
        },
        labels={
            "app.kubernetes.io/instance": "argo-app",
            "helm.toolkit.fluxcd.io/name": "r",
            "app.kubernetes.io/part-of": "platform",
            "cnpg.io/reload": "true",
        },
    )
    src["metadata"].update(NOISY_META)
    src["status"] = {"phase": "x"}
    src["metadata"]["annotations"]["kubectl-mirror.io/targets"] = "a"
    out = render(src)
    assert yaml_stream(out.mirrors) == snapshot


def test_drop_metadata_removes_more_keys_by_glob() -> None:
    src = source(targets="a", annotations={"team.example.com/owner": "x", "other/keep": "y"})
    out = render(src, drop_metadata=("team.example.com/*",))
    annotations = out.mirrors[0]["metadata"]["annotations"]
    assert "team.example.com/owner" not in annotations
    assert annotations["other/keep"] == "y"


def test_ownership_records_source_uid_strategy_and_on_delete() -> None:
    src = source(
        targets="a",
        annotations={
            "kubectl-mirror.io/strategy": "merge",
            "kubectl-mirror.io/on-source-delete": "orphan",
        },
    )
    src["metadata"]["uid"] = "u-1"
    ann = render(src).mirrors[0]["metadata"]["annotations"]
    assert ann[m.SOURCE_UID] == "u-1"
    assert ann[m.STRATEGY] == "merge"
    assert ann[m.ON_SOURCE_DELETE] == "orphan"


def test_source_id_label_is_label_safe_and_shared_by_all_mirrors_of_a_source() -> None:
    out = render(source(name="x" * 253, targets="a,b"))
    ids = {mirror["metadata"]["labels"][m.SOURCE_HASH_LABEL] for mirror in out.mirrors}
    assert len(ids) == 1
    assert len(ids.pop()) <= 63


def test_content_hash_follows_the_payload_not_the_namespace() -> None:
    a, b = render(source(targets="a,b")).mirrors
    assert a["metadata"]["annotations"][m.CONTENT_HASH] == b["metadata"]["annotations"][m.CONTENT_HASH]
    changed = render(source(targets="a", body={"data": {"key": "other"}})).mirrors[0]
    assert changed["metadata"]["annotations"][m.CONTENT_HASH] != a["metadata"]["annotations"][m.CONTENT_HASH]


def test_service_copy_loses_cluster_ips_and_node_ports(snapshot: SnapshotAssertion) -> None:
    svc = source(
        kind="Service",
        targets="a",
        body={
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.0.0.1",
                "clusterIPs": ["10.0.0.1"],
                "ports": [{"port": 80, "nodePort": 30080, "targetPort": 8080}],
                "selector": {"app": "x"},
            }
        },
    )
    assert yaml_stream(render(svc).mirrors) == snapshot


def test_secret_string_data_is_folded_into_data() -> None:
    sec = source(kind="Secret", targets="a", body={"data": {"a": "eA=="}, "stringData": {"b": "plain"}})
    mirror = render(sec).mirrors[0]
    assert "stringData" not in mirror
    assert mirror["data"] == {"a": "eA==", "b": base64.b64encode(b"plain").decode()}


def test_mirror_of_a_mirror_is_never_made() -> None:
    src = source(targets="a", labels={m.MIRROR_LABEL: "true"})
    assert render(src).mirrors == ()


def test_input_object_we_do_not_own_is_never_shadowed() -> None:
    theirs = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "src", "namespace": "a"},
    }
    out = render(source(targets="a,b"), theirs)
    assert [x["metadata"]["namespace"] for x in out.mirrors] == ["b"]
    assert "already has ConfigMap src that is not a mirror" in errors_of(out)[0]


def test_rendering_never_mutates_the_input() -> None:
    import copy

    src = source(targets="a,b", kind="Secret", body={"stringData": {"x": "y"}})
    before = copy.deepcopy(src)
    render(src)
    assert src == before


def test_output_is_sorted_by_kind_rank_namespace_and_name() -> None:
    out = render(
        source("b", targets="y,x"),
        source("a", kind="Secret", targets="z"),
        source("a", targets="y"),
    )
    keys = [(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in out.mirrors]
    assert keys == [
        ("Secret", "z", "a"),
        ("ConfigMap", "x", "b"),
        ("ConfigMap", "y", "a"),
        ("ConfigMap", "y", "b"),
    ]


def test_custom_resources_are_mirrored_like_built_ins() -> None:
    cr = source(kind="Widget", api_version="example.com/v1", targets="a", body={"spec": {"size": 3}})
    mirror = render(cr).mirrors[0]
    assert mirror["apiVersion"] == "example.com/v1"
    assert mirror["metadata"]["annotations"][m.SOURCE_GROUP] == "example.com"
