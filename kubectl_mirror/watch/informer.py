"""List+watch for one resource, kept in a local cache, that never goes silent.

A watch that ends (the server's timeout, EOF) resumes from the last resourceVersion seen. A
410 Gone or a failed request leads to a relist with jittered backoff (the cache is diffed
against the new list, so handlers see the changes they missed). A stream that delivers nothing,
not even a bookmark, for `stall_after` seconds is cut and resumed from its last version (a
wedged connection); a real kube-apiserver sends a bookmark on a quiet watch about every 60 s
(the first after up to 120 s), so the default 180 s never cuts a healthy stream. Restarts are
counted by reason.

Threads: `run` is the only writer of every field, on its own thread, and calls `handler` there.
Other threads only read: `synced` (an Event), `last_seen`, `version` and `restarts` (single
assignments or increments, read for health and metrics, where a value one event old is fine).
`store` is read by another thread only after `run` was told to stop for good (a kind no longer
served, see watch/manager.py `rediscover`), through a copy of its items.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubectl_mirror.engine.model import Obj
from kubectl_mirror.engine.reconcile import Key, key_of
from kubectl_mirror.errors import ForbiddenError, MirrorError
from kubectl_mirror.io.cluster import WATCH_PAGE_SIZE, Cluster, Resource, WatchSilent

log = logging.getLogger("kubectl_mirror.watch")

Handler = Callable[[str, Key, Any, Any], None]  # (event type, key, old kept value, new kept value)


def cache_key(obj: Obj) -> Key:
    """`key_of` with interned strings: 200,000 cached keys share a few kinds, namespaces and
    names (every source's name recurs in each of its target namespaces)."""
    group, kind, namespace, name = key_of(obj)
    return Key(sys.intern(group), sys.intern(kind), sys.intern(namespace), sys.intern(name))


def _keep_all(obj: Obj) -> Any:
    return obj


@dataclass
class Informer:
    cluster: Cluster
    resource: Resource
    handler: Handler
    label_selector: str | None = None
    keep: Callable[[Obj], Any] = _keep_all  # what to cache per object (None: not cached)
    stall_after: float = 180.0
    watch_timeout: int = 300
    store: dict[Key, Any] = field(default_factory=dict)
    synced: threading.Event = field(default_factory=threading.Event)
    restarts: Counter[str] = field(default_factory=Counter)
    last_seen: float = field(default_factory=time.monotonic)
    forbidden: bool = False
    version: str = ""  # the last resourceVersion seen: where a resumed watch starts
    _versions: dict[Key, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        selector = f"[{self.label_selector}]" if self.label_selector else ""
        return f"{self.resource.plural}{selector}"

    def stalled(self, now: float | None = None) -> bool:
        return (now or time.monotonic()) - self.last_seen > self.stall_after * 2

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self.version = self._relist()
                failures = 0
                while not stop.is_set():
                    try:
                        reason = self._watch(stop)
                    except WatchSilent:
                        reason = "stalled"  # resumed from self.version: nothing was missed
                    if reason:
                        self.restarts[reason] += 1
                        log.info("watch %s restarts: %s", self.name, reason)
                        if reason == "gone":
                            break  # relist
            except ForbiddenError as err:
                # RBAC does not let us read this kind: mirror what we may, never block readiness.
                log.warning("not watching %s: %s", self.name, err.message)
                self.forbidden = True
                self.synced.set()
                return
            except Exception as err:  # a bug or an odd answer costs a relist, never the watch
                failures += 1
                message = err.message if isinstance(err, MirrorError) else f"{type(err).__name__}: {err}"
                self.restarts["error"] += 1
                delay = min(30.0, 0.2 * 2 ** min(failures, 8)) * (0.5 + random.random())
                log.warning("watch %s failed (%s); relisting in %.1fs", self.name, message, delay)
                stop.wait(delay)

    def _relist(self) -> str:
        """List page by page, keeping only what `keep` makes of each object as it arrives."""
        seen: set[Key] = set()
        version = ""
        pages = self.cluster.pages(self.resource, label_selector=self.label_selector, limit=WATCH_PAGE_SIZE)
        for page, page_version in pages:
            version = page_version
            for obj in page:
                key = cache_key(obj)
                seen.add(key)
                rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
                if self._versions.get(key) == rv and key in self.store:
                    continue
                self._apply("MODIFIED" if key in self.store else "ADDED", key, obj)
        self.last_seen = time.monotonic()
        for key in [k for k in self.store if k not in seen]:
            old = self.store.pop(key)
            self._versions.pop(key, None)
            self.handler("DELETED", key, old, None)
        self.synced.set()
        return version

    def _apply(self, kind: str, key: Key, obj: Obj) -> None:
        old = self.store.get(key)
        kept = self.keep(obj)
        if kept is None:  # not cached, so no version either (most ConfigMaps and Secrets)
            if key in self.store:
                del self.store[key]
                self._versions.pop(key, None)
                self.handler("DELETED", key, old, None)
            return
        self._versions[key] = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        self.store[key] = kept
        self.handler("MODIFIED" if old is not None else "ADDED", key, old, kept)

    def _watch(self, stop: threading.Event) -> str:
        """One watch stream from `self.version`, which follows every event; returns why it
        ended ("" for a normal end)."""
        stream = self.cluster.watch(
            self.resource,
            resource_version=self.version,
            label_selector=self.label_selector,
            timeout_seconds=self.watch_timeout,
            read_timeout=self.stall_after,
        )
        for event in stream:
            self.last_seen = time.monotonic()
            if stop.is_set():
                return ""
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                code = obj.get("code")
                return "gone" if code == 410 else f"error {code}"
            meta = obj.get("metadata") or {}
            self.version = str(meta.get("resourceVersion") or self.version)
            if kind == "BOOKMARK":
                continue
            key = cache_key(obj)
            if kind == "DELETED":
                old = self.store.pop(key, None)
                self._versions.pop(key, None)
                self.handler("DELETED", key, old, None)  # also for objects cached elsewhere
            elif kind in ("ADDED", "MODIFIED"):
                self._apply(kind, key, obj)
        return ""
