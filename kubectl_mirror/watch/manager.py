"""The controller as a process: informers feeding the cache, a queue of source keys, workers
running the reconciler, periodic resync and rediscovery, leader election, metrics, health
endpoints and signals. Built once from a `LiveConfig` and a `WatchConfig`; `run()` until stopped.

Threads and what each touches:
- informer threads (one per watched resource and selector): their own `Informer.store`, and the
  cache through its handlers; they enqueue keys (the queue has its own lock).
- workers (`--workers`): the queue and the reconciler (see watch/reconciler.py).
- "resync": the cache's key list and the queue. "rediscovery": the informer list and the
  cache's served kinds. `_informers` is replaced, never changed in place, and only by
  "rediscovery" (after start-up), so any thread may iterate the list it read.
- the leader-election thread: the elector's own state; workers only read `is_leader`.
- the HTTP servers: read-only calls (`synced`, `stalled`, gauges).
- the main thread: `run()` waits on `_stop`, copies restart counts into metrics, and shuts down.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects.registry import DIALECTS
from kubectl_mirror.engine.model import NamespaceInfo, Obj
from kubectl_mirror.engine.plan import is_mirror
from kubectl_mirror.engine.policies import POLICY_KINDS
from kubectl_mirror.engine.policy import Policy
from kubectl_mirror.engine.reconcile import Key, describe, key_of
from kubectl_mirror.errors import MirrorError
from kubectl_mirror.io.cluster import Cluster, Resource, connect
from kubectl_mirror.live.config import LiveConfig
from kubectl_mirror.live.state import mirrorable
from kubectl_mirror.watch.cache import Cache, GroupKind, SourceKey, is_policy_key, policy_key
from kubectl_mirror.watch.events import EventRecorder
from kubectl_mirror.watch.health import HTTPServerHandle, probe_routes, serve
from kubectl_mirror.watch.informer import Handler, Informer
from kubectl_mirror.watch.leader import LeaderElector
from kubectl_mirror.watch.metrics import ControllerMetrics
from kubectl_mirror.watch.queue import WorkQueue
from kubectl_mirror.watch.reconciler import Outcome, Reconciled, Reconciler

log = logging.getLogger("kubectl_mirror.watch")

CRD_GROUP, CRD_KIND = "apiextensions.k8s.io", "CustomResourceDefinition"


@dataclass(frozen=True)
class WatchConfig:
    workers: int = 2
    resync_period: float = 300.0
    source_namespaces: tuple[str, ...] = ()  # globs: who may publish (empty: everyone)
    require_consent: bool = False
    stall_after: float = 180.0
    watch_timeout: int = 300
    # CRD events trigger a rediscovery at once; the period catches what they cannot show
    # (aggregated APIs, or no right to watch CRDs).
    rediscover_period: float = 3600.0
    metrics_addr: str | None = None
    health_addr: str | None = None
    leader_elect: bool = False
    lease_namespace: str | None = None  # default: POD_NAMESPACE, then the context's
    lease_name: str = "kubectl-mirror"
    lease_duration: float = 15.0


class Manager:
    def __init__(self, live: LiveConfig, config: WatchConfig, *, cluster: Cluster | None = None) -> None:
        self.live = live
        self.config = config
        self.cluster = cluster if cluster is not None else connect(live.cluster_options())
        self.cache = Cache(
            live.engine, source_namespaces=config.source_namespaces, require_consent=config.require_consent
        )
        self.queue = WorkQueue()
        self.events = EventRecorder(self.cluster)
        self.reconciler = Reconciler(
            self.cluster, self.cache, events=self.events, concurrency=live.concurrency
        )
        self.metrics = ControllerMetrics()
        self.elector: LeaderElector | None = None
        self._stop = threading.Event()
        self._informers: list[Informer] = []
        self._informer_stops: dict[int, threading.Event] = {}
        self._kinds_changed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: list[HTTPServerHandle] = []
        self._restarts_seen: dict[tuple[int, str], int] = {}

    # -- state others read ---------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self._informers)

    def stalled(self) -> list[str]:
        now = time.monotonic()
        return [i.name for i in self._informers if i.synced.is_set() and i.stalled(now)]

    def is_leader(self) -> bool:
        return self.elector is None or self.elector.is_leader

    @property
    def informers(self) -> list[Informer]:
        return self._informers

    # -- running -------------------------------------------------------------------------------

    def run(self) -> None:
        """Until SIGTERM or SIGINT: finish in-flight work, release the Lease, close the servers."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.start()
        try:
            while not self._stop.wait(1.0):
                self._count_restarts()
        finally:
            self.shutdown()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing in-flight work", signum)
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()

    def start(self) -> None:
        self._serve()
        if self.config.leader_elect:
            self._elect()
        self._build_informers()
        for informer in self._informers:
            self._start_informer(informer)
        self._spawn("resync", self._resync_loop)
        self._spawn("rediscovery", self._rediscovery_loop)
        for i in range(self.config.workers):
            self._spawn(f"worker {i}", self._work)

    def shutdown(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.elector is not None and self.elector.release():
            log.info("released the lease")
        for server in self._servers:
            server.close()
        self.reconciler.stop(max(1.0, deadline - time.monotonic()))

    def _spawn(self, name: str, target: Callable[[], None], *, joined: bool = True) -> None:
        """A daemon thread; `shutdown` waits for it unless `joined` is False: an informer may be
        blocked in a read of a quiet watch (a real server sends a bookmark about once a minute)
        and holds nothing that needs finishing, so shutdown never waits for one."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        if joined:
            self._threads.append(thread)

    # -- informers -----------------------------------------------------------------------------

    def _build_informers(self) -> None:
        served = self.cluster.resources()
        namespaces = next(r for r in served if r.kind == "Namespace" and r.group == "")
        informers = [self._informer(namespaces, self._on_namespace, keep=self.cache.keep_namespace)]
        informers += self._policy_informers(served)
        crds = next((r for r in served if r.kind == CRD_KIND and r.group == CRD_GROUP), None)
        if crds is not None:
            informers.append(self._informer(crds, self._on_crd, keep=_version))
        kinds = {_group_kind(r): r for r in mirrorable(served, self.cache.options)}
        self.cache.set_kinds(kinds)
        for resource in kinds.values():
            informers += self._kind_informers(resource)
        self._informers = informers

    def _informer(
        self,
        resource: Resource,
        handler: Handler,
        *,
        keep: Callable[[Obj], Any] | None = None,
        label_selector: str | None = None,
    ) -> Informer:
        informer = Informer(
            self.cluster,
            resource,
            handler,
            label_selector=label_selector,
            stall_after=self.config.stall_after,
            watch_timeout=self.config.watch_timeout,
        )
        if keep is not None:
            informer.keep = keep
        return informer

    def _policy_informers(self, served: list[Resource], *, known: Sequence[Informer] = ()) -> list[Informer]:
        """One informer per policy kind served (MirrorPolicy, ConfigMapSync, ConfigMirror) and not
        watched yet."""
        watched = {_group_kind(i.resource) for i in known}
        return [
            self._informer(r, self._on_policy)
            for r in served
            if _is_policy(r) and _group_kind(r) not in watched
        ]

    def _kind_informers(self, resource: Resource) -> list[Informer]:
        full = any(not d.source_selector and resource.kind in d.kinds for d in DIALECTS)
        full = full or resource.kind in ("ConfigMap", "Secret")  # MirrorPolicy's default kinds
        selectors: list[str | None] = [None] if full else [m.ownership_label_selector()]
        if not full:
            selectors += [
                d.source_selector
                for d in DIALECTS
                if d.source_selector and (not d.kinds or resource.kind in d.kinds)
            ]
        return [
            self._informer(resource, self._on_object, keep=self.cache.keep_object, label_selector=selector)
            for selector in selectors
        ]

    def _start_informer(self, informer: Informer) -> None:
        # Each informer has its own stop, so one whose kind is no longer served can be stopped
        # alone; the rediscovery loop sets them all when the manager stops.
        own = threading.Event()
        self._informer_stops[id(informer)] = own
        self._spawn(f"informer {informer.name}", lambda: informer.run(own), joined=False)

    def _enqueue(self, keys: list[SourceKey]) -> None:
        """Sources are urgent once the informers have synced; a policy resource's status is
        housekeeping, written when no mirror work is in flight (each mirror written during bulk
        work queues its policy's status again: urgent, it would interrupt that work every time)."""
        urgent = self.synced
        for key in keys:
            self.queue.add(key, urgent=urgent and not is_policy_key(key))

    def _on_namespace(
        self, kind: str, key: Key, old: NamespaceInfo | None, new: NamespaceInfo | None
    ) -> None:
        self._enqueue(self.cache.on_namespace(key, old, new))

    def _on_object(self, kind: str, key: Key, old: Any, new: Any) -> None:
        self._enqueue(self.cache.on_object(key, old, new))

    def _on_policy(self, kind: str, key: Key, old: Any, new: Any) -> None:
        obj = new if isinstance(new, dict) else None
        change = self.cache.on_policy(key, obj)
        if change.invalid and obj is not None:
            log.error("%s", change.invalid)
            self.events.warn(obj, "InvalidPolicy", change.invalid)
        if change.load is not None:
            self._load_selected(change.load)
        self._enqueue([*change.affected, policy_key(key)])

    def _load_selected(self, policy: Policy) -> None:
        """Objects a new policy selects were not cached (they carried no marker): read them."""
        for kind in policy.kinds:
            resource = self.cache.resource_of_kind(kind)
            if resource is None:
                continue
            try:
                found, _ = self.cluster.list(resource, namespace=policy.namespace)
            except MirrorError as err:
                log.warning(
                    "could not read %s in %s for policy %s: %s", kind, policy.namespace, policy.ref.name, err
                )
                continue
            for obj in found:
                if policy.selects(obj) and not is_mirror(obj):
                    self._on_object("ADDED", key_of(obj), None, obj)

    def _on_crd(self, kind: str, key: Key, old: Any, new: Any) -> None:
        """A CRD was added, changed (it becomes Established after creation) or removed: look at
        the served kinds again now rather than at the next period."""
        self._kinds_changed.set()

    def _rediscovery_loop(self) -> None:
        period = self.config.rediscover_period
        due = time.monotonic() + period
        try:
            while not self._stop.is_set():
                changed = self._kinds_changed.wait(min(1.0, period))  # and look at `_stop` each second
                if self._stop.is_set():
                    break
                if changed or time.monotonic() >= due:
                    self._kinds_changed.clear()
                    self.rediscover()
                    due = time.monotonic() + period
        finally:
            for own in self._informer_stops.values():
                own.set()

    def rediscover(self) -> None:
        """Watch kinds served since the last look (a new CRD, the MirrorPolicy CRD installed
        later); stop watching kinds no longer served, whose objects went with their CRD."""
        self.cluster.refresh()
        try:
            served = self.cluster.resources()
        except MirrorError as err:
            log.warning("rediscovery failed (%s); keeping the kinds known", err.message)
            return
        known = self.cache.kinds()
        added = self._policy_informers(served, known=self._informers)
        wanted = {_group_kind(r): r for r in mirrorable(served, self.cache.options)}
        for kind, resource in wanted.items():
            if kind not in known:
                added += self._kind_informers(resource)
        gone_kinds = {kind for kind in known if kind not in wanted}
        gone_kinds |= {_group_kind(i.resource) for i in self._informers if _is_policy(i.resource)}
        gone_kinds -= {_group_kind(r) for r in served if _is_policy(r)}
        gone = [i for i in self._informers if _group_kind(i.resource) in gone_kinds]
        self.cache.set_kinds(wanted)
        gone_ids = {id(i) for i in gone}
        self._informers = [i for i in self._informers if id(i) not in gone_ids] + added
        for informer in gone:
            self._informer_stops.pop(id(informer)).set()
            for key, old in list(informer.store.items()):
                informer.handler("DELETED", key, old, None)
            informer.store.clear()
        for informer in added:
            self._start_informer(informer)
        if added or gone:
            log.info(
                "rediscovery: now watching %s; stopped %s",
                ", ".join(i.name for i in added) or "nothing new",
                ", ".join(i.name for i in gone) or "nothing",
            )

    # -- work ----------------------------------------------------------------------------------

    def _resync_loop(self) -> None:
        while not self._stop.is_set() and not self.synced:
            self._stop.wait(0.1)
        self.enqueue_all()
        while not self._stop.wait(self.config.resync_period):
            self.enqueue_all()

    def enqueue_all(self) -> None:
        for key in self.cache.resync_keys():
            self.queue.add(key, urgent=False)

    def _work(self) -> None:
        while not self._stop.is_set():
            if not self.synced or not self.is_leader():
                self._stop.wait(0.2)
                continue
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            started = time.monotonic()
            result: Reconciled | None = None
            try:
                result = self.reconciler.reconcile(
                    key, should_yield=functools.partial(self.queue.should_yield, key)
                )
            except Exception as err:  # a bug must cost one source a retry, never the worker
                delay = self.queue.retry(key)
                log.error(
                    "reconcile %s: internal error (%s); retrying in %.1fs",
                    describe(key),
                    _one_line(err),
                    delay,
                )
                outcome = Outcome.ERROR
            else:
                outcome = result.outcome
            if outcome is Outcome.ERROR and result is not None:
                delay = self.queue.retry(key)
                log.warning(
                    "reconcile %s failed (%s); retrying in %.1fs", describe(key), result.message, delay
                )
            elif outcome is Outcome.WAITING:
                self.queue.retry(key)
            elif outcome is not Outcome.ERROR:
                self.queue.forget(key)
                if outcome is Outcome.YIELDED:  # the rest comes in its turn
                    self.queue.resume(key)
            self.queue.done(key)
            if result is not None and result.follow:
                self._enqueue(list(result.follow))
            for workload in result.rolled if result is not None else ():
                self.metrics.rollouts.inc(namespace=workload.namespace, kind=workload.kind)
            self.metrics.reconciles.inc(result=outcome.value)
            self.metrics.reconcile_duration.observe(time.monotonic() - started)

    # -- around the work: metrics, health, leader election -------------------------------------

    def _serve(self) -> None:
        self.metrics.count_requests_of(self.cluster.requests)
        self.metrics.leader.set_function(lambda: 1.0 if self.is_leader() else 0.0)
        self.metrics.mirrors_managed.set_function(lambda: float(self.cache.mirror_count()))
        self.metrics.queue_depth.set_function(lambda: float(len(self.queue)))
        if self.config.metrics_addr:
            handle = serve(
                self.config.metrics_addr,
                routes={"/metrics": lambda: (200, self.metrics.render())},
                content_types={"/metrics": "text/plain; version=0.0.4; charset=utf-8"},
            )
            self._servers.append(handle)
            log.info("metrics on %s:%d", handle.host, handle.port)
        if self.config.health_addr:
            routes = probe_routes(
                synced=lambda: self.synced, stalled=self.stalled, stopping=self._stop.is_set
            )
            handle = serve(self.config.health_addr, routes=routes)
            self._servers.append(handle)
            log.info("health on %s:%d", handle.host, handle.port)

    def _count_restarts(self) -> None:
        """Copy informer restart counts into the metric (informers count; metrics publish)."""
        # Several informers may watch one resource (one per label selector): count each its own.
        for informer in list(self._informers):
            for reason, n in list(informer.restarts.items()):
                key = (id(informer), reason)
                seen = self._restarts_seen.get(key, 0)
                if n > seen:
                    self.metrics.watch_restarts.inc(
                        n - seen, resource=informer.resource.plural, reason=reason
                    )
                    self._restarts_seen[key] = n

    def _elect(self) -> None:
        from kubectl_mirror.watch.leader import default_identity, election_options

        duration = self.config.lease_duration
        renew = duration * 2 / 3
        own = connect(election_options(self.cluster.options, renew_deadline=renew))
        self.metrics.count_requests_of(self.cluster.requests, own.requests)
        identity = default_identity()
        namespace = self.config.lease_namespace or os.environ.get("POD_NAMESPACE") or self.cluster.namespace
        elector = LeaderElector(
            own,
            namespace=namespace,
            name=self.config.lease_name,
            identity=identity,
            lease_duration=duration,
            renew_deadline=renew,
            retry_period=max(0.2, duration / 7.5),
        )
        self.elector = elector
        self._spawn(
            "leader-election",
            lambda: elector.run(
                self._stop,
                lambda: log.info("became leader (%s)", identity),
                lambda: log.info("stopped leading"),
            ),
        )


def _group_kind(resource: Resource) -> GroupKind:
    return (resource.group or "core", resource.kind)


def _is_policy(resource: Resource) -> bool:
    return any(resource.kind == k.kind and resource.group == k.group for k in POLICY_KINDS)


def _version(obj: Obj) -> str:
    """All the CRD informer keeps: it only signals that kinds may have changed."""
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _one_line(err: Exception) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"
