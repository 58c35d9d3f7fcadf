"""ConfigMapSync (apps.kapendra.com/v1, kapendra007/k8s-operator), read as a policy so its users
can stop that operator and keep their resources.

One resource mirrors one ConfigMap (`spec.configMapName` in `spec.sourceNamespace`) into one
namespace (`spec.destinationNamespace`), the source always winning. Users keep one resource per
destination, so several ConfigMapSyncs naming the same ConfigMap combine (policy.chosen_spec).
The operator leaves the destination in place while the source is missing, so mirrors are
orphaned (kept, marked stale) when the source is deleted; deleting the ConfigMapSync itself
removes its mirror (the source is no longer selected, and prune deletes what nothing selects).
Its status, finalizer and retry backoff belong to `watch` (docs/migrate-configmapsync.md).
"""

from __future__ import annotations

from kubectl_mirror.engine.dialects.base import labels_of
from kubectl_mirror.engine.dialects.crbase import (
    is_kind,
    namespace_field,
    object_name_field,
    spec_of,
    spec_source_namespace,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, Target
from kubectl_mirror.engine.policy import Policy
from kubectl_mirror.errors import Ref, SpecError

GROUP = "apps.kapendra.com"
VERSION = "v1"
KIND = "ConfigMapSync"
PLURAL = "configmapsyncs"
FINALIZER = "configmapsync.apps.kapendra.com/finalizer"  # the operator's; the watch will own it
# Labels the operator's later versions put on the destination ConfigMap.
PREFIX = "configmapsync.apps.kapendra.com/"
SYNC_NAME = PREFIX + "sync-name"
SYNC_NAMESPACE = PREFIX + "sync-namespace"
MANAGED_BY = PREFIX + "managed-by"
MANAGER = "configmapsync-controller"

_FIELDS = frozenset({"sourceNamespace", "destinationNamespace", "configMapName"})


def is_resource(obj: Obj) -> bool:
    return is_kind(obj, KIND, GROUP)


source_namespace_of = spec_source_namespace


def read_policy(obj: Obj, ref: Ref, options: EngineOptions) -> Policy:
    spec = spec_of(obj, ref, _FIELDS)
    source_ns = namespace_field(spec, "sourceNamespace", ref, "spec.sourceNamespace")
    destination = namespace_field(spec, "destinationNamespace", ref, "spec.destinationNamespace")
    name = object_name_field(spec, "configMapName", ref, "spec.configMapName")
    if destination == source_ns:
        raise SpecError(
            f"is the source namespace {source_ns!r}: a ConfigMap is never mirrored into its own namespace",
            ref,
            "spec.destinationNamespace",
        )
    return Policy(
        ref=ref,
        namespace=source_ns,
        kinds=("ConfigMap",),
        names=(name,),
        selector=None,
        spec=MirrorSpec(
            dialect="configmapsync",
            targets=(Target("name", destination),),
            strategy="replace",
            on_source_delete="orphan",
            policy=ref,
        ),
        combines=True,
    )


def is_copy(obj: Obj) -> bool:
    """A destination the operator wrote (its later versions label them; earlier ones wrote no
    marker at all, so their copies look like anyone's ConfigMap)."""
    labels = labels_of(obj)
    return labels.get(MANAGED_BY) == MANAGER or SYNC_NAME in labels
