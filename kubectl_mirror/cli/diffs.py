"""Unified diffs of what `sync` would change, with Secret values masked, and of the rollouts
it would make (one pod-template annotation each, hashes only)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from kubectl_mirror.engine.reconcile import Action, normalized
from kubectl_mirror.engine.redact import mask_pair
from kubectl_mirror.engine.rollouts import RESTARTED_FOR, PlannedRollout
from kubectl_mirror.io.emit import to_yaml


def diff_text(actions: Iterable[Action], show_secrets: bool) -> str:
    out: list[str] = []
    for action in actions:
        if not action.writes:
            continue
        before = normalized(action.live) if action.live is not None else None
        after = action.desired
        if not show_secrets:
            before, after = mask_pair(before, after)
        old = to_yaml(before).splitlines(keepends=True) if before is not None else []
        new = to_yaml(after).splitlines(keepends=True) if after is not None else []
        name = f"{action.key[1]}/{action.key[2]}/{action.key[3]}"
        out.extend(difflib.unified_diff(old, new, fromfile=f"live/{name}", tofile=f"mirror/{name}"))
    return "".join(out)


def rollout_diff_text(rollouts: Iterable[PlannedRollout]) -> str:
    """The one field each rollout changes, as a diff of the workload's pod-template annotation."""
    out: list[str] = []
    for rollout in rollouts:
        key = rollout.workload
        old = _template_annotation(rollout, rollout.current) if rollout.current else []
        new = _template_annotation(rollout, rollout.value)
        name = f"{key.kind}.{key.group}/{key.namespace}/{key.name}"
        out.extend(difflib.unified_diff(old, new, fromfile=f"live/{name}", tofile=f"rollout/{name}"))
    return "".join(out)


def _template_annotation(rollout: PlannedRollout, value: str) -> list[str]:
    key = rollout.workload
    shown = {
        "apiVersion": rollout.api_version,
        "kind": key.kind,
        "metadata": {"name": key.name, "namespace": key.namespace},
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_FOR: value}}}},
    }
    return to_yaml(shown).splitlines(keepends=True)
