"""A minimal OpenAPI v3 index, just enough for kubectl.

kubectl reads `/openapi/v3` to learn whether the server validates fields itself
(`fieldValidation` on each kind's PATCH). When it finds it, `kubectl apply`/`create -f`
send `fieldValidation=Strict` and skip client-side schema validation, which would need
full schemas. No request bodies are described, so client-side apply computes its strategic
merge patch from kubectl's compiled-in types. `/openapi/v2` stays 404. No schemas.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import Registry, ResourceType

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            gv = _gv_path(group, version)
            digest = hashlib.sha256(
                repr(sorted(rt.key for rt in registry.all() if rt.group == group)).encode()
            ).hexdigest()
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest[:32].upper()}"}
    return {"paths": paths}


def _patch_op(rt: ResourceType, version: str) -> dict[str, Any]:
    return {
        "operationId": f"patch{rt.kind}",
        "parameters": [{"name": q, "in": "query", "schema": {"type": "string"}} for q in _QUERY],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": version, "kind": rt.kind},
    }


def group_version(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    chosen = [rt for rt in registry.all() if rt.group == group and version in rt.versions]
    if not chosen:
        return None
    prefix = "/" + _gv_path(group, version)
    paths = {}
    for rt in chosen:
        scope = f"{prefix}/namespaces/{{namespace}}" if rt.namespaced else prefix
        paths[f"{scope}/{rt.plural}/{{name}}"] = {"patch": _patch_op(rt, version)}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": {}},
    }
