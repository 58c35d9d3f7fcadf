"""Secret values never leave the tool unmasked: in diffs, status and logs they are replaced,
keeping only whether a value changed; in error and warning messages about a Secret, every string
the Secret holds is replaced wherever a message happens to quote it."""

from __future__ import annotations

import base64
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


# A value shorter than this is not worth hiding and would garble every message that happens to
# contain it (a Secret holding "a" or "true").
MIN_SECRET_CHARS = 4


def secret_strings(obj: Any) -> tuple[str, ...]:
    """Every form in which a value of Secret `obj` could be quoted in a message: the base64 text
    of `data`, its decoded text, `stringData`, each also as repr() escapes it. Longest first, so
    a value containing another is hidden whole. () for anything but a Secret."""
    if not is_secret(obj):
        return ()
    found: set[str] = set()
    for name in SECRET_FIELDS:
        values = obj.get(name)
        if not isinstance(values, dict):
            continue
        for value in values.values():
            if not isinstance(value, str):
                continue
            found.add(value)
            if name == "data":
                found.update(_decoded(value))
    forms = {form for text in found for form in (text, repr(text)[1:-1]) if len(form) >= MIN_SECRET_CHARS}
    return tuple(sorted(forms, key=lambda s: (-len(s), s)))


def _decoded(value: str) -> tuple[str, ...]:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return ()
    text = raw.decode("utf-8", "replace")
    return (text, *(line for line in text.splitlines() if line.strip()))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every occurrence of every secret string replaced by MASK."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
