"""The status of each policy resource, in its own kind's shape, so users (and their dashboards)
of the tools they migrate from keep reading what they read before:

- MirrorPolicy: `sources`, `mirrors`, `failures` and the SourcesFound, Synced and Ready
  conditions;
- ConfigMapSync: the operator's `syncStatus`, `message`, `sourceExists`, `destinationExists`,
  `lastSyncTime`, `retryCount` and its Synced, SourceAvailable and Ready conditions, with its
  reasons and messages (apps.kapendra.com's controller, read for this);
- ConfigMirror: `replicatedConfigMaps`, `databaseStatus`, `observedGeneration` and its Ready
  condition, plus a Database condition when `spec.database` is enabled.

`build` is pure: the facts from the cache, the status as the resource holds it now, and the time
in. Times move only with what they date: a condition's `lastTransitionTime` when its status
changes, a `lastSyncTime` when the content synced changed (`changed`), so a status that says
the same thing is the same status, and `write` sends nothing for it (no write per resync).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_mirror.engine.dialects import configmapsync, configmirror
from kubectl_mirror.engine.reconcile import Key
from kubectl_mirror.io.cluster import Cluster, Resource
from kubectl_mirror.watch.cache import PolicyFacts, SourceKey

Status = dict[str, Any]
_MESSAGE_MAX = 1024


@dataclass(frozen=True)
class DatabaseReport:
    """Where a ConfigMirror's PostgreSQL copy stands (watch/database.py), as its status says it."""

    connected: bool
    caught_up: bool
    message: str
    reason: str


def build(
    facts: PolicyFacts,
    old: Mapping[str, Any],
    *,
    now: str,
    changed: Collection[SourceKey] = (),
    database: DatabaseReport | None = None,
) -> Status:
    kind = facts.obj.kind.kind
    if kind == configmapsync.KIND:
        return _configmapsync(facts, old, now, changed)
    if kind == configmirror.KIND:
        return _configmirror(facts, old, now, changed, database)
    return _mirror_policy(facts, old, now)


def _conditions(old: Mapping[str, Any], now: str, generation: int | None) -> Callable[..., dict[str, Any]]:
    before = {c.get("type"): c for c in old.get("conditions") or [] if isinstance(c, dict)}

    def cond(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
        status = "True" if ok else "False"
        prior = before.get(kind) or {}
        since = prior.get("lastTransitionTime") if prior.get("status") == status else None
        out: dict[str, Any] = {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message[:_MESSAGE_MAX],
            "lastTransitionTime": since or now,
        }
        if generation is not None:
            out["observedGeneration"] = generation
        return out

    return cond


def _failures(facts: PolicyFacts) -> list[str]:
    return [f"{Key(*k).describe()}: {o.message}" for k, o in sorted(facts.outcomes.items()) if not o.ok]


def _mirror_policy(facts: PolicyFacts, old: Mapping[str, Any], now: str) -> Status:
    cond = _conditions(old, now, None)
    sources, failures = len(facts.sources), _failures(facts)
    return {
        "observedGeneration": facts.obj.generation,
        "sources": sources,
        "mirrors": len(facts.mirrors),
        "failures": failures,
        "conditions": [
            cond(
                "SourcesFound",
                sources > 0,
                "Found" if sources else "NoSources",
                f"{sources} source(s) selected",
            ),
            cond("Synced", not failures, "Synced" if not failures else "Failures", "; ".join(failures)),
            cond(
                "Ready", sources > 0 and not failures, "Ready" if sources and not failures else "NotReady", ""
            ),
        ],
    }


def _configmapsync(
    facts: PolicyFacts, old: Mapping[str, Any], now: str, changed: Collection[SourceKey]
) -> Status:
    cond = _conditions(old, now, facts.obj.generation)
    source = facts.named[0] if facts.named else None
    source_exists = source is not None and source in facts.sources
    destination_exists = bool(facts.mirrors)
    outcome = facts.outcomes.get(source) if source is not None else None
    if facts.obj.policy is None:
        state, message = "Failed", facts.obj.invalid
        synced, available = (False, "InvalidSpec", message), (source_exists, "SourceFound", "")
    elif not source_exists:
        state, message = "Failed", "Source ConfigMap not found"
        synced = (False, "SyncFailed", message)
        available = (False, "SourceNotFound", "Source ConfigMap not found")
    elif outcome is not None and not outcome.ok:
        state, message = "Failed", outcome.message
        synced = (False, "SyncFailed", message)
        available = (True, "SourceFound", "Source ConfigMap exists and accessible")
    elif not destination_exists:
        state, message = "InProgress", "Waiting for the destination ConfigMap"
        synced = (False, "SyncInProgress", message)
        available = (True, "SourceFound", "Source ConfigMap exists and accessible")
    else:
        state, message = "Success", "ConfigMap synced successfully"
        synced = (True, "SyncSucceeded", message)
        available = (True, "SourceFound", "Source ConfigMap exists and accessible")
    ready = state == "Success"
    status: Status = {
        "syncStatus": state,
        "message": message[:_MESSAGE_MAX],
        "sourceExists": source_exists,
        "destinationExists": destination_exists,
        "retryCount": outcome.retries if outcome is not None and not outcome.ok else 0,
        "conditions": [
            cond("Synced", *synced),
            cond("SourceAvailable", available[0], available[1], available[2] or available[1]),
            cond(
                "Ready",
                ready,
                "AllComponentsReady" if ready else "NotReady",
                "All sync components are functioning properly" if ready else message,
            ),
        ],
    }
    last = old.get("lastSyncTime")
    fresh = ready and (old.get("syncStatus") != "Success" or (source is not None and source in changed))
    if fresh or (ready and not last):
        status["lastSyncTime"] = now
    elif last:
        status["lastSyncTime"] = last
    return status


def _configmirror(
    facts: PolicyFacts,
    old: Mapping[str, Any],
    now: str,
    changed: Collection[SourceKey],
    database: DatabaseReport | None,
) -> Status:
    generation = facts.obj.generation
    cond = _conditions(old, now, generation)
    failures = _failures(facts)
    synced_before = {
        (r.get("sourceNamespace"), r.get("name")): r.get("lastSyncTime")
        for r in old.get("replicatedConfigMaps") or []
        if isinstance(r, dict)
    }
    targets: dict[SourceKey, set[str]] = {k: set() for k in facts.sources}
    for mirror, source in facts.placed:
        targets.setdefault(source, set()).add(mirror[2])
    replicated = []
    for source in sorted(k for k in targets if k in facts.sources):
        entry: dict[str, Any] = {
            "name": source[3],
            "sourceNamespace": source[2],
            "targets": sorted(targets[source]),
        }
        before = synced_before.get((source[2], source[3]))
        entry["lastSyncTime"] = now if source in changed or not before else before
        replicated.append(entry)
    if facts.obj.policy is None:
        ready = (False, "InvalidSpec", facts.obj.invalid)
    elif failures:
        ready = (False, "ReconcileFailed", "; ".join(failures))
    else:
        ready = (True, "ReconcileSuccess", "Successfully replicated ConfigMaps")
    conditions = [cond("Ready", *ready)]
    status: Status = {"observedGeneration": generation, "replicatedConfigMaps": replicated}
    if database is not None:
        conditions.append(cond("Database", database.caught_up, database.reason, database.message))
        db: dict[str, Any] = {"connected": database.connected, "message": database.message[:_MESSAGE_MAX]}
        last = (old.get("databaseStatus") or {}).get("lastSyncTime")
        if database.caught_up and (not last or changed):
            db["lastSyncTime"] = now
        elif last:
            db["lastSyncTime"] = last
        status["databaseStatus"] = db
    status["conditions"] = conditions
    return status


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`: removed keys become null;
    lists are replaced whole."""
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            inner = merge_patch(before, value)
            if inner:
                patch[key] = inner
        elif value != before:
            patch[key] = value
    return patch


def write(cluster: Cluster, resource: Resource, key: Key, old: Mapping[str, Any], new: Status) -> bool:
    """Send the change to the status subresource; False when there was none to send (or the
    resource is gone: its status went with it)."""
    patch = merge_patch(old, new)
    if not patch:
        return False
    path = resource.path(key[2] or None, key[3]) + "/status"
    cluster.request(
        "PATCH", path, body={"status": patch}, content_type="application/merge-patch+json", ok=(404,)
    )
    return True
