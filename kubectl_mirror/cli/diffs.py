"""Unified diffs of what `sync` would change, with Secret values masked."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from kubectl_mirror.engine.reconcile import Action, normalized
from kubectl_mirror.engine.redact import mask_pair
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
