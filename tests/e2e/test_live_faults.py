"""Sync and prune under injected failures: retries, partial failure, convergence on re-run,
and never a write to an object we do not own."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.e2e.live_helpers import cm, get, ns, source

# Faults are injected into the fake API server: there is no such switch on a real one.
pytestmark = [pytest.mark.e2e, pytest.mark.fake_only]


@pytest.fixture
def wide(cluster: Any) -> Any:
    for i in range(6):
        ns(cluster, f"team-{i}")
    cm(cluster, "settings", "team-3", data={"theirs": "1"})  # unmanaged: must never be touched
    source(cluster)
    return cluster


def _unmanaged_untouched(cluster: Any, kubectl: Any) -> None:
    theirs = get(cluster, kubectl, "configmap", "team-3", "settings")
    assert theirs["data"] == {"theirs": "1"}  # type: ignore[index]
    touched = [
        r for r in cluster.log.writes() if (r.namespace, r.name) == ("team-3", "settings") and r.status < 300
    ]
    assert touched == []


def _converged(cluster: Any, mirror: Any) -> None:
    cluster.log.clear()
    again = mirror("sync", "-n", "platform")
    assert "created 0, updated 0, unchanged 7, conflicts 1" in again.stdout, again.stdout + again.stderr
    assert cluster.log.writes() == []


def test_transient_500s_and_429s_are_retried_within_the_run(wide: Any, mirror: Any, kubectl: Any) -> None:
    wide.faults.fail(500, verb="create", resource="configmaps", times=3)
    wide.faults.fail(429, verb="list", resource="configmaps", times=1, retry_after=1)
    done = mirror("sync", "-n", "platform")
    assert "created 7, updated 0, unchanged 0, conflicts 1" in done.stdout, done.stderr
    assert wide.log.count(verb="create", status=500) == 3
    assert wide.log.count(verb="list", status=429) == 1
    _unmanaged_untouched(wide, kubectl)
    _converged(wide, mirror)


def test_one_failing_object_does_not_stop_the_others_and_a_rerun_converges(
    wide: Any, mirror: Any, kubectl: Any
) -> None:
    wide.faults.fail(500, verb="create", resource="configmaps", namespace="team-1", times=None)
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 1
    assert "created 6, updated 0, unchanged 0, conflicts 1, failed 1" in done.stdout
    assert "error: ConfigMap team-1/settings: InternalError (500)" in done.stderr
    assert "Traceback" not in done.stderr
    wide.faults.clear()
    rerun = mirror("sync", "-n", "platform")
    assert "created 1, updated 0, unchanged 6, conflicts 1" in rerun.stdout
    _unmanaged_untouched(wide, kubectl)
    _converged(wide, mirror)


def test_lost_responses_are_reconciled_by_reading_again(wide: Any, mirror: Any, kubectl: Any) -> None:
    """The server created the object but the answer was a 500: the retry meets AlreadyExists,
    reads the object, sees it is ours and in sync, and moves on."""
    wide.faults.fail(500, verb="create", resource="configmaps", times=2, after=True)
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 1  # the conflict with the unmanaged object
    assert "conflicts 1" in done.stdout and "failed" not in done.stdout, done.stdout + done.stderr
    _unmanaged_untouched(wide, kubectl)
    _converged(wide, mirror)


def test_connections_cut_mid_sync_are_survived(wide: Any, mirror: Any, kubectl: Any) -> None:
    wide.faults.delay(0.3, verb="create", resource="configmaps", times=None)
    stop = threading.Event()

    def cut() -> None:
        while not stop.wait(0.45):
            wide.drop_connections()

    cutter = threading.Thread(target=cut, daemon=True)
    cutter.start()
    try:
        done = mirror("sync", "-n", "platform")
    finally:
        stop.set()
        cutter.join()
    wide.faults.clear()
    assert "Traceback" not in done.stderr
    _unmanaged_untouched(wide, kubectl)
    time.sleep(0.1)
    rerun = mirror("sync", "-n", "platform")
    assert "updated 0" in rerun.stdout and "conflicts 1" in rerun.stdout
    _converged(wide, mirror)


def test_prune_under_failures_finishes_on_rerun(wide: Any, mirror: Any, kubectl: Any) -> None:
    mirror("sync", "-n", "platform")
    kubectl("delete", "configmap", "settings", "-n", "platform")
    wide.faults.fail(503, verb="delete", resource="configmaps", times=2)
    wide.faults.fail(500, verb="delete", resource="configmaps", namespace="team-4", times=None)
    done = mirror("prune", "-n", "platform", "--yes")
    assert done.returncode == 1
    assert "error: ConfigMap team-4/settings" in done.stderr
    wide.faults.clear()
    rerun = mirror("prune", "-n", "platform", "--yes")
    assert rerun.returncode == 0
    assert rerun.stdout.splitlines() == ["configmap/settings -n team-4 deleted"]
    for i in range(6):
        if i != 3:
            assert get(wide, kubectl, "configmap", f"team-{i}", "settings") is None
    _unmanaged_untouched(wide, kubectl)
