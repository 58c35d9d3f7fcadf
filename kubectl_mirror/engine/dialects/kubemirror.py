"""KubeMirror's markers (lukaszraczylo/kubemirror), read so its users can switch without relabeling.

A source needs both the `enabled` label (KubeMirror's server-side watch filter) and the `sync`
annotation, each exactly "true" in KubeMirror (we accept any case). Targets are a comma list of
names, globs (`app-*`), `all` and `all-labeled`; transform rules use Go template syntax, which
transforms.py parses with syntax="go".
"""

from __future__ import annotations

from kubectl_mirror.engine.dialects.base import (
    Dialect,
    annotations_of,
    field_of,
    flag,
    gate,
    labels_of,
    parse_target_list,
    string_marker,
)
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, Target, TransformRule
from kubectl_mirror.errors import Ref, SpecError

PREFIX = "kubemirror.raczylo.com/"
ENABLED = PREFIX + "enabled"  # label
SYNC = PREFIX + "sync"
TARGET_NAMESPACES = PREFIX + "target-namespaces"
EXCLUDE = PREFIX + "exclude"  # "true" opts this one object out of mirroring
TRANSFORM = PREFIX + "transform"
TRANSFORM_STRICT = PREFIX + "transform-strict"
# Namespace label: "true" opts in to `all-labeled`, "false" opts out of `all`.
ALLOW_MIRRORS = PREFIX + "allow-mirrors"
# Labels KubeMirror puts on the mirrors it makes.
MIRROR = PREFIX + "mirror"
MANAGED_BY = PREFIX + "managed-by"
MANAGER = "kubemirror"

ALL_WORDS = ("all",)
LABELED_WORDS = ("all-labeled",)
# KubeMirror honours the opt-out only for `all`; we honour it for every target
# (docs/markers-dialects.md).
OPT_OUT = Target("labeled", ALLOW_MIRRORS, label_value="false")


def read_source(obj: Obj, ref: Ref, options: EngineOptions) -> MirrorSpec | None:
    ann = annotations_of(obj)
    enabled = gate(labels_of(obj), ENABLED, ref, label=True)
    if not (enabled and gate(ann, SYNC, ref)) or gate(ann, EXCLUDE, ref):
        return None
    text = string_marker(ann, TARGET_NAMESPACES, ref) or ""
    targets = parse_target_list(
        text,
        ref,
        field_of(TARGET_NAMESPACES),
        all_words=ALL_WORDS,
        labeled_words=LABELED_WORDS,
        labeled_key=ALLOW_MIRRORS,
    )
    if not targets:
        raise SpecError(f"source has no {TARGET_NAMESPACES} annotation", ref, field_of(TARGET_NAMESPACES))
    transform_text = string_marker(ann, TRANSFORM, ref)
    rules: tuple[TransformRule, ...] = ()
    if transform_text and transform_text.strip():
        from kubectl_mirror.engine.transforms import parse_rules

        rules = parse_rules(
            transform_text,
            ref=ref,
            field_path=field_of(TRANSFORM),
            syntax="go",
            options=options,
        )
    return MirrorSpec(
        dialect="kubemirror",
        targets=targets,
        exclude=(OPT_OUT,),
        strategy="replace",
        on_source_delete="delete",
        transforms=rules,
        transform_strict=bool(flag(ann, TRANSFORM_STRICT, ref)),
    )


def is_foreign_mirror(obj: Obj) -> bool:
    labels = labels_of(obj)
    return labels.get(MIRROR) == "true" or labels.get(MANAGED_BY) == MANAGER


KUBEMIRROR = Dialect(
    name="kubemirror",
    source_selector=f"{ENABLED}=true",
    read_source=read_source,
    is_foreign_mirror=is_foreign_mirror,
    tool="KubeMirror",
)
