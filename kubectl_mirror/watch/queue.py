"""A work queue keyed by source: duplicates collapse, a key is never worked on by two workers
at once, and failures come back after a per-key exponential backoff."""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Any


class WorkQueue:
    def __init__(self, *, base_delay: float = 0.5, max_delay: float = 300.0) -> None:
        self._cond = threading.Condition()
        self._ready: deque[Any] = deque()  # a resync queues every source at once
        self._queued: set[Hashable] = set()
        self._active: set[Hashable] = set()
        self._dirty: set[Hashable] = set()  # re-added while active: requeue when done
        self._later: list[tuple[float, int, Any]] = []
        self._failures: dict[Hashable, int] = {}
        self._seq = 0
        self._closed = False
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __len__(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._later)

    def add(self, key: Hashable) -> None:
        with self._cond:
            if key in self._active:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
                self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._later, (time.monotonic() + delay, self._seq, key))
            self._cond.notify()

    def retry(self, key: Hashable) -> float:
        """Put `key` back after its backoff; returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        delay = float(min(self.max_delay, self.base_delay * 2 ** (failures - 1)))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def get(self, timeout: float = 0.5) -> Any | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                while self._later and self._later[0][0] <= now:
                    _, _, key = heapq.heappop(self._later)
                    if key not in self._queued and key not in self._active:
                        self._queued.add(key)
                        self._ready.append(key)
                    elif key in self._active:
                        self._dirty.add(key)
                if self._ready:
                    key = self._ready.popleft()
                    self._queued.discard(key)
                    self._active.add(key)
                    return key
                if self._closed or now >= deadline:
                    return None
                wait = deadline - now
                if self._later:
                    wait = min(wait, max(0.0, self._later[0][0] - now))
                self._cond.wait(wait)

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._ready.append(key)
                    self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._ready and not self._active and not self._later

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
