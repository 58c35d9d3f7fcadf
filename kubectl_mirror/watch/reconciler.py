"""One source key in, its mirrors made right, a typed outcome out.

The same engine and the same decision function as `sync` (`engine.reconcile.decide`; its cached
fast path `decide_cached`), on a consistent `Snapshot` from the cache: watch keeps no rule of its
own about what to write. Writes go through the executor, up to `concurrency` at once.

Threads. Several workers call `reconcile` at once, never for the same key (the queue hands a
key to one worker at a time). A `Reconciler` holds no mutable state of its own: the cache has
its own lock, the cluster client and the event recorder are thread-safe.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.model import Obj, Result
from kubectl_mirror.engine.plan import render_source, source_of
from kubectl_mirror.engine.policy import API_GROUP
from kubectl_mirror.engine.policy import KIND as POLICY_KIND
from kubectl_mirror.engine.reconcile import Action, Key, SourceState, decide, decide_cached, describe, key_of
from kubectl_mirror.errors import MirrorError, Ref
from kubectl_mirror.io.cluster import Cluster, Resource
from kubectl_mirror.live.execute import Executor, Report
from kubectl_mirror.watch.cache import GONE, Cache, SourceKey
from kubectl_mirror.watch.events import EventRecorder

log = logging.getLogger("kubectl_mirror.watch")

WROTE = frozenset({"created", "configured", "recreated"})


class Outcome(enum.Enum):
    CHANGED = "changed"  # something was written
    UNCHANGED = "unchanged"  # everything was already right
    CONFLICT = "conflict"  # a target is not ours: reported on the source, nothing to retry
    YIELDED = "yielded"  # stopped early for more urgent work; the rest comes in its turn
    ERROR = "error"  # failed; retried with backoff


@dataclass(frozen=True)
class Reconciled:
    outcome: Outcome
    message: str = ""


def policy_key(name: str) -> SourceKey:
    """Queue key asking for a MirrorPolicy's status to be written."""
    return Key("policy", "", "", name)


class Reconciler:
    def __init__(
        self,
        cluster: Cluster,
        cache: Cache,
        *,
        events: EventRecorder,
        concurrency: int = 1,
    ) -> None:
        self.cluster = cluster
        self.cache = cache
        self.options = cache.options
        self.events = events
        self.concurrency = max(1, concurrency)

    def reconcile(self, key: SourceKey, *, should_yield: Callable[[], bool] = lambda: False) -> Reconciled:
        """Never raises for what the cluster or the input does: that is an ERROR outcome."""
        try:
            return self._reconcile(key, should_yield)
        except MirrorError as err:
            return Reconciled(Outcome.ERROR, err.message)

    def _reconcile(self, key: SourceKey, should_yield: Callable[[], bool]) -> Reconciled:
        if key[0] == "policy":
            return self._policy_status(key[3])
        snap = self.cache.snapshot(key)
        if snap.source is None:
            return self._orphaned(key, snap.owned)
        obj = snap.source
        source, results = source_of(obj, Ref.of(obj), policies=list(snap.policies), options=self.options)
        for r in results:
            self._report(obj, r)
        if source is None:
            if any(r.severity == "error" for r in results):
                return Reconciled(Outcome.ERROR, "invalid source")  # a bad marker never deletes
            return self._prune_all(None, sorted(snap.owned), Report(), should_yield, source="unmarked")
        outcome = render_source(source, universe=snap.universe, options=self.options)
        for r in outcome.results:
            self._report(obj, r)
        if any(r.severity == "error" for r in outcome.results):
            return Reconciled(Outcome.ERROR, "source could not be rendered")
        report = Report()
        wanted = {key_of(desired) for desired in outcome.mirrors}
        batch: list[tuple[Action, str]] = []
        for desired in outcome.mirrors:
            mkey = key_of(desired)
            digest = desired["metadata"]["annotations"][m.CONTENT_HASH]
            if self.cache.in_sync(mkey, digest):
                continue
            if report.done and should_yield():
                return self._finish(obj, report, yielded=True)
            batch.append((self._decide(desired), digest))
            if len(batch) >= self.concurrency:
                self._write(batch, report)
                batch = []
        self._write(batch, report)
        return self._prune_all(obj, sorted(snap.owned - wanted), report, should_yield, source="untargeted")

    def _decide(self, desired: Obj) -> Action:
        """The cached fast path when the cache knows enough; otherwise read the mirror."""
        mkey = key_of(desired)
        record = self.cache.record(mkey)
        if record is None:
            return decide(desired, None)
        cached = decide_cached(
            desired,
            resource_version=record.resource_version,
            secret_type=record.secret_type,
            immutable=record.immutable,
            adopted=record.adopted,
        )
        if cached is not None:
            return cached
        resource = self.cache.resource(mkey)
        meta = desired["metadata"]
        live = self.cluster.get(resource, meta["namespace"], meta["name"]) if resource else None
        return decide(desired, live)

    def _write(self, batch: list[tuple[Action, str]], report: Report) -> None:
        if not batch:
            return
        # Expected before the writes: their watch events may come back before the writes return,
        # and must not be taken for someone else's change (that would queue the source again).
        for action, digest in batch:
            if action.writes:
                self.cache.expect(action.key, digest)
        before = len(report.done)
        self._executor().run([action for action, _ in batch], report)
        for (action, digest), (_, word) in zip(batch, report.done[before:], strict=True):
            if action.writes and word not in WROTE:
                self.cache.unexpect(action.key, digest)

    def _orphaned(self, key: SourceKey, owned: frozenset[Key]) -> Reconciled:
        if not owned:
            return Reconciled(Outcome.UNCHANGED)
        resource = self.cache.resource(key)
        found = resource is not None and self.cluster.get(resource, key[2], key[3]) is not None
        return self._prune_all(
            None, sorted(owned), Report(), lambda: False, source="unmarked" if found else "gone"
        )

    def _prune_all(
        self,
        obj: Obj | None,
        keys: list[Key],
        report: Report,
        should_yield: Callable[[], bool],
        *,
        source: SourceState,
    ) -> Reconciled:
        """Mirrors nothing renders any more, `concurrency` at a time: read (the decision needs the
        live object: is it still ours, is it marked stale), decide, write."""
        for start in range(0, len(keys), self.concurrency):
            if report.done and should_yield():
                return self._finish(obj, report, yielded=True)
            self._prune(keys[start : start + self.concurrency], report, source=source)
        return self._finish(obj, report)

    def _prune(self, keys: list[Key], report: Report, *, source: SourceState) -> None:
        known = [(k, r) for k in keys if self.cache.record(k) is not None and (r := self.cache.resource(k))]
        if not known:
            return

        def read(item: tuple[Key, Resource]) -> Obj | None:
            key, resource = item
            return self.cluster.get(resource, key[2], key[3])

        if len(known) == 1:
            lives = [read(known[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(known), thread_name_prefix="prune-read") as pool:
                lives = list(pool.map(read, known))
        actions = [decide(None, live, source=source) for live in lives if live is not None]
        actions = [a for a in actions if a.writes]
        for action in actions:
            if action.verb == "delete":
                self.cache.expect_gone(action.key)  # before: its DELETED event may come first
        before = len(report.done)
        self._executor().run(actions, report)
        for action, word in report.done[before:]:
            if action.verb == "delete" and word != "deleted":
                self.cache.unexpect(action.key, GONE)

    def _executor(self) -> Executor:
        return Executor(self.cluster, lambda a: self.cache.resource(a.key), concurrency=self.concurrency)

    def _finish(self, obj: Obj | None, report: Report, *, yielded: bool = False) -> Reconciled:
        conflicts = 0
        for action, word in report.done:
            if word == "conflict":
                conflicts += 1
                if obj is not None:
                    self.events.warn(obj, "MirrorConflict", f"{describe(action.key)}: {action.reason}")
            elif word not in ("unchanged", "failed", "skipped"):
                log.info("%s %s", describe(action.key), word)
        if report.errors:
            for error in report.errors:
                log.error("%s", error)
                if obj is not None:
                    self.events.warn(obj, "MirrorFailed", error)
            return Reconciled(Outcome.ERROR, f"{len(report.errors)} mirror(s) failed")
        if yielded:
            return Reconciled(Outcome.YIELDED)
        if any(w not in ("unchanged", "skipped", "conflict") for _, w in report.done):
            return Reconciled(Outcome.CHANGED)
        return Reconciled(Outcome.CONFLICT if conflicts else Outcome.UNCHANGED)

    def _report(self, obj: Obj, result: Result) -> None:
        line = result.one_line()
        if result.severity == "error":
            log.error("%s", line)
            self.events.warn(obj, "InvalidSource", line)
        else:
            log.warning("%s", line)

    def _policy_status(self, name: str) -> Reconciled:
        from kubectl_mirror.watch.policy_status import update_policy_status

        counts = self.cache.policy_report(name)
        if counts is None:
            return Reconciled(Outcome.UNCHANGED)
        resource = next(
            (r for r in self.cluster.resources() if r.kind == POLICY_KIND and r.group == API_GROUP), None
        )
        if resource is None:
            return Reconciled(Outcome.UNCHANGED)
        try:
            update_policy_status(self.cluster, resource, name, sources=counts[0], mirrors=counts[1])
        except MirrorError as err:
            return Reconciled(Outcome.ERROR, err.message)
        return Reconciled(Outcome.UNCHANGED)
