"""The controller in-process against the project's API server, its informers not started, so a
test decides exactly what the caches have seen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.engine.reconcile import key_of
from kubectl_mirror.io.cluster import ClusterOptions, connect
from kubectl_mirror.watch.controller import Controller
from tests.apiserver.server import ApiServer
from tests.e2e.live_helpers import ns, source


@pytest.fixture
def controller(apiserver: ApiServer) -> Iterator[Controller]:
    assert apiserver.kubeconfig is not None
    cluster = connect(ClusterOptions(kubeconfig=str(apiserver.kubeconfig)))
    made = Controller(cluster, EngineOptions())
    configmaps = cluster.resource_for("v1", "ConfigMap")
    assert configmaps is not None
    made.resources[("core", "ConfigMap")] = configmaps
    yield made
    cluster.close()


def test_a_source_reconciled_again_before_its_mirrors_come_back_on_the_watch_writes_nothing(
    apiserver: ApiServer, controller: Controller
) -> None:
    for name in ("platform", "team-a", "team-b"):
        ns(apiserver, name)
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}}
        controller._on_namespace("ADDED", key_of(obj), None, controller._keep_namespace(obj))
    src = source(apiserver)
    controller._on_object("ADDED", key_of(src), None, controller._keep_object(src))

    assert controller.reconcile(key_of(src)) == "changed"
    apiserver.log.clear()
    # Re-enqueued while in flight (a resync, a namespace event): the mirror watch has not yet
    # reported the two creates, and the cache must not take that for "missing".
    assert controller.reconcile(key_of(src)) == "unchanged"
    assert [(r.verb, r.namespace, r.status) for r in apiserver.log.writes()] == []


def test_the_echo_of_its_own_write_does_not_queue_the_source_again(
    apiserver: ApiServer, controller: Controller
) -> None:
    for name in ("platform", "team-a"):
        ns(apiserver, name)
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}}
        controller._on_namespace("ADDED", key_of(obj), None, controller._keep_namespace(obj))
    src = source(apiserver, targets="team-a")
    controller._on_object("ADDED", key_of(src), None, controller._keep_object(src))
    assert controller.queue.get(timeout=1) == key_of(src)
    assert controller.reconcile(key_of(src)) == "changed"
    controller.queue.done(key_of(src))
    written = controller.cluster.get(controller.resources[("core", "ConfigMap")], "team-a", "settings")
    assert written is not None
    controller._on_object("ADDED", key_of(written), None, controller._keep_object(written))
    assert len(controller.queue) == 0
    assert controller.mirror_count() == 1
    edited = {**written, "data": {"region": "moon"}}  # someone else's change is not an echo
    controller._on_object(
        "MODIFIED", key_of(edited), controller.mirrors[key_of(edited)], controller._keep_object(edited)
    )
    assert controller.queue.get(timeout=1) == key_of(src)
