"""`kubectl mirror status`: one row per source, or one per mirror with `-o wide` (with the
workloads whose pod templates use it, and whether they were rolled out for its data)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.drift import Change
from kubectl_mirror.engine.reconcile import Action, Key, key_of, source_id_of
from kubectl_mirror.engine.render import source_id
from kubectl_mirror.engine.rollouts import Consumer
from kubectl_mirror.live.plan import LivePlan, failures

# deepdiff warns through logging when its work budget runs out; the description then ends with
# a `truncated` entry, which says the same thing on stdout, so the warning must not reach stderr.
logging.getLogger("deepdiff").addHandler(logging.NullHandler())

STATE = {
    "unchanged": "in-sync",
    "create": "missing",
    "update": "drifted",
    "recreate": "drifted",
    "conflict": "conflict",
}
COLUMNS = ("in-sync", "drifted", "missing", "conflict", "stale")


@dataclass
class MirrorRow:
    namespace: str
    name: str
    state: str
    detail: str = ""
    changes: tuple[Change, ...] = ()  # what differs, for drifted mirrors (Secret values masked)
    workloads: tuple[Consumer, ...] = ()  # workloads using it (-o wide only)


@dataclass
class SourceRow:
    source: str
    kind: str
    targets: int
    mirrors: list[MirrorRow] = field(default_factory=list)
    error: str = ""  # why the source failed to render; its mirrors are left as they are

    def count(self, state: str) -> int:
        return sum(1 for r in self.mirrors if r.state == state)

    @property
    def in_sync(self) -> bool:
        return not self.error and all(r.state == "in-sync" for r in self.mirrors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "targets": self.targets,
            **{c: self.count(c) for c in COLUMNS},
            **({"error": self.error} if self.error else {}),
            "mirrors": [
                {
                    "namespace": r.namespace,
                    "name": r.name,
                    "state": r.state,
                    **({"detail": r.detail} if r.detail else {}),
                    **({"changes": [c.as_dict() for c in r.changes]} if r.changes else {}),
                    **({"workloads": [_consumer_dict(c) for c in r.workloads]} if r.workloads else {}),
                }
                for r in self.mirrors
            ],
        }


def _consumer_dict(consumer: Consumer) -> dict[str, str]:
    key = consumer.workload
    return {"kind": key.kind, "name": key.name, "optIn": consumer.reason, "rollout": consumer.state}


def by_mirror(consumers: Iterable[Consumer]) -> dict[Key, tuple[Consumer, ...]]:
    grouped: dict[Key, list[Consumer]] = defaultdict(list)
    for consumer in consumers:
        grouped[consumer.mirror].append(consumer)
    return {key: tuple(found) for key, found in grouped.items()}


def _changes(action: Action) -> tuple[Change, ...]:
    """deepdiff's account of a drifted mirror; only asked for mirrors known to differ."""
    if action.verb not in ("update", "recreate") or action.desired is None or action.live is None:
        return ()
    from kubectl_mirror.engine.drift import describe_drift

    return describe_drift(action.desired, action.live)


def _detail(action: Action, changes: tuple[Change, ...]) -> str:
    """What differs, path by path (values only in -o json, masked for Secrets)."""
    if action.verb in ("conflict", "recreate"):
        return action.reason
    if changes:
        words = [c.path if c.kind == "truncated" else f"{c.path} {c.kind}" for c in changes[:8]]
        return ", ".join(words) + (" ..." if len(changes) > 8 else "")
    return ", ".join(action.paths[:8]) + (" ..." if len(action.paths) > 8 else "")


def rows_of(plan: LivePlan, consumers: Mapping[Key, tuple[Consumer, ...]] | None = None) -> list[SourceRow]:
    rows: dict[str, SourceRow] = {}
    for so in plan.outcome.sources:
        ref = so.source.ref
        rows[source_id(so.source.obj)] = SourceRow(f"{ref.namespace}/{ref.name}", ref.kind, len(so.mirrors))
    for sid, errors in failures(plan.outcome).items():
        # Every source in scope has a row, the ones that failed too, with the reason.
        ref = errors[0].ref
        where = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
        row = rows.setdefault(sid, SourceRow(where, ref.kind, 0))
        row.error = "; ".join(" ".join(e.message.split()) for e in errors)
    by_key = {key_of(a.desired): a for a in plan.actions if a.desired is not None}
    grouped: dict[str, list[Action]] = defaultdict(list)
    for action in by_key.values():
        assert action.desired is not None
        grouped[action.desired["metadata"]["labels"].get(m.SOURCE_HASH_LABEL, "")].append(action)
    for sid, actions in grouped.items():
        found = rows.get(sid)
        if found is None:
            continue
        for action in sorted(actions, key=lambda a: a.key):
            changes = _changes(action)
            state = STATE[action.verb]
            using = (consumers or {}).get(action.key, ())
            found.mirrors.append(
                MirrorRow(action.key[2], action.key[3], state, _detail(action, changes), changes, using)
            )
    for action in plan.prune:
        assert action.live is not None
        sid = source_id_of(action.live)
        ann = action.live["metadata"].get("annotations") or {}
        row = rows.get(sid) or rows.setdefault(
            sid,
            SourceRow(
                f"{ann.get(m.SOURCE_NAMESPACE)}/{ann.get(m.SOURCE_NAME)}", str(ann.get(m.SOURCE_KIND)), 0
            ),
        )
        row.mirrors.append(MirrorRow(action.key[2], action.key[3], "stale", action.reason))
    return sorted(rows.values(), key=lambda r: (r.kind, r.source))


def table(rows: list[SourceRow]) -> str:
    header: tuple[str, ...] = (
        "SOURCE",
        "KIND",
        "TARGETS",
        "IN-SYNC",
        "DRIFTED",
        "MISSING",
        "CONFLICT",
        "STALE",
    )
    body = [(r.source, r.kind, str(r.targets), *(str(r.count(c)) for c in COLUMNS)) for r in rows]
    if any(r.error for r in rows):  # the column appears when a source failed
        header += ("REASON",)
        body = [(*line, r.error) for line, r in zip(body, rows, strict=True)]
    return _columns([header, *body])


def wide(rows: list[SourceRow]) -> str:
    header: tuple[str, ...] = ("SOURCE", "KIND", "NAMESPACE", "NAME", "STATE", "DETAIL")
    body: list[tuple[str, ...]] = [
        (r.source, r.kind, x.namespace, x.name, x.state, x.detail) for r in rows for x in r.mirrors
    ]
    if any(x.workloads for r in rows for x in r.mirrors):  # the column appears when any is used
        header += ("WORKLOADS",)
        using = [_workloads_text(x.workloads) for r in rows for x in r.mirrors]
        body = [(*line, text) for line, text in zip(body, using, strict=True)]
    return _columns([header, *body])


def _workloads_text(consumers: tuple[Consumer, ...]) -> str:
    """`deployment/app=current, statefulset/db=outdated (not opted in)`."""
    parts = []
    for c in consumers:
        text = f"{c.workload.kind.lower()}/{c.workload.name}={c.state}"
        parts.append(text if c.reason else f"{text} (not opted in)")
    return ", ".join(parts)


def _columns(lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "".join(
        "   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines
    )
