"""emberstack Reflector's annotations, read so its users can switch without relabeling.

Two forms. Push ("auto mirrors"): a source with `reflection-allowed` and `reflection-auto-enabled`
is copied to every namespace that both lists allow. Pull: an object annotated
`reflects: <ns>/<name>` is filled from that source when the source allows its namespace.

List entries are regexes that must match the whole namespace name; an empty or missing list means
every namespace (Reflector's documented default), which our protected namespaces still limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine.dialects.base import (
    Dialect,
    annotations_of,
    field_of,
    gate,
    parse_pull_ref,
    parse_regex_list,
    regex_list_matches,
    selector_target,
    string_marker,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, PullRef, Target
from kubectl_mirror.engine.selectors import Requirement, parse_selector, to_text
from kubectl_mirror.errors import Ref, SpecError

PREFIX = "reflector.v1.k8s.emberstack.com/"
ALLOWED = PREFIX + "reflection-allowed"
ALLOWED_NAMESPACES = PREFIX + "reflection-allowed-namespaces"
ALLOWED_SELECTOR = PREFIX + "reflection-allowed-namespaces-selector"
AUTO_ENABLED = PREFIX + "reflection-auto-enabled"
AUTO_NAMESPACES = PREFIX + "reflection-auto-namespaces"
AUTO_SELECTOR = PREFIX + "reflection-auto-namespaces-selector"
REFLECTS = PREFIX + "reflects"
# Written by Reflector on the mirrors it fills or creates.
AUTO_REFLECTS = PREFIX + "auto-reflects"
REFLECTED_VERSION = PREFIX + "reflected-version"
REFLECTED_AT = PREFIX + "reflected-at"
MIRROR_MARKERS = (REFLECTS, AUTO_REFLECTS, REFLECTED_VERSION, REFLECTED_AT)

KINDS = ("Secret", "ConfigMap")

_NEGATED = {"in": "notin", "notin": "in", "exists": "!exists", "!exists": "exists"}


def read_source(obj: Obj, ref: Ref, options: EngineOptions) -> MirrorSpec | None:
    ann = annotations_of(obj)
    if REFLECTS in ann or not (gate(ann, ALLOWED, ref) and gate(ann, AUTO_ENABLED, ref)):
        return None
    auto = _namespace_set(ann, AUTO_NAMESPACES, AUTO_SELECTOR, ref)
    return MirrorSpec(
        dialect="reflector",
        # Auto mirrors go where both lists allow: the auto list picks, the allowed list's
        # complement excludes (exclusion always wins, so this is exactly the intersection).
        targets=auto or (Target("all"),),
        exclude=_outside_allowed(ann, ref),
        strategy="replace",
        on_source_delete="delete",
    )


def _namespace_set(ann: Mapping[str, Any], list_key: str, selector_key: str, ref: Ref) -> tuple[Target, ...]:
    """The namespaces a pattern list and a selector select together (OR); () for "every one"."""
    targets = parse_regex_list(string_marker(ann, list_key, ref) or "", ref, field_of(list_key))
    selector = (string_marker(ann, selector_key, ref) or "").strip()
    if selector:
        targets += (selector_target(selector, ref, field_of(selector_key)),)
    return targets


def _outside_allowed(ann: Mapping[str, Any], ref: Ref) -> tuple[Target, ...]:
    """Exclude entries matching every namespace `reflection-allowed-namespaces(-selector)` does
    not allow; () when it allows every namespace."""
    allowed = _namespace_set(ann, ALLOWED_NAMESPACES, ALLOWED_SELECTOR, ref)
    # Names are DNS labels (no regex metacharacters): each is also a regex matching only itself.
    patterns = [t.value for t in allowed if t.kind != "selector"]
    selectors = [t.value for t in allowed if t.kind == "selector"]
    if not allowed:
        return ()
    if patterns and selectors:
        raise SpecError(
            f"auto mirrors allowed by both {ALLOWED_NAMESPACES} and {ALLOWED_SELECTOR} cannot be "
            "resolved exactly; use one of them",
            ref,
            field_of(ALLOWED_SELECTOR),
        )
    if patterns:
        return (Target("outside", ",".join(patterns)),)
    # not (r1 and r2 ...) == (not r1) or (not r2) ...: one exclude entry per negated requirement.
    return tuple(Target("selector", to_text([_negate(r)])) for r in parse_selector(selectors[0]).requirements)


def _negate(req: Requirement) -> Requirement:
    return Requirement(req.key, _NEGATED[req.op], req.values)  # type: ignore[arg-type]


def read_pull(obj: Obj, ref: Ref) -> PullRef | None:
    text = string_marker(annotations_of(obj), REFLECTS, ref)
    if text is None:
        return None
    return parse_pull_ref(text, ref, field_of(REFLECTS), dialect="reflector")


def allows_pull(source: Obj, namespace: str) -> bool:
    """Reflector's `CanBeReflectedToNamespace`: allowed, and the namespace is in the list (an
    empty list allows all). Only the name is known here, so a namespace the selector alone would
    allow is refused (fail closed)."""
    ann = annotations_of(source)
    if not gate(ann, ALLOWED, Ref.of(source)):
        return False
    patterns = _text(ann, ALLOWED_NAMESPACES)
    selector = _text(ann, ALLOWED_SELECTOR)
    if not patterns.strip() and not selector.strip():
        return True
    return regex_list_matches(patterns, namespace)


def _text(ann: Mapping[str, Any], key: str) -> str:
    value = ann.get(key)
    return value if isinstance(value, str) else ""


def is_foreign_mirror(obj: Obj) -> bool:
    ann = annotations_of(obj)
    return any(key in ann for key in MIRROR_MARKERS)


REFLECTOR = Dialect(
    name="reflector",
    source_selector="",
    read_source=read_source,
    kinds=KINDS,
    read_pull=read_pull,
    allows_pull=allows_pull,
    is_foreign_mirror=is_foreign_mirror,
    tool="Reflector",
)
