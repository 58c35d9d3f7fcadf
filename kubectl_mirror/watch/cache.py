"""What the cluster looks like, as the informers report it. The only place in `watch` that knows.

It keeps what reconciling needs: sources whole (they are rendered), mirrors slim (a
`MirrorRecord`: key, content hash, resourceVersion, source), namespaces as names and labels,
MirrorPolicies parsed, the served kinds, and the mirrors written but not yet seen back.

Threads. Informer threads call the `on_*` handlers; workers call `snapshot`, `record`,
`resource`, `expect` and `expect_gone`; the manager calls `set_kinds` and `resync_keys`.
`_lock` guards every field below it in `__init__`. A method holds it only to read or update
those fields: it never calls out (no request, no queue, no log) while holding it, and never
hands out a structure the lock guards (snapshots are copies). Handlers return the source keys a
change affects; the caller enqueues them.
"""

from __future__ import annotations

import sys
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.globs import glob_match
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, NamespaceInfo, Obj
from kubectl_mirror.engine.plan import is_mirror, source_of
from kubectl_mirror.engine.policy import Policy, read_policy
from kubectl_mirror.engine.reconcile import Key, is_ours, normalized
from kubectl_mirror.engine.render import content_hash
from kubectl_mirror.errors import MirrorError, Ref
from kubectl_mirror.io.cluster import Resource
from kubectl_mirror.live.state import source_namespace_of
from kubectl_mirror.watch.informer import cache_key

SourceKey = Key  # (group, kind, namespace, name) of a source
GONE = ""  # an expected digest meaning "we deleted it": its DELETED event is our own echo
GroupKind = tuple[str, str]  # ("core" for the core group, kind)


@dataclass(frozen=True, slots=True)
class MirrorRecord:
    """All watch keeps of a mirror: enough to tell whether it is in sync without reading it."""

    key: Key
    digest: str
    resource_version: str
    source: SourceKey
    on_source_delete: str
    stale: bool
    immutable: bool = False
    adopted: bool = False
    secret_type: str = ""


def record_of(obj: Obj) -> MirrorRecord:
    current = normalized(obj)
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    body = {k: v for k, v in current.items() if k not in ("apiVersion", "kind", "metadata")}
    digest = content_hash(body, current["metadata"]["labels"], current["metadata"]["annotations"])
    # The mirrors of one source share their digest, source and kind strings: intern them once.
    return MirrorRecord(
        key=cache_key(obj),
        digest=sys.intern(digest),
        resource_version=str(meta.get("resourceVersion", "")),
        source=Key(
            sys.intern(str(annotations.get(m.SOURCE_GROUP, ""))),
            sys.intern(str(annotations.get(m.SOURCE_KIND, ""))),
            sys.intern(str(annotations.get(m.SOURCE_NAMESPACE, ""))),
            sys.intern(str(annotations.get(m.SOURCE_NAME, ""))),
        ),
        on_source_delete=sys.intern(str(annotations.get(m.ON_SOURCE_DELETE, "delete"))),
        stale=(meta.get("labels") or {}).get(m.STALE) == "true",
        immutable=obj.get("immutable") is True,
        adopted=annotations.get(m.ADOPTED) == "true",
        secret_type=sys.intern(str(obj.get("type", "Opaque"))),
    )


@dataclass(frozen=True)
class Snapshot:
    """One source as the cache saw it at one moment, with everything rendering it needs."""

    key: SourceKey
    source: Obj | None  # None: no longer a cached source (deleted, unmarked, out of scope)
    universe: Mapping[str, NamespaceInfo]
    owned: frozenset[Key]  # mirrors of this source the cache knows
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class PolicyChange:
    """What a MirrorPolicy event means: sources to look at again, a policy whose selected
    objects must be read (they carried no marker, so no informer cached them), or why the
    policy cannot be used."""

    affected: tuple[SourceKey, ...]
    load: Policy | None = None
    invalid: str = ""


class Cache:
    def __init__(
        self,
        options: EngineOptions,
        *,
        source_namespaces: tuple[str, ...] = (),
        require_consent: bool = False,
    ) -> None:
        self.options = replace(options, live=True)
        self.source_namespaces = source_namespaces
        self.require_consent = require_consent
        self._lock = threading.Lock()
        # -- guarded by _lock --
        self._sources: dict[SourceKey, Obj] = {}
        self._specs: dict[SourceKey, MirrorSpec | None] = {}
        self._mirrors: dict[Key, MirrorRecord] = {}
        self._by_source: defaultdict[SourceKey, set[Key]] = defaultdict(set)
        self._namespaces: dict[str, NamespaceInfo] = {}
        self._policies: dict[str, Policy] = {}
        self._kinds: dict[GroupKind, Resource] = {}
        # Mirrors written but not yet seen back on the watch, with the digest written (GONE
        # for a delete): a source reconciled again in between must not write them again.
        self._expected: dict[Key, str] = {}

    # -- what informers keep ----------------------------------------------------------------

    def keep_namespace(self, obj: Obj) -> NamespaceInfo | None:
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return None  # terminating: can receive nothing
        labels = meta.get("labels") or {}
        return NamespaceInfo(
            str(meta.get("name")), tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        )

    def keep_object(self, obj: Obj) -> Any:
        """Mirrors slim, candidate sources whole, everything else dropped.

        A mirror whose source is outside this controller's scope is not ours to judge: it is
        not cached, so nothing can ever enqueue, update or prune it (another controller, or
        nobody, owns that decision)."""
        if is_ours(obj):
            return record_of(obj) if self.in_scope(source_namespace_of(obj)) else None
        if is_mirror(obj):
            return None
        if self._is_candidate(obj):
            return obj
        return None

    def in_scope(self, namespace: str) -> bool:
        patterns = self.source_namespaces
        return not patterns or any(glob_match(p, namespace) for p in patterns)

    def _is_candidate(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace", ""))
        if not self.in_scope(ns):
            return False
        with self._lock:
            if any(p.namespace == ns for p in self._policies.values()):
                return True
        keys = [*(meta.get("labels") or {}), *(meta.get("annotations") or {})]
        return any(k.startswith(m.CONTROL_PREFIXES) for k in keys)

    # -- informer events ----------------------------------------------------------------------

    def on_namespace(self, key: Key, old: NamespaceInfo | None, new: NamespaceInfo | None) -> list[SourceKey]:
        name = key[3]
        with self._lock:
            if new is None:
                self._namespaces.pop(name, None)
            else:
                self._namespaces[name] = new
            if old == new:
                return []
            return [k for k, spec in self._specs.items() if spec is not None and _may_target(spec, name)]

    def on_object(self, key: Key, old: Any, new: Any) -> list[SourceKey]:
        """A cached object changed (old or new None: added or deleted)."""
        spec = self._spec(new) if new is not None and not isinstance(new, MirrorRecord) else None
        with self._lock:
            # Whatever the watch says of it now is the truth.
            expected = self._expected.pop(key, None)
            if isinstance(old, MirrorRecord):
                self._mirrors.pop(key, None)
                self._by_source[old.source].discard(key)
            elif new is None and key in self._sources:
                self._sources.pop(key, None)
                self._specs.pop(key, None)
            elif new is None and old is None:
                return []
            if isinstance(new, MirrorRecord):
                self._mirrors[key] = new
                self._by_source[new.source].add(key)
                # The echo of our own write needs no reconcile.
                return [new.source] if new.digest != expected else []
            if new is not None:
                self._sources[key] = new
                self._specs[key] = spec
        if isinstance(old, MirrorRecord):
            return [old.source] if new is not None or expected != GONE else []
        return [key]

    def _spec(self, obj: Obj) -> MirrorSpec | None:
        with self._lock:
            policies = list(self._policies.values())
        source, _ = source_of(obj, Ref.of(obj), policies=policies, options=self.options)
        return source.spec if source else None

    def on_policy(self, key: Key, new: Obj | None) -> PolicyChange:
        name = key[3]
        if new is not None and not self.in_scope(_policy_namespace(new)):
            # Another scope's policy: neither applied nor reported here (its own controller
            # writes its status; two would overwrite each other's).
            new = None
        invalid = ""
        parsed: Policy | None = None
        if new is not None:
            try:
                parsed = read_policy(new, Ref.of(new), self.options)
            except MirrorError as err:
                invalid = err.one_line()
        with self._lock:
            if parsed is None:
                self._policies.pop(name, None)
            else:
                self._policies[name] = parsed
            affected = tuple(self._sources)
        return PolicyChange(affected, load=parsed, invalid=invalid)

    # -- served kinds -------------------------------------------------------------------------

    def set_kinds(self, kinds: Mapping[GroupKind, Resource]) -> None:
        with self._lock:
            self._kinds = dict(kinds)

    def kinds(self) -> dict[GroupKind, Resource]:
        with self._lock:
            return dict(self._kinds)

    def resource(self, key: Key) -> Resource | None:
        with self._lock:
            return self._kinds.get((key[0], key[1]))

    def resource_of_kind(self, kind: str) -> Resource | None:
        with self._lock:
            return next((r for (_, k), r in self._kinds.items() if k == kind), None)

    # -- for workers --------------------------------------------------------------------------

    def snapshot(self, key: SourceKey) -> Snapshot:
        with self._lock:
            if self.require_consent:
                universe = {
                    n: i for n, i in self._namespaces.items() if i.label_map().get(m.ACCEPT) == "true"
                }
            else:
                universe = dict(self._namespaces)
            return Snapshot(
                key=key,
                source=self._sources.get(key),
                universe=universe,
                owned=frozenset(self._by_source.get(key, ())),
                policies=tuple(self._policies.values()),
            )

    def record(self, key: Key) -> MirrorRecord | None:
        with self._lock:
            return self._mirrors.get(key)

    def in_sync(self, key: Key, digest: str) -> bool:
        """The cached mirror has this content, or we wrote it and its echo is still coming."""
        with self._lock:
            record = self._mirrors.get(key)
            return (record is not None and record.digest == digest) or self._expected.get(key) == digest

    def expect(self, key: Key, digest: str) -> None:
        with self._lock:
            record = self._mirrors.get(key)
            if record is None or record.digest != digest:  # else the watch was faster than us
                self._expected[key] = digest

    def expect_gone(self, key: Key) -> None:
        with self._lock:
            self._expected[key] = GONE

    def unexpect(self, key: Key, value: str) -> None:
        """The write expected did not happen: its key's next event is news again."""
        with self._lock:
            if self._expected.get(key) == value:
                del self._expected[key]

    def policy_report(self, name: str) -> tuple[int, int] | None:
        """(sources, mirrors) a policy selects now, or None when it is not (or no longer) ours."""
        with self._lock:
            policy = self._policies.get(name)
            if policy is None:
                return None
            selected = [
                k for k, spec in self._specs.items() if spec is not None and spec.policy == policy.ref
            ]
            mirrors = sum(1 for s in selected for k in self._by_source.get(s, ()) if k in self._mirrors)
            return len(selected), mirrors

    # -- for the manager ----------------------------------------------------------------------

    def resync_keys(self) -> list[SourceKey]:
        """Every source, and every source that left mirrors behind (found missing at start-up)."""
        with self._lock:
            keys = set(self._sources) | {k for k, v in self._by_source.items() if v}
        return sorted(keys)

    def mirror_count(self) -> int:
        with self._lock:
            return len(self._mirrors)

    def forget(self, events: Iterable[tuple[Key, Any]]) -> list[SourceKey]:
        """Objects of a kind no longer served went with it: treat each as deleted."""
        affected: list[SourceKey] = []
        for key, old in events:
            affected += self.on_object(key, old, None)
        return affected


def _policy_namespace(obj: Obj) -> str:
    source = (obj.get("spec") or {}).get("source")
    namespace = source.get("namespace") if isinstance(source, dict) else None
    return namespace if isinstance(namespace, str) else ""


def _may_target(spec: MirrorSpec, namespace: str) -> bool:
    """Could a change to this namespace affect this source? A source that names its targets
    explicitly only cares about those names; any pattern, label or selector may match."""
    return any(t.kind != "name" or t.value == namespace for t in spec.targets)
