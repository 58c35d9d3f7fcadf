"""Text operations that refuse, before allocating, a result larger than a template may produce.

Both template languages offer `replace`, the one function that can multiply text; Go templates
and the Jinja sandbox share this so their limits agree, without one importing the other.
"""

from __future__ import annotations

from kubectl_mirror.errors import TransformError


def bounded_replace(text: str, old: str, new: str, *, limit: int, count: int = -1) -> str:
    """`text.replace(old, new, count)`, refused before allocating a result over `limit` chars."""
    hits = text.count(old)
    if count >= 0:
        hits = min(hits, count)
    size = len(text) + hits * (len(new) - len(old))
    if size > limit:
        raise TransformError(f"replace would produce {size} characters (limit {limit})")
    return text.replace(old, new, count)
