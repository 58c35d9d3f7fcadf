"""Which names and metadata the engine accepts, checked where they enter: Namespace objects,
`--namespaces`, explicit targets, the sources themselves.

A name is written into a mirror, into file paths by `--output-dir`, and into `render --explain`
lines; an invalid one makes a manifest the API server rejects, or forges a line of output. The
rules are the API server's: DNS-1123 labels for namespaces, DNS-1123 subdomains for the names of
ConfigMaps, Secrets and the like, and for any other kind at least what a URL path segment allows.
Patterns are anchored with fullmatch: `$` would also accept a name with a trailing newline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine.selectors import SelectorError, check_key, check_value
from kubectl_mirror.errors import InputError, Ref

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
_API_VERSION = re.compile(r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[a-z0-9]{1,63}")
MAX_NAME = 253
# Kinds whose names the API server validates as DNS-1123 subdomains.
SUBDOMAIN_KINDS = frozenset({"ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim"})

NAMESPACE_RULE = "lowercase letters, digits and '-', at most 63"


def is_namespace_name(name: object) -> bool:
    return isinstance(name, str) and _DNS1123_LABEL.fullmatch(name) is not None


def is_subdomain(name: object) -> bool:
    return isinstance(name, str) and _DNS1123_SUBDOMAIN.fullmatch(name) is not None


def quoted(text: str, limit: int = 80) -> str:
    """`text` for a message: repr-escaped (no control character reaches a terminal) and cut."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_namespace(name: str, ref: Ref, field_path: str) -> None:
    if not is_namespace_name(name):
        raise InputError(f"{quoted(name)} is not a valid namespace name ({NAMESPACE_RULE})", ref, field_path)


def object_name_problem(kind: str, name: str) -> str:
    """Why `name` cannot be the name of a `kind` object, or "" when it can."""
    if kind in SUBDOMAIN_KINDS:
        if is_subdomain(name):
            return ""
        rule = "lowercase letters, digits, '-' and '.', at most 253"
        return f"{quoted(name)} is not a valid {kind} name ({rule})"
    if len(name) > MAX_NAME:
        return f"{quoted(name)} is longer than {MAX_NAME} characters"
    if name in (".", "..") or "/" in name or "%" in name:
        return f"{quoted(name)} is not a valid object name (no '/', '%', '.' or '..')"
    if not name.isprintable() or any(ch.isspace() for ch in name):
        return f"{quoted(name)} is not a valid object name (no spaces or control characters)"
    return ""


def check_source_identity(obj: Mapping[str, Any], ref: Ref) -> None:
    """What a mirror copies verbatim from its source: apiVersion, kind, name and namespace."""
    kind = str(obj.get("kind", ""))
    if not _KIND.fullmatch(kind):
        raise InputError(f"{quoted(kind)} is not a kind name (letters and digits)", ref, "kind")
    api_version = str(obj.get("apiVersion", ""))
    if not _API_VERSION.fullmatch(api_version):
        raise InputError(f"{quoted(api_version)} is not an apiVersion (group/version)", ref, "apiVersion")
    meta = obj.get("metadata") or {}
    problem = object_name_problem(kind, str(meta.get("name", "")))
    if problem:
        raise InputError(problem, ref, "metadata.name")
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace:
        check_namespace(namespace, ref, "metadata.namespace")


def check_metadata_maps(obj: Mapping[str, Any], ref: Ref) -> None:
    """Labels and annotations of an object we copy: string keys the API server accepts, string
    values (YAML types `true` or `1` unless quoted), label values in the label syntax."""
    meta = obj.get("metadata") or {}
    for where in ("labels", "annotations"):
        values = meta.get(where)
        if not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            field_path = f"metadata.{where}"
            if not isinstance(key, str):
                raise InputError(f"keys must be strings, found {type(key).__name__} {key!r}", ref, field_path)
            try:
                check_key(key)
            except SelectorError:
                raise InputError(f"{quoted(key)} is not a valid {where[:-1]} key", ref, field_path) from None
            field_path = f'metadata.{where}["{key}"]'
            if not isinstance(value, str):
                raise InputError(
                    f"must be a string, got {type(value).__name__} (quote it in YAML)", ref, field_path
                )
            if where == "labels":
                try:
                    check_value(value)
                except SelectorError:
                    raise InputError(f"{quoted(value)} is not a valid label value", ref, field_path) from None
