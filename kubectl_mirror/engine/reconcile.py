"""Comparing desired mirrors with live objects, and deciding what to do about each.

Pure: `sync`, `status`, `diff`, `prune` and `watch` all decide through these functions, so
"what counts as drift" and "what may be pruned" have exactly one definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.kinds import clean_for_copy
from kubectl_mirror.engine.model import Obj
from kubectl_mirror.engine.render import canonical, group_of
from kubectl_mirror.errors import Ref

Key = tuple[str, str, str, str]  # group, kind, namespace, name
Verb = Literal["create", "update", "recreate", "unchanged", "conflict", "delete", "mark-stale"]

_TOP = ("apiVersion", "kind", "metadata", "status")


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (
        group_of(dict(obj)),
        str(obj.get("kind", "")),
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
    )


def describe(key: Key) -> str:
    kind = key[1] if key[0] == "core" else f"{key[1]}.{key[0]}"
    return f"{kind} {key[2]}/{key[3]}"


@dataclass(frozen=True)
class Action:
    verb: Verb
    key: Key
    desired: Obj | None
    live: Obj | None
    reason: str = ""
    paths: tuple[str, ...] = ()  # the paths that differ (for drift and diff)

    @property
    def ref(self) -> Ref:
        return Ref(kind=self.key[1], namespace=self.key[2], name=self.key[3])

    @property
    def writes(self) -> bool:
        return self.verb not in ("unchanged", "conflict")


def is_ours(live: Mapping[str, Any]) -> bool:
    """Ownership proof: both our labels. Nothing without them is ever modified or deleted."""
    labels = (live.get("metadata") or {}).get("labels") or {}
    return labels.get(m.MANAGED_BY) == m.MANAGER and labels.get(m.MIRROR_LABEL) == "true"


def normalized(live: Mapping[str, Any]) -> Obj:
    """A live object in the shape the engine renders: server fields and per-object values gone."""
    obj = clean_for_copy(dict(live), Ref())
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "labels": dict(sorted((meta.get("labels") or {}).items())),
            "annotations": dict(sorted((meta.get("annotations") or {}).items())),
        },
        **{k: canonical(obj[k]) for k in sorted(obj) if k not in _TOP},
    }


def differences(desired: Any, live: Any, *, subset: bool, path: str = "") -> list[str]:
    """Paths where `live` differs from `desired`. With `subset`, keys only in `live` are fine
    (merge strategy: what others added survives)."""
    if desired == live:
        return []  # the common case: no path strings built for 200,000 equal mirrors
    if isinstance(desired, dict) and isinstance(live, dict):
        out: list[str] = []
        for k in desired:
            sub = _join(path, k)
            if k not in live:
                out.append(sub)
            else:
                out.extend(differences(desired[k], live[k], subset=subset, path=sub))
        if not subset:
            out.extend(_join(path, k) for k in live if k not in desired)
        return out
    return [] if desired == live else [path or "."]


def _join(path: str, key: str) -> str:
    safe = key.replace("-", "").replace("_", "").isalnum()
    return f"{path}.{key}" if path and safe else (key if safe else f'{path}["{key}"]')


def drift(desired: Obj, live: Mapping[str, Any]) -> list[str]:
    """The paths `sync` would change. Under `merge`, keys others added to data, labels and
    annotations are not drift; under `replace` everything must match."""
    strategy = desired["metadata"]["annotations"].get(m.STRATEGY, "replace")
    current = normalized(live)
    subset = strategy == "merge"
    paths = differences(desired["metadata"], current["metadata"], subset=subset, path="metadata")
    for k in desired:
        if k in _TOP:
            continue
        paths.extend(differences(desired[k], current.get(k), subset=subset, path=k) if k in current else [k])
    if not subset:
        paths.extend(k for k in current if k not in _TOP and k not in desired)
    return paths


def _needs_recreate(desired: Obj, live: Mapping[str, Any]) -> str:
    """Why an update would be refused by the API server, so the object must be recreated."""
    if desired.get("kind") == "Secret" and desired.get("type", "Opaque") != live.get("type", "Opaque"):
        return f"Secret type changes from {live.get('type', 'Opaque')} to {desired.get('type', 'Opaque')}"
    if live.get("immutable") is True:
        return "the live object is immutable"
    return ""


def decide(
    desired: Obj,
    live: Mapping[str, Any] | None,
    *,
    adopt: bool = False,
    pulled: bool = False,
) -> Action:
    """What to do for one desired mirror given what the cluster has at its place."""
    key = key_of(desired)
    if live is None:
        return Action("create", key, desired, None, "missing")
    if not is_ours(live) and not pulled:
        if not adopt:
            return Action(
                "conflict",
                key,
                desired,
                dict(live),
                "exists and is not managed by kubectl-mirror (use --adopt)",
            )
        adopted = _with_annotation(desired, m.ADOPTED, "true")
        return Action("update", key, adopted, dict(live), "adopted", tuple(drift(adopted, live)))
    if ((live.get("metadata") or {}).get("annotations") or {}).get(m.ADOPTED) == "true":
        desired = _with_annotation(desired, m.ADOPTED, "true")  # the record of adoption stays
    paths = drift(desired, live)
    if not paths:
        return Action("unchanged", key, desired, dict(live))
    why = _needs_recreate(desired, live)
    if why:
        return Action("recreate", key, desired, dict(live), why, tuple(paths))
    return Action("update", key, desired, dict(live), "drifted", tuple(paths))


def _with_annotation(obj: Obj, key: str, value: str) -> Obj:
    meta = dict(obj["metadata"])
    meta["annotations"] = dict(sorted({**meta["annotations"], key: value}.items()))
    return {**obj, "metadata": meta}


def source_id_of(live: Mapping[str, Any]) -> str:
    return str(((live.get("metadata") or {}).get("labels") or {}).get(m.SOURCE_HASH_LABEL, ""))


def prune_actions(
    live_mirrors: Iterable[Mapping[str, Any]],
    *,
    desired: Iterable[Key],
    protected_sources: Iterable[str],
    present_sources: Iterable[str],
) -> list[Action]:
    """Mirrors we made that nothing selects any more.

    `protected_sources` are source ids whose rendering failed this time: their mirrors are
    kept, because a failed render says nothing about what the source wants.
    `present_sources` are ids of sources that still exist (their mirrors are orphaned per
    on-source-delete only when the source itself is gone)."""
    wanted = set(desired)
    protected = set(protected_sources)
    present = set(present_sources)
    actions: list[Action] = []
    for live in live_mirrors:
        if not is_ours(live):
            continue
        key = key_of(live)
        sid = source_id_of(live)
        if key in wanted or sid in protected:
            continue
        meta = live.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        reason = "its namespace is no longer a target" if sid in present else "its source is gone or unmarked"
        if annotations.get(m.ON_SOURCE_DELETE) == "orphan" and sid not in present:
            if (meta.get("labels") or {}).get(m.STALE) == "true":
                continue
            actions.append(Action("mark-stale", key, None, dict(live), reason))
        else:
            actions.append(Action("delete", key, None, dict(live), reason))
    return sorted(actions, key=lambda a: a.key)
