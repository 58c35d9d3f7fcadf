"""What the engine knows about kinds: which may be mirrored, which are cluster-scoped, how to
order them in output, and what a copy of each must lose to be accepted by the API server.
"""

from __future__ import annotations

import base64
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


def check_mirrorable(obj: Obj, ref: Ref, options: EngineOptions) -> None:
    """Raise when `obj`'s kind may not be mirrored; the message says how to allow it if one can."""
    kind = str(obj.get("kind", ""))
    if kind in CLUSTER_SCOPED_KINDS:
        raise SpecError(f"{kind} is cluster-scoped and cannot be mirrored into namespaces", ref, "kind")
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
    data = dict(obj.get("data") or {})
    for key, value in string_data.items():
        if not isinstance(value, str):
            raise SpecError("must be a string", ref, f'stringData["{key}"]')
        data[key] = base64.b64encode(value.encode()).decode()
    out = {k: v for k, v in obj.items() if k != "stringData"}
    out["data"] = data
    return out
