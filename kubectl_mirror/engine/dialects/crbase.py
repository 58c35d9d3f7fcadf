"""What reading another tool's custom resource (ConfigMapSync, ConfigMirror) shares: each field
checked on its own, and every bad value one error naming the resource and the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine.dialects.base import check_namespace_name
from kubectl_mirror.engine.model import Obj
from kubectl_mirror.engine.names import is_subdomain, quoted
from kubectl_mirror.engine.selectors import Selector, SelectorError, selector_from_struct
from kubectl_mirror.errors import Ref, SpecError

SUBDOMAIN_RULE = "lowercase letters, digits, '-' and '.', at most 253"


def spec_of(obj: Mapping[str, Any], ref: Ref, fields: frozenset[str]) -> Mapping[str, Any]:
    """`spec`, a mapping of known fields only; the resource's own name is checked too (it is
    written on every mirror it asks for)."""
    if not is_subdomain(ref.name):
        raise SpecError(f"{quoted(ref.name)} is not a valid {ref.kind} name", ref, "metadata.name")
    if ref.namespace:
        check_namespace_name(ref.namespace, ref, "metadata.namespace")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required and must be a mapping", ref, "spec")
    return checked_fields(spec, ref, "spec", fields)


def checked_fields(
    value: Mapping[str, Any], ref: Ref, path: str, fields: frozenset[str]
) -> Mapping[str, Any]:
    unknown = sorted(str(k) for k in value if k not in fields)
    if unknown:
        raise SpecError(f"unknown field {unknown[0]!r}", ref, path)
    return value


def required_string(spec: Mapping[str, Any], key: str, ref: Ref, path: str) -> str:
    value = spec.get(key)
    if value is None or value == "":
        raise SpecError("is required", ref, path)
    if not isinstance(value, str):
        raise SpecError(f"must be a string, got {type(value).__name__}", ref, path)
    return value


def namespace_field(spec: Mapping[str, Any], key: str, ref: Ref, path: str) -> str:
    value = required_string(spec, key, ref, path)
    check_namespace_name(value, ref, path)
    return value


def object_name_field(spec: Mapping[str, Any], key: str, ref: Ref, path: str) -> str:
    value = required_string(spec, key, ref, path)
    if not is_subdomain(value):
        raise SpecError(f"{quoted(value)} is not a valid object name ({SUBDOMAIN_RULE})", ref, path)
    return value


def label_selector(value: Any, ref: Ref, path: str) -> Selector:
    """A structured LabelSelector (`matchLabels`, `matchExpressions`); `{}` selects everything,
    as the API server's LabelSelectorAsSelector reads it."""
    if value is None:
        raise SpecError("is required", ref, path)
    try:
        return selector_from_struct(value)
    except SelectorError as err:
        raise SpecError(f"invalid label selector: {err}", ref, path) from err


def is_kind(obj: Obj, kind: str, group: str) -> bool:
    return obj.get("kind") == kind and str(obj.get("apiVersion", "")).startswith(group + "/")


def spec_source_namespace(obj: Obj) -> str:
    """`spec.sourceNamespace`, read leniently (for scoping lists before anything is checked)."""
    spec = obj.get("spec")
    value = spec.get("sourceNamespace") if isinstance(spec, dict) else None
    return value if isinstance(value, str) else ""
