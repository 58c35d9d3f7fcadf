"""Turning one source into its mirror for one target namespace.

The per-source work (metadata filtering, clean-up, ownership, the hash when no transform depends
on the target) is done once in `prepare`; `mirror_for` then only stamps the namespace and runs
transforms. Mirrors share unchanged sub-structures with the source: nothing here mutates its input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.budget import Deadline
from kubectl_mirror.engine.globs import glob_match
from kubectl_mirror.engine.kinds import check_mirrorable, clean_for_copy
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, Result
from kubectl_mirror.engine.names import check_metadata_maps
from kubectl_mirror.engine.policy import policy_text
from kubectl_mirror.errors import MirrorError, Ref, TransformError

_SKIP_TOP = ("apiVersion", "kind", "metadata", "status")


@dataclass(frozen=True)
class Source:
    """An object that asks to be mirrored, with the spec read from its markers or a policy."""

    obj: Obj
    ref: Ref
    spec: MirrorSpec


@dataclass(frozen=True)
class Prepared:
    """What every mirror of one source shares."""

    source: Source
    body: Obj  # top-level fields besides apiVersion/kind/metadata, cleaned
    labels: dict[str, str]
    annotations: dict[str, str]
    fixed_hash: str  # content hash when no transform can vary it per target, else ""
    # The mirror metadata maps every untransformed mirror shares (sorted, hash stamped): built
    # once per source, not once per mirror. Nothing may mutate them.
    shared_labels: dict[str, str] | None = None
    shared_annotations: dict[str, str] | None = None


def canonical(value: Any) -> Any:
    """Maps with sorted keys, recursively (lists keep their order), so the bytes of a mirror
    never depend on how its source happened to be written."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _dropped(key: str, options: EngineOptions) -> bool:
    if key.startswith(m.CONTROL_PREFIXES):
        return True
    for pattern in m.FOREIGN_OWNERSHIP:
        if key == pattern or (pattern.endswith("*") and key.startswith(pattern[:-1])):
            return True
    return any(glob_match(p, key) for p in options.drop_metadata)


def copied_metadata(values: Any, options: EngineOptions) -> dict[str, str]:
    if not isinstance(values, Mapping):
        return {}
    return {k: v for k, v in sorted(values.items()) if not _dropped(str(k), options)}


def source_id(obj: Obj) -> str:
    """A label-safe id of the source reference (label values are limited to 63 characters)."""
    meta = obj.get("metadata") or {}
    raw = "/".join((group_of(obj), str(obj.get("kind")), str(meta.get("namespace")), str(meta.get("name"))))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def group_of(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/", 1)[0] if "/" in api_version else "core"


def ownership(source: Source, namespace: str = "") -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations that tie a mirror to its source and prove we made it (in
    `namespace`: with combined policies, each mirror names the one that asked for it)."""
    obj = source.obj
    meta = obj.get("metadata") or {}
    labels = {
        m.MANAGED_BY: m.MANAGER,
        m.MIRROR_LABEL: "true",
        m.SOURCE_HASH_LABEL: source_id(obj),
        **dict(source.spec.extra_labels),
    }
    annotations = {
        m.SOURCE_GROUP: group_of(obj),
        m.SOURCE_KIND: str(obj.get("kind")),
        m.SOURCE_NAMESPACE: str(meta.get("namespace")),
        m.SOURCE_NAME: str(meta.get("name")),
        m.STRATEGY: source.spec.strategy,
        m.ON_SOURCE_DELETE: source.spec.on_source_delete,
    }
    if isinstance(meta.get("uid"), str):
        annotations[m.SOURCE_UID] = meta["uid"]
    policy = _policy_in(source, namespace)
    if policy is not None:
        annotations[m.SOURCE_POLICY] = policy_text(policy)
    return labels, annotations


def _policy_in(source: Source, namespace: str) -> Ref | None:
    for target_namespace, policy in source.spec.target_policies:
        if target_namespace == namespace:
            return policy
    return source.spec.policy


def content_hash(body: Obj, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """sha256 of the canonical payload: every field but metadata, plus labels and annotations."""
    payload = {
        "body": body,
        "labels": labels,
        "annotations": {k: v for k, v in annotations.items() if k != m.CONTENT_HASH},
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def prepare(source: Source, options: EngineOptions) -> Prepared:
    cleaned = clean_for_copy(source.obj, source.ref)
    body = {k: canonical(cleaned[k]) for k in sorted(cleaned) if k not in _SKIP_TOP}
    meta = source.obj.get("metadata") or {}
    own_labels, own_annotations = ownership(source)
    labels = {**copied_metadata(meta.get("labels"), options), **own_labels}
    annotations = {**copied_metadata(meta.get("annotations"), options), **own_annotations}
    fixed = "" if source.spec.transforms else content_hash(body, labels, annotations)
    shared_labels = dict(sorted(labels.items()))
    shared_annotations = dict(sorted({**annotations, m.CONTENT_HASH: fixed}.items())) if fixed else None
    return Prepared(source, body, labels, annotations, fixed, shared_labels, shared_annotations)


def assemble(
    prepared: Prepared,
    *,
    namespace: str,
    name: str,
    body: Obj | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """The mirror object, keys in a stable order: apiVersion, kind, metadata, then the body."""
    body = prepared.body if body is None else body
    labels = prepared.labels if labels is None else labels
    annotations = prepared.annotations if annotations is None else annotations
    digest = (
        prepared.fixed_hash
        if body is prepared.body
        and labels is prepared.labels
        and annotations is prepared.annotations
        and prepared.fixed_hash
        else content_hash(body, labels, annotations)
    )
    obj = prepared.source.obj
    if labels is prepared.labels and prepared.shared_labels is not None:
        sorted_labels = prepared.shared_labels
    else:
        sorted_labels = dict(sorted(labels.items()))
    if (
        annotations is prepared.annotations
        and digest == prepared.fixed_hash
        and prepared.shared_annotations is not None
    ):
        sorted_annotations = prepared.shared_annotations
    else:
        sorted_annotations = dict(sorted({**annotations, m.CONTENT_HASH: digest}.items()))
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": sorted_labels,
            "annotations": sorted_annotations,
        },
        **body,
    }


def mirror_for(
    prepared: Prepared, namespace: str, options: EngineOptions, *, deadline: Deadline | None = None
) -> tuple[Obj, tuple[Result, ...]]:
    """One mirror; transforms (if any) run on the assembled object, then ownership is re-stamped
    so a rule can never remove the metadata that proves we own the copy, and the kind rules are
    checked again, so no rule can turn the copy into something never mirrored (a
    service-account token Secret)."""
    source = prepared.source
    name = str((source.obj.get("metadata") or {}).get("name"))
    if not source.spec.transforms:
        policy = _policy_in(source, namespace)
        if policy is source.spec.policy:
            return assemble(prepared, namespace=namespace, name=name), ()
        annotations = {**prepared.annotations, m.SOURCE_POLICY: policy_text(policy)} if policy else None
        return assemble(prepared, namespace=namespace, name=name, annotations=annotations), ()
    from kubectl_mirror.engine.transforms import TemplateContext, apply_transforms

    draft = assemble(prepared, namespace=namespace, name=name)
    meta = source.obj.get("metadata") or {}
    context = TemplateContext(
        target_namespace=namespace,
        source_namespace=str(meta.get("namespace")),
        source_name=name,
        source_kind=str(source.obj.get("kind")),
        mirror_name=name,
        labels=dict(prepared.labels),
        annotations={k: v for k, v in prepared.annotations.items() if k != m.CONTENT_HASH},
    )
    out, results = apply_transforms(
        draft,
        source.spec.transforms,
        context=context,
        strict=source.spec.transform_strict,
        options=options,
        ref=source.ref,
        deadline=deadline,
    )
    own_labels, own_annotations = ownership(source, namespace)
    out_meta = out.get("metadata")
    out_meta = out_meta if isinstance(out_meta, dict) else {}
    labels = {**_str_map(out_meta.get("labels")), **own_labels}
    annotations = {
        k: v
        for k, v in {**_str_map(out_meta.get("annotations")), **own_annotations}.items()
        if k != m.CONTENT_HASH
    }
    body = {k: canonical(out[k]) for k in sorted(out) if k not in _SKIP_TOP}
    mirror = assemble(
        prepared, namespace=namespace, name=name, body=body, labels=labels, annotations=annotations
    )
    try:
        check_mirrorable(mirror, source.ref, options)
        if any(rule.path.startswith("metadata") for rule in source.spec.transforms):
            check_metadata_maps(mirror, source.ref)
    except MirrorError as err:
        raise TransformError(f"after the transform rules: {err.message}", source.ref, err.field_path) from err
    return mirror, results


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
