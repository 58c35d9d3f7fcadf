"""What the cluster looks like, as the informers report it. The only place in `watch` that knows.

It keeps what reconciling needs: sources whole (they are rendered), mirrors slim (a
`MirrorRecord`: key, content hash, resourceVersion, source, policy), namespaces as names and
labels, policy resources (MirrorPolicy, ConfigMapSync, ConfigMirror) parsed with what their
status and finalizer need, the served kinds, the mirrors written but not yet seen back, and
each source's last outcome (for the status of the policies that select it).

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
from kubectl_mirror.engine.policies import PolicyKind, policy_kind_of
from kubectl_mirror.engine.policy import Policy, policy_text
from kubectl_mirror.engine.reconcile import Key, is_ours, normalized
from kubectl_mirror.engine.render import content_hash
from kubectl_mirror.engine.rollouts import CONFIG_KINDS, data_hash
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
    policy: str = ""  # the policy that asked for it, as the mirror names it ("" for markers)
    data_digest: str = ""  # a ConfigMap's or Secret's data hash (did a write change what pods read?)


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
        policy=sys.intern(str(annotations.get(m.SOURCE_POLICY, ""))),
        data_digest=sys.intern(data_hash(obj)) if obj.get("kind") in CONFIG_KINDS else "",
    )


@dataclass(frozen=True)
class Snapshot:
    """One source as the cache saw it at one moment, with everything rendering it needs."""

    key: SourceKey
    source: Obj | None  # None: no longer a cached source (deleted, unmarked, out of scope)
    universe: Mapping[str, NamespaceInfo]
    owned: frozenset[Key]  # mirrors of this source the cache knows
    policies: tuple[Policy, ...]
    # Policies that exist but could not be read, as mirrors name them: their mirrors are kept
    # (a typo in a policy never deletes anything, as a typo in a marker never does).
    failed_policies: frozenset[str] = frozenset()

    def kept(self, record: MirrorRecord | None) -> bool:
        return record is not None and bool(record.policy) and record.policy in self.failed_policies


@dataclass(frozen=True)
class PolicyObject:
    """A policy resource as the informer last reported it: parsed (or why not), and what its
    status and its finalizer need. `text` is how its mirrors name it."""

    key: Key
    kind: PolicyKind
    text: str
    policy: Policy | None  # None: invalid, see `invalid`
    invalid: str
    generation: int
    resource_version: str
    finalizers: tuple[str, ...]
    terminating: bool
    status: Mapping[str, Any]

    @property
    def applies(self) -> bool:
        """Whether it selects sources now: read, and not being deleted."""
        return self.policy is not None and not self.terminating


@dataclass(frozen=True)
class SourceOutcome:
    """A source's last reconcile, as the policies that select it report it."""

    ok: bool
    message: str = ""
    retries: int = 0  # failures in a row


@dataclass(frozen=True)
class PolicyFacts:
    """What a policy's status says, read from the cache at one moment."""

    obj: PolicyObject
    sources: tuple[SourceKey, ...]  # the cached sources it selects
    named: tuple[SourceKey, ...]  # the sources it names exactly (cached or not)
    mirrors: tuple[Key, ...]  # ours that name it (seen on the watch, not being deleted)
    placed: tuple[tuple[Key, SourceKey], ...]  # each of `mirrors` with its source
    versions: Mapping[SourceKey, str]  # the content its mirrors of each source hold
    outcomes: Mapping[SourceKey, SourceOutcome]  # of `sources`, where known
    leftovers: tuple[Key, ...]  # mirrors that name it although it no longer applies
    waiting: tuple[SourceKey, ...]  # cached sources of `leftovers` (their reconcile removes them)


@dataclass(frozen=True)
class PolicyChange:
    """What a policy event means: sources to look at again, a policy whose selected objects
    must be read (they carried no marker, so no informer cached them), or why the policy cannot
    be used."""

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
        self._by_policy: defaultdict[str, set[Key]] = defaultdict(set)  # by the policy they name
        self._namespaces: dict[str, NamespaceInfo] = {}
        self._policy_objects: dict[Key, PolicyObject] = {}
        self._policies: dict[Key, Policy] = {}  # of `_policy_objects` that apply
        self._failed_policies: frozenset[str] = frozenset()  # texts of those that could not be read
        self._policy_by_text: dict[str, Key] = {}
        self._outcomes: dict[SourceKey, SourceOutcome] = {}
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
                if old.policy:
                    self._by_policy[old.policy].discard(key)
            elif new is None and key in self._sources:
                self._sources.pop(key, None)
                self._specs.pop(key, None)
            elif new is None and old is None:
                return []
            # A mirror that names a policy counts in its status: look at that again.
            named = {r.policy for r in (old, new) if isinstance(r, MirrorRecord) and r.policy}
            statuses = [
                policy_key(self._policy_by_text[t]) for t in sorted(named) if t in self._policy_by_text
            ]
            if isinstance(new, MirrorRecord):
                self._mirrors[key] = new
                self._by_source[new.source].add(key)
                if new.policy:
                    self._by_policy[new.policy].add(key)
                # The echo of our own write needs no reconcile.
                return ([new.source] if new.digest != expected else []) + statuses
            if new is not None:
                self._sources[key] = new
                self._specs[key] = spec
        if isinstance(old, MirrorRecord):
            return ([old.source] if new is not None or expected != GONE else []) + statuses
        return [key]

    def _spec(self, obj: Obj) -> MirrorSpec | None:
        with self._lock:
            policies = list(self._policies.values())
        source, _ = source_of(obj, Ref.of(obj), policies=policies, options=self.options)
        return source.spec if source else None

    def on_policy(self, key: Key, new: Obj | None) -> PolicyChange:
        """A policy resource was added, changed or deleted (new None)."""
        kind = policy_kind_of(new) if new is not None else None
        if new is not None and (kind is None or not self.in_scope(kind.source_namespace(new))):
            # Another scope's policy: neither applied nor reported here (its own controller
            # writes its status; two would overwrite each other's).
            new = None
        seen: PolicyObject | None = None
        if new is not None and kind is not None:
            seen = _policy_object(key, kind, new, self.options)
        with self._lock:
            previous = self._policy_objects.pop(key, None)
            if seen is not None:
                self._policy_objects[key] = seen
            before = self._policies.get(key)
            self._index_policies()
            after = self._policies.get(key)
            affected = tuple(self._sources) if before != after or seen is None else ()
        load = after if after is not None and after != before else None
        # Said once per mistake, not again at each status write.
        invalid = seen.invalid if seen and (previous is None or previous.invalid != seen.invalid) else ""
        return PolicyChange(affected, load=load, invalid=invalid)

    def _index_policies(self) -> None:
        objects = self._policy_objects.values()
        self._policies = {o.key: o.policy for o in objects if o.applies and o.policy is not None}
        # A policy being deleted no longer protects its mirrors, readable or not: its finalizer
        # waits for them to go.
        self._failed_policies = frozenset(o.text for o in objects if o.policy is None and not o.terminating)
        self._policy_by_text = {o.text: o.key for o in objects}

    def policy_object(self, key: Key) -> PolicyObject | None:
        with self._lock:
            return self._policy_objects.get(key)

    def policy_keys_of(self, source: SourceKey) -> list[SourceKey]:
        """Status keys of the policies that select a source (or name it, when it is gone)."""
        with self._lock:
            obj = self._sources.get(source)
            found = [
                o.key
                for o in self._policy_objects.values()
                if o.policy is not None
                and (o.policy.selects(obj) if obj is not None else source in o.policy.sources())
            ]
        return [policy_key(k) for k in sorted(found)]

    def record_outcome(self, key: SourceKey, outcome: SourceOutcome) -> bool:
        """Keep a source's last outcome; True when it differs from the one before (the status of
        the policies that select it may change)."""
        with self._lock:
            before = self._outcomes.get(key)
            if outcome.ok and before is None:
                return False
            if outcome.ok:
                del self._outcomes[key]
            else:
                self._outcomes[key] = outcome
            return before != outcome

    def failures_of(self, key: SourceKey) -> int:
        with self._lock:
            outcome = self._outcomes.get(key)
            return outcome.retries if outcome else 0

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
                failed_policies=self._failed_policies,
            )

    def sources(self, keys: Iterable[SourceKey]) -> dict[SourceKey, Obj]:
        """The cached sources of `keys` (the objects themselves: callers must not change them)."""
        with self._lock:
            return {k: self._sources[k] for k in keys if k in self._sources}

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

    def policy_facts(self, key: Key) -> PolicyFacts | None:
        """What a policy's status needs, or None when it is not (or no longer) ours to report."""
        with self._lock:
            obj = self._policy_objects.get(key)
            if obj is None:
                return None
            policy = obj.policy
            sources: list[SourceKey] = []
            named: tuple[SourceKey, ...] = ()
            if policy is not None:
                named = tuple(Key(*k) for k in policy.sources())
                sources = sorted(k for k, o in self._sources.items() if policy.selects(o))
            # A mirror's echo queues its policy's status again (`on_object`), so counting what
            # has been seen is enough; one being deleted no longer counts.
            mirrors = sorted(k for k in self._by_policy.get(obj.text, ()) if self._expected.get(k) != GONE)
            placed = tuple((k, self._mirrors[k].source) for k in mirrors)
            digests: defaultdict[SourceKey, set[str]] = defaultdict(set)
            for k, source in placed:
                digests[source].add(self._mirrors[k].digest)
            leftovers: tuple[Key, ...] = ()
            waiting: set[SourceKey] = set()
            if not obj.applies:
                leftovers = tuple(mirrors)
                waiting = {source for _, source in placed if source in self._sources}
            return PolicyFacts(
                obj=obj,
                sources=tuple(sources),
                named=named,
                mirrors=tuple(mirrors),
                placed=placed,
                versions={k: ",".join(sorted(v)) for k, v in digests.items()},
                outcomes={k: self._outcomes[k] for k in sources if k in self._outcomes},
                leftovers=leftovers,
                waiting=tuple(sorted(waiting)),
            )

    # -- for the manager ----------------------------------------------------------------------

    def resync_keys(self) -> list[SourceKey]:
        """Every source, every source that left mirrors behind (found missing at start-up), and
        every policy resource (its status, finalizer and database copy are looked at again)."""
        with self._lock:
            keys = set(self._sources) | {k for k, v in self._by_source.items() if v}
            policies = [policy_key(k) for k in self._policy_objects]
        return sorted(keys) + sorted(policies)

    def mirror_count(self) -> int:
        with self._lock:
            return len(self._mirrors)

    def forget(self, events: Iterable[tuple[Key, Any]]) -> list[SourceKey]:
        """Objects of a kind no longer served went with it: treat each as deleted."""
        affected: list[SourceKey] = []
        for key, old in events:
            affected += self.on_object(key, old, None)
        return affected


def policy_key(key: Key) -> SourceKey:
    """Queue key asking for a policy resource's status (and finalizer) to be looked at."""
    return Key(f"policy:{key[0]}", key[1], key[2], key[3])


def is_policy_key(key: SourceKey) -> bool:
    return key[0].startswith("policy:")


def resource_key(key: SourceKey) -> Key:
    """The policy resource a status key stands for."""
    return Key(key[0].removeprefix("policy:"), key[1], key[2], key[3])


def _policy_object(key: Key, kind: PolicyKind, obj: Obj, options: EngineOptions) -> PolicyObject:
    ref = Ref.of(obj)
    meta = obj.get("metadata") or {}
    policy: Policy | None = None
    invalid = ""
    try:
        policy = kind.read(obj, ref, options)
    except MirrorError as err:
        invalid = err.one_line()
    finalizers = meta.get("finalizers")
    generation = meta.get("generation")
    status = obj.get("status")
    return PolicyObject(
        key=key,
        kind=kind,
        text=policy_text(ref),
        policy=policy,
        invalid=invalid,
        generation=generation if isinstance(generation, int) else 0,
        resource_version=str(meta.get("resourceVersion", "")),
        finalizers=tuple(str(f) for f in finalizers) if isinstance(finalizers, list) else (),
        terminating=bool(meta.get("deletionTimestamp")),
        status=status if isinstance(status, dict) else {},
    )


def _may_target(spec: MirrorSpec, namespace: str) -> bool:
    """Could a change to this namespace affect this source? A source that names its targets
    explicitly only cares about those names; any pattern, label or selector may match."""
    return any(t.kind != "name" or t.value == namespace for t in spec.targets)
