"""Every custom resource the engine reads as a policy: ours (MirrorPolicy) and other tools'
(ConfigMapSync, ConfigMirror). `render`, the KRM function and the live commands find, read and
scope policies through this one table, so a new kind is added here once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_mirror.engine import policy as mirror_policy
from kubectl_mirror.engine.dialects import configmapsync, configmirror
from kubectl_mirror.engine.model import EngineOptions, Obj
from kubectl_mirror.engine.policy import Policy
from kubectl_mirror.errors import Ref


@dataclass(frozen=True)
class PolicyKind:
    group: str
    kind: str
    namespaced: bool
    is_resource: Callable[[Obj], bool]
    read: Callable[[Obj, Ref, EngineOptions], Policy]
    # Where its sources live, read leniently from the raw object (before it is checked), and
    # which kinds they are: what a live command lists for it.
    source_namespace: Callable[[Obj], str]
    source_kinds: Callable[[Obj], tuple[str, ...]]
    # The finalizer `watch` adds and honours: the other tool's own, so resources that tool left
    # behind are finalized without an edit ("" for MirrorPolicy: deleting it prunes its mirrors).
    finalizer: str = ""


def _mirror_policy_source(obj: Obj) -> dict[str, object]:
    spec = obj.get("spec")
    source = spec.get("source") if isinstance(spec, dict) else None
    return source if isinstance(source, dict) else {}


def _mirror_policy_namespace(obj: Obj) -> str:
    value = _mirror_policy_source(obj).get("namespace")
    return value if isinstance(value, str) else ""


def _mirror_policy_kinds(obj: Obj) -> tuple[str, ...]:
    kinds = _mirror_policy_source(obj).get("kinds")
    if isinstance(kinds, list) and kinds and all(isinstance(k, str) for k in kinds):
        return tuple(kinds)
    return ("ConfigMap", "Secret")


def _configmaps(obj: Obj) -> tuple[str, ...]:
    return ("ConfigMap",)


POLICY_KINDS: tuple[PolicyKind, ...] = (
    PolicyKind(
        mirror_policy.API_GROUP,
        mirror_policy.KIND,
        False,
        mirror_policy.is_policy,
        mirror_policy.read_policy,
        _mirror_policy_namespace,
        _mirror_policy_kinds,
    ),
    PolicyKind(
        configmapsync.GROUP,
        configmapsync.KIND,
        True,
        configmapsync.is_resource,
        configmapsync.read_policy,
        configmapsync.source_namespace_of,
        _configmaps,
        configmapsync.FINALIZER,
    ),
    PolicyKind(
        configmirror.GROUP,
        configmirror.KIND,
        True,
        configmirror.is_resource,
        configmirror.read_policy,
        configmirror.source_namespace_of,
        _configmaps,
        configmirror.FINALIZER,
    ),
)


def policy_kind_of(obj: Obj) -> PolicyKind | None:
    return next((k for k in POLICY_KINDS if k.is_resource(obj)), None)


def policy_kind(group: str, kind: str) -> PolicyKind | None:
    return next((k for k in POLICY_KINDS if k.group == group and k.kind == kind), None)


def is_any_policy(obj: Obj) -> bool:
    return policy_kind_of(obj) is not None


def is_policy_ref(ref: Ref) -> bool:
    """Whether an error or result is about a policy resource (not a source)."""
    group = ref.api_version.split("/", 1)[0] if "/" in ref.api_version else ""
    return any(k.group == group and k.kind == ref.kind for k in POLICY_KINDS)
