"""`kubectl mirror watch` as a real subprocess (through kubectl's plugin dispatch) against the
project's API server: each reaction within a bounded wait, and the faults it must survive."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from typing import Any

import pytest
import yaml

from tests.contract.helpers import crd
from tests.e2e.conftest import ROOT
from tests.e2e.live_helpers import cm, data_of, get, ns, patch_data, source, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(cluster: Any) -> Any:
    """platform (sources), team-a, team-b (targets), and an unmanaged look-alike in team-b."""
    cm(cluster, "unmanaged", "team-b", data={"theirs": "1"})
    return cluster


def test_source_created_and_updated_reaches_its_mirrors(world: Any, start_watch: Any, kubectl: Any) -> None:
    start_watch()
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a") == {"region": "eu"}, what="mirror in team-a")
    wait_for(lambda: data_of(world, kubectl, "team-b") == {"region": "eu"}, what="mirror in team-b")
    patch_data(kubectl, "platform", {"region": "us"})
    wait_for(lambda: data_of(world, kubectl, "team-a") == {"region": "us"}, what="update in team-a")
    wait_for(lambda: data_of(world, kubectl, "team-b") == {"region": "us"}, what="update in team-b")


def test_edited_or_deleted_mirror_is_repaired(world: Any, start_watch: Any, kubectl: Any) -> None:
    source(world)
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror")
    patch_data(kubectl, "team-a", {"region": "x"})
    wait_for(lambda: data_of(world, kubectl, "team-a") == {"region": "eu"}, what="repair of an edit")
    kubectl("delete", "configmap", "settings", "-n", "team-b")
    wait_for(lambda: data_of(world, kubectl, "team-b") == {"region": "eu"}, what="repair of a delete")


def test_namespace_created_and_relabeled(world: Any, start_watch: Any, kubectl: Any) -> None:
    source(world, "labeled-only", targets="labeled")
    source(world)
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="first mirrors")
    ns(world, "team-new")
    wait_for(lambda: data_of(world, kubectl, "team-new"), what="mirror in a new namespace")
    assert data_of(world, kubectl, "team-new", "labeled-only") is None
    kubectl("label", "namespace", "team-new", "kubectl-mirror.io/accept=true")
    wait_for(lambda: data_of(world, kubectl, "team-new", "labeled-only"), what="mirror after opting in")
    kubectl("label", "namespace", "team-new", "kubectl-mirror.io/reject=true")
    wait_for(lambda: data_of(world, kubectl, "team-new") is None, what="removal after reject")
    wait_for(lambda: data_of(world, kubectl, "team-new", "labeled-only") is None, what="removal after reject")


def test_deleted_source_removes_or_orphans_its_mirrors(world: Any, start_watch: Any, kubectl: Any) -> None:
    source(world)
    source(world, "kept", annotations={"kubectl-mirror.io/on-source-delete": "orphan"})
    start_watch()
    wait_for(
        lambda: data_of(world, kubectl, "team-a") and data_of(world, kubectl, "team-a", "kept"),
        what="mirrors",
    )
    kubectl("delete", "configmap", "settings", "kept", "-n", "platform")
    wait_for(lambda: data_of(world, kubectl, "team-a") is None, what="mirror deleted with its source")

    def stale() -> bool:
        obj = get(world, kubectl, "configmap", "team-b", "kept")
        return bool(obj and obj["metadata"]["labels"].get("kubectl-mirror.io/stale") == "true")

    wait_for(stale, what="orphaned mirror marked stale")
    assert data_of(world, kubectl, "team-b", "unmanaged") == {"theirs": "1"}


def test_source_found_missing_at_startup_is_cleaned_up(
    world: Any, mirror: Any, start_watch: Any, kubectl: Any
) -> None:
    source(world)
    assert mirror("sync", "-n", "platform").returncode == 0
    kubectl("delete", "configmap", "settings", "-n", "platform")
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "team-a") is None, what="startup cleanup")


def test_resync_writes_nothing_when_in_sync(world: Any, start_watch: Any, kubectl: Any) -> None:
    source(world)
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "team-b"), what="mirrors")
    time.sleep(1.0)
    world.log.clear()
    time.sleep(5.0)  # more than two resync periods
    assert world.log.writes() == []


def test_conflicts_become_events_on_the_source_and_are_not_touched(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    cm(world, "settings", "team-b", data={"mine": "1"})
    source(world)
    start_watch()
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror in team-a")

    def event() -> bool:
        events = kubectl.json("get", "events", "-n", "platform")["items"]
        return any(
            e["reason"] == "MirrorConflict" and e["involvedObject"]["name"] == "settings" for e in events
        )

    wait_for(event, what="conflict event")
    assert data_of(world, kubectl, "team-b") == {"mine": "1"}


def test_mirror_policy_is_applied_and_reports_status(world: Any, start_watch: Any, kubectl: Any) -> None:
    world.create(yaml.safe_load((ROOT / "kubectl_mirror" / "crds" / "mirrorpolicy.yaml").read_text()))
    cm(world, "ca", "platform", data={"ca.crt": "x"})
    start_watch()
    world.create(
        {
            "apiVersion": "kubectl-mirror.io/v1alpha1",
            "kind": "MirrorPolicy",
            "metadata": {"name": "share-ca"},
            "spec": {"source": {"namespace": "platform", "names": ["ca"]}, "targets": ["team-a"]},
        }
    )
    wait_for(lambda: data_of(world, kubectl, "team-a", "ca"), what="policy mirror")

    def ready() -> bool:
        status = kubectl.json("get", "mirrorpolicy", "share-ca").get("status") or {}
        conds = {c["type"]: c["status"] for c in status.get("conditions", [])}
        return conds.get("Ready") == "True" and status.get("mirrors") == 1

    wait_for(ready, what="policy status Ready")
    kubectl("patch", "mirrorpolicy", "share-ca", "--type", "merge", "-p", '{"spec":{"targets":["team-b"]}}')
    wait_for(lambda: data_of(world, kubectl, "team-b", "ca"), what="policy change applied")
    wait_for(lambda: data_of(world, kubectl, "team-a", "ca") is None, what="old target removed")
    kubectl("delete", "mirrorpolicy", "share-ca")
    wait_for(lambda: data_of(world, kubectl, "team-b", "ca") is None, what="policy deletion applied")


def _widget_source(world: Any) -> None:
    world.create(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {
                "name": "gadget",
                "namespace": "platform",
                "labels": {"kubectl-mirror.io/source": "true"},
                "annotations": {"kubectl-mirror.io/targets": "team-a"},
            },
            "spec": {"size": "xl"},
        }
    )


def test_a_crd_installed_while_watching_is_mirrored_at_once(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    watcher = start_watch("--rediscovery-period", "600")  # the CRD watch, not the period, must do it
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirrors")
    world.create(crd())
    _widget_source(world)
    mirror = wait_for(
        lambda: get(world, kubectl, "widgets.example.com", "team-a", "gadget"), what="widget mirror"
    )
    assert mirror["spec"] == {"size": "xl"}
    kubectl("delete", "crd", "widgets.example.com")
    wait_for(lambda: "stopped widgets" in watcher.output(), what="informers of the removed kind stopped")
    patch_data(kubectl, "platform", {"region": "ap"})
    wait_for(lambda: data_of(world, kubectl, "team-a") == {"region": "ap"}, what="other kinds still watched")
    assert "Traceback" not in watcher.output()


@pytest.mark.fake_only  # injects a 403 with world.faults
def test_without_the_right_to_watch_crds_the_period_finds_new_kinds(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    world.faults.fail(403, verb="list", resource="customresourcedefinitions", times=None)
    watcher = start_watch("--rediscovery-period", "0.5")
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirrors")
    world.create(crd())
    _widget_source(world)
    wait_for(lambda: get(world, kubectl, "widgets.example.com", "team-a", "gadget"), what="widget mirror")
    assert "not watching customresourcedefinitions" in watcher.output()


def test_metrics_and_health_endpoints(world: Any, start_watch: Any, kubectl: Any) -> None:
    source(world)
    watcher = start_watch(
        "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0", "--log-format", "json"
    )
    wait_for(lambda: data_of(world, kubectl, "team-a") and data_of(world, kubectl, "team-b"), what="mirrors")
    lines = [json.loads(line) for line in watcher.output().splitlines() if line.startswith("{")]
    addrs = {
        m["msg"].split()[0]: m["msg"].split()[-1]
        for m in lines
        if m["msg"].startswith(("metrics on", "health on"))
    }
    assert set(addrs) == {"metrics", "health"}
    health = addrs["health"]
    assert urllib.request.urlopen(f"http://{health}/readyz", timeout=5).read() == b"ok\n"
    assert urllib.request.urlopen(f"http://{health}/healthz", timeout=5).status == 200
    wanted = ("kubectl_mirror_mirrors_managed 2", 'kubectl_mirror_api_requests_total{verb="create"} 2')

    def counted_both() -> str | None:
        # A mirror counts once its own watch shows it; a request once its response is read.
        text = urllib.request.urlopen(f"http://{addrs['metrics']}/metrics", timeout=5).read().decode()
        return text if all(w in text for w in wanted) else None

    text = wait_for(counted_both, what="metrics counting both mirrors")
    assert "kubectl_mirror_reconcile_duration_seconds_count" in text
    assert watcher.stop() == 0


def test_sigterm_finishes_cleanly(world: Any, start_watch: Any, kubectl: Any) -> None:
    source(world)
    watcher = start_watch()
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirrors")
    assert watcher.stop(signal.SIGTERM) == 0
    assert "Traceback" not in watcher.output()


@pytest.mark.fake_only  # injects a 403 with world.faults
def test_a_kind_rbac_forbids_does_not_block_readiness(world: Any, start_watch: Any, kubectl: Any) -> None:
    world.faults.fail(403, verb="list", resource="services", times=None)
    watcher = start_watch("--health-addr", "127.0.0.1:0")
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirrors despite a forbidden kind")
    line = next(x for x in watcher.output().splitlines() if "health on" in x)
    assert urllib.request.urlopen(f"http://{line.split()[-1]}/readyz", timeout=5).read() == b"ok\n"
    assert "not watching services" in watcher.output()


def test_source_namespaces_limit_who_may_publish(world: Any, start_watch: Any, kubectl: Any) -> None:
    ns(world, "rogue")
    cm(
        world,
        "hijack",
        "rogue",
        data={"x": "1"},
        labels={"kubectl-mirror.io/source": "true"},
        annotations={"kubectl-mirror.io/targets": "team-a"},
    )
    source(world)
    start_watch("--source-namespaces", "plat*,shared-*")
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror of the allowed publisher")
    time.sleep(1.0)
    assert data_of(world, kubectl, "team-a", "hijack") is None


def test_require_consent_mirrors_only_into_namespaces_that_opted_in(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    source(world, targets="team-a,team-b")
    kubectl("label", "namespace", "team-a", "kubectl-mirror.io/accept=true")
    start_watch("--require-consent")
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror where consent was given")
    time.sleep(1.0)
    assert data_of(world, kubectl, "team-b") is None
    kubectl("label", "namespace", "team-b", "kubectl-mirror.io/accept=true")
    wait_for(lambda: data_of(world, kubectl, "team-b"), what="mirror after consent")
