"""Carrying out `Action`s against the cluster, one object at a time.

A failure on one object is recorded and the rest go on; a 409 (the object changed since we
read it, or appeared since we listed) is answered by reading it again and deciding again, so
a re-run after any failure converges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.model import Obj
from kubectl_mirror.engine.reconcile import Action, decide, describe
from kubectl_mirror.errors import ClusterError, MirrorError
from kubectl_mirror.io.cluster import Cluster, Resource

DryRun = Literal["none", "client", "server"]
MAX_REDECIDE = 3


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

    @property
    def _server_dry(self) -> bool:
        return self.dry_run == "server"

    def run(self, actions: Iterable[Action], report: Report, *, pulled: set[Any] | None = None) -> None:
        for action in actions:
            try:
                self._one(action, report, pulled=pulled or set())
            except MirrorError as err:
                report.add(action, "failed")
                report.errors.append(f"{describe(action.key)}: {err.message}")

    def _one(self, action: Action, report: Report, *, pulled: set[Any]) -> None:
        for _ in range(MAX_REDECIDE):
            if not action.writes:
                report.add(action, action.verb)
                return
            if self.dry_run == "client":
                report.add(action, _word(action))
                return
            resource = self.resource_of(action)
            if resource is None:
                raise ClusterError(f"{action.key[1]} is not served by the cluster", action.ref)
            status = self._write(resource, action)
            if status != 409:
                report.add(action, _word(action))
                return
            # Someone got there first: read again and decide again.
            meta = (action.desired or action.live or {})["metadata"]
            live = self.cluster.get(resource, meta["namespace"], meta["name"])
            if action.desired is None:  # prune: the object changed hands or went away
                report.add(action, "skipped")
                return
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
