"""The live plan: desired mirrors from the engine, matched against the cluster, with the
actions `sync` would take and the mirrors `prune` would remove. `status` and `diff` read it;
`sync` and `prune` carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.model import EngineOptions, Obj, Result
from kubectl_mirror.engine.plan import Outcome
from kubectl_mirror.engine.policies import is_policy_ref
from kubectl_mirror.engine.policy import policy_text
from kubectl_mirror.engine.reconcile import Action, Key, SourceState, decide, key_of, source_id_of
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
    return replace(options, live=True)


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
        actions.append(decide(desired, live, adopt=adopt, pulled=key in pulled))
    return LivePlan(state, outcome, tuple(actions), tuple(_prune(cluster, state, outcome, scope)))


def failures(outcome: Outcome) -> dict[str, list[Result]]:
    """Error results by the id of the object they point at: a source that failed to render
    keeps its mirrors (a typo in a marker must never delete anything), and `status` shows why."""
    found: dict[str, list[Result]] = {}
    for result in outcome.results:
        ref = result.ref
        if result.severity == "error" and ref.kind and ref.name:
            meta = {"namespace": ref.namespace, "name": ref.name}
            obj = {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": meta}
            found.setdefault(source_id(obj), []).append(result)
    return found


def failed_policies(outcome: Outcome) -> set[str]:
    """The policies that could not be read, as their mirrors name them: a typo in a policy
    keeps its mirrors, as a typo in a marker does."""
    return {
        policy_text(r.ref)
        for r in outcome.results
        if r.severity == "error" and r.ref.name and is_policy_ref(r.ref)
    }


def _prune(cluster: Cluster, state: LiveState, outcome: Outcome, scope: Scope) -> list[Action]:
    """Mirrors of ours that nothing renders any more, decided one by one."""
    rendered = {source_id(so.source.obj) for so in outcome.sources}
    failed = failures(outcome)
    bad_policies = failed_policies(outcome)
    desired = {key_of(m) for m in outcome.mirrors}
    known: dict[Key, SourceState] = {}  # looked up once per source, not once per mirror
    actions = []
    for live in state.mirrors.values():
        key = key_of(live)
        if key in desired:
            continue
        sid = source_id_of(live)
        if not in_scope_mirror(live, scope) or (scope.selector and sid not in rendered):
            # A gone source cannot be matched against a label selector: with -l, only mirrors
            # of sources that were selected are considered.
            where: SourceState = "out-of-scope"
        elif sid in failed or _policy_of(live) in bad_policies:
            where = "failed"
        elif sid in rendered:
            where = "untargeted"
        else:
            origin = source_key(live)
            if origin not in known:
                known[origin] = "unmarked" if _source_exists(cluster, state, origin) else "gone"
            where = known[origin]
        action = decide(None, live, source=where)
        if action.writes:
            actions.append(action)
    return sorted(actions, key=lambda a: a.key)


def _policy_of(live: Obj) -> str:
    return str(((live.get("metadata") or {}).get("annotations") or {}).get(m.SOURCE_POLICY, ""))


def _source_exists(cluster: Cluster, state: LiveState, key: Key) -> bool:
    if key in state.objects:
        return True
    resource = state.resources.get((key.group, key.kind))
    if resource is None:
        return False
    found: Any = cluster.get(resource, key.namespace, key.name)
    return found is not None
