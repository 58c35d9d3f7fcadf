"""`kubectl mirror watch` on policy resources: our MirrorPolicy and the custom resources of the
tools users migrate from (ConfigMapSync, ConfigMirror; CRDs from deploy/compat/), each with its
status written in its own shape and its finalizer honoured. Both servers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.live_helpers import cm, data_of, get, ns, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "deploy" / "compat"
MIRROR_POLICY_CRD = ROOT / "kubectl_mirror" / "crds" / "mirrorpolicy.yaml"


@pytest.fixture
def world(apiserver: Any) -> Any:
    apiserver.create(yaml.safe_load(MIRROR_POLICY_CRD.read_text()))
    for path in sorted(COMPAT.glob("crd-*.yaml")):
        apiserver.create(yaml.safe_load(path.read_text()))
    for name in ("production", "staging", "qa", "ops", "team-x"):
        ns(apiserver, name)
    return apiserver


def mirror_policy(apiserver: Any, name: str, targets: list[str], names: list[str]) -> Any:
    return apiserver.create(
        {
            "apiVersion": "kubectl-mirror.io/v1alpha1",
            "kind": "MirrorPolicy",
            "metadata": {"name": name},
            "spec": {"source": {"namespace": "production", "names": names}, "targets": targets},
        }
    )


def test_a_mirror_policy_made_invalid_keeps_its_mirrors(world: Any, start_watch: Any, kubectl: Any) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    mirror_policy(world, "share", ["staging"], ["app-config"])
    watcher = start_watch()
    wait_for(lambda: data_of(world, kubectl, "staging", "app-config"), what="policy mirror")
    kubectl("patch", "mirrorpolicy", "share", "--type", "merge", "-p", '{"spec":{"source":{"names":["["]}}}')
    wait_for(lambda: "spec.source.names[0]" in watcher.output(), what="the policy's error in the log")
    world.log.clear()
    kubectl("label", "namespace", "staging", "poke=1")  # something to react to
    kubectl(
        "patch", "configmap", "app-config", "-n", "production", "--type", "merge", "-p", '{"data":{"x":"1"}}'
    )
    time.sleep(4.0)  # two resync periods
    # A typo in a policy never deletes its mirrors, as a typo in a marker never does.
    assert get(world, kubectl, "configmap", "staging", "app-config") is not None
    assert [w for w in world.log.writes() if "/namespaces/staging/" in w.path] == []


# -- ConfigMapSync -----------------------------------------------------------------------------


def configmapsync(apiserver: Any, name: str, destination: str, *, namespace: str = "default") -> Any:
    return apiserver.create(
        {
            "apiVersion": "apps.kapendra.com/v1",
            "kind": "ConfigMapSync",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "sourceNamespace": "production",
                "destinationNamespace": destination,
                "configMapName": "app-config",
            },
        }
    )


def resource(kubectl: Any, kind: str, namespace: str, name: str) -> Any:
    found = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return None if found.returncode else json.loads(found.stdout)


def conditions(obj: Any) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in (obj.get("status") or {}).get("conditions", [])}


def test_configmapsync_is_mirrored_with_its_status_in_its_own_shape(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-staging", "staging")
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "staging", "app-config"), what="the destination")

    def success() -> Any:
        obj = resource(kubectl, "configmapsync", "default", "to-staging")
        return obj if (obj.get("status") or {}).get("syncStatus") == "Success" else None

    obj = wait_for(success, what="status Success")
    status = obj["status"]
    assert status["message"] == "ConfigMap synced successfully"
    assert (status["sourceExists"], status["destinationExists"], status["retryCount"]) == (True, True, 0)
    assert conditions(obj) == {
        "Synced": ("True", "SyncSucceeded"),
        "SourceAvailable": ("True", "SourceFound"),
        "Ready": ("True", "AllComponentsReady"),
    }
    assert all(c["observedGeneration"] == obj["metadata"]["generation"] for c in status["conditions"])
    assert "T" in status["lastSyncTime"] and status["lastSyncTime"].endswith("Z")
    assert obj["metadata"]["finalizers"] == ["configmapsync.apps.kapendra.com/finalizer"]
    # Resyncs (every 2 s here) write nothing: no mirror, no status.
    time.sleep(1.0)
    world.log.clear()
    time.sleep(5.0)
    assert world.log.writes() == []


def test_configmapsync_reports_a_missing_source_and_a_conflict(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    configmapsync(world, "to-staging", "staging")
    cm(world, "app-config", "qa", data={"theirs": "1"})
    cm(world, "app-config", "team-x", data={"theirs": "1"})
    start_watch()

    def failed(name: str) -> Any:
        obj = resource(kubectl, "configmapsync", "default", name)
        return obj if (obj.get("status") or {}).get("syncStatus") == "Failed" else None

    obj = wait_for(lambda: failed("to-staging"), what="status Failed")
    assert obj["status"]["message"] == "Source ConfigMap not found"
    assert (obj["status"]["sourceExists"], obj["status"]["destinationExists"]) == (False, False)
    assert conditions(obj)["SourceAvailable"] == ("False", "SourceNotFound")
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-qa", "qa")  # a ConfigMap that is not ours is there
    wait_for(lambda: data_of(world, kubectl, "staging", "app-config"), what="the destination")
    obj = wait_for(lambda: failed("to-qa"), what="status Failed for the conflict")
    assert "not managed by kubectl-mirror" in obj["status"]["message"], obj["status"]
    assert conditions(obj)["Synced"] == ("False", "SyncFailed")
    assert data_of(world, kubectl, "qa", "app-config") == {"theirs": "1"}


def test_two_configmapsyncs_of_one_name_in_two_namespaces_are_two(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "sync", "staging", namespace="default")
    configmapsync(world, "sync", "qa", namespace="ops")
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "staging", "app-config"), what="the first destination")
    wait_for(lambda: data_of(world, kubectl, "qa", "app-config"), what="the second destination")
    kubectl("delete", "configmapsync", "sync", "-n", "ops")
    wait_for(lambda: data_of(world, kubectl, "qa", "app-config") is None, what="the second one removed")
    time.sleep(3.0)
    assert data_of(world, kubectl, "staging", "app-config") == {"url": "postgres://db"}


def test_deleting_a_configmapsync_removes_its_destination_then_its_finalizer(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-staging", "staging")
    configmapsync(world, "to-qa", "qa")
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "qa", "app-config"), what="the destination")
    wait_for(
        lambda: (
            (resource(kubectl, "configmapsync", "default", "to-qa") or {})
            .get("metadata", {})
            .get("finalizers")
        ),
        what="the finalizer",
    )
    kubectl("delete", "configmapsync", "to-qa", "-n", "default", "--wait=false")
    wait_for(lambda: resource(kubectl, "configmapsync", "default", "to-qa") is None, what="the resource gone")
    assert data_of(world, kubectl, "qa", "app-config") is None
    # Its source gone too, the operator still deleted the destination: so do we (only ours).
    kubectl("delete", "configmap", "app-config", "-n", "production")
    wait_for(
        lambda: (
            (get(world, kubectl, "configmap", "staging", "app-config") or {})
            .get("metadata", {})
            .get("labels", {})
            .get("kubectl-mirror.io/stale")
        ),
        what="the orphaned destination marked stale",
    )
    kubectl("delete", "configmapsync", "to-staging", "-n", "default", "--wait=false")
    wait_for(lambda: resource(kubectl, "configmapsync", "default", "to-staging") is None, what="gone")
    assert get(world, kubectl, "configmap", "staging", "app-config") is None


def test_a_terminating_configmapsync_never_deletes_what_is_not_ours(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "qa", data={"theirs": "1"})
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-qa", "qa")
    start_watch()
    wait_for(
        lambda: (
            (resource(kubectl, "configmapsync", "default", "to-qa") or {})
            .get("metadata", {})
            .get("finalizers")
        ),
        what="the finalizer",
    )
    kubectl("delete", "configmapsync", "to-qa", "-n", "default", "--wait=false")
    wait_for(lambda: resource(kubectl, "configmapsync", "default", "to-qa") is None, what="the resource gone")
    assert data_of(world, kubectl, "qa", "app-config") == {"theirs": "1"}


# -- ConfigMirror ------------------------------------------------------------------------------


def configmirror(apiserver: Any, targets: list[str], **spec: Any) -> Any:
    return apiserver.create(
        {
            "apiVersion": "mirror.configmirror.io/v1alpha1",
            "kind": "ConfigMirror",
            "metadata": {"name": "app-config-mirror", "namespace": "ops"},
            "spec": {
                "sourceNamespace": "production",
                "targetNamespaces": targets,
                "selector": {"matchLabels": {"replicate": "true"}},
                **spec,
            },
        }
    )


def test_configmirror_is_mirrored_with_its_status_and_finalizer(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"a": "1"}, labels={"replicate": "true"})
    cm(world, "flags", "production", data={"b": "2"}, labels={"replicate": "true"})
    cm(world, "private", "production", data={"c": "3"})
    configmirror(world, ["staging", "qa"])
    start_watch()

    def replicated() -> Any:
        obj = resource(kubectl, "configmirror", "ops", "app-config-mirror")
        entries = (obj.get("status") or {}).get("replicatedConfigMaps") or []
        done = [(e["name"], e["sourceNamespace"], e["targets"]) for e in entries]
        return (
            obj
            if done
            == [("app-config", "production", ["qa", "staging"]), ("flags", "production", ["qa", "staging"])]
            else None
        )

    obj = wait_for(replicated, what="replicatedConfigMaps")
    assert conditions(obj) == {"Ready": ("True", "ReconcileSuccess")}
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert obj["metadata"]["finalizers"] == ["mirror.configmirror.io/finalizer"]
    assert get(world, kubectl, "configmap", "qa", "private") is None
    kubectl("label", "configmap", "flags", "-n", "production", "replicate-")
    wait_for(
        lambda: data_of(world, kubectl, "qa", "flags") is None, what="an unselected source's replicas gone"
    )
    kubectl("delete", "configmirror", "app-config-mirror", "-n", "ops", "--wait=false")
    wait_for(lambda: resource(kubectl, "configmirror", "ops", "app-config-mirror") is None, what="gone")
    assert data_of(world, kubectl, "qa", "app-config") is None
    assert data_of(world, kubectl, "staging", "app-config") is None
    assert data_of(world, kubectl, "production", "app-config") == {"a": "1"}
