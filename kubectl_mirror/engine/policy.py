"""`MirrorPolicy` (kubectl-mirror.io/v1alpha1): mirror objects selected by namespace, kind, name
and labels, without any marker on the objects themselves (for Secrets another operator owns).

`Policy` is also what the custom resources of other tools parse into (ConfigMapSync,
ConfigMirror: engine/dialects/configmapsync.py, configmirror.py), and `chosen_spec` is the one
rule for an object that several policies select.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kubectl_mirror.engine.dialects.base import (
    check_namespace_name,
    parse_target_entry,
    selector_target,
    split_list,
)
from kubectl_mirror.engine.globs import GlobError, compile_glob, glob_match
from kubectl_mirror.engine.markers import ACCEPT
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, ObjectKey, Target, TransformRule
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


_CORE_KINDS = ("ConfigMap", "Secret")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Database:
    """ConfigMirror's `spec.database`: checked, not acted on (its PostgreSQL copy is the watch's
    part, still to come). `secret_namespace` is already defaulted to the ConfigMirror's own."""

    enabled: bool
    secret_name: str
    secret_namespace: str


@dataclass(frozen=True)
class Policy:
    """A custom resource that selects sources: a MirrorPolicy, or another tool's (ConfigMapSync,
    ConfigMirror). `ref` is the resource itself; `namespace`, `kinds`, `names` (globs) and
    `selector` pick the sources; `spec` is what each of them asks for.

    `combines`: the policy names exact target namespaces and one object may be selected by
    several such policies (ConfigMapSync is one ConfigMap into one namespace): their targets add
    up instead of the first one winning (`chosen_spec`)."""

    ref: Ref
    namespace: str
    kinds: tuple[str, ...]
    names: tuple[str, ...]
    selector: Selector | None
    spec: MirrorSpec
    combines: bool = False
    database: Database | None = None

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

    @property
    def key(self) -> ObjectKey:
        """The policy resource's own key (a watch indexes its policies by it)."""
        api_version = self.ref.api_version
        group = api_version.split("/", 1)[0] if "/" in api_version else "core"
        return ObjectKey(group, self.ref.kind, self.ref.namespace, self.ref.name)

    def sources(self) -> tuple[ObjectKey, ...]:
        """The sources it names exactly (a ConfigMapSync's one ConfigMap), so a watch can find
        them without a list; () when it selects by glob, label selector or kind alone."""
        exact = self.names and not any(_GLOB_CHARS & set(n) for n in self.names)
        if self.selector is not None or not exact or not set(self.kinds) <= set(_CORE_KINDS):
            return ()
        return tuple(ObjectKey("core", k, self.namespace, n) for k in self.kinds for n in self.names)

    def places(self, source: ObjectKey) -> tuple[ObjectKey, ...]:
        """Where it asks for `source`'s mirrors by explicit name. Rendering still applies every
        rule (never the source's own namespace, only namespaces that exist live, exclusions),
        so a place may stay empty; patterns and selectors are not expanded here."""
        named = sorted({t.value for t in self.spec.targets if t.kind == "name"} - {source.namespace})
        return tuple(source._replace(namespace=ns) for ns in named)


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


def policy_text(ref: Ref) -> str:
    """How a mirror names the policy that asked for it (`kubectl-mirror.io/policy`): a
    MirrorPolicy by its name, as always; another tool's namespaced resource by kind, namespace
    and name (`ConfigMapSync team-a/settings`), so two kinds cannot be told apart wrongly."""
    if ref.kind == KIND and str(ref.api_version).startswith(API_GROUP + "/"):
        return ref.name
    return ref.describe()


def _order(policy: Policy) -> tuple[bool, str, str, str]:
    # Ours first (MirrorPolicies do not combine), then by name: the same order everywhere.
    return (policy.combines, policy.ref.name, policy.ref.namespace, policy.ref.kind)


def chosen_spec(policies: Sequence[Policy]) -> tuple[MirrorSpec, tuple[Policy, ...]]:
    """The spec of an object that every one of `policies` (not empty) selects, and the policies
    that make it; the others are ignored for it (the caller warns).

    A MirrorPolicy wins over other tools' policies, and the first MirrorPolicy by name wins
    alone. Without one, every policy that combines adds its target namespaces (a namespace two
    of them name belongs to the first); if any of them orphans mirrors when their source is
    deleted, these mirrors are orphaned too: keeping is the choice that cannot lose data."""
    ordered = sorted(policies, key=_order)
    first = ordered[0]
    if not first.combines:
        return first.spec, (first,)
    used = tuple(p for p in ordered if p.combines)
    if len(used) == 1:
        return first.spec, used
    targets: list[Target] = []
    asked: list[tuple[str, Ref]] = []
    for policy in used:
        for target in policy.spec.targets:
            if target not in targets:
                targets.append(target)
                asked.append((target.value, policy.ref))
    orphan = any(p.spec.on_source_delete == "orphan" for p in used)
    spec = replace(
        first.spec,
        targets=tuple(targets),
        on_source_delete="orphan" if orphan else "delete",
        target_policies=tuple(asked),
    )
    return spec, used
