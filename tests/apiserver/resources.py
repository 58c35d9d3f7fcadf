"""The resource types the fake API server serves: built-in kinds plus those added by CRDs.

A `ResourceType` is what discovery advertises and what the store keys objects by. Objects of
one type are stored once, whatever version they are read at (there is no conversion).
This module holds no objects and does no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    has_status: bool = False
    tracks_generation: bool = False
    create_on_update: bool = False
    unconditional_update: bool = True
    strategic_merge: bool = True
    name_rule: str = "subdomain"  # subdomain | label | dns1035 | segment
    field_labels: tuple[str, ...] = ()
    custom: bool = False
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """Storage key, version-independent: `configmaps`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        v = version or self.storage_version
        return f"{self.group}/{v}" if self.group else v


def _core(kind: str, plural: str, **kw: Any) -> ResourceType:
    return ResourceType(group="", versions=("v1",), kind=kind, plural=plural, singular=kind.lower(), **kw)


BUILTINS: tuple[ResourceType, ...] = (
    _core(
        "Namespace",
        "namespaces",
        namespaced=False,
        short_names=("ns",),
        has_status=True,
        name_rule="label",
        field_labels=("status.phase",),
        verbs=tuple(v for v in ALL_VERBS if v != "deletecollection"),
    ),
    _core("ConfigMap", "configmaps", namespaced=True, short_names=("cm",)),
    _core("Secret", "secrets", namespaced=True, field_labels=("type",)),
    _core(
        "Service",
        "services",
        namespaced=True,
        short_names=("svc",),
        has_status=True,
        categories=("all",),
        name_rule="dns1035",
    ),
    _core("ServiceAccount", "serviceaccounts", namespaced=True, short_names=("sa",)),
    _core(
        "Pod",
        "pods",
        namespaced=True,
        short_names=("po",),
        has_status=True,
        categories=("all",),
        field_labels=(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
        ),
    ),
    _core(
        "Event",
        "events",
        namespaced=True,
        short_names=("ev",),
        create_on_update=True,
        field_labels=(
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ),
    ),
    ResourceType(
        group="coordination.k8s.io",
        versions=("v1",),
        kind="Lease",
        plural="leases",
        singular="lease",
        namespaced=True,
        create_on_update=True,
    ),
    ResourceType(
        group="rbac.authorization.k8s.io",
        versions=("v1",),
        kind="Role",
        plural="roles",
        singular="role",
        namespaced=True,
        name_rule="segment",
    ),
    ResourceType(
        group="rbac.authorization.k8s.io",
        versions=("v1",),
        kind="RoleBinding",
        plural="rolebindings",
        singular="rolebinding",
        namespaced=True,
        name_rule="segment",
    ),
    ResourceType(
        group="apps",
        versions=("v1",),
        kind="Deployment",
        plural="deployments",
        singular="deployment",
        namespaced=True,
        short_names=("deploy",),
        categories=("all",),
        has_status=True,
        tracks_generation=True,
    ),
    ResourceType(
        group="apiextensions.k8s.io",
        versions=("v1",),
        kind="CustomResourceDefinition",
        plural="customresourcedefinitions",
        singular="customresourcedefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        has_status=True,
        tracks_generation=True,
    ),
)

NAMESPACES = BUILTINS[0]
CRDS = BUILTINS[-1]


def from_crd(crd: dict[str, Any]) -> ResourceType:
    """The type a (valid) CustomResourceDefinition object serves."""
    spec = crd["spec"]
    names = spec["names"]
    served = [v for v in spec.get("versions", []) if v.get("served", True)]
    # The storage version first: it is the one objects are written at.
    served.sort(key=lambda v: not v.get("storage", False))
    columns: list[dict[str, Any]] = []
    for v in served[:1]:
        columns = list(v.get("additionalPrinterColumns", []))
    return ResourceType(
        group=spec["group"],
        versions=tuple(v["name"] for v in served),
        kind=names["kind"],
        plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        short_names=tuple(names.get("shortNames", ())),
        categories=tuple(names.get("categories", ())),
        has_status=any("status" in (v.get("subresources") or {}) for v in served),
        tracks_generation=True,
        unconditional_update=False,
        strategic_merge=False,
        custom=True,
        printer_columns=tuple(columns),
    )


class Registry:
    """The served types; CRDs add and remove theirs at run time."""

    def __init__(self, builtins: Iterable[ResourceType] = BUILTINS) -> None:
        self._lock = threading.Lock()
        self._builtins = tuple(builtins)
        self._custom: dict[str, ResourceType] = {}

    def reset(self) -> None:
        with self._lock:
            self._custom.clear()

    def add_custom(self, rt: ResourceType) -> None:
        with self._lock:
            self._custom[rt.key] = rt

    def remove_custom(self, key: str) -> None:
        with self._lock:
            self._custom.pop(key, None)

    def all(self) -> list[ResourceType]:
        with self._lock:
            return [*self._builtins, *self._custom.values()]

    def by_key(self, key: str) -> ResourceType | None:
        for rt in self.all():
            if rt.key == key:
                return rt
        return None

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self.all():
            if rt.group == group and rt.plural == plural and version in rt.versions:
                return rt
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self.all():
            if rt.group == group and rt.kind == kind and version in rt.versions:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """Group name → served versions, in the order discovery lists them."""
        out: dict[str, list[str]] = {}
        for rt in self.all():
            versions = out.setdefault(rt.group, [])
            versions.extend(v for v in rt.versions if v not in versions)
        return out
