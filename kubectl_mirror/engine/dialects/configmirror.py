"""ConfigMirror (mirror.configmirror.io/v1alpha1, sarataha/configmirror-operator), read as a policy
so its users can stop that operator and keep their resources.

The ConfigMaps in `spec.sourceNamespace` that `spec.selector` selects are mirrored into every
namespace of `spec.targetNamespaces`; a deleted or no longer selected source loses its mirrors.
`spec.database` (a PostgreSQL copy of each source) is parsed and checked here and not acted on:
that, the status and the finalizer belong to `watch` (docs/migrate-configmirror.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine.dialects.base import check_namespace_name, labels_of
from kubectl_mirror.engine.dialects.crbase import (
    checked_fields,
    is_kind,
    label_selector,
    namespace_field,
    object_name_field,
    spec_of,
    spec_source_namespace,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, Target
from kubectl_mirror.engine.policy import Database, Policy
from kubectl_mirror.errors import Ref, SpecError

GROUP = "mirror.configmirror.io"
VERSION = "v1alpha1"
KIND = "ConfigMirror"
PLURAL = "configmirrors"
FINALIZER = "mirror.configmirror.io/finalizer"  # the operator's; the watch will own it
# The label the operator puts on its replicas: `<ConfigMirror namespace>.<ConfigMirror name>`.
OWNER = "mirror.configmirror.io/owner"

_FIELDS = frozenset({"sourceNamespace", "targetNamespaces", "selector", "database"})
_DATABASE_FIELDS = frozenset({"enabled", "secretRef"})
_SECRET_REF_FIELDS = frozenset({"name", "namespace"})


def is_resource(obj: Obj) -> bool:
    return is_kind(obj, KIND, GROUP)


source_namespace_of = spec_source_namespace


def read_policy(obj: Obj, ref: Ref, options: EngineOptions) -> Policy:
    spec = spec_of(obj, ref, _FIELDS)
    source_ns = namespace_field(spec, "sourceNamespace", ref, "spec.sourceNamespace")
    targets = _targets(spec.get("targetNamespaces"), ref)
    selector = label_selector(spec.get("selector"), ref, "spec.selector")
    database = _database(spec["database"], ref) if spec.get("database") is not None else None
    return Policy(
        ref=ref,
        namespace=source_ns,
        kinds=("ConfigMap",),
        names=(),
        selector=selector,
        spec=MirrorSpec(
            dialect="configmirror",
            targets=targets,
            strategy="replace",
            on_source_delete="delete",
            policy=ref,
        ),
        combines=True,
        database=database,
    )


def _targets(value: Any, ref: Ref) -> tuple[Target, ...]:
    path = "spec.targetNamespaces"
    if value is None:
        raise SpecError("is required", ref, path)
    if not isinstance(value, list):
        raise SpecError(f"must be a list of namespace names, got {type(value).__name__}", ref, path)
    if not value:
        raise SpecError("must name at least one namespace", ref, path)
    out: list[Target] = []
    for i, entry in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(entry, str):
            raise SpecError(f"must be a string, got {type(entry).__name__}", ref, where)
        check_namespace_name(entry, ref, where)
        if Target("name", entry) not in out:
            out.append(Target("name", entry))
    return tuple(out)


def _database(value: Any, ref: Ref) -> Database:
    path = "spec.database"
    if not isinstance(value, Mapping):
        raise SpecError("must be a mapping", ref, path)
    checked_fields(value, ref, path, _DATABASE_FIELDS)
    enabled = value.get("enabled", True)  # the CRD's default
    if not isinstance(enabled, bool):
        raise SpecError(f"must be true or false, got {type(enabled).__name__}", ref, f"{path}.enabled")
    secret_ref = value.get("secretRef")
    if not isinstance(secret_ref, Mapping):
        raise SpecError("is required and must be a mapping", ref, f"{path}.secretRef")
    checked_fields(secret_ref, ref, f"{path}.secretRef", _SECRET_REF_FIELDS)
    name = object_name_field(secret_ref, "name", ref, f"{path}.secretRef.name")
    namespace = ref.namespace
    if secret_ref.get("namespace") not in (None, ""):
        namespace = namespace_field(secret_ref, "namespace", ref, f"{path}.secretRef.namespace")
    return Database(enabled=enabled, secret_name=name, secret_namespace=namespace)


def is_copy(obj: Obj) -> bool:
    return OWNER in labels_of(obj)
