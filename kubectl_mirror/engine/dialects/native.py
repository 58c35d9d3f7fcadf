"""Our own markers, prefix `kubectl-mirror.io/` (docs/markers.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects.base import (
    Dialect,
    annotations_of,
    choice,
    field_of,
    gate,
    labels_of,
    parse_target_list,
    selector_target,
    string_marker,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, TransformRule
from kubectl_mirror.errors import Ref, SpecError

STRATEGIES = {"replace": "replace", "merge": "merge"}
ON_DELETE = {"delete": "delete", "orphan": "orphan"}


def read_source(obj: Obj, ref: Ref, options: EngineOptions) -> MirrorSpec | None:
    if not gate(labels_of(obj), m.SOURCE_LABEL, ref, label=True):
        return None
    ann = annotations_of(obj)
    targets_text = string_marker(ann, m.TARGETS, ref)
    selector_text = string_marker(ann, m.TARGET_SELECTOR, ref)
    if not (targets_text or "").strip() and not (selector_text or "").strip():
        raise SpecError(
            f"source has no {m.TARGETS} or {m.TARGET_SELECTOR} annotation",
            ref,
            field_of(m.TARGETS),
        )
    targets = parse_target_list(targets_text or "", ref, field_of(m.TARGETS), labeled_key=m.ACCEPT)
    if (selector_text or "").strip():
        targets += (selector_target(selector_text or "", ref, field_of(m.TARGET_SELECTOR)),)
    exclude = parse_target_list(
        string_marker(ann, m.EXCLUDE, ref) or "", ref, field_of(m.EXCLUDE), labeled_key=m.ACCEPT
    )
    transform_text = string_marker(ann, m.TRANSFORM, ref)
    rules: tuple[TransformRule, ...] = ()
    if transform_text and transform_text.strip():
        from kubectl_mirror.engine.transforms import parse_rules

        rules = parse_rules(
            transform_text,
            ref=ref,
            field_path=field_of(m.TRANSFORM),
            syntax="jinja",
            options=options,
        )
    return MirrorSpec(
        dialect="native",
        targets=targets,
        exclude=exclude,
        strategy=choice(ann, m.STRATEGY, ref, STRATEGIES, "replace"),  # type: ignore[arg-type]
        on_source_delete=choice(ann, m.ON_SOURCE_DELETE, ref, ON_DELETE, "delete"),  # type: ignore[arg-type]
        transforms=rules,
        transform_strict=_strict(ann, ref),
    )


def _strict(ann: Mapping[str, Any], ref: Ref) -> bool:
    value = string_marker(ann, m.TRANSFORM_STRICT, ref)
    if value is None:
        return False
    if value.strip().lower() not in ("true", "false"):
        raise SpecError(f'must be "true" or "false", got {value!r}', ref, field_of(m.TRANSFORM_STRICT))
    return value.strip().lower() == "true"


NATIVE = Dialect(
    name="native",
    source_selector=f"{m.SOURCE_LABEL}=true",
    read_source=read_source,
)
