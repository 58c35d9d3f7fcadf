"""The KRM function reads other tools' policies (ConfigMapSync, ConfigMirror), as items or as the
functionConfig, and config-syncer's (kubed) annotations, as render does."""

from __future__ import annotations

from typing import Any

import yaml
from syrupy.assertion import SnapshotAssertion

from kubectl_mirror.krm import run_bytes

SOURCE = """\
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: app-config
    namespace: production
    labels: {app: web}
    annotations:
      config.kubernetes.io/path: production/app-config.yaml
      internal.config.kubernetes.io/path: production/app-config.yaml
  data: {url: "postgres://db"}  # keep this comment
"""
CONFIGMAPSYNC = """\
  apiVersion: apps.kapendra.com/v1
  kind: ConfigMapSync
  metadata: {name: to-staging, namespace: default}
  spec: {sourceNamespace: production, destinationNamespace: staging, configMapName: app-config}
"""
CONFIGMIRROR = """\
  apiVersion: mirror.configmirror.io/v1alpha1
  kind: ConfigMirror
  metadata: {name: web, namespace: ops}
  spec:
    sourceNamespace: production
    targetNamespaces: [dev, qa]
    selector: {matchLabels: {app: web}}
    database: {enabled: true, secretRef: {name: rds-credentials, namespace: configmirror-system}}
"""
HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"


def run(text: str) -> tuple[dict[str, Any], int, str]:
    out, code = run_bytes(text.encode())
    return yaml.safe_load(out), code, out.decode()


def placed(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            i["metadata"]["namespace"],
            i["metadata"]["name"],
            i["metadata"]["annotations"]["kubectl-mirror.io/policy"],
        )
        for i in doc["items"]
        if (i["metadata"].get("labels") or {}).get("kubectl-mirror.io/mirror") == "true"
    ]


def test_configmapsync_items_select_their_configmap(snapshot: SnapshotAssertion) -> None:
    text = (
        HEAD
        + SOURCE
        + "-"
        + CONFIGMAPSYNC[1:]
        + "-"
        + CONFIGMAPSYNC[1:]
        .replace("to-staging", "to-qa")
        .replace("destinationNamespace: staging", "destinationNamespace: qa")
    )
    doc, code, out = run(text)
    assert code == 0, doc.get("results")
    assert placed(doc) == [
        ("qa", "app-config", "ConfigMapSync default/to-qa"),
        ("staging", "app-config", "ConfigMapSync default/to-staging"),
    ]
    assert "# keep this comment" in out
    mirrors = doc["items"][3:]
    assert [m["metadata"]["annotations"]["internal.config.kubernetes.io/path"] for m in mirrors] == [
        "mirrors/qa/configmap_app-config.yaml",
        "mirrors/staging/configmap_app-config.yaml",
    ]
    assert mirrors == snapshot


def test_configmapsync_as_the_function_config() -> None:
    doc, code, _ = run(HEAD + SOURCE + "functionConfig:\n" + CONFIGMAPSYNC)
    assert code == 0
    assert placed(doc) == [("staging", "app-config", "ConfigMapSync default/to-staging")]


def test_configmirror_as_the_function_config_with_its_database_checked_and_ignored(
    snapshot: SnapshotAssertion,
) -> None:
    doc, code, _ = run(HEAD + SOURCE + "functionConfig:\n" + CONFIGMIRROR)
    assert code == 0, doc.get("results")
    assert placed(doc) == [
        ("dev", "app-config", "ConfigMirror ops/web"),
        ("qa", "app-config", "ConfigMirror ops/web"),
    ]
    assert doc["items"][1:] == snapshot


def test_a_bad_policy_is_an_error_result_naming_its_field_and_nothing_is_added() -> None:
    bad = CONFIGMIRROR.replace("targetNamespaces: [dev, qa]", "targetNamespaces: [dev, QA]")
    doc, code, _ = run(HEAD + SOURCE + "-" + bad[1:])
    assert code == 1
    assert doc["results"] == [
        {
            "message": "'QA' is not a valid namespace name (lowercase letters, digits and '-', at most 63)",
            "severity": "error",
            "resourceRef": {
                "apiVersion": "mirror.configmirror.io/v1alpha1",
                "kind": "ConfigMirror",
                "name": "web",
                "namespace": "ops",
            },
            "field": {"path": "spec.targetNamespaces[1]"},
        }
    ]
    assert len(doc["items"]) == 2


KUBED = """\
- apiVersion: v1
  kind: Secret
  metadata:
    name: registry
    namespace: platform
    annotations:
      kubed.appscode.com/sync: "app=kubed"
      kubed.appscode.com/sync-contexts: "east"
  data: {k: dg==}
- {apiVersion: v1, kind: Namespace, metadata: {name: team-a, labels: {app: kubed}}}
- {apiVersion: v1, kind: Namespace, metadata: {name: team-b}}
"""


def test_kubed_annotations_are_read_and_sync_contexts_is_a_warning_result(
    snapshot: SnapshotAssertion,
) -> None:
    doc, code, _ = run(HEAD + KUBED)
    assert code == 0
    [mirror] = doc["items"][3:]
    assert (mirror["kind"], mirror["metadata"]["namespace"]) == ("Secret", "team-a")
    assert mirror["metadata"]["labels"]["kubed.appscode.com/origin.name"] == "registry"
    assert doc["results"] == [
        {
            "message": "cross-cluster sync is not supported: the contexts are ignored and only this "
            "cluster's namespaces get mirrors",
            "severity": "warning",
            "resourceRef": {
                "apiVersion": "v1",
                "kind": "Secret",
                "name": "registry",
                "namespace": "platform",
            },
            "field": {"path": 'metadata.annotations["kubed.appscode.com/sync-contexts"]'},
        }
    ]
    assert mirror == snapshot


def test_running_twice_equals_running_once() -> None:
    once, _ = run_bytes((HEAD + SOURCE + KUBED + "functionConfig:\n" + CONFIGMIRROR).encode())
    twice, code = run_bytes(once)
    assert code == 0
    assert twice == once
