"""What the engine knows about kinds: which may be mirrored, which are cluster-scoped, how to
order them in output, and what a copy of each must lose to be accepted by the API server.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kubectl_mirror.engine.model import EngineOptions, Obj
from kubectl_mirror.errors import Ref, SpecError

# Never mirrored unless named in --allow-kinds: copies are meaningless (Pod, Event, ...), owned by
# a controller (ReplicaSet, Job, ...), or cross a trust boundary (RBAC).
DENIED_KINDS = frozenset(
    {
        "Pod",
        "Event",
        "Endpoints",
        "EndpointSlice",
        "Lease",
        "ControllerRevision",
        "ReplicaSet",
        "Job",
        "Role",
        "RoleBinding",
    }
)
DENIED_SECRET_TYPES = frozenset({"kubernetes.io/service-account-token"})

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "MirrorPolicy",
    }
)

# Output order: what others depend on first (as kubectl/kustomize order resources).
_RANK = {
    kind: i
    for i, kind in enumerate(
        [
            "Namespace",
            "ResourceQuota",
            "LimitRange",
            "ServiceAccount",
            "Secret",
            "ConfigMap",
            "PersistentVolumeClaim",
            "Service",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "CronJob",
            "Ingress",
            "NetworkPolicy",
        ]
    )
}


def kind_rank(kind: str) -> int:
    return _RANK.get(kind, len(_RANK))


def sort_key(obj: Obj) -> tuple[int, str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (
        kind_rank(str(obj.get("kind", ""))),
        str(obj.get("kind", "")),
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
        str(obj.get("apiVersion", "")),
    )


CRD_GROUP = "apiextensions.k8s.io"


def cluster_scoped_crd_kinds(objs: Any) -> dict[tuple[str, str], str]:
    """(group, kind) -> why, for every CustomResourceDefinition among `objs` whose `spec.scope`
    is not Namespaced (Cluster; missing or misspelled counts too: fail closed). Objects of those
    kinds are never mirrored."""
    found: dict[tuple[str, str], str] = {}
    for obj in objs:
        if obj.get("kind") != "CustomResourceDefinition" or not str(obj.get("apiVersion", "")).startswith(
            CRD_GROUP + "/"
        ):
            continue
        spec = obj.get("spec")
        if not isinstance(spec, Mapping) or spec.get("scope") == "Namespaced":
            continue
        names = spec.get("names")
        kind = names.get("kind") if isinstance(names, Mapping) else None
        group = spec.get("group")
        if isinstance(kind, str) and isinstance(group, str):
            crd = str((obj.get("metadata") or {}).get("name", ""))
            found[(group, kind)] = f"CustomResourceDefinition {crd!r} has scope {spec.get('scope')!r}"
    return found


def check_mirrorable(
    obj: Obj,
    ref: Ref,
    options: EngineOptions,
    *,
    cluster_kinds: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """Raise when `obj`'s kind may not be mirrored; the message says how to allow it if one can.
    `cluster_kinds` are the cluster-scoped kinds the input's CRDs define (group, kind)."""
    kind = str(obj.get("kind", ""))
    if kind in CLUSTER_SCOPED_KINDS:
        raise SpecError(f"{kind} is cluster-scoped and cannot be mirrored into namespaces", ref, "kind")
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    why = (cluster_kinds or {}).get((group, kind))
    if why is not None:
        raise SpecError(
            f"{kind}.{group} is not a namespaced kind ({why}) and cannot be mirrored into namespaces",
            ref,
            "kind",
        )
    if kind in DENIED_KINDS and kind not in options.allow_kinds:
        raise SpecError(
            f"{kind} is not mirrored by default (add --allow-kinds {kind} to allow it)", ref, "kind"
        )
    if kind == "Secret" and obj.get("type") in DENIED_SECRET_TYPES:
        raise SpecError(
            f"Secrets of type {obj.get('type')} belong to one ServiceAccount and are never mirrored",
            ref,
            "type",
        )


# Fields of these kinds that the API server types as maps of strings.
STRING_MAPS = {"ConfigMap": ("data", "binaryData"), "Secret": ("data", "stringData")}


def check_payload(obj: Obj, ref: Ref) -> None:
    """ConfigMap and Secret data are maps of strings (`port: 8080` unquoted is an int, which the
    API server refuses); say so here rather than render a mirror it would refuse."""
    if obj.get("apiVersion") != "v1":
        return
    for name in STRING_MAPS.get(str(obj.get("kind")), ()):
        values = obj.get(name)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise SpecError("must be a mapping of strings", ref, name)
        for key, value in values.items():
            # `key:` with nothing after it is null, which the API server reads as "".
            if value is not None and not isinstance(value, str):
                got = type(value).__name__
                raise SpecError(f"must be a string, got {got} (quote it in YAML)", ref, f'{name}["{key}"]')


def clean_for_copy(obj: Obj, ref: Ref) -> Obj:
    """Drop what the API server assigns per object or would reject on a copy."""
    kind = obj.get("kind")
    if kind == "Service":
        return _clean_service(obj)
    if kind == "Secret" and "stringData" in obj:
        return _fold_string_data(obj, ref)
    return obj


def _clean_service(obj: Obj) -> Obj:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    spec = {k: v for k, v in spec.items() if k not in ("clusterIP", "clusterIPs", "healthCheckNodePort")}
    ports = spec.get("ports")
    if isinstance(ports, list):
        spec["ports"] = [
            {k: v for k, v in p.items() if k != "nodePort"} if isinstance(p, dict) else p for p in ports
        ]
    return {**obj, "spec": spec}


def _fold_string_data(obj: Obj, ref: Ref) -> Obj:
    """`stringData` is write-only on the server; a mirror carries the merged `data` instead."""
    string_data: Any = obj.get("stringData")
    if string_data is None:
        return {k: v for k, v in obj.items() if k != "stringData"}
    if not isinstance(string_data, dict):
        raise SpecError("must be a mapping of strings", ref, "stringData")
    existing = obj.get("data") or {}
    if not isinstance(existing, dict):
        raise SpecError("must be a mapping of strings", ref, "data")
    data = dict(existing)
    for key, value in string_data.items():
        if not isinstance(value, str):
            raise SpecError("must be a string", ref, f'stringData["{key}"]')
        data[key] = base64.b64encode(value.encode()).decode()
    out = {k: v for k, v in obj.items() if k != "stringData"}
    out["data"] = data
    return out
