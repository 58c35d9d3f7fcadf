"""Every label and annotation key the engine reads or writes, in one place.

docs/markers.md is the user-facing reference for the same names; keep them in step.
"""

from __future__ import annotations

PREFIX = "kubectl-mirror.io/"

# Source markers (native dialect).
SOURCE_LABEL = PREFIX + "source"
TARGETS = PREFIX + "targets"
TARGET_SELECTOR = PREFIX + "target-selector"
EXCLUDE = PREFIX + "exclude"
STRATEGY = PREFIX + "strategy"
ON_SOURCE_DELETE = PREFIX + "on-source-delete"
TRANSFORM = PREFIX + "transform"
TRANSFORM_STRICT = PREFIX + "transform-strict"

# Namespace markers.
ACCEPT = PREFIX + "accept"
REJECT = PREFIX + "reject"

# Ownership metadata written on every mirror.
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kubectl-mirror"
MIRROR_LABEL = PREFIX + "mirror"
SOURCE_HASH_LABEL = PREFIX + "source-id"
SOURCE_GROUP = PREFIX + "source-group"
SOURCE_KIND = PREFIX + "source-kind"
SOURCE_NAMESPACE = PREFIX + "source-namespace"
SOURCE_NAME = PREFIX + "source-name"
SOURCE_UID = PREFIX + "source-uid"
SOURCE_POLICY = PREFIX + "policy"
CONTENT_HASH = PREFIX + "content-hash"
STALE = PREFIX + "stale"
ADOPTED = PREFIX + "adopted"
GENERATED_BY = PREFIX + "generated-by"  # KRM function output only: `kubectl-mirror-fn`

# Prefixes of every dialect's control markers: never copied from a source to a mirror.
CONTROL_PREFIXES = (
    PREFIX,
    "mirrorverse.dev/",
    "kubemirror.raczylo.com/",
    "reflector.v1.k8s.emberstack.com/",
    "replicator.v1.mittwald.de/",
    "kubed.appscode.com/",
)

# Metadata that would make another controller claim the copy, or that only the API server may set.
# Keys ending in "*" are prefixes.
FOREIGN_OWNERSHIP = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "argocd.argoproj.io/tracking-id",
    "argocd.argoproj.io/instance",
    "app.kubernetes.io/instance",
    "kustomize.toolkit.fluxcd.io/*",
    "helm.toolkit.fluxcd.io/*",
    "source.toolkit.fluxcd.io/*",
    "meta.helm.sh/*",
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "kapp.k14s.io/*",
    "kustomize.config.k8s.io/*",
    "config.kubernetes.io/*",
    "internal.config.kubernetes.io/*",
    "config.k8s.io/id",
)

# Server-owned metadata fields: dropped from every mirror.
SERVER_METADATA_FIELDS = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "ownerReferences",
    "finalizers",
    "selfLink",
    "generateName",
)


def ownership_label_selector() -> str:
    """Label selector that finds every mirror we made."""
    return f"{MANAGED_BY}={MANAGER},{MIRROR_LABEL}=true"


def is_mirror(obj_meta: dict[str, object]) -> bool:
    """True for an object carrying our ownership metadata: it is never a source."""
    labels = obj_meta.get("labels")
    if not isinstance(labels, dict):
        return False
    return labels.get(MIRROR_LABEL) == "true" or labels.get("mirrorverse.dev/sync-replica") == "true"
