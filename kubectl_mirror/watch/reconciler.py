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
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.model import Obj, ObjectKey, Result
from kubectl_mirror.engine.plan import render_source, source_of
from kubectl_mirror.engine.reconcile import Action, Key, SourceState, decide, decide_cached, describe, key_of
from kubectl_mirror.engine.rollouts import ChangedMirror, change_of
from kubectl_mirror.errors import MirrorError, Ref
from kubectl_mirror.io.cluster import Cluster, Resource
from kubectl_mirror.io.postgres import Owner, credentials_from_secret, driver_missing
from kubectl_mirror.live.execute import Executor, Report
from kubectl_mirror.live.rollout import CHANGING_WORDS, rollout_changes
from kubectl_mirror.watch import policy_status
from kubectl_mirror.watch.cache import (
    GONE,
    Cache,
    PolicyFacts,
    PolicyObject,
    Snapshot,
    SourceKey,
    SourceOutcome,
    is_policy_key,
    resource_key,
)
from kubectl_mirror.watch.database import DatabaseWriter
from kubectl_mirror.watch.events import EventRecorder
from kubectl_mirror.watch.policy_status import DatabaseReport

log = logging.getLogger("kubectl_mirror.watch")

WROTE = frozenset({"created", "configured", "recreated"})


class Outcome(enum.Enum):
    CHANGED = "changed"  # something was written
    UNCHANGED = "unchanged"  # everything was already right
    CONFLICT = "conflict"  # a target is not ours: reported on the source, nothing to retry
    YIELDED = "yielded"  # stopped early for more urgent work; the rest comes in its turn
    WAITING = "waiting"  # not done, nothing failed: looked at again after a backoff
    ERROR = "error"  # failed; retried with backoff


@dataclass(frozen=True)
class Reconciled:
    outcome: Outcome
    message: str = ""
    follow: tuple[SourceKey, ...] = ()  # keys to look at now because of this one
    rolled: tuple[ObjectKey, ...] = ()  # workloads rolled out because a mirror's data changed


class Reconciler:
    def __init__(
        self,
        cluster: Cluster,
        cache: Cache,
        *,
        events: EventRecorder,
        concurrency: int = 1,
        database: DatabaseWriter | None = None,
    ) -> None:
        self.cluster = cluster
        self.cache = cache
        self.options = cache.options
        self.events = events
        self.concurrency = max(1, concurrency)
        self.database = database if database is not None else DatabaseWriter()
        self._lock = threading.Lock()
        # -- guarded by _lock (each entry is only used by the worker holding its policy's key) --
        # per policy, the content its mirrors held at its last status (a `lastSyncTime` moves
        # when that changes)
        self._versions: dict[Key, dict[SourceKey, str]] = {}
        # per ConfigMirror with a database, the source rows handed to the writer, by version
        self._rows: dict[Owner, dict[tuple[str, str], str]] = {}
        self._purging: frozenset[Owner] = frozenset()  # ConfigMirrors whose rows are being deleted
        self._database_started = False

    def reconcile(self, key: SourceKey, *, should_yield: Callable[[], bool] = lambda: False) -> Reconciled:
        """Never raises for what the cluster or the input does: that is an ERROR outcome."""
        try:
            result = self._reconcile(key, should_yield)
        except MirrorError as err:
            result = Reconciled(Outcome.ERROR, err.message)
        if is_policy_key(key) or result.outcome is Outcome.YIELDED:
            return result
        # The policies that select this source report how it went: look at them when that changed.
        failed = result.outcome in (Outcome.ERROR, Outcome.CONFLICT)
        retries = self.cache.failures_of(key) + 1 if result.outcome is Outcome.ERROR else 0
        news = self.cache.record_outcome(key, SourceOutcome(not failed, result.message, retries))
        if news or result.outcome is Outcome.CHANGED:
            return replace(result, follow=(*result.follow, *self.cache.policy_keys_of(key)))
        return result

    def _reconcile(self, key: SourceKey, should_yield: Callable[[], bool]) -> Reconciled:
        if is_policy_key(key):
            return self._policy(resource_key(key))
        snap = self.cache.snapshot(key)
        if snap.source is None:
            return self._orphaned(snap, should_yield)
        obj = snap.source
        source, results = source_of(obj, Ref.of(obj), policies=list(snap.policies), options=self.options)
        for r in results:
            self._report(obj, r)
        if source is None:
            if any(r.severity == "error" for r in results):
                return Reconciled(Outcome.ERROR, "invalid source")  # a bad marker never deletes
            return self._prune_all(
                None, self._prunable(snap, snap.owned), Report(), should_yield, source="unmarked"
            )
        outcome = render_source(source, universe=snap.universe, options=self.options)
        for r in outcome.results:
            self._report(obj, r)
        if any(r.severity == "error" for r in outcome.results):
            return Reconciled(Outcome.ERROR, "source could not be rendered")
        report = Report()
        changes: list[ChangedMirror] = []
        wanted = {key_of(desired) for desired in outcome.mirrors}
        batch: list[tuple[Action, str]] = []
        pending: list[tuple[Obj, str]] = []
        for desired in outcome.mirrors:
            digest = desired["metadata"]["annotations"][m.CONTENT_HASH]
            if not self.cache.in_sync(key_of(desired), digest):
                pending.append((desired, digest))
        for desired, digest in pending:
            if _should_stop(report, len(pending), self.concurrency, should_yield):
                return self._roll(self._finish(obj, report, yielded=True), changes)
            batch.append((self._decide(desired), digest))
            if len(batch) >= self.concurrency:
                self._write(batch, report, changes)
                batch = []
        self._write(batch, report, changes)
        pruned = self._prune_all(
            obj, self._prunable(snap, snap.owned - wanted), report, should_yield, source="untargeted"
        )
        return self._roll(pruned, changes)

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

    def _write(self, batch: list[tuple[Action, str]], report: Report, changes: list[ChangedMirror]) -> None:
        """Write a batch; add to `changes` the mirrors whose data the writes changed (what pods
        read: the workloads that use them may roll out)."""
        if not batch:
            return
        # Expected before the writes: their watch events may come back before the writes return,
        # and must not be taken for someone else's change (that would queue the source again).
        records = {}
        for action, digest in batch:
            if action.writes:
                records[action.key] = self.cache.record(action.key)
                self.cache.expect(action.key, digest)
        before = len(report.done)
        self._executor().run([action for action, _ in batch], report)
        for (action, digest), (_, word) in zip(batch, report.done[before:], strict=True):
            if action.writes and word not in WROTE:
                self.cache.unexpect(action.key, digest)
            record = records.get(action.key)
            if word in CHANGING_WORDS and record is not None and action.desired is not None:
                change = change_of(
                    action.desired,
                    content_hash_before=record.digest,
                    data_hash_before=record.data_digest or None,
                )
                if change is not None:
                    changes.append(change)

    def _roll(self, result: Reconciled, changes: list[ChangedMirror]) -> Reconciled:
        """Roll out, once each, the opted-in workloads that use the mirrors whose data changed
        (docs/rollouts.md); an Event on each, a warning on the source for what failed."""
        if not changes:
            return result
        done = rollout_changes(self.cluster, changes)
        for warning in done.warnings:
            log.warning("rollout: %s", warning)
        for rollout, word in done.done:
            if word != "restarted":
                continue
            key = rollout.workload
            mirrors = ", ".join(sorted({t.mirror.describe() for t in rollout.triggers}))
            log.info("%s rolled out (%s changed)", key.describe(), mirrors)
            workload = {
                "apiVersion": rollout.api_version,
                "kind": key.kind,
                "metadata": {"name": key.name, "namespace": key.namespace, "uid": rollout.uid or None},
            }
            self.events.record(workload, "Normal", "RolledOut", f"restarted: the data of {mirrors} changed")
        for error in done.errors:
            log.error("rollout: %s", error)
        return replace(result, rolled=(*result.rolled, *(r.workload for r in done.restarted)))

    def _prunable(self, snap: Snapshot, keys: frozenset[Key]) -> list[Key]:
        """Mirrors nothing renders, but those of a policy that could not be read: a typo in a
        policy never deletes its mirrors, as a typo in a marker never does."""
        return sorted(k for k in keys if not snap.kept(self.cache.record(k)))

    def _orphaned(self, snap: Snapshot, should_yield: Callable[[], bool]) -> Reconciled:
        """A source gone (or no longer ours to render): its mirrors go too, yielding to a user's
        edit like any bulk work (measured: an update waited 15.8 s behind 50 deleted sources)."""
        owned = self._prunable(snap, snap.owned)
        if not owned:
            return Reconciled(Outcome.UNCHANGED)
        key = snap.key
        resource = self.cache.resource(key)
        found = resource is not None and self.cluster.get(resource, key[2], key[3]) is not None
        return self._prune_all(None, owned, Report(), should_yield, source="unmarked" if found else "gone")

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
            if _should_stop(report, len(keys), self.concurrency, should_yield):
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
        conflicts: list[str] = []
        for action, word in report.done:
            if word == "conflict":
                conflicts.append(f"{describe(action.key)}: {action.reason}")
                if obj is not None:
                    self.events.warn(obj, "MirrorConflict", conflicts[-1])
            elif word not in ("unchanged", "failed", "skipped"):
                log.info("%s %s", describe(action.key), word)
        if report.errors:
            for error in report.errors:
                log.error("%s", error)
                if obj is not None:
                    self.events.warn(obj, "MirrorFailed", error)
            return Reconciled(Outcome.ERROR, "; ".join(report.errors))
        if yielded:
            return Reconciled(Outcome.YIELDED)
        if any(w not in ("unchanged", "skipped", "conflict") for _, w in report.done):
            return Reconciled(Outcome.CHANGED, "; ".join(conflicts))
        return (
            Reconciled(Outcome.CONFLICT, "; ".join(conflicts)) if conflicts else Reconciled(Outcome.UNCHANGED)
        )

    def _report(self, obj: Obj, result: Result) -> None:
        line = result.one_line()
        if result.severity == "error":
            log.error("%s", line)
            self.events.warn(obj, "InvalidSource", line)
        else:
            log.warning("%s", line)

    # -- policy resources: status and finalizer ------------------------------------------------

    def _policy(self, key: Key) -> Reconciled:
        facts = self.cache.policy_facts(key)
        if facts is None:
            return Reconciled(Outcome.UNCHANGED)
        obj = facts.obj
        resource = next(
            (r for r in self.cluster.resources() if r.group == obj.kind.group and r.kind == obj.kind.kind),
            None,
        )
        if resource is None:
            return Reconciled(Outcome.UNCHANGED)
        finalizer = obj.kind.finalizer
        if obj.terminating:
            if finalizer and finalizer in obj.finalizers:
                return self._finalize(facts, resource)
            return Reconciled(Outcome.UNCHANGED)  # nothing of ours holds it
        if finalizer and finalizer not in obj.finalizers:
            # Its event brings this key back, for the status.
            self._set_finalizers(resource, obj, (*obj.finalizers, finalizer))
            return Reconciled(Outcome.CHANGED)
        database = self._database(facts)
        new = policy_status.build(
            facts, obj.status, now=_now(), changed=self._changed(facts), database=database
        )
        wrote = policy_status.write(self.cluster, resource, obj.key, obj.status, new)
        if database is not None and not database.caught_up and database.reason != "DriverMissing":
            # Its status says it is behind: look again (after a backoff) until it is not.
            return Reconciled(Outcome.WAITING, database.message)
        return Reconciled(Outcome.CHANGED if wrote else Outcome.UNCHANGED)

    def _changed(self, facts: PolicyFacts) -> set[SourceKey]:
        """Sources whose mirrors of this policy hold other content than at its last status."""
        with self._lock:
            before = self._versions.get(facts.obj.key)
            self._versions[facts.obj.key] = dict(facts.versions)
        if before is None:  # first look since start: nothing known to have changed
            return set()
        return {k for k, v in facts.versions.items() if before.get(k) != v}

    def _finalize(self, facts: PolicyFacts, resource: Resource) -> Reconciled:
        """The resource is being deleted: remove the mirrors it made (only ours, as always), then
        its finalizer. A source still cached removes its own (rendering it again without this
        policy, another policy may keep some); the rest are deleted here."""
        obj = facts.obj
        if facts.waiting:
            return Reconciled(
                Outcome.WAITING,
                f"{obj.text}: waiting for {len(facts.waiting)} source(s) to remove its mirrors",
                follow=facts.waiting,
            )
        report = Report()
        keys = list(facts.leftovers)
        for start in range(0, len(keys), self.concurrency):
            self._prune(keys[start : start + self.concurrency], report, source="untargeted")
        if report.errors:
            return Reconciled(Outcome.ERROR, "; ".join(report.errors))
        database = obj.policy.database if obj.policy is not None else None
        if database is not None and database.enabled:
            owner = (obj.key[2], obj.key[3])
            ready = self._database(facts, rows=False)
            if ready is not None and ready.reason not in ("DriverMissing", "SecretNotFound", "InvalidSecret"):
                with self._lock:
                    asked, self._purging = owner in self._purging, self._purging | {owner}
                if not asked:
                    self.database.delete_all(owner)
                self.database.wait_idle(owner, 2.0)  # usually done by then; if not, look again later
                if not self.database.state(owner).caught_up:
                    return Reconciled(Outcome.WAITING, f"{obj.text}: deleting its database rows")
            elif ready is not None:
                log.warning("%s: its database rows are left in place (%s)", obj.text, ready.message)
            self.database.forget(owner)
        self._set_finalizers(resource, obj, tuple(f for f in obj.finalizers if f != obj.kind.finalizer))
        with self._lock:
            self._versions.pop(obj.key, None)
            self._rows.pop((obj.key[2], obj.key[3]), None)
            self._purging -= {(obj.key[2], obj.key[3])}
        log.info("%s: finalized", obj.text)
        return Reconciled(Outcome.CHANGED)

    def _database(self, facts: PolicyFacts, *, rows: bool = True) -> DatabaseReport | None:
        """A ConfigMirror's PostgreSQL copy (watch/database.py writes it in the background):
        configure the writer from the referenced Secret, hand it the rows that changed, and say
        where it stands. None when the policy has no database enabled."""
        obj = facts.obj
        database = obj.policy.database if obj.policy is not None else None
        owner: Owner = (obj.key[2], obj.key[3])
        if database is None or not database.enabled:
            with self._lock:
                known = self._rows.pop(owner, None)
            if known is not None:
                self.database.forget(owner)
            return None
        missing = driver_missing()
        if missing:
            return DatabaseReport(False, False, missing, "DriverMissing")
        resource = self.cache.resource_of_kind("Secret")
        where = f"Secret {database.secret_namespace}/{database.secret_name}"
        secret = resource and self.cluster.get(resource, database.secret_namespace, database.secret_name)
        if not secret:
            self.database.configure(owner, None)
            return DatabaseReport(False, False, f"{where} not found", "SecretNotFound")
        try:
            credentials = credentials_from_secret(secret, Ref.of(secret))
        except MirrorError as err:
            self.database.configure(owner, None)
            return DatabaseReport(False, False, err.one_line(), "InvalidSecret")
        again = self.database.configure(owner, credentials)
        with self._lock:
            if not self._database_started:
                self._database_started = True
                self.database.start()
        if rows:
            self._hand_rows(owner, facts, again=again)
        state = self.database.state(owner)
        reason = "Synced" if state.caught_up else ("Unreachable" if state.last_error else "Writing")
        return DatabaseReport(state.connected, state.caught_up, state.message(), reason)

    def _hand_rows(self, owner: Owner, facts: PolicyFacts, *, again: bool) -> None:
        """One row per selected source (as the operator kept them): upserted when new or changed
        (or all again for a new database), deleted when no longer selected."""
        sources = self.cache.sources(facts.sources)
        wanted = {
            (k[2], k[3]): str((o.get("metadata") or {}).get("resourceVersion", ""))
            for k, o in sources.items()
        }
        with self._lock:
            before = {} if again else self._rows.get(owner, {})
            self._rows[owner] = wanted
        for (k, o), version in zip(sources.items(), wanted.values(), strict=True):
            if before.get((k[2], k[3])) != version:
                self.database.upsert(owner, o)
        for namespace, name in sorted(set(before) - set(wanted)):
            self.database.delete(owner, namespace, name)

    def stop(self, timeout: float) -> None:
        with self._lock:
            started = self._database_started
        if started and not self.database.stop(timeout):
            log.warning("stopping with database changes unwritten; they are written again at the next start")

    def _set_finalizers(self, resource: Resource, obj: PolicyObject, finalizers: tuple[str, ...]) -> None:
        """With its resourceVersion as a precondition: a finalizer someone added meanwhile is never
        dropped (409, and the next event brings the key back)."""
        key = obj.key
        body = {"metadata": {"finalizers": list(finalizers), "resourceVersion": obj.resource_version}}
        self.cluster.request(
            "PATCH",
            resource.path(key[2] or None, key[3]),
            body=body,
            content_type="application/merge-patch+json",
            ok=(404, 409),
        )


def _should_stop(report: Report, work: int, concurrency: int, should_yield: Callable[[], bool]) -> bool:
    """Whether to stop here for more urgent work (the queue says whether there is). Work of one
    batch or less always finishes; more is bulk work, which may stop before its first batch: so
    fifty sources created at once step aside at once, instead of each writing a batch ahead of a
    user's edit that came just after them (measured: the first such edit waited 1.2 s)."""
    return (bool(report.done) or work > concurrency) and should_yield()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
