"""Small helpers over object dicts shared by the verb implementations.

Timestamps, uid/name generation, the server-owned metadata, `generation` bookkeeping, Secret
`stringData` folding and the default `status` of the kinds that have one. Pure functions;
they return new dicts and never mutate their inputs.
"""

from __future__ import annotations

import base64
import datetime
import random
import uuid
from typing import Any

from .resources import ResourceType

# Filled in by the server, kept across updates whatever the client sends.
PRESERVED_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix + "".join(random.choice(_NAME_CHARS) for _ in range(5))


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, dict) else {}


def without_meta_time(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as compared to decide whether a write changed anything."""
    m = dict(meta(obj))
    m.pop("resourceVersion", None)
    m["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in m.get("managedFields") or []]
    return {**obj, "metadata": m}


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """What `generation` tracks: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def fold_string_data(obj: dict[str, Any]) -> dict[str, Any]:
    """Secret `stringData` is merged into `data` on write and never stored."""
    if "stringData" not in obj:
        return obj
    out = {k: v for k, v in obj.items() if k != "stringData"}
    data = dict(out.get("data") or {})
    for key, value in (obj.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    out["data"] = data
    return out


def default_status(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The status a freshly created object gets, or None to leave it absent."""
    if rt.key == "namespaces":
        return {"phase": "Active"}
    if rt.key == "pods":
        return {"phase": "Pending", "qosClass": "BestEffort"}
    if rt.key == "services":
        return {"loadBalancer": {}}
    if rt.key == "deployments.apps":
        return {}
    if rt.key == "customresourcedefinitions.apiextensions.k8s.io":
        return crd_status(obj)
    return None


def crd_status(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    stamp = now()
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": stamp,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": stamp,
            },
        ],
        "storedVersions": storage,
    }


def with_api_version(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    if obj.get("apiVersion") == api_version:
        return obj
    return {**obj, "apiVersion": api_version}


def list_item(rt: ResourceType, obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    """Typed lists carry no kind/apiVersion on items; custom resource lists do."""
    if rt.custom:
        return with_api_version(obj, api_version)
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
