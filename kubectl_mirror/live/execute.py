"""Carrying out `Action`s against the cluster, up to `concurrency` objects at a time.

A failure on one object is recorded and the rest go on; a 409 (the object changed since we
read it, or appeared since we listed) is answered by reading it again and deciding again, so
a re-run after any failure converges.

Concurrency. With `concurrency` 1 no thread is started: the requests are the ones, in the order,
of the one-at-a-time loop this module always had. Above 1, worker threads take actions by index
from one `_Cursor` (its lock guards the next index and the stop flag, nothing else), and each
action is settled by one worker from start to end, its 409 re-read-and-decide loop included, so
what happens to one object never depends on another's timing. A worker writes the outcome into
that action's own slot and touches nothing else; the caller's thread fills the `Report` from the
slots, in the order of `actions`, once every worker has ended. The Report is never shared, so it
needs no lock and reads the same, byte for byte, whatever order the writes finished in. Shared
between the workers: the `Cluster` (urllib3's connection pool and the `RateLimiter` are
thread-safe, so qps/burst still bound the total rate), `pulled` and the plan's resources, which
are only read. Nothing is retried here: a create that may have succeeded (the Cluster retries a
5xx or a dropped connection) is met again only as a 409, and read and decided again, as before.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.model import Obj
from kubectl_mirror.engine.reconcile import Action, decide, describe
from kubectl_mirror.errors import ClusterError, MirrorError
from kubectl_mirror.io.cluster import Cluster, Resource

DryRun = Literal["none", "client", "server"]
MAX_REDECIDE = 3
# What became of one action: its line in the report, and the error if it failed.
Outcome = tuple[tuple[Action, str], str | None]


@dataclass
class Report:
    """What happened, per object, for the summary line and `-o name`."""

    done: list[tuple[Action, str]] = field(default_factory=list)  # (action, outcome word)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(word for _, word in self.done)

    def add(self, action: Action, word: str) -> None:
        self.done.append((action, word))


@dataclass(frozen=True)
class Executor:
    cluster: Cluster
    resource_of: Callable[[Action], Resource | None]
    dry_run: DryRun = "none"
    adopt: bool = False
    concurrency: int = 1  # actions in flight at once

    @property
    def _server_dry(self) -> bool:
        return self.dry_run == "server"

    def run(self, actions: Iterable[Action], report: Report, *, pulled: set[Any] | None = None) -> None:
        """Carry out `actions` and record each in `report`, in the order of `actions`."""
        taken = pulled or set()
        outcomes: Iterable[Outcome]
        if self.concurrency > 1:
            todo = list(actions)
            parallel = self._parallel(todo)
            outcomes = self._settle_all(todo, taken) if parallel else (self._settle(a, taken) for a in todo)
        else:
            outcomes = (self._settle(action, taken) for action in actions)
        for (action, word), error in outcomes:
            report.add(action, word)
            if error is not None:
                report.errors.append(error)

    def _parallel(self, todo: Sequence[Action]) -> bool:
        """Worth threads: more than one action sends requests, and no two share a key (two
        actions on one object would race each other, and the report would depend on who won)."""
        requests = sum(1 for action in todo if action.writes and self.dry_run != "client")
        return requests > 1 and len({action.key for action in todo}) == len(todo)

    def _settle_all(self, todo: Sequence[Action], pulled: set[Any]) -> list[Outcome]:
        """Every action settled by `concurrency` workers; the outcomes in the order of `todo`."""
        from concurrent.futures import ThreadPoolExecutor

        slots: list[Outcome | None] = [None] * len(todo)
        cursor = _Cursor(len(todo))

        def work() -> None:
            while (index := cursor.take()) is not None:
                slots[index] = self._settle(todo[index], pulled)  # this slot is this worker's alone

        workers = min(self.concurrency, len(todo))
        with ThreadPoolExecutor(workers, thread_name_prefix="kubectl-mirror-write") as pool:
            running = [pool.submit(work) for _ in range(workers)]
            try:
                for future in running:
                    future.result()  # a bug (anything but a MirrorError) in a worker is raised here
            finally:
                cursor.stop()  # after a bug or Ctrl-C no action starts; those in flight end
        outcomes = [slot for slot in slots if slot is not None]
        assert len(outcomes) == len(todo)
        return outcomes

    def _settle(self, action: Action, pulled: set[Any]) -> Outcome:
        try:
            return self._one(action, pulled=pulled), None
        except MirrorError as err:
            return (action, "failed"), f"{describe(action.key)}: {err.message}"

    def _one(self, action: Action, *, pulled: set[Any]) -> tuple[Action, str]:
        for _ in range(MAX_REDECIDE):
            if not action.writes:
                return action, action.verb
            if self.dry_run == "client":
                return action, _word(action)
            resource = self.resource_of(action)
            if resource is None:
                raise ClusterError(f"{action.key[1]} is not served by the cluster", action.ref)
            status = self._write(resource, action)
            if status != 409:
                return action, _word(action)
            # Someone got there first: read again and decide again.
            meta = (action.desired or action.live or {})["metadata"]
            live = self.cluster.get(resource, meta["namespace"], meta["name"])
            if action.desired is None:  # prune: the object changed hands or went away
                return action, "skipped"
            action = decide(action.desired, live, adopt=self.adopt, pulled=(action.key in pulled))
        raise ClusterError("kept changing while being written; try again", action.ref)

    def _write(self, resource: Resource, action: Action) -> int:
        dry = self._server_dry
        if action.verb == "create":
            assert action.desired is not None
            return self.cluster.create(resource, action.desired, dry_run=dry, ref=action.ref).status
        if action.verb == "update":
            assert action.desired is not None and action.live is not None
            body = _with_version(action.desired, action.live)
            if action.desired["metadata"]["annotations"].get(m.STRATEGY) == "merge":
                return self.cluster.apply(resource, body, dry_run=dry, ref=action.ref).status
            return self.cluster.replace(resource, body, dry_run=dry, ref=action.ref).status
        if action.verb == "recreate":
            assert action.desired is not None and action.live is not None
            gone = self.cluster.delete(resource, action.live, dry_run=dry, ref=action.ref)
            if gone.status == 409:
                return 409
            if dry:
                return 200
            return self.cluster.create(resource, action.desired, dry_run=dry, ref=action.ref).status
        if action.verb == "delete":
            assert action.live is not None
            return self.cluster.delete(resource, action.live, dry_run=dry, ref=action.ref).status
        if action.verb == "mark-stale":
            assert action.live is not None
            meta = action.live["metadata"]
            patch = {
                "metadata": {"labels": {m.STALE: "true"}, "resourceVersion": meta.get("resourceVersion")}
            }
            return self.cluster.merge_patch(
                resource, meta["namespace"], meta["name"], patch, dry_run=dry, ref=action.ref
            ).status
        raise AssertionError(action.verb)


def _with_version(desired: Obj, live: Obj) -> Obj:
    """The desired object with the live resourceVersion: a precondition for PUT and apply."""
    meta = dict(desired["metadata"])
    meta["resourceVersion"] = live["metadata"].get("resourceVersion")
    return {**desired, "metadata": meta}


def _word(action: Action) -> str:
    return {
        "create": "created",
        "update": "configured",
        "recreate": "recreated",
        "delete": "deleted",
        "mark-stale": "marked stale",
    }.get(action.verb, action.verb)


class _Cursor:
    """The index of the next action to start, shared by the workers of one run. `_lock` guards
    `_next` and `_stopped`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._next = 0
        self._stopped = False
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """The next index, or None when every action has started or the run is stopping."""
        with self._lock:
            if self._stopped or self._next >= self._size:
                return None
            index = self._next
            self._next += 1
            return index

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
