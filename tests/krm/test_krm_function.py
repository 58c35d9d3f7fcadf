"""The KRM function as a pure bytes-in/bytes-out function (no process)."""

from __future__ import annotations

from typing import Any

import yaml
from syrupy.assertion import SnapshotAssertion

from kubectl_mirror.krm import run_bytes

INPUT = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings  # the source
    namespace: platform
    labels:
      kubectl-mirror.io/source: "true"
    annotations:
      kubectl-mirror.io/targets: "team-a, team-b"
      internal.config.kubernetes.io/path: settings.yaml
      internal.config.kubernetes.io/index: '0'
      config.kubernetes.io/path: settings.yaml
      config.kubernetes.io/index: '0'
      internal.config.kubernetes.io/id: '1'
      config.k8s.io/id: '1'
  data:
    region: "eu-west-1"   # keep this comment
- apiVersion: kpt.dev/v1
  kind: Kptfile
  metadata:
    name: pkg
    labels:
      kubectl-mirror.io/source: "true"
    annotations:
      config.kubernetes.io/local-config: "true"
      kubectl-mirror.io/targets: "x"
"""


def run(text: str) -> tuple[dict[str, Any], int, str]:
    out, code = run_bytes(text.encode())
    return yaml.safe_load(out), code, out.decode()


def test_items_pass_through_untouched_with_comments_and_quotes() -> None:
    _, code, text = run(INPUT)
    assert code == 0
    assert "name: settings  # the source" in text
    assert 'region: "eu-west-1"   # keep this comment' in text
    assert 'kubectl-mirror.io/source: "true"' in text


def test_each_mirror_gets_its_own_file_and_loses_source_ids(snapshot: SnapshotAssertion) -> None:
    doc, _, _ = run(INPUT)
    mirrors = doc["items"][2:]
    assert [m["metadata"]["namespace"] for m in mirrors] == ["team-a", "team-b"]
    for mirror in mirrors:
        ann = mirror["metadata"]["annotations"]
        ns = mirror["metadata"]["namespace"]
        assert ann["internal.config.kubernetes.io/path"] == f"mirrors/{ns}/configmap_settings.yaml"
        assert ann["config.kubernetes.io/path"] == ann["internal.config.kubernetes.io/path"]
        assert "internal.config.kubernetes.io/id" not in ann
        assert "config.k8s.io/id" not in ann
    assert mirrors == snapshot


def test_kptfile_and_local_config_items_are_never_sources() -> None:
    doc, _, _ = run(INPUT)
    assert len(doc["items"]) == 4
    assert {m["metadata"]["namespace"] for m in doc["items"][2:]} == {"team-a", "team-b"}


def test_running_twice_equals_running_once() -> None:
    once, _ = run_bytes(INPUT.encode())
    twice, code = run_bytes(once)
    assert code == 0
    assert twice == once


def test_mirrors_of_a_removed_source_are_removed() -> None:
    once, _ = run_bytes(INPUT.encode())
    doc = yaml.safe_load(once)
    doc["items"] = doc["items"][1:]  # the source is gone
    again, code = run_bytes(yaml.safe_dump(doc).encode())
    assert code == 0
    assert [i["kind"] for i in yaml.safe_load(again)["items"]] == ["Kptfile"]


def test_function_config_configmap_carries_options() -> None:
    text = INPUT.replace('"team-a, team-b"', '"team-*"') + (
        "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: function-input}\n"
        "  data:\n    namespaces: team-x,team-y\n"
    )
    doc, code, _ = run(text)
    assert code == 0
    assert [m["metadata"]["namespace"] for m in doc["items"][2:]] == ["team-x", "team-y"]


def test_function_config_mirror_policy_selects_sources() -> None:
    text = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- {apiVersion: v1, kind: Secret, metadata: {name: tls, namespace: certs}, data: {k: dg==}}
functionConfig:
  apiVersion: kubectl-mirror.io/v1alpha1
  kind: MirrorPolicy
  metadata: {name: share-tls}
  spec:
    source: {namespace: certs}
    targets: [a]
"""
    doc, code, _ = run(text)
    assert code == 0
    assert doc["items"][1]["metadata"]["namespace"] == "a"
    assert doc["items"][1]["metadata"]["annotations"]["kubectl-mirror.io/policy"] == "share-tls"


def test_errors_become_results_with_ref_field_and_file_and_exit_1() -> None:
    text = INPUT.replace('"team-a, team-b"', '"Bad_Name"')
    doc, code, _ = run(text)
    assert code == 1
    assert doc["results"] == [
        {
            "message": "'Bad_Name' is not a valid namespace name (lowercase letters, digits and '-', at most 63)",
            "severity": "error",
            "resourceRef": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": "settings",
                "namespace": "platform",
            },
            "field": {"path": 'metadata.annotations["kubectl-mirror.io/targets"]'},
            "file": {"path": "settings.yaml"},
        }
    ]
    assert len(doc["items"]) == 2  # nothing added on error


def test_malformed_resource_list_is_one_error_result() -> None:
    doc, code, _ = run("kind: [unclosed")
    assert code == 1
    assert doc["results"][0]["severity"] == "error"
    assert doc["results"][0]["message"].startswith("cannot read ResourceList")


def test_input_that_is_not_a_resource_list_is_rejected() -> None:
    doc, code, _ = run("apiVersion: v1\nkind: ConfigMap\n")
    assert code == 1
    assert "not a ResourceList" in doc["results"][0]["message"]
