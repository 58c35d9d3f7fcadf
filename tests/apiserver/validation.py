"""The validation the real server does that mirroring trips over.

Object names (DNS-1123 subdomain/label, DNS-1035 label, path segment), label keys and values,
annotation size, ConfigMap/Secret keys and 1 MiB data limit, Secret `type` immutability,
`immutable: true` ConfigMaps and Secrets, CRD naming. Failures raise `ApiError` 422 with the
real `causes`. No schema (OpenAPI) validation: objects of other shapes are accepted as sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from . import errors
from .resources import ResourceType
from .selectors import label_key_problem, label_value_problem

Cause = tuple[str, str, str]  # (reason, field, message)

MAX_DATA_BYTES = 1024 * 1024
MAX_ANNOTATION_BYTES = 256 * 1024

_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)

SECRET_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def name_problem(name: str, rule: str) -> str | None:
    if rule == "segment":
        if name in (".", ".."):
            return f"may not be '{name}'"
        for bad in ("/", "%"):
            if bad in name:
                return f"may not contain '{bad}'"
        return None
    limit = 253 if rule == "subdomain" else 63
    if len(name) > limit:
        return f"must be no more than {limit} characters"
    pattern, message = {
        "subdomain": (_SUBDOMAIN_RE, _SUBDOMAIN_MSG),
        "label": (_LABEL_RE, _LABEL_MSG),
        "dns1035": (_DNS1035_RE, _DNS1035_MSG),
    }[rule]
    return None if pattern.match(name) else message


def _invalid(value: str, message: str) -> str:
    return f'Invalid value: "{value}": {message}'


def meta_causes(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    name = meta.get("name") or ""
    if not name:
        causes.append(
            (
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
    elif problem := name_problem(name, rt.name_rule):
        causes.append(("FieldValueInvalid", "metadata.name", _invalid(name, problem)))
    for key, value in (meta.get("labels") or {}).items():
        if problem := label_key_problem(str(key)):
            causes.append(("FieldValueInvalid", "metadata.labels", _invalid(key, problem)))
        if not isinstance(value, str):
            causes.append(("FieldValueInvalid", "metadata.labels", _invalid(str(value), "must be a string")))
        elif problem := label_value_problem(value):
            causes.append(("FieldValueInvalid", "metadata.labels", _invalid(value, problem)))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        if problem := label_key_problem(str(key)):
            causes.append(("FieldValueInvalid", "metadata.annotations", _invalid(key, problem)))
    size = sum(len(k) + len(str(v)) for k, v in annotations.items())
    if size > MAX_ANNOTATION_BYTES:
        causes.append(
            (
                "FieldValueTooLong",
                "metadata.annotations",
                f"Too long: must have at most {MAX_ANNOTATION_BYTES} bytes",
            )
        )
    return causes


def _key_causes(field: str, data: dict[str, Any]) -> list[Cause]:
    return [
        ("FieldValueInvalid", f"{field}[{k}]", _invalid(k, _CONFIG_KEY_MSG))
        for k in data
        if len(k) > 253 or not _CONFIG_KEY_RE.match(k)
    ]


def configmap_causes(obj: dict[str, Any]) -> list[Cause]:
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    causes = _key_causes("data", data) + _key_causes("binaryData", binary)
    causes += [
        ("FieldValueInvalid", f"data[{k}]", _invalid(k, "duplicate of key present in binaryData"))
        for k in data
        if k in binary
    ]
    size = sum(len(k) + len(str(v).encode()) for k, v in data.items())
    size += sum(len(k) + len(base64.b64decode(str(v))) for k, v in binary.items())
    if size > MAX_DATA_BYTES:
        causes.append(("FieldValueTooLong", "[]", f"Too long: must have at most {MAX_DATA_BYTES} bytes"))
    return causes


def decode_secret_data(obj: dict[str, Any]) -> None:
    """Secret values must be base64; the real server fails to decode them with 400."""
    for value in (obj.get("data") or {}).values():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as err:
            raise errors.bad_request(f'Secret in version "v1" cannot be handled as a Secret: {err}') from err


def secret_causes(obj: dict[str, Any]) -> list[Cause]:
    data = obj.get("data") or {}
    causes = _key_causes("data", data)
    size = sum(len(base64.b64decode(str(v))) for v in data.values())
    if size > MAX_DATA_BYTES:
        causes.append(("FieldValueTooLong", "data", f"Too long: must have at most {MAX_DATA_BYTES} bytes"))
    for key in SECRET_REQUIRED_KEYS.get(obj.get("type", "Opaque"), ()):
        if key not in data:
            causes.append(("FieldValueRequired", f"data[{key}]", "Required value"))
    return causes


def immutability_causes(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if kind == "Secret" and old.get("type", "Opaque") != new.get("type", "Opaque"):
        causes.append(
            ("FieldValueInvalid", "type", _invalid(new.get("type", "Opaque"), "field is immutable"))
        )
    if old.get("immutable") is True:
        fields = ("data", "binaryData") if kind == "ConfigMap" else ("data",)
        for field in fields:
            if (old.get(field) or {}) != (new.get(field) or {}):
                causes.append(
                    (
                        "FieldValueForbidden",
                        field,
                        "Forbidden: field is immutable when `immutable` is set",
                    )
                )
        if new.get("immutable") is not True:
            causes.append(
                (
                    "FieldValueForbidden",
                    "immutable",
                    "Forbidden: field is immutable when `immutable` is set",
                )
            )
    return causes


def crd_causes(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    causes: list[Cause] = []
    for field, value in (
        ("spec.group", spec.get("group")),
        ("spec.names.plural", names.get("plural")),
        ("spec.names.kind", names.get("kind")),
    ):
        if not value:
            causes.append(("FieldValueRequired", field, "Required value"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(("FieldValueRequired", "spec.versions", "Required value"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    if spec.get("scope", "Namespaced") not in ("Namespaced", "Cluster"):
        causes.append(("FieldValueNotSupported", "spec.scope", f'Unsupported value: "{spec.get("scope")}"'))
    name = (obj.get("metadata") or {}).get("name", "")
    if names.get("plural") and spec.get("group") and name != f"{names['plural']}.{spec['group']}":
        causes.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                _invalid(name, 'must be spec.names.plural+"."+spec.group'),
            )
        )
    return causes


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise 422 if `obj` (a create when `old` is None, else an update) is invalid."""
    causes = meta_causes(rt, obj)
    if rt.key == "configmaps":
        causes += configmap_causes(obj)
    elif rt.key == "secrets":
        causes += secret_causes(obj)
    elif rt.key == "customresourcedefinitions.apiextensions.k8s.io":
        causes += crd_causes(obj)
    if old is not None:
        causes += immutability_causes(rt.kind, old, obj)
        causes += finalizer_causes(old, obj)
    if causes:
        name = (obj.get("metadata") or {}).get("name", "")
        raise errors.invalid(rt.kind, rt.group, name, causes)


def finalizer_causes(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    if not old["metadata"].get("deletionTimestamp"):
        return []
    before = set(old["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
    if not added:
        return []
    shown = ", ".join(f'"{f}"' for f in added)
    return [
        (
            "FieldValueForbidden",
            "metadata.finalizers",
            "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers []string{{{shown}}}",
        )
    ]
