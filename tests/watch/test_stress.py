"""The Manager's threads at once, for a bounded number of rounds: informers, 4 workers writing
4 mirrors at a time, resyncs every 0.2 s, rediscovery called from another thread, namespaces
created and deleted, sources created, retargeted, edited and deleted. Then, once quiet, the
cluster must be exactly what `sync` would make it: a fresh plan finds nothing to write and
nothing to prune. A lock that guards too little shows up here as a lost or a stale mirror."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.errors import Ref
from kubectl_mirror.io.cluster import ClusterOptions, connect
from kubectl_mirror.live.config import LiveConfig
from kubectl_mirror.live.plan import make_plan
from kubectl_mirror.live.state import Scope
from kubectl_mirror.watch.manager import Manager, WatchConfig
from tests.apiserver.server import ApiServer

ROUNDS = 60
NAMESPACES = [f"team-{i}" for i in range(8)]


@pytest.fixture
def manager(apiserver: ApiServer) -> Iterator[Manager]:
    assert apiserver.kubeconfig is not None
    live = LiveConfig(kubeconfig=str(apiserver.kubeconfig), all_namespaces=True, concurrency=4)
    config = WatchConfig(workers=4, resync_period=0.2, rediscover_period=3600)
    made = Manager(live, config)
    yield made
    made.shutdown()


def _ns(apiserver: ApiServer, name: str) -> None:
    apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def _source(name: str, targets: str, data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "platform",
            "labels": {"kubectl-mirror.io/source": "true"},
            "annotations": {"kubectl-mirror.io/targets": targets},
        },
        "data": {"v": data},
    }


def test_threads_together_leave_exactly_the_desired_state(apiserver: ApiServer, manager: Manager) -> None:
    rng = random.Random(7)
    _ns(apiserver, "platform")
    for name in NAMESPACES[:4]:
        _ns(apiserver, name)
    cluster = connect(ClusterOptions(kubeconfig=str(apiserver.kubeconfig)))
    configmaps = cluster.resource_for("v1", "ConfigMap")
    namespaces = cluster.resource_for("v1", "Namespace")
    assert configmaps is not None and namespaces is not None
    manager.start()
    stop = threading.Event()
    rediscoveries = 0

    def rediscover() -> None:
        nonlocal rediscoveries
        while not stop.is_set():
            manager.rediscover()
            rediscoveries += 1
            time.sleep(0.05)

    side = threading.Thread(target=rediscover, daemon=True)
    side.start()
    present = set(NAMESPACES[:4])
    sources: dict[str, str] = {}
    try:
        for round_ in range(ROUNDS):
            action = rng.choice(["ns+", "ns-", "src+", "src~", "src-", "edit"])
            if action == "ns+" and len(present) < len(NAMESPACES):
                name = rng.choice([n for n in NAMESPACES if n not in present])
                _ns(apiserver, name)
                present.add(name)
            elif action == "ns-" and len(present) > 1:
                name = rng.choice(sorted(present))
                cluster.request("DELETE", namespaces.path(None, name), ok=(404,))
                present.discard(name)
            elif action in ("src+", "src~") or not sources:
                name = f"s{rng.randint(0, 5)}"
                targets = rng.choice(["team-*", "team-1,team-2", "*", "team-[0-3]"])
                sources[name] = targets
                body = _source(name, targets, str(round_))
                found = cluster.get(configmaps, "platform", name)
                if found is None:
                    cluster.create(configmaps, body, dry_run=False, ref=Ref())
                else:
                    body["metadata"]["resourceVersion"] = found["metadata"]["resourceVersion"]
                    cluster.replace(configmaps, body, dry_run=False, ref=Ref())
            elif action == "src-":
                name = rng.choice(sorted(sources))
                cluster.request("DELETE", configmaps.path("platform", name), ok=(404,))
                del sources[name]
            else:
                name = rng.choice(sorted(sources))
                patch = {"data": {"v": f"edit-{round_}"}}
                cluster.merge_patch(configmaps, "platform", name, patch, dry_run=False, ref=Ref())
            time.sleep(rng.choice([0, 0, 0.01, 0.05]))
    finally:
        stop.set()
        side.join(10)
    assert rediscoveries > 0

    deadline = time.monotonic() + 60
    while True:
        plan = make_plan(cluster, scope=Scope(None), options=EngineOptions())
        pending = [a for a in plan.actions if a.writes] + [a for a in plan.prune if a.writes]
        if not pending and len(manager.queue) == 0:
            break
        assert time.monotonic() < deadline, [(a.verb, a.key) for a in pending]
        time.sleep(0.2)
    assert plan.outcome.mirrors  # the test left sources with mirrors to check
    assert not any(r.severity == "error" for r in plan.results)
    cluster.close()
