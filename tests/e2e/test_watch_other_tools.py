"""`kubectl mirror watch` on policy resources: our MirrorPolicy and the custom resources of the
tools users migrate from (ConfigMapSync, ConfigMirror; CRDs from deploy/compat/), each with its
status written in its own shape and its finalizer honoured. Both servers."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_mirror.io.postgres import Credentials
from tests.e2e.live_helpers import Watcher, cm, data_of, get, ns, patch_data, wait_for
from tests.e2e.test_live_other_tools import configmapsync, configmirror
from tests.postgres.conftest import PgServer, own_server
from tests.postgres.conftest import rows as db_rows

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


def resource(kubectl: Any, kind: str, namespace: str, name: str) -> Any:
    found = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return None if found.returncode else json.loads(found.stdout)


def delete_when_finalized(kubectl: Any, kind: str, namespace: str, name: str) -> None:
    """Wait for the controller's finalizer on the resource, delete it, wait until it is gone."""
    wait_for(
        lambda: ((resource(kubectl, kind, namespace, name) or {}).get("metadata") or {}).get("finalizers"),
        what=f"the finalizer on {kind} {name}",
    )
    kubectl("delete", kind, name, "-n", namespace, "--wait=false")
    wait_for(lambda: resource(kubectl, kind, namespace, name) is None, what=f"{kind} {name} gone")


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
    delete_when_finalized(kubectl, "configmapsync", "default", "to-qa")
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
    delete_when_finalized(kubectl, "configmapsync", "default", "to-qa")
    assert data_of(world, kubectl, "qa", "app-config") == {"theirs": "1"}


# -- ConfigMirror ------------------------------------------------------------------------------


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


@pytest.fixture
def postgres() -> Iterator[PgServer]:
    """A PostgreSQL server of this test's own (it is stopped and started again)."""
    with own_server() as server:
        yield server


def database_secret(apiserver: Any, server: PgServer) -> Credentials:
    credentials = server.create_database()
    values = {
        "host": credentials.host,
        "port": str(credentials.port),
        "username": credentials.user,
        "password": credentials.password,
        "dbname": credentials.dbname,
        "sslmode": "disable",
    }
    apiserver.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "rds", "namespace": "ops"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
    )
    return credentials


def database_condition(kubectl: Any) -> tuple[str, str] | None:
    obj = resource(kubectl, "configmirror", "ops", "app-config-mirror") or {}
    return conditions(obj).get("Database")


def table(credentials: Credentials) -> list[tuple[str, str, Any]]:
    try:
        found = db_rows(credentials)
    except Exception:  # the table is not there yet
        return []
    return [(r["namespace"], r["name"], r["data"]) for r in found]


def test_configmirror_database_copy_survives_an_outage_and_goes_with_its_finalizer(
    world: Any, start_watch: Any, kubectl: Any, postgres: PgServer
) -> None:
    credentials = database_secret(world, postgres)
    cm(world, "app-config", "production", data={"a": "1"}, labels={"replicate": "true"})
    cm(world, "flags", "production", data={"b": "2"}, labels={"replicate": "true"})
    configmirror(world, ["staging"], database={"enabled": True, "secretRef": {"name": "rds"}})
    watcher = start_watch()
    expected = [("production", "app-config", {"a": "1"}), ("production", "flags", {"b": "2"})]
    wait_for(lambda: table(credentials) == expected, what="one row per source")
    wait_for(lambda: database_condition(kubectl) == ("True", "Synced"), what="Database condition True")
    obj = resource(kubectl, "configmirror", "ops", "app-config-mirror")
    assert obj["status"]["databaseStatus"]["connected"] is True
    postgres.stop()
    patch_data(kubectl, "production", {"a": "2"}, name="app-config")
    # Mirroring goes on while the database is down; the status says it is behind.
    wait_for(lambda: data_of(world, kubectl, "staging", "app-config") == {"a": "2"}, what="mirror updated")
    wait_for(lambda: database_condition(kubectl) == ("False", "Unreachable"), what="Database condition False")
    obj = resource(kubectl, "configmirror", "ops", "app-config-mirror")
    message = obj["status"]["databaseStatus"]["message"]
    assert "behind" in message and credentials.password not in message
    assert credentials.password not in watcher.output()
    postgres.start()
    expected[0] = ("production", "app-config", {"a": "2"})
    wait_for(lambda: table(credentials) == expected, timeout=120, what="the change written after the outage")
    wait_for(lambda: database_condition(kubectl) == ("True", "Synced"), timeout=120, what="caught up")
    kubectl("delete", "configmirror", "app-config-mirror", "-n", "ops", "--wait=false")
    wait_for(lambda: resource(kubectl, "configmirror", "ops", "app-config-mirror") is None, what="gone")
    assert table(credentials) == []
    assert data_of(world, kubectl, "staging", "app-config") is None


def test_configmirror_database_without_its_secret_says_so_and_mirrors_anyway(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"a": "1"}, labels={"replicate": "true"})
    configmirror(world, ["staging"], database={"enabled": True, "secretRef": {"name": "absent"}})
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "staging", "app-config"), what="the mirror")
    wait_for(lambda: database_condition(kubectl) == ("False", "SecretNotFound"), what="the condition")
    obj = resource(kubectl, "configmirror", "ops", "app-config-mirror")
    assert obj["status"]["databaseStatus"] == {"connected": False, "message": "Secret ops/absent not found"}
    assert conditions(obj)["Ready"] == ("True", "ReconcileSuccess")


@pytest.fixture
def controller_kubeconfig(world: Any, kubectl: Any, tmp_path: Path) -> Path:
    """A kubeconfig with the token of deploy/'s service account, bound to deploy/'s ClusterRole
    (real server only: the project's server does not authorize)."""
    for name in ("namespace", "serviceaccount", "clusterrole", "clusterrolebinding"):
        kubectl("apply", "-f", str(ROOT / "deploy" / f"{name}.yaml"))
    token = kubectl("create", "token", "kubectl-mirror", "-n", "kubectl-mirror-system").stdout.strip()
    plane = world.plane
    config = tmp_path / "controller.kubeconfig"
    cluster = {"server": plane.url, "certificate-authority": str(plane.certs.ca.cert)}
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "real", "cluster": cluster}],
                "users": [{"name": "controller", "user": {"token": token}}],
                "contexts": [{"name": "real", "context": {"cluster": "real", "user": "controller"}}],
                "current-context": "real",
            }
        )
    )
    return config


@pytest.mark.real_only
def test_the_controller_role_is_enough_for_status_finalizers_and_the_database(
    world: Any,
    kubectl: Any,
    controller_kubeconfig: Path,
    e2e_env: dict[str, str],
    tmp_path: Path,
    postgres: PgServer,
) -> None:
    credentials = database_secret(world, postgres)
    cm(world, "app-config", "production", data={"a": "1"}, labels={"replicate": "true"})
    configmapsync(world, "to-staging", "staging")
    configmirror(world, ["qa"], database={"enabled": True, "secretRef": {"name": "rds"}})
    argv = [
        "kubectl",
        "mirror",
        "watch",
        "-A",
        "--resync-period",
        "2",
        "--kubeconfig",
        str(controller_kubeconfig),
    ]
    watcher = Watcher(argv, e2e_env, tmp_path / "controller-watch.log")
    try:
        wait_for(
            lambda: (
                (resource(kubectl, "configmapsync", "default", "to-staging") or {})
                .get("status", {})
                .get("syncStatus")
                == "Success"
            ),
            what="ConfigMapSync status",
        )
        wait_for(
            lambda: database_condition(kubectl) == ("True", "Synced"), what="ConfigMirror database status"
        )
        assert table(credentials) == [("production", "app-config", {"a": "1"})]
        kubectl("delete", "configmapsync", "to-staging", "-n", "default", "--wait=false")
        kubectl("delete", "configmirror", "app-config-mirror", "-n", "ops", "--wait=false")
        wait_for(
            lambda: resource(kubectl, "configmapsync", "default", "to-staging") is None, what="finalized"
        )
        wait_for(
            lambda: resource(kubectl, "configmirror", "ops", "app-config-mirror") is None, what="finalized"
        )
        assert data_of(world, kubectl, "staging", "app-config") is None
        assert data_of(world, kubectl, "qa", "app-config") is None
        assert table(credentials) == []
        # Kinds the role does not grant are not watched (a warning each); none of these is denied.
        denied = [line for line in watcher.output().splitlines() if "forbidden" in line]
        mine = ("configmaps", "secrets", "configmapsyncs", "configmirrors", "events")
        assert not [line for line in denied if any(f'resource "{r}' in line for r in mine)], denied
    finally:
        watcher.stop()


def test_a_configmapsync_made_invalid_keeps_its_mirror_until_it_is_deleted(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-qa", "qa")
    watcher = start_watch()
    wait_for(lambda: data_of(world, kubectl, "qa", "app-config"), what="the destination")
    patch = '{"spec":{"destinationNamespace":"QA_NS"}}'
    kubectl("patch", "configmapsync", "to-qa", "-n", "default", "--type", "merge", "-p", patch)
    wait_for(lambda: "spec.destinationNamespace" in watcher.output(), what="the error in the log")
    time.sleep(3.0)  # resyncs: a typo never deletes
    assert data_of(world, kubectl, "qa", "app-config") == {"url": "postgres://db"}
    obj = resource(kubectl, "configmapsync", "default", "to-qa")
    assert obj["status"]["syncStatus"] == "Failed" and "QA_NS" in obj["status"]["message"]
    # Deleted, it no longer protects its mirror: the finalizer removes it, then lets go.
    delete_when_finalized(kubectl, "configmapsync", "default", "to-qa")
    assert data_of(world, kubectl, "qa", "app-config") is None
