"""`can-i`'s cluster side: the objects to judge, their previous versions, and the answers of
SelfSubjectAccessReview for what `engine.permissions` says they need.

Everything here runs as the requesting user (or whom `--as` names), who may be a tenant that can
read one namespace only: nothing lists cluster-wide, and a kind the user may not list is
reported, not fatal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubectl_mirror.engine.dialects import configmapsync, configmirror
from kubectl_mirror.engine.dialects.registry import DIALECTS
from kubectl_mirror.engine.model import EngineOptions, Obj
from kubectl_mirror.engine.permissions import Check
from kubectl_mirror.engine.policy import API_GROUP, KIND
from kubectl_mirror.errors import ClusterError, ForbiddenError
from kubectl_mirror.io.cluster import Cluster, Resource
from kubectl_mirror.live.state import Scope, mirrorable

REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class Candidate:
    """An object to judge, what it is served as, and its version in the cluster, if any."""

    obj: Obj
    resource: Resource
    old: Obj | None = None


def in_cluster(cluster: Cluster, scope: Scope, skipped: list[str]) -> Iterator[Candidate]:
    """Every object in `scope` that a dialect may read as a source or a pull (of the kinds that
    may be mirrored without --allow-kinds), every MirrorPolicy reading from it, and the
    ConfigMapSyncs and ConfigMirrors in it. Kinds the user may not list are appended to
    `skipped`."""
    served = cluster.resources()
    for resource in mirrorable(served, EngineOptions()):
        selectors = _selectors_for(resource.kind)
        for selector in selectors:
            label_selector = ",".join(s for s in (selector, scope.selector) if s) or None
            try:
                found, _ = cluster.list(resource, namespace=scope.namespace, label_selector=label_selector)
            except ForbiddenError:
                skipped.append(resource.plural + (f".{resource.group}" if resource.group else ""))
                break
            yield from (Candidate(obj, resource) for obj in found)
    yield from _mirror_policies(cluster, served, scope, skipped)
    for group, kind in ((configmapsync.GROUP, configmapsync.KIND), (configmirror.GROUP, configmirror.KIND)):
        other = next((r for r in served if r.group == group and r.kind == kind), None)
        if other is None:
            continue
        try:
            found, _ = cluster.list(other, namespace=scope.namespace, label_selector=scope.selector or None)
        except ForbiddenError:
            skipped.append(f"{other.plural}.{other.group}")
            continue
        yield from (Candidate(obj, other) for obj in found)


def _mirror_policies(
    cluster: Cluster, served: list[Resource], scope: Scope, skipped: list[str]
) -> Iterator[Candidate]:
    policy = next((r for r in served if r.group == API_GROUP and r.kind == KIND), None)
    if policy is None:
        return
    try:
        policies, _ = cluster.list(policy)
    except ForbiddenError:
        skipped.append(f"{policy.plural}.{policy.group}")
        return
    for obj in policies:
        src = (obj.get("spec") or {}).get("source") or {}
        if scope.holds(str(src.get("namespace", ""))):
            yield Candidate(obj, policy)


def _selectors_for(kind: str) -> list[str]:
    """Label selectors that find this kind's sources: one per labelling dialect, or "" (every
    object) when a dialect marks this kind with annotations only. An object found twice is
    judged twice with the same answer, so duplicates are dropped by the caller's table."""
    if any(not d.source_selector and kind in d.kinds for d in DIALECTS):
        return [""]
    return [d.source_selector for d in DIALECTS if d.source_selector and (not d.kinds or kind in d.kinds)]


def previous(cluster: Cluster, resource: Resource, obj: Obj, namespace: str) -> Obj | None:
    """The object as the cluster holds it now (what an apply would change), or None."""
    name = (obj.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        return None
    try:
        return cluster.get(resource, namespace if resource.namespaced else "", name)
    except ForbiddenError:
        return None  # the policy sees it, we cannot: judge as a create, which is stricter


class Reviewer:
    """Asks the API server, once per distinct question, whether the current user may."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._answers: dict[tuple[str, str, str, str, str], bool] = {}
        self._username: str | None = None

    def username(self) -> str:
        """Who the API server takes the current user for (SelfSubjectReview), or "" when it cannot
        say: then nobody is taken for the controller, which only makes the answers stricter."""
        if self._username is None:
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            try:
                answer = self._cluster.request(
                    "POST", WHOAMI, body=body, content_type="application/json"
                ).body
            except ClusterError:
                answer = None
            user = ((answer or {}).get("status") or {}).get("userInfo") or {}
            self._username = str(user.get("username") or "")
        return self._username

    def everywhere(self, group: str, resource: str) -> bool:
        return self.allowed(Check("create", group, resource, ""))

    def allowed(self, check: Check) -> bool:
        key = (check.verb, check.group, check.resource, check.namespace, check.name)
        if key not in self._answers:
            attributes = {
                "verb": check.verb,
                "group": check.group,
                "resource": check.resource,
                "namespace": check.namespace,
                "name": check.name,
            }
            body = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {k: v for k, v in attributes.items() if v}},
            }
            answer = self._cluster.request("POST", REVIEWS, body=body, content_type="application/json").body
            self._answers[key] = bool(((answer or {}).get("status") or {}).get("allowed"))
        return self._answers[key]
