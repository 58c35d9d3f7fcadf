"""Leader election against the fake API server, through the real client stack."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubectl_mirror.io.cluster import Cluster, ClusterOptions, connect
from kubectl_mirror.watch.leader import (
    LeaderElector,
    default_identity,
    election_options,
    format_micro_time,
    parse_micro_time,
)
from tests.apiserver.server import ApiServer

LEASES = "leases.coordination.k8s.io"
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def clusters(kubeconfig: Path) -> Iterator[Callable[[], Cluster]]:
    made: list[Cluster] = []

    def make() -> Cluster:
        cluster = connect(election_options(ClusterOptions(kubeconfig=str(kubeconfig))))
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()


class FakeTime:
    """Both clocks an elector reads, moved by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.wall_now = start
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall_now += timedelta(seconds=seconds)
        self.mono += seconds

    def clock(self) -> float:
        return self.mono

    def wall(self) -> datetime:
        return self.wall_now


def elector(cluster: Cluster, identity: str, time_: FakeTime | None = None, **kw: Any) -> LeaderElector:
    clocks: dict[str, Any] = {"clock": time_.clock, "wall": time_.wall} if time_ else {}
    return LeaderElector(
        cluster, namespace="default", name="kubectl-mirror", identity=identity, **clocks, **kw
    )


def lease(apiserver: ApiServer) -> dict[str, Any]:
    stored = apiserver.store.get(LEASES, "default", "kubectl-mirror")
    assert stored is not None
    return dict(stored["spec"])


def test_first_candidate_creates_the_lease_and_leads(apiserver: ApiServer, clusters: Any) -> None:
    a = elector(clusters(), "a", FakeTime())

    assert a.try_acquire_or_renew() is True
    assert a.is_leader
    spec = lease(apiserver)
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["renewTime"] == spec["acquireTime"] == "2025-01-01T12:00:00.000000Z"
    assert spec["leaseTransitions"] == 0
    assert apiserver.log.count(verb="create", resource=LEASES, status=201) == 1


def test_leader_renews_with_a_put_that_moves_renew_time_only(apiserver: ApiServer, clusters: Any) -> None:
    t = FakeTime()
    a = elector(clusters(), "a", t)
    a.try_acquire_or_renew()
    t.advance(2.5)

    assert a.try_acquire_or_renew() is True
    spec = lease(apiserver)
    assert spec["renewTime"] == "2025-01-01T12:00:02.500000Z"
    assert spec["acquireTime"] == "2025-01-01T12:00:00.000000Z"
    assert spec["leaseTransitions"] == 0
    [put] = apiserver.log.filter(verb="update", resource=LEASES)
    assert put.status == 200


def test_a_second_candidate_cannot_acquire_a_held_lease(apiserver: ApiServer, clusters: Any) -> None:
    t = FakeTime()
    a, b = elector(clusters(), "a", t), elector(clusters(), "b", t)
    a.try_acquire_or_renew()
    apiserver.log.clear()

    for _ in range(3):
        t.advance(5)  # well inside the 15 s lease, and a keeps renewing
        assert b.try_acquire_or_renew() is False
        a.try_acquire_or_renew()
    assert not b.is_leader
    assert lease(apiserver)["holderIdentity"] == "a"
    assert apiserver.log.count(verb="update", resource=LEASES) == 3  # a's renewals only
    assert apiserver.log.count(verb="create", resource=LEASES) == 0


def test_a_standby_takes_over_once_the_lease_expired_by_its_own_times(
    apiserver: ApiServer, clusters: Any
) -> None:
    a = elector(clusters(), "a", FakeTime(T0), lease_duration=3, renew_deadline=2, retry_period=1)
    a.try_acquire_or_renew()
    # b starts later and has never seen a renew: the Lease's renewTime + 3 s is in its past.
    b = elector(
        clusters(),
        "b",
        FakeTime(T0 + timedelta(seconds=3.5)),
        lease_duration=3,
        renew_deadline=2,
        retry_period=1,
    )

    assert b.try_acquire_or_renew() is True
    spec = lease(apiserver)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == "2025-01-01T12:00:03.500000Z"
    # a learns it at its next step and stops writing.
    assert a.try_acquire_or_renew() is False
    assert not a.is_leader


def test_a_watching_standby_trusts_its_own_clock_over_a_lagging_holders(
    apiserver: ApiServer, clusters: Any
) -> None:
    lagging, t = FakeTime(T0 - timedelta(seconds=12)), FakeTime()  # the holder's clock is 12 s behind
    a, b = elector(clusters(), "a", lagging), elector(clusters(), "b", t)
    a.try_acquire_or_renew()
    assert b.try_acquire_or_renew() is False  # renewTime + 15 s is still 3 s ahead of b's wall
    lagging.advance(1)
    t.advance(1)
    a.try_acquire_or_renew()
    assert b.try_acquire_or_renew() is False  # b has now seen the record change
    lagging.advance(4)
    t.advance(4)
    # By the Lease's own times it expired 1 s ago; b saw a renewal 4 s ago, so it is held.
    assert b.try_acquire_or_renew() is False
    t.advance(11.1)  # a stops renewing: 15.1 s since the change b saw
    assert b.try_acquire_or_renew() is True
    assert lease(apiserver)["holderIdentity"] == "b"


def test_a_standby_that_saw_renewals_stop_takes_over_after_one_lease_duration(
    apiserver: ApiServer, clusters: Any
) -> None:
    ta, tb = FakeTime(), FakeTime()
    a = elector(clusters(), "a", ta, lease_duration=3, renew_deadline=2, retry_period=1)
    b = elector(clusters(), "b", tb, lease_duration=3, renew_deadline=2, retry_period=1)
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    ta.advance(1)
    a.try_acquire_or_renew()  # b will see this renewal: from now on b's clock decides
    tb.advance(1)
    assert b.try_acquire_or_renew() is False
    # a dies. b's clock moves on; after 3 s without a change the Lease is b's.
    tb.advance(2.9)
    assert b.try_acquire_or_renew() is False
    tb.advance(0.2)
    assert b.try_acquire_or_renew() is True
    assert lease(apiserver)["holderIdentity"] == "b"


def test_release_hands_the_lease_over_at_once(apiserver: ApiServer, clusters: Any) -> None:
    t = FakeTime()
    a, b = elector(clusters(), "a", t), elector(clusters(), "b", t)
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()

    assert a.release() is True
    assert not a.is_leader
    spec = lease(apiserver)
    assert spec["holderIdentity"] == ""
    assert spec["leaseDurationSeconds"] == 1
    assert b.try_acquire_or_renew() is True  # no waiting, no clock moved
    assert lease(apiserver)["holderIdentity"] == "b"
    assert lease(apiserver)["leaseTransitions"] == 1
    assert a.release() is False  # nothing to release twice


def test_release_never_touches_a_lease_someone_else_holds(apiserver: ApiServer, clusters: Any) -> None:
    t = FakeTime()
    a, b = elector(clusters(), "a", t), elector(clusters(), "b", t)
    a.try_acquire_or_renew()
    t.advance(16)
    b.try_acquire_or_renew()  # a is stale; b took over

    assert a.release() is False
    assert lease(apiserver)["holderIdentity"] == "b"


class ReadThenMeet:
    """A candidate's Cluster that, after each read, waits for the other candidate's read: both
    decide on the same state, then both write, the closest two replicas can come to a tie."""

    def __init__(self, inner: Cluster, barrier: threading.Barrier) -> None:
        self.inner = inner
        self.barrier = barrier

    def request(self, method: str, path: str, **kw: Any) -> Any:
        response = self.inner.request(method, path, **kw)
        if method == "GET":
            self.barrier.wait(timeout=5)
        return response


def _race(*candidates: LeaderElector) -> list[bool]:
    barrier = threading.Barrier(len(candidates))
    for candidate in candidates:
        candidate.cluster = ReadThenMeet(candidate.cluster, barrier)  # type: ignore[assignment]
    results: list[bool] = [False] * len(candidates)

    def go(i: int) -> None:
        results[i] = candidates[i].try_acquire_or_renew()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(candidates))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_candidates_racing_to_create_the_lease_exactly_one_wins(
    apiserver: ApiServer, clusters: Any
) -> None:
    a, b = elector(clusters(), "a"), elector(clusters(), "b")

    results = _race(a, b)

    assert sorted(results) == [False, True]
    winner = "a" if results[0] else "b"
    assert lease(apiserver)["holderIdentity"] == winner
    assert apiserver.log.count(verb="create", resource=LEASES, status=201) == 1
    assert apiserver.log.count(verb="create", resource=LEASES, status=409) == 1
    assert [a.is_leader, b.is_leader] == results


def test_two_candidates_racing_to_take_over_an_expired_lease_exactly_one_wins(
    apiserver: ApiServer, clusters: Any
) -> None:
    old = format_micro_time(datetime.now(UTC) - timedelta(minutes=1))
    apiserver.create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "kubectl-mirror", "namespace": "default"},
            "spec": {
                "holderIdentity": "gone",
                "leaseDurationSeconds": 15,
                "acquireTime": old,
                "renewTime": old,
                "leaseTransitions": 4,
            },
        }
    )
    a, b = elector(clusters(), "a"), elector(clusters(), "b")

    results = _race(a, b)

    assert sorted(results) == [False, True]
    assert lease(apiserver)["holderIdentity"] == ("a" if results[0] else "b")
    assert lease(apiserver)["leaseTransitions"] == 5
    assert apiserver.log.count(verb="update", resource=LEASES, status=200) == 1
    assert apiserver.log.count(verb="update", resource=LEASES, status=409) == 1


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.started = threading.Event()
        self.stopped = threading.Event()

    def on_started(self) -> None:
        self.events.append("started")
        self.started.set()

    def on_stopped(self) -> None:
        self.events.append("stopped")
        self.stopped.set()


class Running:
    """An elector's run loop in a thread, stopped and joined by the test."""

    def __init__(self, candidate: LeaderElector) -> None:
        self.candidate = candidate
        self.recorder = Recorder()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=candidate.run, args=(self.stop, self.recorder.on_started, self.recorder.on_stopped)
        )
        self.thread.start()

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def running() -> Iterator[Callable[[LeaderElector], Running]]:
    started: list[Running] = []

    def start(candidate: LeaderElector) -> Running:
        started.append(Running(candidate))
        return started[-1]

    yield start
    for r in started:
        r.halt()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


FAST = {"lease_duration": 1.0, "renew_deadline": 0.8, "retry_period": 0.1}


def test_run_leads_renews_and_reports_stopped_on_exit(
    apiserver: ApiServer, clusters: Any, running: Any
) -> None:
    a = running(elector(clusters(), "a", **FAST))
    assert a.recorder.started.wait(5)
    wait_for(lambda: apiserver.log.count(verb="update", resource=LEASES, status=200) >= 3)
    a.halt()
    assert a.recorder.events == ["started", "stopped"]
    assert a.candidate.release() is True


def test_a_running_standby_takes_over_within_the_lease_duration(
    apiserver: ApiServer, clusters: Any, running: Any
) -> None:
    a = running(elector(clusters(), "a", **FAST))
    assert a.recorder.started.wait(5)
    b = running(elector(clusters(), "b", **FAST))
    time.sleep(0.5)
    assert not b.recorder.started.is_set()

    a.halt()  # a crash, as far as b can tell: no release
    gone = time.monotonic()
    assert b.recorder.started.wait(5)
    took = time.monotonic() - gone
    assert took < FAST["lease_duration"] + 2 * FAST["retry_period"] + 0.6
    assert lease(apiserver)["holderIdentity"] == "b"


def test_after_release_a_running_standby_takes_over_at_its_next_retry(
    apiserver: ApiServer, clusters: Any, running: Any
) -> None:
    slow = {"lease_duration": 15.0, "renew_deadline": 10.0, "retry_period": 0.2}
    a = running(elector(clusters(), "a", **slow))
    assert a.recorder.started.wait(5)
    b = running(elector(clusters(), "b", **slow))
    time.sleep(0.3)
    a.halt()
    assert a.candidate.release()
    released = time.monotonic()
    assert b.recorder.started.wait(5)
    assert time.monotonic() - released < 1.0  # not the 15 s lease duration


def test_transient_errors_do_not_make_a_leader_give_up_before_its_deadline(
    apiserver: ApiServer, clusters: Any, running: Any
) -> None:
    a = running(elector(clusters(), "a", lease_duration=3.0, renew_deadline=2.0, retry_period=0.1))
    assert a.recorder.started.wait(5)
    rule = apiserver.faults.fail(500, verb="update", resource="leases", times=5)
    wait_for(lambda: rule.hits == 5)
    ok_before = apiserver.log.count(verb="update", resource=LEASES, status=200)
    wait_for(lambda: apiserver.log.count(verb="update", resource=LEASES, status=200) > ok_before)
    assert a.recorder.events == ["started"]
    assert a.candidate.is_leader


def test_a_leader_that_cannot_renew_stops_leading_at_its_deadline(
    apiserver: ApiServer, clusters: Any, running: Any
) -> None:
    a = running(elector(clusters(), "a", lease_duration=3.0, renew_deadline=1.0, retry_period=0.1))
    assert a.recorder.started.wait(5)
    apiserver.faults.fail(500, verb="update", resource="leases", times=None)
    failing = time.monotonic()
    assert a.recorder.stopped.wait(5)
    assert time.monotonic() - failing < 1.0 + 0.8  # at the deadline, well before the 3 s lease ends
    assert not a.candidate.is_leader
    assert a.recorder.events == ["started", "stopped"]


def test_a_leader_whose_lease_was_taken_stops_at_once(
    apiserver: ApiServer, clusters: Any, running: Any
) -> None:
    a = running(elector(clusters(), "a", lease_duration=3.0, renew_deadline=2.0, retry_period=0.1))
    assert a.recorder.started.wait(5)
    intruder = clusters()
    current = intruder.request(
        "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/kubectl-mirror"
    ).body
    current["spec"]["holderIdentity"] = "intruder"
    intruder.request(
        "PUT",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/kubectl-mirror",
        body=current,
        content_type="application/json",
        ok=(409,),
    )
    assert a.recorder.stopped.wait(1.0)


def test_is_leader_expires_by_itself_when_renewals_stall() -> None:
    t = FakeTime()
    a = LeaderElector(
        object(),  # type: ignore[arg-type]  # never called: the state is set by hand
        namespace="default",
        name="x",
        identity="a",
        clock=t.clock,
        wall=t.wall,
    )
    a._set(True)
    assert a.is_leader
    t.advance(9.9)
    assert a.is_leader
    t.advance(0.2)
    assert not a.is_leader


@pytest.mark.parametrize(
    "timing",
    [
        {"lease_duration": 10, "renew_deadline": 10, "retry_period": 2},
        {"lease_duration": 15, "renew_deadline": 10, "retry_period": 10},
    ],
)
def test_timings_must_nest(timing: dict[str, float], clusters: Any) -> None:
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        elector(clusters(), "a", **timing)


def test_micro_time_round_trips_with_microseconds() -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    text = format_micro_time(moment)
    assert MICRO_TIME.match(text)
    assert parse_micro_time(text) == moment
    assert parse_micro_time("2025-03-04T05:06:07Z") == moment.replace(microsecond=0)
    assert parse_micro_time("garbage") is None
    assert parse_micro_time(None) is None


def test_election_options_do_one_try_per_request_within_the_deadline() -> None:
    options = election_options(ClusterOptions(kubeconfig="k", request_timeout=60), renew_deadline=10)
    assert options.retries == 0
    assert options.request_timeout == 5
    assert options.kubeconfig == "k"


def test_default_identity_is_the_pod_name_plus_a_unique_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "kubectl-mirror-7d9f-abcde")
    first, second = default_identity(), default_identity()
    assert first.startswith("kubectl-mirror-7d9f-abcde_")
    assert first != second
