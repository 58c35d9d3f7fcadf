"""`kubectl mirror watch` under faults: cut streams, silent streams, forced 410s, error bursts, a killed leader,
a restart in the middle of a prune. Afterwards the state is exactly the desired one and no
unmanaged object was touched."""

from __future__ import annotations

import signal
import time
import urllib.request
from typing import Any

import pytest

from tests.e2e.live_helpers import cm, data_of, get, ns, patch_data, source, wait_for

# Faults are injected into the fake API server: there is no such switch on a real one.
pytestmark = [pytest.mark.e2e, pytest.mark.fake_only]


@pytest.fixture
def world(cluster: Any) -> Any:
    cm(cluster, "unmanaged", "team-b", data={"theirs": "1"})
    return cluster


def _untouched(world: Any, kubectl: Any) -> None:
    assert data_of(world, kubectl, "team-b", "unmanaged") == {"theirs": "1"}
    assert [r for r in world.log.writes() if r.name == "unmanaged" and r.status < 300] == []


def _restarts(watcher: Any) -> int:
    return watcher.output().count("restarts:") + watcher.output().count("relisting")


def test_closed_watch_streams_are_restarted(world: Any, start_watch: Any, kubectl: Any) -> None:
    watcher = start_watch()
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror")
    for _ in range(3):
        world.faults.close_watches()
        time.sleep(0.3)
    patch_data(kubectl, "platform", {"region": "us"})
    wait_for(lambda: data_of(world, kubectl, "team-b") == {"region": "us"}, what="update after cut streams")
    _untouched(world, kubectl)
    assert watcher.proc.poll() is None


def test_a_silent_stream_is_cut_by_the_watchdog_and_counted(
    world: Any, start_watch: Any, kubectl: Any
) -> None:
    world.bookmark_interval = 3600.0  # open streams, no events, not even bookmarks
    watcher = start_watch("--watch-stall-timeout", "1", "--metrics-addr", "127.0.0.1:0")
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror")
    line = next(x for x in watcher.output().splitlines() if "metrics on" in x)
    metrics = f"http://{line.split()[-1]}/metrics"

    def stalled_restarts() -> float:
        text = urllib.request.urlopen(metrics, timeout=5).read().decode()
        return sum(
            float(row.rsplit(" ", 1)[1])
            for row in text.splitlines()
            if row.startswith("kubectl_mirror_watch_restarts_total{") and 'reason="stalled"' in row
        )

    wait_for(lambda: stalled_restarts() >= 2, what="stalled watches restarted and counted")
    patch_data(kubectl, "platform", {"region": "eu"})
    wait_for(lambda: data_of(world, kubectl, "team-b") == {"region": "eu"}, what="update after stalls")
    assert watcher.proc.poll() is None


def test_forced_410_leads_to_a_relist_not_silence(world: Any, start_watch: Any, kubectl: Any) -> None:
    watcher = start_watch()
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror")
    world.faults.fail(500, verb="watch", times=3)  # the re-watch fails a few times too
    world.faults.compact()
    world.faults.close_watches()
    patch_data(kubectl, "platform", {"region": "mars"})
    wait_for(lambda: data_of(world, kubectl, "team-a") == {"region": "mars"}, what="update after 410")
    wait_for(lambda: "gone" in watcher.output() or _restarts(watcher) > 0, what="a logged restart")
    _untouched(world, kubectl)


def test_bursts_of_500s_and_429s_converge(world: Any, start_watch: Any, kubectl: Any) -> None:
    world.faults.fail(500, verb="create", resource="configmaps", times=20)
    world.faults.fail(429, verb="get", resource="configmaps", times=5, retry_after=1)
    start_watch()
    for i in range(3):
        ns(world, f"team-x{i}")
    source(world)
    for namespace in ("team-a", "team-x0", "team-x1", "team-x2"):
        wait_for(
            lambda n=namespace: data_of(world, kubectl, n) == {"region": "eu"}, timeout=40, what=namespace
        )
    assert get(world, kubectl, "configmap", "team-b", "settings") is not None
    _untouched(world, kubectl)


def _holder(kubectl: Any) -> str:
    done = kubectl("get", "lease", "kubectl-mirror", "-n", "default", "-o", "json", check=False)
    if done.returncode != 0:
        return ""
    import json

    return str(json.loads(done.stdout)["spec"].get("holderIdentity") or "")


def test_standby_takes_over_when_the_leader_is_killed(
    world: Any, start_watch: Any, kubectl: Any, e2e_env: dict[str, str]
) -> None:
    args = ("--leader-elect", "--lease-namespace", "default", "--lease-duration", "3")
    first = start_watch(*args, name="first")
    wait_for(lambda: _holder(kubectl), what="a leader")
    second = start_watch(*args, name="second")
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-a"), what="mirror from the leader")
    leader = _holder(kubectl)
    victim, standby = (first, second) if str(first.proc.pid) in leader else (second, first)
    assert str(victim.proc.pid) in leader, leader
    victim.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    world.log.clear()
    source(world, "after-failover")
    wait_for(lambda: data_of(world, kubectl, "team-b", "after-failover"), timeout=15, what="standby acting")
    assert time.monotonic() - killed_at < 3 + 2 + 5  # lease duration + retry + margin
    assert str(standby.proc.pid) in _holder(kubectl)
    creates = world.log.filter(verb="create", resource="configmaps")  # POSTs carry no name in the URL
    # Each mirror created exactly once; a create racing the cache is refused (409), never doubled.
    assert sorted(r.namespace for r in creates if r.status == 201) == ["team-a", "team-b"]
    assert all(r.status in (201, 409) for r in creates)
    _untouched(world, kubectl)


def test_standby_does_not_write_while_the_leader_lives(world: Any, start_watch: Any, kubectl: Any) -> None:
    args = ("--leader-elect", "--lease-namespace", "default", "--lease-duration", "3")
    first = start_watch(*args, name="first")
    wait_for(lambda: _holder(kubectl), what="a leader")
    second = start_watch(*args, name="second")
    source(world)
    wait_for(lambda: data_of(world, kubectl, "team-b"), what="mirrors")
    time.sleep(1.5)
    leader = _holder(kubectl)
    standby = second if str(first.proc.pid) in leader else first
    assert "created" not in standby.output()


def test_sigterm_releases_the_lease_for_a_fast_handover(world: Any, start_watch: Any, kubectl: Any) -> None:
    args = ("--leader-elect", "--lease-namespace", "default", "--lease-duration", "10")
    first = start_watch(*args, name="first")
    wait_for(lambda: str(first.proc.pid) in _holder(kubectl), what="first leads")
    second = start_watch(*args, name="second")
    time.sleep(1.0)
    assert first.stop(signal.SIGTERM) == 0
    started = time.monotonic()
    wait_for(lambda: str(second.proc.pid) in _holder(kubectl), timeout=8, what="second leads")
    assert time.monotonic() - started < 10  # well within the 10 s lease duration


def test_restart_in_the_middle_of_a_prune_finishes_it(world: Any, start_watch: Any, kubectl: Any) -> None:
    for i in range(8):
        ns(world, f"t-{i}")
    source(world, targets="t-*")
    # One delete at a time, so that the kill lands between two of them.
    first = start_watch("--concurrency", "1", name="first")
    wait_for(lambda: all(data_of(world, kubectl, f"t-{i}") for i in range(8)), what="all mirrors")
    world.faults.delay(0.4, verb="delete", resource="configmaps", times=None)
    kubectl("delete", "configmap", "settings", "-n", "platform")
    wait_for(
        lambda: sum(data_of(world, kubectl, f"t-{i}") is None for i in range(8)) >= 1, what="prune started"
    )
    first.stop(signal.SIGKILL)
    remaining = sum(data_of(world, kubectl, f"t-{i}") is not None for i in range(8))
    assert remaining > 0, "the prune finished before the kill; nothing was tested"
    world.faults.clear()
    start_watch(name="second")
    wait_for(lambda: all(data_of(world, kubectl, f"t-{i}") is None for i in range(8)), what="prune finished")
    _untouched(world, kubectl)
