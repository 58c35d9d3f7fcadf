"""Mirrorverse's markers (badal773/mirrorverse), read so its users can switch without relabeling.

Mirrorverse keeps everything in labels, so lists are `_`-separated (label values cannot hold
commas, `*` or `/`) and hold plain namespace names only: there is no glob and no "all" word.
Its mirrors keep carrying `sync-replica` and `sync-source-ref`, which its users' tooling reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine.dialects.base import (
    Dialect,
    check_namespace_name,
    choice,
    field_of,
    flag,
    gate,
    labels_of,
    split_list,
    string_marker,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, Target
from kubectl_mirror.errors import Ref, SpecError

PREFIX = "mirrorverse.dev/"
SYNC_SOURCE = PREFIX + "sync-source"
TARGETS = PREFIX + "targets"
EXCLUDE = PREFIX + "exclude"
STRATEGY = PREFIX + "strategy"
CLEANUP = PREFIX + "cleanup"
# Written by Mirrorverse (and by us, for its users) on every mirror.
SYNC_REPLICA = PREFIX + "sync-replica"
SYNC_SOURCE_REF = PREFIX + "sync-source-ref"
STALE = PREFIX + "stale"

KINDS = ("Secret", "ConfigMap")
# Mirrorverse's README names `replace`, its code `replace`, its tips `override`; `patch` merges.
STRATEGIES = {"replace": "replace", "override": "replace", "patch": "merge"}

_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def read_source(obj: Obj, ref: Ref, options: EngineOptions) -> MirrorSpec | None:
    labels = labels_of(obj)
    if not gate(labels, SYNC_SOURCE, ref, label=True):
        return None
    targets = _names(labels, TARGETS, ref)
    if not targets:
        raise SpecError(f"source has no {TARGETS} label", ref, field_of(TARGETS, label=True))
    cleanup = flag(labels, CLEANUP, ref, label=True)
    orphan = not cleanup
    return MirrorSpec(
        dialect="mirrorverse",
        targets=targets,
        exclude=_names(labels, EXCLUDE, ref),
        strategy=choice(labels, STRATEGY, ref, STRATEGIES, "merge", label=True),  # type: ignore[arg-type]
        on_source_delete="orphan" if orphan else "delete",
        extra_labels=replica_labels(ref),
        extra_stale_label=STALE if orphan else "",
    )


def _names(labels: Mapping[str, Any], key: str, ref: Ref) -> tuple[Target, ...]:
    text = string_marker(labels, key, ref, label=True) or ""
    where = field_of(key, label=True)
    out = []
    for entry in split_list(text, "_"):
        check_namespace_name(entry, ref, where)
        out.append(Target("name", entry))
    return tuple(out)


def replica_labels(ref: Ref) -> tuple[tuple[str, str], ...]:
    """`sync-replica`, and `sync-source-ref: <name>.<namespace>` when it fits in a label value
    (63 characters); a longer reference is left out rather than truncated into a wrong one."""
    source_ref = f"{ref.name}.{ref.namespace}"
    if len(source_ref) <= 63 and _LABEL_VALUE.fullmatch(source_ref):
        return ((SYNC_REPLICA, "true"), (SYNC_SOURCE_REF, source_ref))
    return ((SYNC_REPLICA, "true"),)


def is_foreign_mirror(obj: Obj) -> bool:
    return labels_of(obj).get(SYNC_REPLICA) == "true"


MIRRORVERSE = Dialect(
    name="mirrorverse",
    source_selector=f"{SYNC_SOURCE}=true",
    read_source=read_source,
    kinds=KINDS,
    is_foreign_mirror=is_foreign_mirror,
    tool="Mirrorverse",
)
