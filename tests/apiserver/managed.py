"""Server-side apply and `metadata.managedFields`, at the granularity of map keys.

Each manager owns a set of field paths (tuples of map keys). Maps are merged key by key;
lists and scalars are leaves owned as a whole (the real server also splits associative
lists such as `containers` by merge key; this one does not). Apply conflicts when another
manager owns a leaf with a different value; `force` takes ownership; fields a manager stops
applying are removed unless someone else still owns them. Non-apply writes give their
manager the leaves they changed. Pure functions over plain dicts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from . import errors

Path = tuple[str, ...]

# Metadata the server owns; never part of anyone's field set.
SERVER_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


@dataclass(frozen=True)
class Entry:
    manager: str
    operation: str  # Apply | Update
    api_version: str
    time: str
    fields: frozenset[Path]
    subresource: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def leaves(obj: dict[str, Any], *, skip_status: bool) -> frozenset[Path]:
    """The owned-field paths an object (or an applied configuration) sets."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and skip_status):
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in SERVER_META}
            if not value:
                continue
        out.update(_leaves(value, (key,)))
    return frozenset(out)


def _leaves(value: Any, prefix: Path) -> Iterator[Path]:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            if sub is not None:
                yield from _leaves(sub, (*prefix, key))
    else:
        yield prefix


def to_fields_v1(paths: frozenset[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return root


def from_fields_v1(fields: dict[str, Any], prefix: Path = ()) -> frozenset[Path]:
    out: set[Path] = set()
    for key, sub in fields.items():
        if key == ".":
            out.add(prefix)
        elif key.startswith("f:"):
            path = (*prefix, key[2:])
            out.update(from_fields_v1(sub, path) if sub else {path})
        elif prefix:  # k:, v:, i: list items: lists are owned whole here
            out.add(prefix)
    return frozenset(out)


def parse_entries(managed: list[dict[str, Any]] | None) -> list[Entry]:
    entries = []
    for item in managed or []:
        if not isinstance(item, dict) or not item.get("manager"):
            continue
        entries.append(
            Entry(
                manager=item["manager"],
                operation=item.get("operation", "Update"),
                api_version=item.get("apiVersion", ""),
                time=item.get("time", ""),
                fields=from_fields_v1(item.get("fieldsV1") or {}),
                subresource=item.get("subresource", ""),
            )
        )
    return entries


def dump_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    return [e.to_json() for e in entries if e.fields]


def get_path(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


_MISSING = object()


def delete_path(obj: dict[str, Any], path: Path, keep: frozenset[Path]) -> None:
    """Remove `path` from `obj` in place, then parents it leaves empty (unless kept)."""
    parents: list[tuple[dict[str, Any], str]] = []
    node: Any = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return
        parents.append((node, part))
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for depth in range(len(parents) - 1, -1, -1):
        parent, part = parents[depth]
        if parent[part] or path[: depth + 1] in keep or len(path[: depth + 1]) == 1:
            break
        del parent[part]


def deep_merge(base: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; lists and scalars replace; null removes."""
    out = dict(base)
    for key, value in applied.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _field_text(path: Path) -> str:
    return "".join(f".{p}" for p in path)


def apply(
    current: dict[str, Any],
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    skip_status: bool,
) -> tuple[dict[str, Any], list[Entry]]:
    """Merge `applied` into `current` for `manager`; returns the object and its entries."""
    entries = parse_entries(current.get("metadata", {}).get("managedFields"))
    wanted = leaves(applied, skip_status=skip_status)
    mine = next(
        (e for e in entries if e.manager == manager and e.operation == "Apply" and not e.subresource),
        None,
    )
    others = [e for e in entries if e is not mine]
    conflicts: list[tuple[str, str, Path]] = []
    for entry in others:
        for path in sorted(wanted & entry.fields):
            if get_path(current, path) != get_path(applied, path):
                conflicts.append((entry.manager, entry.api_version, path))
    if conflicts and not force:
        raise errors.apply_conflicts([(m, v, _field_text(p)) for m, v, p in conflicts])
    taken = {p for _, _, p in conflicts}
    others = [replace(e, fields=e.fields - taken) for e in others]
    owned_by_others = frozenset().union(*(e.fields for e in others)) if others else frozenset()
    merged = deep_merge(
        copy.deepcopy(current),
        {k: v for k, v in applied.items() if not (k == "status" and skip_status)},
    )
    merged["metadata"] = deep_merge(
        current.get("metadata", {}),
        {k: v for k, v in (applied.get("metadata") or {}).items() if k not in SERVER_META},
    )
    for path in sorted((mine.fields if mine else frozenset()) - wanted, reverse=True):
        if not any(o == path or o[: len(path)] == path for o in owned_by_others):
            delete_path(merged, path, owned_by_others | wanted)
    new_entry = Entry(manager, "Apply", api_version, now, wanted)
    by_identity = {
        id(old): new for old, new in zip([e for e in entries if e is not mine], others, strict=True)
    }
    result = [new_entry if e is mine else by_identity[id(e)] for e in entries]
    if mine is None:
        result.append(new_entry)
    return merged, [e for e in result if e.fields]


def changed_leaves(
    old: dict[str, Any], new: dict[str, Any], *, skip_status: bool
) -> tuple[frozenset[Path], frozenset[Path]]:
    """(leaves set or changed by the write, leaves it removed)."""
    before = leaves(old, skip_status=skip_status) if old else frozenset()
    after = leaves(new, skip_status=skip_status)
    changed = frozenset(p for p in after if get_path(old, p) != get_path(new, p))
    return changed, before - after


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    api_version: str,
    now: str,
    subresource: str = "",
    skip_status: bool,
) -> list[Entry]:
    """The entries after a create/update/patch made by `manager`."""
    entries = parse_entries((old or {}).get("metadata", {}).get("managedFields"))
    changed, removed = changed_leaves(old or {}, new, skip_status=skip_status)
    if subresource == "status":
        changed = frozenset(p for p in changed if p[0] == "status")
    touched = changed | removed
    entries = [replace(e, fields=e.fields - touched) for e in entries]
    pos = next(
        (
            n
            for n, e in enumerate(entries)
            if e.manager == manager and e.operation == "Update" and e.subresource == subresource
        ),
        None,
    )
    if pos is None:
        if changed:
            entries.append(Entry(manager, "Update", api_version, now, changed, subresource))
    else:
        prev = entries[pos]
        fields = prev.fields | changed
        time = now if changed else prev.time
        entries[pos] = replace(prev, fields=fields, time=time, api_version=api_version)
    return [e for e in entries if e.fields]
