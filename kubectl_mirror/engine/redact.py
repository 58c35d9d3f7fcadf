"""Secret values never leave the tool unmasked: in diffs, status and logs they are replaced,
keeping only whether a value changed."""

from __future__ import annotations

from typing import Any

from kubectl_mirror.engine.model import Obj

MASK = "<redacted>"
CHANGED = "<redacted, changed>"
SECRET_FIELDS = ("data", "stringData")


def is_secret(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Secret"


def mask(obj: Obj) -> Obj:
    if not is_secret(obj):
        return obj
    out = dict(obj)
    for name in SECRET_FIELDS:
        if isinstance(obj.get(name), dict):
            out[name] = {k: MASK for k in obj[name]}
    if isinstance((obj.get("metadata") or {}).get("annotations"), dict):
        meta = dict(obj["metadata"])
        meta["annotations"] = {
            k: (MASK if k == "kubectl.kubernetes.io/last-applied-configuration" else v)
            for k, v in obj["metadata"]["annotations"].items()
        }
        out["metadata"] = meta
    return out


def mask_pair(before: Obj | None, after: Obj | None) -> tuple[Obj | None, Obj | None]:
    """Both sides masked; a value that differs shows as changed on the `after` side."""
    if not (is_secret(before) or is_secret(after)):
        return before, after
    masked_before = mask(before) if before is not None else None
    masked_after = mask(after) if after is not None else None
    if before is not None and after is not None and masked_after is not None:
        for name in SECRET_FIELDS:
            old, new = before.get(name), after.get(name)
            if isinstance(old, dict) and isinstance(new, dict):
                masked_after[name] = {k: (MASK if old.get(k) == v else CHANGED) for k, v in new.items()}
    return masked_before, masked_after
