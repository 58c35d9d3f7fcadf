"""Comparing desired mirrors with live objects, and deciding what to do about each.

Pure: `sync`, `status`, `diff`, `prune` and `watch` all decide through these functions, so
"what counts as drift" and "what may be pruned" have exactly one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects.registry import copied_by
from kubectl_mirror.engine.kinds import clean_for_copy
from kubectl_mirror.engine.model import Obj, ObjectKey
from kubectl_mirror.engine.render import canonical
from kubectl_mirror.errors import Ref

Key = ObjectKey
Verb = Literal["create", "update", "recreate", "unchanged", "conflict", "delete", "mark-stale", "keep"]
# What became of the source of a mirror that nothing renders any more.
SourceState = Literal["renders", "untargeted", "unmarked", "gone", "failed", "out-of-scope"]

_TOP = ("apiVersion", "kind", "metadata", "status")


key_of = ObjectKey.of


def describe(key: Key) -> str:
    return ObjectKey(*key).describe()


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
        return self.verb not in ("unchanged", "conflict", "keep")


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
    desired: Obj | None,
    live: Mapping[str, Any] | None,
    *,
    source: SourceState = "renders",
    adopt: bool = False,
    pulled: bool = False,
) -> Action:
    """What to do at one mirror's place: the only place the rules live.

    `desired` is what the source renders for this place (None: it renders nothing here);
    `live` is what the cluster has there; `source` says what became of the source when
    nothing is desired. sync, status, diff, prune and watch all decide here."""
    if desired is None:
        assert live is not None
        return _without_desired(live, source)
    key = key_of(desired)
    if live is None:
        return Action("create", key, desired, None, "missing")
    if not is_ours(live) and not pulled:
        if not adopt:
            return Action("conflict", key, desired, dict(live), _conflict_reason(live))
        desired = _with_annotation(desired, m.ADOPTED, "true")
        # Adoption writes like any update, so a field the server will not change (a Secret's
        # type, an immutable object) needs a recreate here too.
        why = _needs_recreate(desired, live)
        changed = tuple(drift(desired, live))
        if why:
            return Action("recreate", key, desired, dict(live), f"adopted; {why}", changed)
        return Action("update", key, desired, dict(live), "adopted", changed)
    if ((live.get("metadata") or {}).get("annotations") or {}).get(m.ADOPTED) == "true":
        desired = _with_annotation(desired, m.ADOPTED, "true")  # the record of adoption stays
    paths = drift(desired, live)
    if not paths:
        return Action("unchanged", key, desired, dict(live))
    why = _needs_recreate(desired, live)
    if why:
        return Action("recreate", key, desired, dict(live), why, tuple(paths))
    return Action("update", key, desired, dict(live), "drifted", tuple(paths))


def _conflict_reason(live: Mapping[str, Any]) -> str:
    """Another tool's copy is named as such: after switching tools, `--adopt` takes it over."""
    tool = copied_by(dict(live))
    if tool:
        return f"is a copy made by {tool}, not managed by kubectl-mirror (use --adopt to take it over)"
    return "exists and is not managed by kubectl-mirror (use --adopt)"


def decide_cached(
    desired: Obj, *, resource_version: str, secret_type: str, immutable: bool, adopted: bool
) -> Action | None:
    """`decide` for one of our mirrors known only from a cache (watch keeps no bodies): the
    same rules, or None when only reading the object can tell (an adopted or merge-strategy
    mirror is judged on its content; a recreate deletes with the live uid as precondition)."""
    strategy = desired["metadata"]["annotations"].get(m.STRATEGY, "replace")
    if adopted or strategy == "merge":
        return None
    known = {"type": secret_type, "immutable": immutable}
    if _needs_recreate(desired, known):
        return None
    # A PUT with the cached resourceVersion: a 409 means the cache was behind, and is re-read.
    live = {"metadata": {"resourceVersion": resource_version}}
    return Action("update", key_of(desired), desired, live, "drifted")


_KEEP = {
    "out-of-scope": "its source is outside this command's scope",
    "failed": "its source failed to render (a bad marker never deletes anything)",
    "renders": "its source still selects it",
}
_DELETE = {
    "untargeted": "its namespace is no longer a target",
    "unmarked": "its source is no longer marked",
    "gone": "its source is gone",
}


def _without_desired(live: Mapping[str, Any], source: SourceState) -> Action:
    """A live object that no source wants at its place: keep it, delete it, or mark it stale."""
    key = key_of(live)
    if not is_ours(live):
        return Action("keep", key, None, dict(live), "not managed by kubectl-mirror")
    if source in _KEEP:
        return Action("keep", key, None, dict(live), _KEEP[source])
    meta = live.get("metadata") or {}
    orphan = (meta.get("annotations") or {}).get(m.ON_SOURCE_DELETE) == "orphan"
    if source == "gone" and orphan:  # on-source-delete applies when the source itself is gone
        if (meta.get("labels") or {}).get(m.STALE) == "true":
            return Action("keep", key, None, dict(live), "already marked stale")
        return Action("mark-stale", key, None, dict(live), _DELETE[source])
    return Action("delete", key, None, dict(live), _DELETE[source])


def _with_annotation(obj: Obj, key: str, value: str) -> Obj:
    meta = dict(obj["metadata"])
    meta["annotations"] = dict(sorted({**meta["annotations"], key: value}.items()))
    return {**obj, "metadata": meta}


def source_id_of(live: Mapping[str, Any]) -> str:
    return str(((live.get("metadata") or {}).get("labels") or {}).get(m.SOURCE_HASH_LABEL, ""))
