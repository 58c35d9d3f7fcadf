"""Reading what the engine needs from a live cluster, with as few requests as possible.

One list of namespaces; one list per policy kind served (MirrorPolicy, ConfigMapSync,
ConfigMirror); per mirrorable kind, one list per dialect label selector (or one full list for
kinds an annotation-only dialect covers) and one list of our mirrors by ownership label; per
policy source namespace, one list of each kind policies read there that is not listed in full
already. Never one list per target namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects.registry import DIALECTS
from kubectl_mirror.engine.kinds import DENIED_KINDS
from kubectl_mirror.engine.model import EngineOptions, Obj
from kubectl_mirror.engine.plan import Item, Outcome, render_all
from kubectl_mirror.engine.policies import POLICY_KINDS, policy_kind_of
from kubectl_mirror.engine.reconcile import Key, key_of
from kubectl_mirror.engine.selectors import parse_selector
from kubectl_mirror.errors import ForbiddenError
from kubectl_mirror.io.cluster import Cluster, Resource

NEEDED_VERBS = frozenset({"list", "get", "create", "update", "patch", "delete"})


@dataclass(frozen=True)
class Scope:
    """Which sources a command is about: one namespace (or all) and a label selector."""

    namespace: str | None  # None: all namespaces
    selector: str = ""

    def holds(self, namespace: str) -> bool:
        return self.namespace is None or namespace == self.namespace


@dataclass
class LiveState:
    resources: dict[tuple[str, str], Resource]
    namespaces: list[Obj]
    candidates: list[Obj]  # objects that may be sources or pull requests
    policies: list[Obj]
    mirrors: dict[Key, Obj]  # objects carrying our ownership labels, by key
    objects: dict[Key, Obj] = field(default_factory=dict)  # every object listed, by key
    skipped: list[str] = field(default_factory=list)  # kinds RBAC does not let us read

    def resource(self, key: Key) -> Resource | None:
        return self.resources.get((key[0], key[1]))


def mirrorable(resources: Iterable[Resource], options: EngineOptions) -> list[Resource]:
    return [
        r
        for r in resources
        if r.namespaced
        and r.verbs >= NEEDED_VERBS
        and (r.kind not in DENIED_KINDS or r.kind in options.allow_kinds)
    ]


def _group(resource: Resource) -> str:
    return resource.group or "core"


def read_state(cluster: Cluster, *, scope: Scope, options: EngineOptions) -> LiveState:
    served = cluster.resources()
    kinds = mirrorable(served, options)
    by_kind = {(_group(r), r.kind): r for r in kinds}
    ns_resource = next(r for r in served if r.kind == "Namespace" and r.group == "")
    namespaces, _ = cluster.list(ns_resource)
    policies: list[Obj] = []
    for policy_kind in POLICY_KINDS:
        served_as = next(
            (r for r in served if (r.group, r.kind) == (policy_kind.group, policy_kind.kind)), None
        )
        if served_as is not None:
            found, _ = cluster.list(served_as)
            # One being deleted applies no more (its finalizer, kept by `watch`, is removing
            # its mirrors): `sync` must not write them again, and `prune` may remove them.
            policies += [p for p in found if not (p.get("metadata") or {}).get("deletionTimestamp")]
    state = LiveState(by_kind, namespaces, [], policies, {})
    seen: set[str] = set()
    full: set[tuple[str, str]] = set()  # kinds listed in full already
    for resource in kinds:
        try:
            if _read_kind(cluster, state, resource, scope=scope, seen=seen):
                full.add((_group(resource), resource.kind))
        except ForbiddenError as err:
            # RBAC does not let us read this kind: mirror what we may (nothing of it is pruned).
            state.skipped.append(f"{resource.plural}: {err.message}")
            state.resources.pop((_group(resource), resource.kind), None)
    for kind, namespace in _policy_sources(policies, scope):
        chosen = next((r for r in state.resources.values() if r.kind == kind), None)
        if chosen is not None and (_group(chosen), chosen.kind) not in full:
            found, _ = cluster.list(chosen, namespace=namespace)
            _index(state, found)
            _add(state, seen, [o for o in found if _in_scope(o, scope)])
    return state


def _policy_sources(policies: Iterable[Obj], scope: Scope) -> list[tuple[str, str]]:
    """(kind, namespace) of every source list the policies in scope need, each once."""
    wanted: set[tuple[str, str]] = set()
    for policy in policies:
        policy_kind = policy_kind_of(policy)
        namespace = policy_kind.source_namespace(policy) if policy_kind else ""
        if policy_kind is None or not namespace or not scope.holds(namespace):
            continue
        wanted.update((kind, namespace) for kind in policy_kind.source_kinds(policy))
    return sorted(wanted)


def _read_kind(
    cluster: Cluster, state: LiveState, resource: Resource, *, scope: Scope, seen: set[str]
) -> bool:
    """Read one kind's sources and mirrors; True when every object of it was listed."""
    if any(not d.source_selector and resource.kind in d.kinds for d in DIALECTS):
        everything, _ = cluster.list(resource)
        _index(state, everything)
        _add(state, seen, [o for o in everything if _in_scope(o, scope)])
        return True
    mirrors, _ = cluster.list(resource, label_selector=m.ownership_label_selector())
    _index(state, mirrors)
    for dialect in DIALECTS:
        if not dialect.source_selector or (dialect.kinds and resource.kind not in dialect.kinds):
            continue
        selector = ",".join(s for s in (dialect.source_selector, scope.selector) if s)
        found, _ = cluster.list(resource, namespace=scope.namespace, label_selector=selector)
        _index(state, found)
        _add(state, seen, found)
    return False


def _in_scope(obj: Obj, scope: Scope) -> bool:
    meta = obj.get("metadata") or {}
    if not scope.holds(str(meta.get("namespace", ""))):
        return False
    return not scope.selector or parse_selector(scope.selector).matches(meta.get("labels") or {})


def _index(state: LiveState, objs: Iterable[Obj]) -> None:
    for obj in objs:
        key = key_of(obj)
        state.objects[key] = obj
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if labels.get(m.MANAGED_BY) == m.MANAGER and labels.get(m.MIRROR_LABEL) == "true":
            state.mirrors[key] = obj


def _add(state: LiveState, seen: set[str], objs: Iterable[Obj]) -> None:
    for obj in objs:
        uid = str((obj.get("metadata") or {}).get("uid") or id(obj))
        if uid not in seen:
            seen.add(uid)
            state.candidates.append(obj)


def render_live(state: LiveState, options: EngineOptions) -> Outcome:
    items = [Item(o, "") for o in (*state.namespaces, *state.policies, *state.candidates)]
    return render_all(items, options)


def source_namespace_of(live: Obj) -> str:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(m.SOURCE_NAMESPACE, ""))


def in_scope_mirror(live: Obj, scope: Scope) -> bool:
    """Mirrors whose source lives in the scope's namespace (the ones this command may prune)."""
    return scope.holds(source_namespace_of(live))


def source_key(live: Obj) -> Key:
    annotations: dict[str, Any] = (live.get("metadata") or {}).get("annotations") or {}
    return Key(
        str(annotations.get(m.SOURCE_GROUP, "")),
        str(annotations.get(m.SOURCE_KIND, "")),
        str(annotations.get(m.SOURCE_NAMESPACE, "")),
        str(annotations.get(m.SOURCE_NAME, "")),
    )
