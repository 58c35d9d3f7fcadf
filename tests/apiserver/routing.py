"""URL → what is asked: a discovery document, or a resource request with its verb.

Understands `/api/v1/...` and `/apis/<group>/<version>/...`, namespaced and cluster paths,
`/status` subresources, and `?watch=true`. Pure: it reads the registry, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import errors
from .resources import Registry, ResourceType

NAMESPACE_SUBRESOURCES = ("status",)


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str


@dataclass(frozen=True)
class Discovery:
    parts: tuple[str, ...]  # the path split on "/"


def parse(registry: Registry, path: str) -> Target | Discovery:
    parts = tuple(p for p in path.strip("/").split("/") if p)
    if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
        return _target(registry, "", "v1", parts[2:])
    if len(parts) >= 4 and parts[0] == "apis":
        return _target(registry, parts[1], parts[2], parts[3:])
    return Discovery(parts)


def _target(registry: Registry, group: str, version: str, rest: tuple[str, ...]) -> Target:
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES)
    ):
        namespace: str | None = rest[1]
        plural, tail = rest[2], rest[3:]
    else:
        namespace, plural, tail = None, rest[0], rest[1:]
    rt = registry.lookup(group, version, plural)
    if rt is None or len(tail) > 2:
        raise errors.path_not_found()
    if namespace is not None and not rt.namespaced:
        raise errors.path_not_found()
    name = tail[0] if tail else None
    if rt.namespaced and namespace is None and name is not None:
        raise errors.path_not_found()
    subresource = tail[1] if len(tail) == 2 else ""
    if subresource and not (subresource == "status" and rt.has_status):
        raise errors.path_not_found()
    return Target(rt, version, namespace, name, subresource)


def verb(method: str, target: Target, watch: bool) -> str:
    if method == "GET":
        if target.name is None:
            return "watch" if watch else "list"
        return "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if target.name is not None else "deletecollection"
    raise errors.method_not_allowed()
