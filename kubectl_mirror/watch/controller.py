"""The live controller: informers feed a queue of source keys; workers reconcile one source at
a time with the same engine and the same decisions as `sync`, so watch never re-renders the
world for one change.

Caches keep what reconciling needs: sources whole (they are rendered), mirrors slim (key,
computed content hash, resourceVersion, source), namespaces as names and labels.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects.registry import DIALECTS
from kubectl_mirror.engine.globs import glob_match
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, NamespaceInfo, Obj, Result
from kubectl_mirror.engine.plan import is_mirror, render_source, source_of
from kubectl_mirror.engine.policy import API_GROUP, Policy, read_policy
from kubectl_mirror.engine.policy import KIND as POLICY_KIND
from kubectl_mirror.engine.reconcile import (
    Action,
    Key,
    SourceState,
    decide,
    decide_cached,
    describe,
    is_ours,
    key_of,
    normalized,
)
from kubectl_mirror.engine.render import content_hash
from kubectl_mirror.errors import MirrorError, Ref
from kubectl_mirror.io.cluster import Cluster, Resource
from kubectl_mirror.live.execute import Executor, Report
from kubectl_mirror.live.state import mirrorable, source_namespace_of
from kubectl_mirror.watch.events import EventRecorder
from kubectl_mirror.watch.informer import Informer, cache_key
from kubectl_mirror.watch.queue import WorkQueue

log = logging.getLogger("kubectl_mirror.watch")

CRD_GROUP, CRD_KIND = "apiextensions.k8s.io", "CustomResourceDefinition"

SourceKey = Key  # (group, kind, namespace, name) of a source
GONE = ""  # in `_written`: a mirror we deleted, whose DELETED event is our own echo


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
    rediscover_period: float = 600.0


@dataclass(frozen=True, slots=True)
class MirrorRecord:
    """All watch keeps of a mirror: enough to tell whether it is in sync without reading it."""

    key: Key
    digest: str
    resource_version: str
    source: SourceKey
    on_source_delete: str
    stale: bool
    immutable: bool = False
    adopted: bool = False
    secret_type: str = ""


def _record(obj: Obj) -> MirrorRecord:
    current = normalized(obj)
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    body = {k: v for k, v in current.items() if k not in ("apiVersion", "kind", "metadata")}
    digest = content_hash(body, current["metadata"]["labels"], current["metadata"]["annotations"])
    # The mirrors of one source share their digest, source and kind strings: intern them once.
    return MirrorRecord(
        key=cache_key(obj),
        digest=sys.intern(digest),
        resource_version=str(meta.get("resourceVersion", "")),
        source=Key(
            sys.intern(str(annotations.get(m.SOURCE_GROUP, ""))),
            sys.intern(str(annotations.get(m.SOURCE_KIND, ""))),
            sys.intern(str(annotations.get(m.SOURCE_NAMESPACE, ""))),
            sys.intern(str(annotations.get(m.SOURCE_NAME, ""))),
        ),
        on_source_delete=sys.intern(str(annotations.get(m.ON_SOURCE_DELETE, "delete"))),
        stale=(meta.get("labels") or {}).get(m.STALE) == "true",
        immutable=obj.get("immutable") is True,
        adopted=annotations.get(m.ADOPTED) == "true",
        secret_type=sys.intern(str(obj.get("type", "Opaque"))),
    )


@dataclass
class Controller:
    cluster: Cluster
    options: EngineOptions
    config: WatchConfig = field(default_factory=WatchConfig)
    is_leader: Callable[[], bool] = lambda: True
    on_reconcile: Callable[[str, float], None] = lambda result, seconds: None
    queue: WorkQueue = field(default_factory=WorkQueue)
    sources: dict[SourceKey, Obj] = field(default_factory=dict)
    specs: dict[SourceKey, MirrorSpec | None] = field(default_factory=dict)
    mirrors: dict[Key, MirrorRecord] = field(default_factory=dict)
    by_source: dict[SourceKey, set[Key]] = field(default_factory=lambda: defaultdict(set))
    namespaces: dict[str, NamespaceInfo] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    informers: list[Informer] = field(default_factory=list)
    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _informer_stops: dict[int, threading.Event] = field(default_factory=dict)
    _kinds_changed: threading.Event = field(default_factory=threading.Event)
    # Mirrors written but not yet seen back on the watch, with the digest written: a source
    # reconciled again in between (re-enqueued while in flight) must not write them again.
    _written: dict[Key, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.options = replace(self.options, live=True)
        self.events = EventRecorder(self.cluster)

    # -- caches ------------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    def stalled(self) -> list[str]:
        now = time.monotonic()
        return [i.name for i in self.informers if i.synced.is_set() and i.stalled(now)]

    def mirror_count(self) -> int:
        return len(self.mirrors)

    def _on_namespace(self, kind: str, key: Key, old: Any, new: Any) -> None:
        name = key[3]
        with self._lock:
            if new is None:
                self.namespaces.pop(name, None)
            else:
                self.namespaces[name] = new
            affected = [k for k, spec in self.specs.items() if spec is not None and _may_target(spec, name)]
        if old != new:
            for source in affected:
                self.queue.add(source, urgent=self.synced)

    def _keep_namespace(self, obj: Obj) -> NamespaceInfo | None:
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return None  # terminating: can receive nothing
        labels = meta.get("labels") or {}
        return NamespaceInfo(
            str(meta.get("name")), tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        )

    def _keep_object(self, obj: Obj) -> Any:
        """Mirrors slim, candidate sources whole, everything else dropped.

        A mirror whose source is outside this controller's scope is not ours to judge: it is
        not cached, so nothing can ever enqueue, update or prune it (another controller, or
        nobody, owns that decision)."""
        if is_ours(obj):
            return _record(obj) if self._in_scope(source_namespace_of(obj)) else None
        if is_mirror(obj):
            return None
        if self._is_candidate(obj):
            return obj
        return None

    def _in_scope(self, namespace: str) -> bool:
        patterns = self.config.source_namespaces
        return not patterns or any(glob_match(p, namespace) for p in patterns)

    def _is_candidate(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace", ""))
        if not self._in_scope(ns):
            return False
        if any(p.namespace == ns for p in list(self.policies.values())):
            return True
        keys = [*(meta.get("labels") or {}), *(meta.get("annotations") or {})]
        return any(k.startswith(m.CONTROL_PREFIXES) for k in keys)

    def _on_object(self, kind: str, key: Key, old: Any, new: Any) -> None:
        with self._lock:
            # Whatever the watch says of it now is the truth.
            written = self._written.pop(key, None)
            if isinstance(old, MirrorRecord):
                self.mirrors.pop(key, None)
                self.by_source[old.source].discard(key)
            elif new is None and key in self.sources:
                self.sources.pop(key, None)
                self.specs.pop(key, None)
            elif new is None and old is None:
                return
            if isinstance(new, MirrorRecord):
                self.mirrors[key] = new
                self.by_source[new.source].add(key)
                if new.digest != written:  # the echo of our own write needs no reconcile
                    self.queue.add(new.source, urgent=self.synced)
                return
            if new is not None:
                self.sources[key] = new
                self.specs[key] = self._spec(new)
        if isinstance(old, MirrorRecord):
            if new is not None or written != GONE:
                self.queue.add(old.source, urgent=self.synced)
        else:
            self.queue.add(key, urgent=self.synced)

    def _spec(self, obj: Obj) -> MirrorSpec | None:
        source, _ = source_of(obj, Ref.of(obj), policies=list(self.policies.values()), options=self.options)
        return source.spec if source else None

    def _on_policy(self, kind: str, key: Key, old: Any, new: Any) -> None:
        name = key[3]
        if new is not None and not self._in_scope(_policy_namespace(new)):
            # Another scope's policy: neither applied nor reported here (its own controller
            # writes its status; two would overwrite each other's).
            new = None
        with self._lock:
            if new is None:
                self.policies.pop(name, None)
            else:
                try:
                    self.policies[name] = read_policy(new, Ref.of(new), self.options)
                except MirrorError as err:
                    self.policies.pop(name, None)
                    log.error("%s", err.one_line())
                    self.events.warn(new, "InvalidPolicy", err.one_line())
            affected = list(self.sources)
        if new is not None and name in self.policies:
            self._load_selected(self.policies[name])
        for source in affected:
            self.queue.add(source, urgent=self.synced)
        self.queue.add(Key("policy", "", "", name), urgent=self.synced)

    def _load_selected(self, policy: Policy) -> None:
        """Objects a new policy selects were not cached (they carried no marker): read them."""
        for kind in policy.kinds:
            resource = next((r for (g, k), r in self.resources.items() if k == kind), None)
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

    # -- start-up ----------------------------------------------------------------------------

    def build_informers(self) -> None:
        served = self.cluster.resources()
        namespaces = next(r for r in served if r.kind == "Namespace" and r.group == "")
        keep = self._keep_namespace
        self.informers = [Informer(self.cluster, namespaces, self._on_namespace, keep=keep, **self._common())]
        self.informers += self._policy_informers(served)
        crds = next((r for r in served if r.kind == CRD_KIND and r.group == CRD_GROUP), None)
        if crds is not None:
            self.informers.append(Informer(self.cluster, crds, self._on_crd, keep=_version, **self._common()))
        for resource in mirrorable(served, self.options):
            self.informers += self._kind_informers(resource)

    def _on_crd(self, kind: str, key: Key, old: Any, new: Any) -> None:
        """A CRD was added, changed (it becomes Established after creation) or removed: look at
        the served kinds again now rather than at the next period."""
        self._kinds_changed.set()

    def _common(self) -> dict[str, Any]:
        return {"stall_after": self.config.stall_after, "watch_timeout": self.config.watch_timeout}

    def _policy_informers(self, served: list[Resource]) -> list[Informer]:
        policy = next((r for r in served if r.kind == POLICY_KIND and r.group == API_GROUP), None)
        if policy is None:
            return []
        return [Informer(self.cluster, policy, self._on_policy, **self._common())]

    def _kind_informers(self, resource: Resource) -> list[Informer]:
        self.resources[(resource.group or "core", resource.kind)] = resource
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
            Informer(
                self.cluster,
                resource,
                self._on_object,
                label_selector=selector,
                keep=self._keep_object,
                **self._common(),
            )
            for selector in selectors
        ]

    def start(self, stop: threading.Event) -> None:
        self.build_informers()
        for informer in self.informers:
            self._start_informer(informer)
        self._spawn("resync", self._resync_loop, stop)
        self._spawn("rediscovery", self._rediscovery_loop, stop)
        for i in range(self.config.workers):
            self._spawn(f"worker {i}", self._work, stop)

    def _start_informer(self, informer: Informer) -> None:
        # Each informer has its own stop, so one whose kind is no longer served can be stopped
        # alone; the rediscovery loop sets them all when the controller stops.
        own = threading.Event()
        self._informer_stops[id(informer)] = own
        self._spawn(f"informer {informer.name}", informer.run, own, joined=False)

    def _rediscovery_loop(self, stop: threading.Event) -> None:
        period = self.config.rediscover_period
        due = time.monotonic() + period
        try:
            while not stop.is_set():
                changed = self._kinds_changed.wait(min(1.0, period))  # and look at `stop` each second
                if stop.is_set():
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
        added: list[Informer] = []
        if not any(i.resource.kind == POLICY_KIND and i.resource.group == API_GROUP for i in self.informers):
            added += self._policy_informers(served)
        wanted = {(r.group or "core", r.kind): r for r in mirrorable(served, self.options)}
        for kind, resource in wanted.items():
            if kind not in self.resources:
                added += self._kind_informers(resource)
        gone_kinds = {kind for kind in self.resources if kind not in wanted}
        policy_gone = not any(r.kind == POLICY_KIND and r.group == API_GROUP for r in served)
        gone = [
            i
            for i in self.informers
            if (i.resource.group or "core", i.resource.kind) in gone_kinds
            or (policy_gone and i.resource.kind == POLICY_KIND and i.resource.group == API_GROUP)
        ]
        for kind in gone_kinds:
            del self.resources[kind]
        # Replaced, never changed in place: other threads iterate the list.
        gone_ids = {id(i) for i in gone}
        self.informers = [i for i in self.informers if id(i) not in gone_ids] + added
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

    def _spawn(
        self,
        name: str,
        target: Callable[[threading.Event], None],
        stop: threading.Event,
        *,
        joined: bool = True,
    ) -> None:
        """Start a daemon thread; `join` waits for it unless `joined` is False: an informer may be
        blocked in a read of a quiet watch (a real server sends a bookmark about once a minute)
        and holds nothing that needs finishing, so shutdown never waits for one."""
        thread = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
        thread.start()
        if joined:
            self._threads.append(thread)

    def join(self, timeout: float = 10.0) -> None:
        self.queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _resync_loop(self, stop: threading.Event) -> None:
        while not stop.is_set() and not self.synced:
            stop.wait(0.1)
        self.enqueue_all()
        while not stop.wait(self.config.resync_period):
            self.enqueue_all()

    def enqueue_all(self) -> None:
        """Every source, and every source that left mirrors behind (found missing at start-up)."""
        with self._lock:
            keys = set(self.sources) | {k for k, v in self.by_source.items() if v}
        for key in sorted(keys):
            self.queue.add(key, urgent=False)

    # -- work --------------------------------------------------------------------------------

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.synced or not self.is_leader():
                stop.wait(0.2)
                continue
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            started = time.monotonic()
            try:
                result = self.reconcile(key)
                self.queue.forget(key)
                if result == "partial":  # yielded to other work: the rest comes in its turn
                    self.queue.add(key, urgent=self.queue.lane_of(key) == "urgent")
            except MirrorError as err:
                result = "error"
                delay = self.queue.retry(key)
                log.warning("reconcile %s failed (%s); retrying in %.1fs", describe(key), err.message, delay)
            except Exception as err:  # a bug must cost one source a retry, never the worker
                result = "error"
                delay = self.queue.retry(key)
                log.error(
                    "reconcile %s: internal error (%s); retrying in %.1fs",
                    describe(key),
                    _one_line(err),
                    delay,
                )
            finally:
                self.queue.done(key)
            self.on_reconcile(result, time.monotonic() - started)

    def reconcile(self, key: SourceKey) -> str:
        if key[0] == "policy":
            return self._policy_status(key[3])
        with self._lock:
            obj = self.sources.get(key)
            universe = self._universe()
            owned = set(self.by_source.get(key, ()))
        if obj is None:
            return self._orphaned(key, owned)
        source, results = source_of(
            obj, Ref.of(obj), policies=list(self.policies.values()), options=self.options
        )
        for r in results:
            self._report(obj, r)
        if source is None:
            if any(r.severity == "error" for r in results):
                return "error"  # a bad marker never deletes anything
            return self._orphaned(key, owned, source="unmarked")
        outcome = render_source(source, universe=universe, options=self.options)
        for r in outcome.results:
            self._report(obj, r)
        if any(r.severity == "error" for r in outcome.results):
            return "error"
        report = Report()
        executor = self._executor()
        wanted = {key_of(desired) for desired in outcome.mirrors}
        for desired in outcome.mirrors:
            mkey = key_of(desired)
            digest = desired["metadata"]["annotations"][m.CONTENT_HASH]
            record = self.mirrors.get(mkey)
            if (record is not None and record.digest == digest) or self._written.get(mkey) == digest:
                continue
            if report.done and self.queue.should_yield(key):
                return self._finish(obj, report, partial=True)
            if record is None:
                action = decide(desired, None)
            else:
                cached = decide_cached(
                    desired,
                    resource_version=record.resource_version,
                    secret_type=record.secret_type,
                    immutable=record.immutable,
                    adopted=record.adopted,
                )
                action = cached or self._decide(desired)
            before = len(report.done)
            executor.run([action], report)
            if any(word in ("created", "configured", "recreated") for _, word in report.done[before:]):
                self._expect(mkey, digest)
        return self._prune_all(key, obj, sorted(owned - wanted), report, source="untargeted")

    def _expect(self, mkey: Key, digest: str) -> None:
        with self._lock:
            record = self.mirrors.get(mkey)
            if record is None or record.digest != digest:  # else the watch was faster than us
                self._written[mkey] = digest

    def _decide(self, desired: Obj) -> Action:
        resource = self.resources.get(key_of(desired)[:2])
        meta = desired["metadata"]
        live = self.cluster.get(resource, meta["namespace"], meta["name"]) if resource else None
        return decide(desired, live)

    def _universe(self) -> dict[str, NamespaceInfo]:
        if not self.config.require_consent:
            return dict(self.namespaces)
        return {n: i for n, i in self.namespaces.items() if i.label_map().get(m.ACCEPT) == "true"}

    def _orphaned(self, key: SourceKey, owned: set[Key], *, source: SourceState | None = None) -> str:
        if not owned:
            return "unchanged"
        if source is None:
            resource = self.resources.get(key[:2])
            found = resource is not None and self.cluster.get(resource, key[2], key[3]) is not None
            source = "unmarked" if found else "gone"
        return self._prune_all(key, None, sorted(owned), Report(), source=source)

    def _prune_all(
        self, key: SourceKey, obj: Obj | None, keys: list[Key], report: Report, *, source: SourceState
    ) -> str:
        for mkey in keys:
            if report.done and self.queue.should_yield(key):
                return self._finish(obj, report, partial=True)
            self._prune(mkey, report, source=source)
        return self._finish(obj, report)

    def _prune(self, mkey: Key, report: Report, *, source: SourceState) -> None:
        resource = self.resources.get(mkey[:2])
        if mkey not in self.mirrors or resource is None:
            return
        live = self.cluster.get(resource, mkey[2], mkey[3])
        if live is None:
            return
        action = decide(None, live, source=source)
        if action.writes:
            before = len(report.done)
            self._executor().run([action], report)
            if any(word == "deleted" for _, word in report.done[before:]):
                with self._lock:
                    self._written[mkey] = GONE  # its DELETED event is our own echo

    def _executor(self) -> Executor:
        return Executor(self.cluster, lambda a: self.resources.get(a.key[:2]))

    def _finish(self, obj: Obj | None, report: Report, *, partial: bool = False) -> str:
        for action, word in report.done:
            if word == "conflict" and obj is not None:
                self.events.warn(obj, "MirrorConflict", f"{describe(action.key)}: {action.reason}")
            elif word not in ("unchanged", "failed", "skipped"):
                log.info("%s %s", describe(action.key), word)
        if report.errors:
            for error in report.errors:
                log.error("%s", error)
                if obj is not None:
                    self.events.warn(obj, "MirrorFailed", error)
            raise MirrorError(f"{len(report.errors)} mirror(s) failed")
        if partial:
            return "partial"
        changed = [w for _, w in report.done if w not in ("unchanged", "skipped")]
        return "changed" if changed else "unchanged"

    def _report(self, obj: Obj, result: Result) -> None:
        line = result.one_line()
        if result.severity == "error":
            log.error("%s", line)
            self.events.warn(obj, "InvalidSource", line)
        else:
            log.warning("%s", line)

    def _policy_status(self, name: str) -> str:
        from kubectl_mirror.watch.policy_status import update_policy_status

        with self._lock:
            policy = self.policies.get(name)
            if policy is None:
                return "unchanged"
            selected = [k for k, spec in self.specs.items() if spec is not None and spec.policy == policy.ref]
            mirrors = [
                self.mirrors[k] for s in selected for k in self.by_source.get(s, ()) if k in self.mirrors
            ]
        resource = next(
            (r for r in self.cluster.resources() if r.kind == POLICY_KIND and r.group == API_GROUP), None
        )
        if resource is None:
            return "unchanged"
        update_policy_status(self.cluster, resource, name, sources=len(selected), mirrors=len(mirrors))
        return "unchanged"


def _policy_namespace(obj: Obj) -> str:
    source = (obj.get("spec") or {}).get("source")
    namespace = source.get("namespace") if isinstance(source, dict) else None
    return namespace if isinstance(namespace, str) else ""


def _version(obj: Obj) -> str:
    """All the CRD informer keeps: it only signals that kinds may have changed."""
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _may_target(spec: MirrorSpec, namespace: str) -> bool:
    """Could a change to this namespace affect this source? A source that names its targets
    explicitly only cares about those names; any pattern, label or selector may match."""
    return any(t.kind != "name" or t.value == namespace for t in spec.targets)


def _one_line(err: Exception) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"
