"""Rolling out the workloads that use mirrors whose data changed: read the workloads of the
served kinds in the namespaces where a mirror changed, plan (engine/rollouts.py), and apply
each planned annotation with server-side apply.

The one write: PATCH `application/apply-patch+yaml` of `spec.template.metadata.annotations
[kubectl-mirror.io/restarted-for]`, field manager `kubectl-mirror-rollout`, never forced, with
the resourceVersion the plan was made from as a precondition. So a workload that changed since
it was read (it may have opted out) is read and planned again, a workload that was deleted is
never created again, and if another manager owns our annotation (someone applied it by hand,
or a GitOps tool carries it) we report a conflict and leave it: only that manager can give it up.

`sync --rollout` calls `rollout_changes` once after its writes; `watch` calls it per reconcile
with the mirrors that reconcile changed. Writes are sent one after the other: rollouts are rare
and each one restarts pods, so there is nothing to gain from sending them at once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from kubectl_mirror.engine.model import Obj, ObjectKey
from kubectl_mirror.engine.reconcile import Action
from kubectl_mirror.engine.rollouts import (
    FIELD_MANAGER,
    WORKLOAD_KINDS,
    ChangedMirror,
    PlannedRollout,
    changed_mirror,
    plan_rollouts,
)
from kubectl_mirror.errors import ClusterError, ForbiddenError, MirrorError, Ref
from kubectl_mirror.io.cluster import Cluster, Resource

DryRun = Literal["none", "client", "server"]
MAX_REPLAN = 3
# The executor's words for a write that replaced a mirror's content.
CHANGING_WORDS = frozenset({"configured", "recreated"})


@dataclass
class RolloutReport:
    """What happened per workload (in plan order), and what could not be read or written."""

    done: list[tuple[PlannedRollout, str]] = field(default_factory=list)  # (rollout, word)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def restarted(self) -> list[PlannedRollout]:
        return [rollout for rollout, word in self.done if word == "restarted"]


def changes_of(done: Iterable[tuple[Action, str]]) -> list[ChangedMirror]:
    """The mirrors whose data a run changed, from the executor's report (or any list of an
    action and what became of it): updates and recreates whose content hash and data moved.
    Each action's `live` must be the object as read before the write (sync's are); watch's
    cached decisions carry no body, so watch builds its changes with `engine.rollouts.change_of`
    from the hashes its cache keeps."""
    found = []
    for action, word in done:
        if word in CHANGING_WORDS and action.live is not None and action.desired is not None:
            change = changed_mirror(action.live, action.desired)
            if change is not None:
                found.append(change)
    return found


def pending_changes(actions: Iterable[Action]) -> list[ChangedMirror]:
    """The mirrors whose data a plan's writes would change (`diff`: the rollouts to come)."""
    words = {"update": "configured", "recreate": "recreated"}
    return changes_of((action, words.get(action.verb, "")) for action in actions)


def workload_resources(cluster: Cluster) -> list[Resource]:
    """The served workload kinds we roll (an Argo Rollout only when its CRD is served)."""
    wanted = set(WORKLOAD_KINDS)
    return [r for r in cluster.resources() if r.namespaced and (r.group, r.kind) in wanted]


def read_workloads(cluster: Cluster, namespaces: Collection[str]) -> tuple[list[Obj], list[str]]:
    """Every workload of the served kinds in `namespaces`, and a warning per kind or namespace
    we may not read. One list per kind (cluster-wide when several namespaces are asked for,
    falling back to one list per namespace when that is forbidden)."""
    found: list[Obj] = []
    warnings: list[str] = []
    if not namespaces:
        return found, warnings
    for resource in workload_resources(cluster):
        if len(namespaces) > 1:
            try:
                everything, _ = cluster.list(resource)
                found += [w for w in everything if _namespace(w) in namespaces]
                continue
            except ForbiddenError:
                pass  # may list per namespace instead
        for namespace in sorted(namespaces):
            try:
                items, _ = cluster.list(resource, namespace=namespace)
            except ForbiddenError as err:
                warnings.append(f"not allowed to read {resource.plural} in {namespace}: {err.message}")
                continue
            found += items
    return found, warnings


def _namespace(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


def plan(cluster: Cluster, changed: Iterable[ChangedMirror]) -> tuple[tuple[PlannedRollout, ...], list[str]]:
    """The rollouts the changed mirrors call for (only the needed ones), and read warnings."""
    changes = list(changed)
    workloads, warnings = read_workloads(cluster, {c.key.namespace for c in changes})
    return tuple(p for p in plan_rollouts(workloads, changes) if p.needed), warnings


def rollout_changes(
    cluster: Cluster, changed: Iterable[ChangedMirror], *, dry_run: DryRun = "none"
) -> RolloutReport:
    """Plan and apply the rollouts for `changed`; the one call for `sync --rollout` and `watch`."""
    changes = list(changed)
    report = RolloutReport()
    if not changes:
        return report
    planned, report.warnings = plan(cluster, changes)
    resources = {(r.group, r.kind): r for r in workload_resources(cluster)}
    for rollout in planned:
        resource = resources[(rollout.workload.group, rollout.workload.kind)]
        try:
            report.done.append(_settle(cluster, resource, rollout, changes, dry_run=dry_run))
        except MirrorError as err:
            report.done.append((rollout, "failed"))
            report.errors.append(f"{rollout.workload.describe()}: {err.message}")
    return report


def _settle(
    cluster: Cluster,
    resource: Resource,
    rollout: PlannedRollout,
    changes: list[ChangedMirror],
    *,
    dry_run: DryRun,
) -> tuple[PlannedRollout, str]:
    """Apply one rollout; on a stale resourceVersion read the workload again and plan again."""
    for _ in range(MAX_REPLAN):
        if dry_run == "client":
            return rollout, "restarted"
        if not rollout.resource_version:
            raise ClusterError("has no resourceVersion; not applied", _ref(rollout.workload))
        answer = _apply(cluster, resource, rollout, server_dry_run=dry_run == "server")
        if answer.status != 409:
            return rollout, "restarted"
        if _field_conflict(answer.body):
            raise ClusterError(_conflict_text(answer.body), _ref(rollout.workload))
        live = cluster.get(resource, rollout.workload.namespace, rollout.workload.name)
        again = plan_rollouts([live] if live is not None else [], changes)
        if not again or not again[0].needed:
            return rollout, "skipped"  # gone, opted out, or rolled by someone else meanwhile
        rollout = again[0]
    raise ClusterError("kept changing while being rolled out; try again", _ref(rollout.workload))


def _apply(cluster: Cluster, resource: Resource, rollout: PlannedRollout, *, server_dry_run: bool) -> Any:
    key = rollout.workload
    query = {"fieldManager": FIELD_MANAGER, **({"dryRun": "All"} if server_dry_run else {})}
    return cluster.request(
        "PATCH",
        resource.path(key.namespace, key.name),
        query=query,
        body=rollout.body(),
        content_type="application/apply-patch+yaml",
        ref=_ref(key),
        ok=(409,),
    )


def _ref(key: ObjectKey) -> Ref:
    return Ref(kind=key.kind, namespace=key.namespace, name=key.name)


def _field_conflict(body: Any) -> bool:
    causes = ((body or {}).get("details") or {}).get("causes") or [] if isinstance(body, dict) else []
    return any(isinstance(c, dict) and c.get("reason") == "FieldManagerConflict" for c in causes)


def _conflict_text(body: Any) -> str:
    message = " ".join(str((body or {}).get("message", "")).split())
    return f"another field manager owns the annotation, left as it is ({message})"
