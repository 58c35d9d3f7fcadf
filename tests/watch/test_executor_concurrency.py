"""`Executor.run` with many writes in flight: the same report, the same end state and the same
requests as one at a time, through the real client stack against the project's API server.

The world has a few hundred mirrors and every path the executor knows: creates, updates, a
prune, an unmanaged object already in place (a conflict decided without a request), objects that
appear or change between the plan and the write (409s on create, update and delete), transient
500s that are retried, a lost response (created, then a 500: the retry meets AlreadyExists) and a
namespace where every create fails. Nothing here asserts on time."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.engine.reconcile import Action
from kubectl_mirror.errors import Ref
from kubectl_mirror.io.cluster import Cluster, ClusterOptions, RateLimiter, connect
from kubectl_mirror.live.execute import Executor, Report
from kubectl_mirror.live.plan import LivePlan, make_plan
from kubectl_mirror.live.state import Scope
from tests.apiserver.server import ApiServer
from tests.e2e.live_helpers import cm, ns, source

TEAMS = 60
SOURCES = ("src-0", "src-1", "src-2", "src-3")  # ConfigMaps; plus the Secret `sec-0` and `edge`
SCOPE = Scope("platform")


@pytest.fixture
def cluster(apiserver: ApiServer) -> Iterator[Cluster]:
    assert apiserver.kubeconfig is not None
    # Retries as in production, without their waits: a failing object costs milliseconds.
    made = connect(ClusterOptions(kubeconfig=str(apiserver.kubeconfig), backoff_base=0.0001))
    yield made
    made.close()


def _plan(cluster: Cluster) -> LivePlan:
    cluster.refresh()
    return make_plan(cluster, scope=SCOPE, options=EngineOptions())


def _run(cluster: Cluster, plan: LivePlan, *, concurrency: int) -> Report:
    """What `sync --prune` does with a plan: its actions, then its prune, into one report."""
    report = Report()
    executor = Executor(cluster, lambda a: plan.state.resource(a.key), concurrency=concurrency)
    executor.run(plan.actions, report, pulled=set(plan.outcome.filled_pulls))
    executor.run(plan.prune, report)
    return report


def _action(plan: LivePlan, namespace: str, name: str) -> Action:
    return next(a for a in (*plan.actions, *plan.prune) if a.key[2:] == (namespace, name))


def _secret_source(apiserver: ApiServer) -> None:
    marker = {
        "labels": {"kubectl-mirror.io/source": "true"},
        "annotations": {"kubectl-mirror.io/targets": "team-*"},
    }
    cm(apiserver, "sec-0", "platform", data={"token": "c2VjcmV0"}, kind="Secret", type="Opaque", **marker)


@dataclass(frozen=True)
class Outcome:
    rows: list[tuple[str, tuple[str, ...], str, str]]  # (planned verb, key, reason, word) in order
    errors: list[str]
    keys_in_order: bool  # the report follows the order of the actions
    state: list[tuple[Any, ...]]  # every ConfigMap and Secret, without server-set fields
    requests: Counter[tuple[str, str, int]]  # (verb, namespace, status)


def _world(apiserver: ApiServer, cluster: Cluster, *, concurrency: int) -> Outcome:
    """Build the world, plan, disturb it between plan and writes, run at `concurrency`."""
    for name in ("platform", "edge-lost", "edge-down", *(f"team-{n}" for n in range(TEAMS))):
        ns(apiserver, name)
    source(apiserver, "src-0", data={"region": "eu"})
    source(apiserver, "old")
    _run(cluster, _plan(cluster), concurrency=1)  # mirrors of src-0 to update, of old to prune
    for name in SOURCES[1:]:
        source(apiserver, name, data={"name": name})
    _secret_source(apiserver)
    source(apiserver, "edge", targets="edge-*")
    cm(apiserver, "src-1", "team-3", data={"theirs": "yes"})  # unmanaged: a conflict, never written
    configmaps = cluster.resource_for("v1", "ConfigMap")
    assert configmaps is not None
    cluster.merge_patch(configmaps, "platform", "src-0", {"data": {"region": "us"}}, dry_run=False, ref=Ref())
    old = cluster.get(configmaps, "platform", "old")
    assert old is not None
    cluster.delete(configmaps, old, dry_run=False, ref=Ref())

    plan = _plan(cluster)
    # Between the plan and the writes, others get there first:
    cm(apiserver, "src-2", "team-7", data={"theirs": "yes"})  # create -> 409 -> conflict
    ahead = _action(plan, "team-8", "src-3")
    assert ahead.verb == "create" and ahead.desired is not None
    apiserver.create(ahead.desired)  # create -> 409 -> ours and in sync: unchanged
    for namespace, name in (("team-9", "src-0"), ("team-10", "old")):  # update/delete -> 409
        patch = {"metadata": {"labels": {"touched": "yes"}}}
        cluster.merge_patch(configmaps, namespace, name, patch, dry_run=False, ref=Ref())
    apiserver.faults.fail(500, verb="create", namespace="team-5", times=3)  # retried
    apiserver.faults.fail(500, verb="update", namespace="team-6", times=2)  # retried
    apiserver.faults.fail(500, verb="create", namespace="edge-lost", times=1, after=True)
    apiserver.faults.fail(500, verb="create", namespace="edge-down", times=None)  # fails
    # The first actions' creates answer late, so later ones finish first.
    apiserver.faults.delay(0.05, verb="create", namespace="team-0", times=None)
    apiserver.log.clear()

    report = _run(cluster, plan, concurrency=concurrency)
    planned = [*plan.actions, *plan.prune]
    stored = [*apiserver.store.dump("configmaps"), *apiserver.store.dump("secrets")]
    return Outcome(
        rows=[(p.verb, tuple(a.key), a.reason, w) for p, (a, w) in zip(planned, report.done, strict=True)],
        errors=list(report.errors),
        keys_in_order=[a.key for a, _ in report.done] == [a.key for a in planned],
        state=sorted(_content(obj) for obj in stored),
        requests=Counter((r.verb, r.namespace, r.status) for r in apiserver.log.records),
    )


# Each world's sources have their own uids, which the mirrors record (and hash).
PER_WORLD = ("kubectl-mirror.io/source-uid", "kubectl-mirror.io/content-hash")


def _content(obj: dict[str, Any]) -> tuple[Any, ...]:
    meta = obj["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in PER_WORLD}
    return (
        obj["kind"],
        meta["namespace"],
        meta["name"],
        sorted((meta.get("labels") or {}).items()),
        sorted(annotations.items()),
        sorted((obj.get("data") or {}).items()),
        obj.get("type"),
    )


@pytest.fixture
def sequential_and_parallel(apiserver: ApiServer, cluster: Cluster) -> tuple[Outcome, Outcome]:
    one = _world(apiserver, cluster, concurrency=1)
    apiserver.reset()
    eight = _world(apiserver, cluster, concurrency=8)
    return one, eight


def test_eight_writers_report_what_one_reports_in_the_order_of_the_actions(
    sequential_and_parallel: tuple[Outcome, Outcome],
) -> None:
    one, eight = sequential_and_parallel
    assert eight.keys_in_order and one.keys_in_order
    assert eight.rows == one.rows
    assert eight.errors == one.errors
    words = Counter(word for *_, word in one.rows)
    # 4 ConfigMap sources and a Secret into 60 namespaces, the edge source into 2; src-0's 60
    # mirrors existed and are updated; old's 60 are pruned.
    assert words == {
        "created": 4 * TEAMS - 3,  # all but src-1@team-3, src-2@team-7 and src-3@team-8
        "configured": TEAMS,
        "deleted": TEAMS - 1,
        "skipped": 1,  # old@team-10 changed after the plan: its DELETE precondition failed
        "conflict": 2,  # src-1@team-3 (known to the plan), src-2@team-7 (appeared after it)
        "unchanged": 2,  # src-3@team-8 (created by someone else, identical), edge@edge-lost (lost answer)
        "failed": 1,  # edge@edge-down
    }
    assert one.errors == [
        "ConfigMap edge-down/edge: InternalError (500): Internal error occurred: injected fault"
    ]


def test_eight_writers_leave_the_cluster_as_one_leaves_it(
    sequential_and_parallel: tuple[Outcome, Outcome],
) -> None:
    one, eight = sequential_and_parallel
    assert eight.state == one.state
    theirs = [row for row in one.state if row[1:3] in (("team-3", "src-1"), ("team-7", "src-2"))]
    assert [row[5] for row in theirs] == [[("theirs", "yes")], [("theirs", "yes")]]


def test_eight_writers_send_the_requests_one_sends_and_create_each_mirror_once(
    sequential_and_parallel: tuple[Outcome, Outcome],
) -> None:
    one, eight = sequential_and_parallel
    assert eight.requests == one.requests
    created = Counter(key[2] for _, key, _, word in eight.rows if word == "created")
    posts = Counter(namespace for verb, namespace, _ in eight.requests.elements() if verb == "create")
    accepted = Counter(
        namespace
        for verb, namespace, status in eight.requests.elements()
        if verb == "create" and status == 201
    )
    assert accepted == created  # and edge@edge-lost, by the POST answered 500
    # One POST per created mirror; besides: 3 retried 500s in team-5; in edge-lost the lost
    # answer and its retry's 409; in edge-down 1 + 6 retries; the 409s of the races.
    extra = {"team-5": 3, "edge-lost": 2, "edge-down": 7, "team-7": 1, "team-8": 1}
    assert posts == created + Counter(extra)
    assert eight.requests[("create", "team-8", 409)] == 1
    assert eight.requests[("update", "team-9", 409)] == 1
    assert eight.requests[("delete", "team-10", 409)] == 1


def test_one_writer_starts_no_thread_and_writes_in_the_order_of_the_actions(
    apiserver: ApiServer, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures

    def no_threads(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("concurrency 1 started a thread pool")

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", no_threads)
    for name in ("platform", "team-0", "team-1", "team-2"):
        ns(apiserver, name)
    for name in SOURCES:
        source(apiserver, name)
    plan = _plan(cluster)
    apiserver.log.clear()
    report = _run(cluster, plan, concurrency=1)
    assert [r.namespace for r in apiserver.log.records] == [a.key[2] for a in plan.actions]
    assert [r.verb for r in apiserver.log.records] == ["create"] * len(plan.actions) == ["create"] * 12
    assert report.counts() == {"created": 12}


class CountingLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__(qps=1e9, burst=1000)
        self.taken = 0
        self._count = threading.Lock()  # guards `taken`

    def take(self) -> None:
        with self._count:
            self.taken += 1
        super().take()


def test_every_request_of_every_writer_takes_a_token_from_the_one_rate_limiter(
    apiserver: ApiServer, cluster: Cluster
) -> None:
    for name in ("platform", *(f"team-{n}" for n in range(20))):
        ns(apiserver, name)
    for name in SOURCES:
        source(apiserver, name)
    plan = _plan(cluster)
    apiserver.faults.fail(500, verb="create", times=5)
    apiserver.log.clear()
    limiter = cluster.limiter = CountingLimiter()
    report = _run(cluster, plan, concurrency=8)
    assert report.counts() == {"created": 80}
    assert limiter.taken == len(apiserver.log.records) == 85


def test_a_bug_in_one_writer_is_raised_not_recorded(apiserver: ApiServer, cluster: Cluster) -> None:
    for name in ("platform", *(f"team-{n}" for n in range(10))):
        ns(apiserver, name)
    source(apiserver, "src-0")
    plan = _plan(cluster)

    def resource_of(action: Action) -> Any:
        if action.key[2] == "team-4":
            raise RuntimeError("a bug")
        return plan.state.resource(action.key)

    with pytest.raises(RuntimeError, match="a bug"):
        Executor(cluster, resource_of, concurrency=4).run(plan.actions, Report())
