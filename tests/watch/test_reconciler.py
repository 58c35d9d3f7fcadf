"""The cache and the reconciler in-process against the project's API server, no informer
started, so a test decides exactly what the cache has seen."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from kubectl_mirror.engine.model import EngineOptions, Obj
from kubectl_mirror.engine.reconcile import key_of
from kubectl_mirror.io.cluster import Cluster, ClusterOptions, connect
from kubectl_mirror.watch.cache import Cache
from kubectl_mirror.watch.events import EventRecorder
from kubectl_mirror.watch.reconciler import Outcome, Reconciler
from tests.apiserver.server import ApiServer
from tests.e2e.live_helpers import ns, source


@dataclass
class Parts:
    cluster: Cluster
    cache: Cache
    reconciler: Reconciler

    def namespace(self, apiserver: ApiServer, name: str) -> None:
        ns(apiserver, name)
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}}
        self.cache.on_namespace(key_of(obj), None, self.cache.keep_namespace(obj))

    def seen(self, obj: Obj, old: object = None) -> list[object]:
        """The informer reports `obj`; the source keys the cache says to enqueue."""
        return list(self.cache.on_object(key_of(obj), old, self.cache.keep_object(obj)))


@pytest.fixture
def parts(apiserver: ApiServer) -> Iterator[Parts]:
    assert apiserver.kubeconfig is not None
    cluster = connect(ClusterOptions(kubeconfig=str(apiserver.kubeconfig)))
    cache = Cache(EngineOptions())
    configmaps = cluster.resource_for("v1", "ConfigMap")
    assert configmaps is not None
    cache.set_kinds({("core", "ConfigMap"): configmaps})
    yield Parts(cluster, cache, Reconciler(cluster, cache, events=EventRecorder(cluster)))
    cluster.close()


def test_a_source_reconciled_again_before_its_mirrors_come_back_on_the_watch_writes_nothing(
    apiserver: ApiServer, parts: Parts
) -> None:
    for name in ("platform", "team-a", "team-b"):
        parts.namespace(apiserver, name)
    src = source(apiserver)
    parts.seen(src)

    assert parts.reconciler.reconcile(key_of(src)).outcome is Outcome.CHANGED
    apiserver.log.clear()
    # Re-enqueued while in flight (a resync, a namespace event): the mirror watch has not yet
    # reported the two creates, and the cache must not take that for "missing".
    assert parts.reconciler.reconcile(key_of(src)).outcome is Outcome.UNCHANGED
    assert [(r.verb, r.namespace, r.status) for r in apiserver.log.writes()] == []


def test_the_echo_of_its_own_write_does_not_queue_the_source_again(
    apiserver: ApiServer, parts: Parts
) -> None:
    for name in ("platform", "team-a"):
        parts.namespace(apiserver, name)
    src = source(apiserver, targets="team-a")
    assert parts.seen(src) == [key_of(src)]
    assert parts.reconciler.reconcile(key_of(src)).outcome is Outcome.CHANGED
    configmaps = parts.cache.resource(key_of(src))
    assert configmaps is not None
    written = parts.cluster.get(configmaps, "team-a", "settings")
    assert written is not None
    assert parts.seen(written) == []
    assert parts.cache.mirror_count() == 1
    edited = {**written, "data": {"region": "moon"}}  # someone else's change is not an echo
    assert parts.seen(edited, old=parts.cache.record(key_of(edited))) == [key_of(src)]


def test_a_mirror_that_is_not_ours_is_a_conflict_not_an_error(apiserver: ApiServer, parts: Parts) -> None:
    for name in ("platform", "team-a"):
        parts.namespace(apiserver, name)
    apiserver.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "team-a"}}
    )
    src = source(apiserver, targets="team-a")
    parts.seen(src)
    apiserver.log.clear()
    result = parts.reconciler.reconcile(key_of(src))
    assert result.outcome is Outcome.CONFLICT
    # The cache keeps no object that is not ours, so the create is tried and refused (409),
    # then the object is read, found not ours, and left as it was.
    assert [(r.verb, r.status) for r in apiserver.log.writes() if r.resource == "configmaps"] == [
        ("create", 409)
    ]


def test_bulk_work_steps_aside_before_its_first_write(apiserver: ApiServer, parts: Parts) -> None:
    """More than one batch of writes (here 3 at concurrency 1) is bulk work: with urgent work
    waiting it yields at once, and writes everything when its turn comes again."""
    for name in ("platform", "team-a", "team-b", "team-c"):
        parts.namespace(apiserver, name)
    src = source(apiserver)
    parts.seen(src)
    first = parts.reconciler.reconcile(key_of(src), should_yield=lambda: True)
    assert first.outcome is Outcome.YIELDED
    assert [r for r in apiserver.log.writes() if r.verb == "create"] == []
    rest = parts.reconciler.reconcile(key_of(src))
    assert rest.outcome is Outcome.CHANGED
    assert len([r for r in apiserver.log.writes() if r.verb == "create"]) == 3


def test_work_of_one_batch_finishes_even_with_urgent_work_waiting(apiserver: ApiServer, parts: Parts) -> None:
    for name in ("platform", "team-a"):
        parts.namespace(apiserver, name)
    src = source(apiserver)
    parts.seen(src)
    done = parts.reconciler.reconcile(key_of(src), should_yield=lambda: True)
    assert done.outcome is Outcome.CHANGED
    assert len([r for r in apiserver.log.writes() if r.verb == "create"]) == 1
