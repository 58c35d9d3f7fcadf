"""The live plan: desired mirrors from the engine, matched against the cluster, with the
actions `sync` would take and the mirrors `prune` would remove. `status` and `diff` read it;
`sync` and `prune` carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kubectl_mirror.engine.model import EngineOptions, Obj, Result
from kubectl_mirror.engine.plan import Outcome
from kubectl_mirror.engine.reconcile import Action, Key, decide, key_of, prune_actions, source_id_of
from kubectl_mirror.engine.render import source_id
from kubectl_mirror.io.cluster import Cluster
from kubectl_mirror.live.state import LiveState, Scope, in_scope_mirror, read_state, render_live, source_key


@dataclass(frozen=True)
class LivePlan:
    state: LiveState
    outcome: Outcome
    actions: tuple[Action, ...]  # one per desired mirror
    prune: tuple[Action, ...]  # mirrors nothing selects any more

    @property
    def results(self) -> tuple[Result, ...]:
        skipped = tuple(
            Result("warning", f"not allowed to read {s}; that kind is skipped") for s in self.state.skipped
        )
        return skipped + self.outcome.results


def _live_options(options: EngineOptions) -> EngineOptions:
    return replace(options, explicit_outside_universe=False)


def _alive(namespaces: list[Obj]) -> list[Obj]:
    """Terminating namespaces cannot receive anything."""
    return [n for n in namespaces if not (n.get("metadata") or {}).get("deletionTimestamp")]


def make_plan(cluster: Cluster, *, scope: Scope, options: EngineOptions, adopt: bool = False) -> LivePlan:
    state = read_state(cluster, scope=scope, options=options)
    state.namespaces = _alive(state.namespaces)
    outcome = render_live(state, _live_options(options))
    pulled = set(outcome.filled_pulls)
    actions = []
    for desired in outcome.mirrors:
        key = key_of(desired)
        # Objects of fully listed kinds are all known: an unmanaged one is a conflict at once,
        # without a create that the server would refuse.
        live = state.mirrors.get(key) or state.objects.get(key)
        actions.append(decide(desired, live, adopt=adopt, pulled=key[1:] in pulled))
    return LivePlan(state, outcome, tuple(actions), tuple(_prune(cluster, state, outcome, scope)))


def _failed_sources(outcome: Outcome) -> set[str]:
    """Ids of every object an error points at: a source that failed to render keeps its
    mirrors (a typo in a marker must never delete anything)."""
    ids = set()
    for result in outcome.results:
        if result.severity == "error" and result.ref.kind and result.ref.name:
            ref = result.ref
            ids.add(
                source_id(
                    {
                        "apiVersion": ref.api_version,
                        "kind": ref.kind,
                        "metadata": {"namespace": ref.namespace, "name": ref.name},
                    }
                )
            )
    return ids


def _prune(cluster: Cluster, state: LiveState, outcome: Outcome, scope: Scope) -> list[Action]:
    rendered = {source_id(so.source.obj) for so in outcome.sources}
    candidates = [m for m in state.mirrors.values() if in_scope_mirror(m, scope)]
    if scope.selector:
        # A gone source cannot be matched against a label selector: with -l, only mirrors of
        # sources that were selected are considered.
        candidates = [m for m in candidates if source_id_of(m) in rendered]
    desired = {key_of(m) for m in outcome.mirrors}
    present = set(rendered)
    absent: set[str] = set()  # looked up once per source, not once per mirror
    for live in candidates:
        sid = source_id_of(live)
        if key_of(live) in desired or sid in present or sid in absent:
            continue
        found = _source_exists(cluster, state, live)
        if found or sid:  # a mirror without a source id is looked up on its own
            (present if found else absent).add(sid)
    return prune_actions(
        candidates, desired=desired, protected_sources=_failed_sources(outcome), present_sources=present
    )


def _source_exists(cluster: Cluster, state: LiveState, mirror: Obj) -> bool:
    group, kind, namespace, name = source_key(mirror)
    key: Key = (group, kind, namespace, name)
    if key in state.objects:
        return True
    resource = state.resources.get((group, kind))
    if resource is None:
        return False
    found: Any = cluster.get(resource, namespace, name)
    return found is not None
