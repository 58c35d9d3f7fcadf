"""What differs in a drifted mirror, described change by change for `status -o wide` and `-o json`.

`reconcile.drift` decides WHETHER a mirror drifted and which paths differ; this module only
describes those differences (old and new value, kind of change), so it is called for mirrors
already known to differ and never on the fast path. It compares the same things as
`reconcile.drift`: the desired mirror with `reconcile.normalized(live)`, without apiVersion, kind
and status, and under the merge strategy keys others added to a mapping are not drift.

Pure: deepdiff computes the difference and does no I/O. It is imported inside `describe_drift`
because importing it costs about 100 ms (more when numpy or pydantic are installed, which it
probes for), and `render` and the KRM function never need it. Secret values never leave this
module unmasked (see redact.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine import redact
from kubectl_mirror.engine.model import Obj

# reconcile's own path spelling and comparison scope, so the two never disagree on what differs.
from kubectl_mirror.engine.reconcile import _TOP, _join, normalized

ChangeKind = Literal["changed", "added", "removed", "type-changed", "item-added", "item-removed", "truncated"]
Step = str | int  # a mapping key or a list index
SortKey = tuple[tuple[int, Any], ...]

# At most this many changes are returned, then one `truncated` entry: a mirror whose whole data
# differs (a source rewritten, a ConfigMap of 10,000 keys) would otherwise print pages per object
# in `status -o wide`, and nobody reads past the first screen.
MAX_CHANGES = 100
# deepdiff's max_diffs counts every node it visits, not the differences it finds. Equal entries
# are left out before deepdiff sees them (see _pruned), so this bounds the work on the part that
# differs: about 0.3 s at worst (a long list of mappings, every item changed), and a status over many
# drifted mirrors must not take seconds for each. Past it the description ends with `truncated`.
MAX_VISITS = 10_000
# deepdiff pairs the items of two lists of scalars with difflib.SequenceMatcher(autojunk=False),
# which is far worse than quadratic on repeated values (1,000 booleans: 5 s; 5,000 small ints:
# minutes) and runs before max_diffs counts anything. Past this length lists are compared index
# by index: an insertion then shows as changed items instead of one added item.
DIFFLIB_MAX_ITEMS = 200

TRUNCATED_PATH = "..."

_KINDS: dict[str, ChangeKind] = {
    "values_changed": "changed",
    "type_changes": "type-changed",
    # deepdiff compares desired (t1) with live (t2): "added" is only in live, "removed" only desired.
    "dictionary_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_added": "item-added",
    "iterable_item_removed": "item-removed",
}
_ORDER = {kind: i for i, kind in enumerate(_KINDS.values())}
_PROBE = object()


@dataclass(frozen=True)
class Change:
    """One difference, seen from the desired side: `added` is a key only the live object has.

    `desired` is None for `added`/`item-added`, `live` is None for `removed`/`item-removed`, and
    both are None for the final `truncated` entry (path "..."). An item's index is its position
    in the side that has it. Values are plain JSON data, copied, and masked for Secrets."""

    path: str
    kind: ChangeKind
    desired: Any = None
    live: Any = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; only the sides that exist, so a YAML null stays distinct from "absent"."""
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.kind in ("changed", "type-changed", "removed", "item-removed"):
            out["desired"] = self.desired
        if self.kind in ("changed", "type-changed", "added", "item-added"):
            out["live"] = self.live
        return out


def describe_drift(desired: Obj, live: Mapping[str, Any]) -> tuple[Change, ...]:
    """The differences between a desired mirror and its live object, sorted by path; () if equal."""
    from deepdiff import DeepDiff
    from deepdiff.diff import MAX_DIFF_LIMIT_REACHED

    merge = ((desired.get("metadata") or {}).get("annotations") or {}).get(m.STRATEGY) == "merge"
    secret = redact.is_secret(desired) or redact.is_secret(live)
    before, after = _pruned(_compared(desired), _compared(normalized(live)))
    diff = DeepDiff(
        before,
        after,
        view="tree",
        # The default (0.33) reports two mappings sharing under a third of their keys as one
        # changed value, which would hide merge-strategy keys and per-key paths.
        threshold_to_diff_deeper=0,
        max_diffs=MAX_VISITS,
        zip_ordered_iterables=max(_longest_list(before), _longest_list(after)) > DIFFLIB_MAX_ITEMS,
        # List order is meaningful in Kubernetes and to reconcile, so ignore_order stays off; that
        # makes max_passes and cutoff_intersection_for_pairs (ignore_order's pairing) moot.
    )
    found = [
        described
        for report_type, levels in diff.tree.items()
        for level in levels
        if (described := _described(level, _KINDS.get(report_type, "changed"), merge=merge, secret=secret))
    ]
    changes = [change for _, change in sorted(found, key=lambda f: f[0])]
    stats: dict[str, Any] = diff.get_stats()  # type: ignore[no-untyped-call]  # unannotated in 8.6
    if len(changes) > MAX_CHANGES or stats[MAX_DIFF_LIMIT_REACHED]:
        return (*changes[:MAX_CHANGES], Change(TRUNCATED_PATH, "truncated"))
    return tuple(changes)


def _described(level: Any, kind: ChangeKind, *, merge: bool, secret: bool) -> tuple[SortKey, Change] | None:
    """One deepdiff finding as a Change with its sort key, or None when reconcile would not call
    it drift."""
    from deepdiff.helper import notpresent

    old = None if level.t1 is notpresent else level.t1
    new = None if level.t2 is notpresent else level.t2
    steps: list[Step] = level.path(output_format="list", use_t2=kind in ("added", "item-added"))
    if merge and kind == "added" and all(isinstance(s, str) for s in steps):
        return None  # reconcile compares lists whole, so a key added inside a list item stays drift
    if kind in ("changed", "type-changed") and old == new:
        return None  # 1 and 1.0, True and 1: equal to reconcile
    if secret:
        old, new = _masked(steps, old), _masked(steps, new)
    # Indexes sort as numbers (items[2] before items[10]); a key never meets an index at one depth.
    key = (*((0, s) if isinstance(s, int) else (1, s) for s in steps), (2, _ORDER[kind]))
    return key, Change(_spelled(steps), kind, _plain(old), _plain(new))


def _compared(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What reconcile.drift compares: metadata and the body, not apiVersion, kind or status."""
    return {k: v for k, v in obj.items() if k == "metadata" or k not in _TOP}


def _pruned(desired: Any, live: Any) -> tuple[Any, Any]:
    """Both sides without their equal mapping entries, compared at C speed: deepdiff would visit
    every node of them to report nothing (or 1 against 1.0, which is not drift). Lists stay whole,
    since their indexes are part of the paths."""
    if not (isinstance(desired, dict) and isinstance(live, dict)):
        return desired, live
    before: dict[Any, Any] = {}
    after: dict[Any, Any] = {k: v for k, v in live.items() if k not in desired}
    for k, v in desired.items():
        if k not in live:
            before[k] = v
        elif v != live[k]:
            before[k], after[k] = _pruned(v, live[k])
    return before, after


def _longest_list(value: Any) -> int:
    if isinstance(value, dict):
        return max(map(_longest_list, value.values()), default=0)
    if isinstance(value, list):
        return max([len(value), *map(_longest_list, value)])
    return 0


def _spelled(steps: list[Step]) -> str:
    path = ""
    for step in steps:
        path = f"{path}[{step}]" if isinstance(step, int) else _join(path, step)
    return path


def _masked(steps: list[Step], value: Any) -> Any:
    """A Secret's value as it may be shown at `steps`: data keys stay visible, their values never."""
    if value is None or not steps:
        return value
    if steps[0] in redact.SECRET_FIELDS:
        if len(steps) == 1 and isinstance(value, dict):
            return {k: redact.MASK for k in value}
        return redact.MASK  # whatever its type: a list or number there is still secret material
    if steps[:2] == ["metadata", "annotations"] and len(steps) > 2 and _annotation_masked(str(steps[2])):
        return redact.MASK
    return value


def _annotation_masked(key: str) -> bool:
    """Whether redact.mask hides this annotation of a Secret (last-applied-configuration holds
    every value): asked of redact.py rather than copied, so the rule lives in one place."""
    probe = {"kind": "Secret", "metadata": {"annotations": {key: _PROBE}}}
    return redact.mask(probe)["metadata"]["annotations"][key] is not _PROBE


def _plain(value: Any) -> Any:
    """A copy in JSON types (parsed YAML may hold dates or non-string keys), never the caller's."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
