"""Rolling out workloads whose mirrors changed: which ConfigMaps and Secrets a pod template
uses, which workloads asked to be rolled (our annotation, or Reloader's read as a dialect), and
the one server-side apply body that rolls each.

We modify other people's workloads here, so the rules are narrow on purpose: a workload is
rolled only when it opted in, only for a mirror in its own namespace whose data changed, and
the only field ever written is one pod-template annotation (`RESTARTED_FOR`), under a field
manager of its own (`FIELD_MANAGER`) that owns nothing else. A workload without a pod template
(an Argo Rollout with `workloadRef`) is never planned: applying a template to it would add one.

The annotation records, per mirror, a hash of what a pod can read of it (data, binaryData,
type; never labels or annotations), so a metadata-only change never rolls anything and
`status` can tell whether a workload was rolled for the content its mirror holds now. Values
never appear: hashes only.

Pure: no I/O; `live/rollout.py` reads the workloads and sends the bodies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.model import Obj, ObjectKey
from kubectl_mirror.engine.regexes import RegexError, regex_fullmatch

# Ours: on a workload's metadata; "true" opts in for every mirror its pod template uses,
# "false" opts out of every rollout, Reloader's annotations included.
ROLLOUT = m.PREFIX + "rollout"
# Written by us on spec.template.metadata.annotations, and nothing else.
RESTARTED_FOR = m.PREFIX + "restarted-for"
FIELD_MANAGER = "kubectl-mirror-rollout"

# Reloader (stakater/Reloader), read as a dialect. On the workload (or, when none of the four
# that decide is on the workload, on its pod template, as Reloader reads them):
RELOADER_AUTO = "reloader.stakater.com/auto"
RELOADER_SEARCH = "reloader.stakater.com/search"
RELOADER_TYPED_AUTO = {
    "ConfigMap": "configmap.reloader.stakater.com/auto",
    "Secret": "secret.reloader.stakater.com/auto",
}
RELOADER_NAMED = {
    "ConfigMap": "configmap.reloader.stakater.com/reload",
    "Secret": "secret.reloader.stakater.com/reload",
}
# On the workload only:
RELOADER_EXCLUDE = {
    "ConfigMap": "configmaps.exclude.reloader.stakater.com/reload",
    "Secret": "secrets.exclude.reloader.stakater.com/reload",
}
# On the ConfigMap or Secret (copied from the source to its mirrors like any annotation):
RELOADER_MATCH = "reloader.stakater.com/match"
RELOADER_IGNORE = "reloader.stakater.com/ignore"

# (group, kind) of the workloads we roll; all four keep their pod template at spec.template.
WORKLOAD_KINDS = (
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("argoproj.io", "Rollout"),
)
CONFIG_KINDS = ("ConfigMap", "Secret")
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
HASH_CHARS = 12  # of each mirror's hash in the annotation: it only has to differ from the last
MAX_VALUE = 1024  # characters of the annotation; beyond it, a digest stands for the rest
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool

State = Literal["current", "outdated", "unknown"]


@dataclass(frozen=True, order=True)
class Reference:
    """A pod template's use of a ConfigMap or Secret in the workload's namespace, and where."""

    mirror: ObjectKey
    path: str


@dataclass(frozen=True)
class ChangedMirror:
    """A mirror whose data changed, as written: the key, the hash of its new data, and the two
    Reloader annotations read on it."""

    key: ObjectKey
    digest: str
    ignored: bool = False
    matched: bool = False

    @classmethod
    def of(cls, obj: Obj) -> ChangedMirror:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return cls(
            ObjectKey.of(obj),
            data_hash(obj),
            ignored=annotations.get(RELOADER_IGNORE) == "true",
            matched=annotations.get(RELOADER_MATCH) == "true",
        )


@dataclass(frozen=True)
class Trigger:
    """Why a workload rolls for a mirror: the annotation that opted it in."""

    mirror: ObjectKey
    reason: str


@dataclass(frozen=True)
class PlannedRollout:
    """One workload to roll, once, for every mirror of this run it opted in for."""

    workload: ObjectKey
    api_version: str
    resource_version: str
    triggers: tuple[Trigger, ...]
    current: str  # the annotation's value now ("" when absent)
    value: str  # the value that rolls it
    uid: str = ""  # the workload's, for an Event about it

    @property
    def needed(self) -> bool:
        """False when the workload was already rolled for this content (a re-run)."""
        return self.value != self.current

    def body(self) -> Obj:
        """The server-side apply body: our one annotation, and the resourceVersion we decided
        on as a precondition (the workload may have opted out since)."""
        meta: Obj = {"name": self.workload.name, "namespace": self.workload.namespace}
        if self.resource_version:
            meta["resourceVersion"] = self.resource_version
        return {
            "apiVersion": self.api_version,
            "kind": self.workload.kind,
            "metadata": meta,
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_FOR: self.value}}}},
        }


@dataclass(frozen=True)
class Consumer:
    """A workload using a mirror, for `status -o wide`: whether it opted in, and whether it was
    rolled for the data the mirror holds now."""

    mirror: ObjectKey
    workload: ObjectKey
    reason: str  # the opt-in annotation, "" when not opted in
    state: State


# --- hashes --------------------------------------------------------------------------------------


def data_hash(obj: Mapping[str, Any]) -> str:
    """sha256 of what a pod can read of a ConfigMap or Secret: every field but apiVersion,
    kind, metadata and status (a Secret's default type counted as Opaque)."""
    payload = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    if obj.get("kind") == "Secret":
        payload.setdefault("type", "Opaque")
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _content_hash(obj: Mapping[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(m.CONTENT_HASH, ""))


def changed_mirror(before: Mapping[str, Any] | None, after: Obj) -> ChangedMirror | None:
    """The change a write made to a mirror, or None: a mirror just created (its consumers start
    on it), one whose content hash did not move (a resync, a repaired hand edit), and one whose
    hash moved for metadata alone (a new label) roll nothing."""
    if before is None:
        return None
    return change_of(after, content_hash_before=_content_hash(before), data_hash_before=data_hash(before))


def change_of(after: Obj, *, content_hash_before: str, data_hash_before: str | None) -> ChangedMirror | None:
    """`changed_mirror` for a caller that keeps hashes, not bodies (watch's cache): the mirror's
    content hash and data hash before the write. A data hash of None (not kept) leaves only the
    content hash to decide, so a metadata-only change then counts as a change."""
    if str(after.get("kind")) not in CONFIG_KINDS or content_hash_before == _content_hash(after):
        return None
    change = ChangedMirror.of(after)
    return None if data_hash_before == change.digest else change


# --- references ----------------------------------------------------------------------------------


def pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod template's spec, or None when the workload has no template of its own."""
    template = (workload.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return None
    spec = template.get("spec")
    return spec if isinstance(spec, dict) else None


def _named(value: Any) -> str:
    name = value.get("name") if isinstance(value, dict) else None
    return name if isinstance(name, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _container_refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    for field in CONTAINER_LISTS:
        for container in _list(spec.get(field)):
            if not isinstance(container, dict):
                continue
            where = f"spec.template.spec.{field}[{container.get('name', '')}]"
            for env in _list(container.get("env")):
                source = env.get("valueFrom") if isinstance(env, dict) else None
                source = source if isinstance(source, dict) else {}
                at = f"{where}.env[{env.get('name', '') if isinstance(env, dict) else ''}].valueFrom"
                yield "Secret", _named(source.get("secretKeyRef")), f"{at}.secretKeyRef"
                yield "ConfigMap", _named(source.get("configMapKeyRef")), f"{at}.configMapKeyRef"
            for index, env_from in enumerate(_list(container.get("envFrom"))):
                env_from = env_from if isinstance(env_from, dict) else {}
                yield "Secret", _named(env_from.get("secretRef")), f"{where}.envFrom[{index}].secretRef"
                yield (
                    "ConfigMap",
                    _named(env_from.get("configMapRef")),
                    f"{where}.envFrom[{index}].configMapRef",
                )


def _volume_refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    for volume in _list(spec.get("volumes")):
        if not isinstance(volume, dict):
            continue
        where = f"spec.template.spec.volumes[{volume.get('name', '')}]"
        secret = volume.get("secret")
        if isinstance(secret, dict) and isinstance(secret.get("secretName"), str):
            yield "Secret", secret["secretName"], f"{where}.secret"
        yield "ConfigMap", _named(volume.get("configMap")), f"{where}.configMap"
        projected = volume.get("projected")
        sources = _list(projected.get("sources")) if isinstance(projected, dict) else []
        for index, source in enumerate(sources):
            source = source if isinstance(source, dict) else {}
            yield "Secret", _named(source.get("secret")), f"{where}.projected.sources[{index}].secret"
            yield (
                "ConfigMap",
                _named(source.get("configMap")),
                f"{where}.projected.sources[{index}].configMap",
            )


def references(workload: Mapping[str, Any]) -> tuple[Reference, ...]:
    """Every ConfigMap and Secret the pod template uses: env valueFrom, envFrom, volumes
    (secret, configMap, projected sources) and imagePullSecrets, in init, regular and ephemeral
    containers. Sorted; one entry per (object, place)."""
    spec = pod_spec(workload)
    if spec is None:
        return ()
    namespace = str((workload.get("metadata") or {}).get("namespace", ""))
    found: list[tuple[str, str, str]] = [*_container_refs(spec), *_volume_refs(spec)]
    for index, pull in enumerate(_list(spec.get("imagePullSecrets"))):
        found.append(("Secret", _named(pull), f"spec.template.spec.imagePullSecrets[{index}]"))
    refs = {Reference(ObjectKey("core", kind, namespace, name), path) for kind, name, path in found if name}
    return tuple(sorted(refs))


# --- opting in -----------------------------------------------------------------------------------


def _annotations(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    found = ((obj or {}).get("metadata") or {}).get("annotations")
    return found if isinstance(found, dict) else {}


def _reloader_view(workload: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The annotations Reloader decides on: the workload's, unless none of the four that decide
    is there, then the pod template's."""
    own = _annotations(workload)
    deciding = (RELOADER_NAMED[kind], RELOADER_SEARCH, RELOADER_AUTO, RELOADER_TYPED_AUTO[kind])
    if any(key in own for key in deciding):
        return own
    return _annotations((workload.get("spec") or {}).get("template"))


def _names(value: Any) -> list[str]:
    return [part.strip() for part in str(value).split(",")] if isinstance(value, str) else []


def _named_by(patterns: Any, name: str) -> bool:
    """Reloader's reload lists: comma separated, each a regular expression of the whole name
    (one we refuse to compile is compared as a plain name)."""
    for pattern in _names(patterns):
        if not pattern:
            continue
        try:
            if regex_fullmatch(pattern, name):
                return True
        except RegexError:
            if pattern == name:
                return True
    return False


def opt_in(workload: Mapping[str, Any], mirror: ChangedMirror, refs: Iterable[Reference]) -> str:
    """The annotation that makes `workload` roll when `mirror` changes, or "" when none does.

    Ours: `kubectl-mirror.io/rollout: "true"` for a mirror the pod template uses; "false" opts
    out of everything. Reloader's, as Reloader decides: `ignore` on the mirror wins; then a
    name listed in `*.exclude.reloader.stakater.com/reload`; then `auto` or the typed `auto`
    (used mirrors only); then the named `reload` lists (rolled whether used or not, as Reloader
    does); then `search` on the workload with `match` on the mirror (used mirrors only)."""
    key = mirror.key
    meta_namespace = str((workload.get("metadata") or {}).get("namespace", ""))
    if key.group != "core" or key.kind not in CONFIG_KINDS or key.namespace != meta_namespace:
        return ""
    if pod_spec(workload) is None:
        return ""
    own = _annotations(workload)
    ours = own.get(ROLLOUT)
    if ours == "false":
        return ""
    used = any(ref.mirror == key for ref in refs)
    if ours == "true" and used:
        return ROLLOUT
    return _reloader(workload, mirror, used=used)


def _reloader(workload: Mapping[str, Any], mirror: ChangedMirror, *, used: bool) -> str:
    kind, name = mirror.key.kind, mirror.key.name
    if mirror.ignored or name in _names(_annotations(workload).get(RELOADER_EXCLUDE[kind])):
        return ""
    view = _reloader_view(workload, kind)
    for key in (RELOADER_AUTO, RELOADER_TYPED_AUTO[kind]):
        if view.get(key) in _GO_TRUE and used:
            return key
    if _named_by(view.get(RELOADER_NAMED[kind]), name):
        return RELOADER_NAMED[kind]
    if view.get(RELOADER_SEARCH) == "true" and mirror.matched and used:
        return RELOADER_SEARCH
    return ""


# --- the annotation ------------------------------------------------------------------------------


def _entry_key(key: ObjectKey) -> str:
    return f"{key.kind.lower()}/{key.name}"


def recorded(workload: Mapping[str, Any]) -> dict[str, str]:
    """What the pod template was last rolled for: `kind/name` -> hash prefix."""
    template = (workload.get("spec") or {}).get("template")
    value = _annotations(template if isinstance(template, dict) else None).get(RESTARTED_FOR)
    found: dict[str, str] = {}
    for entry in _names(value):
        name, sep, digest = entry.rpartition("=")
        if sep and name and not name.startswith("+"):
            found[name] = digest
    return found


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:HASH_CHARS]


def annotation_value(entries: Mapping[str, str]) -> str:
    """`configmap/a=1a2b3c4d5e6f,secret/b=...`, sorted; past MAX_VALUE characters the entries
    that fit, then `+N=<digest of them all>`, so the value still changes with any of them."""
    parts = [f"{name}={entries[name]}" for name in sorted(entries)]
    text = ",".join(parts)
    if len(text) <= MAX_VALUE:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]
    kept: list[str] = []
    size = 0
    for part in parts:
        tail = f",+{len(parts) - len(kept) - 1}={digest}"
        if size + len(part) + 1 + len(tail) > MAX_VALUE:
            break
        kept.append(part)
        size += len(part) + 1
    return ",".join([*kept, f"+{len(parts) - len(kept)}={digest}"])


def _still_used(workload: Mapping[str, Any], entry: str, used: set[str]) -> bool:
    if entry in used:
        return True
    kind_text, _, name = entry.partition("/")
    kind = next((k for k in CONFIG_KINDS if k.lower() == kind_text), "")
    return bool(kind) and _named_by(_reloader_view(workload, kind).get(RELOADER_NAMED[kind]), name)


# --- planning ------------------------------------------------------------------------------------


def is_workload(obj: Mapping[str, Any]) -> bool:
    key = ObjectKey.of(obj)
    return (key.group, key.kind) in WORKLOAD_KINDS


def plan_rollouts(workloads: Iterable[Obj], changed: Iterable[ChangedMirror]) -> tuple[PlannedRollout, ...]:
    """One rollout per workload that opted in for any of the changed mirrors of its namespace,
    sorted by workload. Only workloads in namespaces where a mirror changed are considered."""
    by_namespace: dict[str, list[ChangedMirror]] = {}
    for mirror in changed:
        by_namespace.setdefault(mirror.key.namespace, []).append(mirror)
    planned = []
    for workload in workloads:
        key = ObjectKey.of(workload)
        mirrors = by_namespace.get(key.namespace)
        if not mirrors or not is_workload(workload) or pod_spec(workload) is None:
            continue
        rollout = _plan_one(workload, key, mirrors)
        if rollout is not None:
            planned.append(rollout)
    return tuple(sorted(planned, key=lambda r: r.workload))


def _plan_one(workload: Obj, key: ObjectKey, mirrors: list[ChangedMirror]) -> PlannedRollout | None:
    refs = references(workload)
    triggers = []
    for mirror in sorted(mirrors, key=lambda c: c.key):
        reason = opt_in(workload, mirror, refs)
        if reason:
            triggers.append(Trigger(mirror.key, reason))
    if not triggers:
        return None
    used = {_entry_key(ref.mirror) for ref in refs}
    entries = {k: v for k, v in recorded(workload).items() if _still_used(workload, k, used)}
    digests = {c.key: c.digest for c in mirrors}
    entries.update({_entry_key(t.mirror): _short(digests[t.mirror]) for t in triggers})
    template_meta = _annotations((workload.get("spec") or {}).get("template"))
    meta = workload.get("metadata") or {}
    return PlannedRollout(
        workload=key,
        api_version=str(workload.get("apiVersion", "")),
        resource_version=str(meta.get("resourceVersion") or ""),
        triggers=tuple(triggers),
        current=str(template_meta.get(RESTARTED_FOR, "")),
        value=annotation_value(entries),
        uid=str(meta.get("uid") or ""),
    )


def consumers(workloads: Iterable[Obj], mirrors: Mapping[ObjectKey, Obj]) -> tuple[Consumer, ...]:
    """Per mirror, the workloads whose pod template uses it: opted in or not, and `current`
    (last rolled for the data it holds now), `outdated` (for older data) or `unknown` (never
    rolled by us for it). Sorted by mirror, then workload."""
    found = []
    for workload in workloads:
        if not is_workload(workload):
            continue
        key = ObjectKey.of(workload)
        refs = references(workload)
        rolled = recorded(workload)
        for mirror_key in sorted({ref.mirror for ref in refs}):
            mirror = mirrors.get(mirror_key)
            if mirror is None:
                continue
            seen = ChangedMirror.of(mirror)
            last = rolled.get(_entry_key(mirror_key))
            state: State = (
                "unknown" if last is None else "current" if last == _short(seen.digest) else "outdated"
            )
            found.append(Consumer(mirror_key, key, opt_in(workload, seen, refs), state))
    return tuple(sorted(found, key=lambda c: (c.mirror, c.workload)))
