"""mittwald kubernetes-replicator's annotations, read so its users can switch without relabeling.

Push: `replicate-to` (comma list of names and regexes, each matching the whole namespace name)
and/or `replicate-to-matching` (a namespace label selector). Pull: an object annotated
`replicate-from: <ns>/<name>` is filled from that source when the source has
`replication-allowed: "true"` and its `replication-allowed-namespaces` list matches. Unlike
Reflector, a missing or empty allowed list allows nothing.
"""

from __future__ import annotations

from kubectl_mirror.engine.dialects.base import (
    Dialect,
    annotations_of,
    field_of,
    gate,
    parse_pull_ref,
    parse_regex_list,
    regex_list_matches,
    selector_target,
    string_marker,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, PullRef, TransformRule
from kubectl_mirror.errors import Ref, SpecError

PREFIX = "replicator.v1.mittwald.de/"
REPLICATE_TO = PREFIX + "replicate-to"
REPLICATE_TO_MATCHING = PREFIX + "replicate-to-matching"
REPLICATE_FROM = PREFIX + "replicate-from"
REPLICATION_ALLOWED = PREFIX + "replication-allowed"
REPLICATION_ALLOWED_NAMESPACES = PREFIX + "replication-allowed-namespaces"
STRIP_LABELS = PREFIX + "strip-labels"
# Written by Replicator on the copies it makes or fills.
REPLICATED_AT = PREFIX + "replicated-at"
REPLICATED_FROM_VERSION = PREFIX + "replicated-from-version"
REPLICATED_KEYS = PREFIX + "replicated-keys"
MIRROR_MARKERS = (REPLICATE_FROM, REPLICATED_AT, REPLICATED_FROM_VERSION, REPLICATED_KEYS)

# The kinds its README names; Role and RoleBinding still need --allow-kinds here (kinds.py).
KINDS = ("Secret", "ConfigMap", "Role", "RoleBinding", "ServiceAccount")

# strip-labels: the copy loses the source's labels (ownership labels are stamped after rules).
_STRIP_LABELS = TransformRule(path="metadata.labels", op="delete")


def read_source(obj: Obj, ref: Ref, options: EngineOptions) -> MirrorSpec | None:
    ann = annotations_of(obj)
    if REPLICATE_FROM in ann or (REPLICATE_TO not in ann and REPLICATE_TO_MATCHING not in ann):
        return None
    targets = parse_regex_list(string_marker(ann, REPLICATE_TO, ref) or "", ref, field_of(REPLICATE_TO))
    selector = (string_marker(ann, REPLICATE_TO_MATCHING, ref) or "").strip()
    if selector:
        targets += (selector_target(selector, ref, field_of(REPLICATE_TO_MATCHING)),)
    if not targets:
        key = REPLICATE_TO if REPLICATE_TO in ann else REPLICATE_TO_MATCHING
        raise SpecError("is empty: it selects no namespace", ref, field_of(key))
    return MirrorSpec(
        dialect="replicator",
        targets=targets,
        strategy="replace",
        on_source_delete="delete",
        transforms=(_STRIP_LABELS,) if gate(ann, STRIP_LABELS, ref) else (),
    )


def read_pull(obj: Obj, ref: Ref) -> PullRef | None:
    text = string_marker(annotations_of(obj), REPLICATE_FROM, ref)
    if text is None:
        return None
    return parse_pull_ref(text, ref, field_of(REPLICATE_FROM), dialect="replicator")


def allows_pull(source: Obj, namespace: str) -> bool:
    """Replicator's `IsReplicationPermitted`: allowed, and the namespace fully matches an entry
    of the allowed list (a missing or empty list allows nothing)."""
    ann = annotations_of(source)
    patterns = ann.get(REPLICATION_ALLOWED_NAMESPACES)
    if not gate(ann, REPLICATION_ALLOWED, Ref.of(source)) or not isinstance(patterns, str):
        return False
    return regex_list_matches(patterns, namespace)


def is_foreign_mirror(obj: Obj) -> bool:
    ann = annotations_of(obj)
    return any(key in ann for key in MIRROR_MARKERS)


REPLICATOR = Dialect(
    name="replicator",
    source_selector="",
    read_source=read_source,
    kinds=KINDS,
    read_pull=read_pull,
    allows_pull=allows_pull,
    is_foreign_mirror=is_foreign_mirror,
    tool="Replicator",
)
