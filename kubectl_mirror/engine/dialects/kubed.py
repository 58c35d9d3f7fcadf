"""config-syncer's annotations (formerly kubed, appscode), read so its users can switch without
re-annotating anything.

A ConfigMap or Secret annotated `kubed.appscode.com/sync` is a source: an empty value (or
`"true"`, which config-syncer's code reads the same way) means every namespace, anything else is a
label selector over namespaces. Copies are replaced whole and deleted with their source. Its
copies carry `kubed.appscode.com/origin` and the `origin.*` labels; ours carry the two labels
users select copies by (`origin.name`, `origin.namespace`) but not `origin.cluster`: the value
config-syncer was started with is unknown here, and without it a config-syncer started again
never mistakes our mirrors for its own copies. Cross-cluster `sync-contexts` is out of scope:
a warning says so, and only this cluster's namespaces get mirrors.
"""

from __future__ import annotations

from kubectl_mirror.engine.dialects.base import (
    Dialect,
    annotations_of,
    field_of,
    labels_of,
    selector_target,
    string_marker,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, Target
from kubectl_mirror.engine.selectors import SelectorError, check_value
from kubectl_mirror.errors import Ref

PREFIX = "kubed.appscode.com/"
SYNC = PREFIX + "sync"
SYNC_CONTEXTS = PREFIX + "sync-contexts"
# Written by config-syncer on every copy.
ORIGIN = PREFIX + "origin"  # annotation: the source's ObjectReference as JSON
ORIGIN_NAME = PREFIX + "origin.name"
ORIGIN_NAMESPACE = PREFIX + "origin.namespace"
ORIGIN_CLUSTER = PREFIX + "origin.cluster"

KINDS = ("ConfigMap", "Secret")
# config-syncer compares with "true" exactly; any case is accepted here, as for every switch.
_EVERY_NAMESPACE = ("", "true")
CONTEXTS_UNSUPPORTED = (
    "cross-cluster sync is not supported: the contexts are ignored and only this cluster's "
    "namespaces get mirrors"
)


def read_source(obj: Obj, ref: Ref, options: EngineOptions) -> MirrorSpec | None:
    ann = annotations_of(obj)
    text = string_marker(ann, SYNC, ref)
    if text is None:
        return None
    value = text.strip()
    if value.lower() in _EVERY_NAMESPACE:
        targets: tuple[Target, ...] = (Target("all"),)
    else:
        targets = (selector_target(value, ref, field_of(SYNC)),)
    contexts = string_marker(ann, SYNC_CONTEXTS, ref)
    warnings = ((field_of(SYNC_CONTEXTS), CONTEXTS_UNSUPPORTED),) if contexts and contexts.strip() else ()
    return MirrorSpec(
        dialect="kubed",
        targets=targets,
        strategy="replace",
        on_source_delete="delete",
        extra_labels=origin_labels(ref),
        warnings=warnings,
    )


def origin_labels(ref: Ref) -> tuple[tuple[str, str], ...]:
    """`origin.name` and `origin.namespace`, as config-syncer writes them; left out when the name
    cannot be a label value (longer than 63 characters): config-syncer itself cannot copy such a
    source, and half a selector would match nothing anyway."""
    try:
        check_value(ref.name)
    except SelectorError:
        return ()
    return ((ORIGIN_NAME, ref.name), (ORIGIN_NAMESPACE, ref.namespace))


def is_foreign_mirror(obj: Obj) -> bool:
    labels = labels_of(obj)
    return ORIGIN in annotations_of(obj) or (ORIGIN_NAME in labels and ORIGIN_NAMESPACE in labels)


KUBED = Dialect(
    name="kubed",
    source_selector="",
    read_source=read_source,
    kinds=KINDS,
    is_foreign_mirror=is_foreign_mirror,
    tool="config-syncer (kubed)",
)
