"""`MirrorPolicy` (kubectl-mirror.io/v1alpha1): mirror objects selected by namespace, kind, name
and labels, without any marker on the objects themselves (for Secrets another operator owns).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_mirror.engine.dialects.base import (
    check_namespace_name,
    parse_target_entry,
    selector_target,
    split_list,
)
from kubectl_mirror.engine.globs import GlobError, compile_glob, glob_match
from kubectl_mirror.engine.markers import ACCEPT
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, Target, TransformRule
from kubectl_mirror.engine.names import is_subdomain, quoted
from kubectl_mirror.engine.selectors import Selector, SelectorError, selector_from_struct, to_text
from kubectl_mirror.errors import Ref, SpecError

API_GROUP = "kubectl-mirror.io"
KIND = "MirrorPolicy"
_SPEC_FIELDS = {
    "source",
    "targets",
    "targetSelector",
    "exclude",
    "strategy",
    "onSourceDelete",
    "transform",
    "transformStrict",
}
_SOURCE_FIELDS = {"namespace", "kinds", "names", "selector"}


@dataclass(frozen=True)
class Policy:
    ref: Ref
    namespace: str
    kinds: tuple[str, ...]
    names: tuple[str, ...]
    selector: Selector | None
    spec: MirrorSpec

    def selects(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        if meta.get("namespace") != self.namespace or obj.get("kind") not in self.kinds:
            return False
        name = str(meta.get("name", ""))
        if self.names and not any(glob_match(p, name) for p in self.names):
            return False
        labels = meta.get("labels")
        labels = labels if isinstance(labels, Mapping) else {}
        return self.selector is None or self.selector.matches(labels)


def is_policy(obj: Obj) -> bool:
    return obj.get("kind") == KIND and str(obj.get("apiVersion", "")).startswith(API_GROUP + "/")


def _str_list(value: Any, ref: Ref, path: str) -> list[str]:
    if isinstance(value, str):
        return split_list(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError("must be a list of strings", ref, path)
    return list(value)


def _targets(value: Any, ref: Ref, path: str) -> tuple[Target, ...]:
    return tuple(
        parse_target_entry(e.strip(), ref, f"{path}[{i}]", labeled_key=ACCEPT)
        for i, e in enumerate(_str_list(value, ref, path))
    )


def _choice(spec: Mapping[str, Any], key: str, allowed: tuple[str, ...], ref: Ref) -> str:
    value = spec.get(key, allowed[0])
    if value not in allowed:
        raise SpecError(
            f"unknown value {value!r} (expected one of: {', '.join(allowed)})", ref, f"spec.{key}"
        )
    return str(value)


def _selector(value: Any, ref: Ref, path: str) -> Selector | None:
    if value is None:
        return None
    try:
        return selector_from_struct(value)
    except SelectorError as err:
        raise SpecError(f"invalid label selector: {err}", ref, path) from err


def read_policy(obj: Obj, ref: Ref, options: EngineOptions) -> Policy:
    if not is_subdomain(ref.name):
        # Its name is written on every mirror it makes and in `render --explain` lines.
        raise SpecError(f"{quoted(ref.name)} is not a valid MirrorPolicy name", ref, "metadata.name")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("must be a mapping", ref, "spec")
    unknown = sorted(set(spec) - _SPEC_FIELDS)
    if unknown:
        raise SpecError(f"unknown field {unknown[0]!r}", ref, "spec")
    source = spec.get("source")
    if not isinstance(source, Mapping):
        raise SpecError("is required and must be a mapping", ref, "spec.source")
    unknown = sorted(set(source) - _SOURCE_FIELDS)
    if unknown:
        raise SpecError(f"unknown field {unknown[0]!r}", ref, "spec.source")
    namespace = source.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise SpecError("is required and must be a string", ref, "spec.source.namespace")
    check_namespace_name(namespace, ref, "spec.source.namespace")
    kinds = tuple(_str_list(source.get("kinds", ["ConfigMap", "Secret"]), ref, "spec.source.kinds"))
    names = tuple(_str_list(source.get("names", []), ref, "spec.source.names"))
    for i, pattern in enumerate(names):
        try:
            compile_glob(pattern)
        except GlobError as err:
            raise SpecError(f"invalid glob {pattern!r}: {err}", ref, f"spec.source.names[{i}]") from err
    targets = _targets(spec.get("targets", []), ref, "spec.targets")
    if spec.get("targetSelector") is not None:
        ts = spec["targetSelector"]
        text = ts if isinstance(ts, str) else to_text(_selector(ts, ref, "spec.targetSelector").requirements)  # type: ignore[union-attr]
        targets += (selector_target(text, ref, "spec.targetSelector"),)
    if not targets:
        raise SpecError("policy has no targets or targetSelector", ref, "spec.targets")
    strict = spec.get("transformStrict", False)
    if not isinstance(strict, bool):
        raise SpecError("must be true or false", ref, "spec.transformStrict")
    rules: tuple[TransformRule, ...] = ()
    if spec.get("transform"):
        from kubectl_mirror.engine.transforms import parse_rules

        rules = parse_rules(
            spec["transform"], ref=ref, field_path="spec.transform", syntax="jinja", options=options
        )
    mirror_spec = MirrorSpec(
        dialect="policy",
        targets=targets,
        exclude=_targets(spec.get("exclude", []), ref, "spec.exclude"),
        strategy=_choice(spec, "strategy", ("replace", "merge"), ref),  # type: ignore[arg-type]
        on_source_delete=_choice(spec, "onSourceDelete", ("delete", "orphan"), ref),  # type: ignore[arg-type]
        transforms=rules,
        transform_strict=strict,
        policy=ref,
    )
    return Policy(
        ref=ref,
        namespace=namespace,
        kinds=kinds,
        names=names,
        selector=_selector(source.get("selector"), ref, "spec.source.selector"),
        spec=mirror_spec,
    )
