"""Watch events: the kept history, the open watchers, and what each watcher is sent.

The store publishes every committed change here while holding its lock, so a watcher that
registers under the same lock sees each event exactly once after its replay. History is
bounded (like etcd compaction): a watch from a resourceVersion older than what is kept is
answered with a 410 `Expired` ERROR event. A MODIFIED event whose object starts (stops)
matching a watcher's selectors reaches it as ADDED (DELETED), as the real watch cache does.
"""

from __future__ import annotations

import bisect
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .selectors import FieldSelector, LabelSelector, matches_fields, matches_labels

CLOSE = object()  # queued to end a watch stream


@dataclass(frozen=True)
class Event:
    rv: int
    bucket: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None = None


@dataclass(eq=False)
class Watcher:
    bucket: str
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    queue: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)
    closed: bool = False

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return matches_labels(self.labels, meta.get("labels") or {}) and matches_fields(self.fields, obj)

    def translate(self, event: Event) -> tuple[str, dict[str, Any]] | None:
        """What this watcher sees of `event`, if anything."""
        if event.type == "DELETED":
            return ("DELETED", event.obj) if self.matches(event.obj) else None
        now, before = self.matches(event.obj), self.matches(event.old)
        if event.type == "ADDED" or (now and not before):
            return ("ADDED", event.obj) if now else None
        if now:
            return ("MODIFIED", event.obj)
        if before and event.old is not None:
            gone = dict(event.old)
            gone["metadata"] = {**event.old["metadata"], "resourceVersion": str(event.rv)}
            return ("DELETED", gone)
        return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put(CLOSE)


class WatchHub:
    """History of events and the open watchers. Callers hold the store lock."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self._history: list[Event] = []
        self._rvs: list[int] = []
        self.floor = 0  # events with rv <= floor are gone
        self._watchers: set[Watcher] = set()
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        self._history.append(event)
        self._rvs.append(event.rv)
        if len(self._history) > self.max_events:
            self.compact(self._rvs[len(self._rvs) - self.max_events * 9 // 10 - 1])
        with self._lock:
            watchers = [w for w in self._watchers if w.bucket == event.bucket]
        for w in watchers:
            if (seen := w.translate(event)) is not None:
                w.queue.put(seen)

    def compact(self, rv: int) -> None:
        """Forget events up to and including `rv`."""
        cut = bisect.bisect_right(self._rvs, rv)
        del self._history[:cut]
        del self._rvs[:cut]
        self.floor = max(self.floor, rv)

    def since(self, watcher: Watcher, rv: int) -> list[tuple[str, dict[str, Any]]]:
        """Events after `rv` that `watcher` would have seen; 410 if they are no longer kept."""
        if rv < self.floor:
            raise errors.expired(f"too old resource version: {rv} ({self.floor + 1})")
        start = bisect.bisect_right(self._rvs, rv)
        out = []
        for event in self._history[start:]:
            if event.bucket == watcher.bucket and (seen := watcher.translate(event)):
                out.append(seen)
        return out

    def register(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.add(watcher)

    def unregister(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.discard(watcher)

    def close(self, bucket: str | None = None) -> int:
        with self._lock:
            chosen = [w for w in self._watchers if bucket is None or w.bucket == bucket]
        for w in chosen:
            w.close()
        return len(chosen)

    def open_count(self, bucket: str | None = None) -> int:
        with self._lock:
            return sum(1 for w in self._watchers if bucket is None or w.bucket == bucket)

    def clear(self, floor: int) -> None:
        self.close()
        self._history.clear()
        self._rvs.clear()
        self.floor = floor
