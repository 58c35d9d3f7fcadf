"""A work queue keyed by source: duplicates collapse, a key is never worked on by two workers
at once, and failures come back after a per-key exponential backoff.

Three lanes, so one source's change never waits for a backlog of others: `urgent` holds what
an event asked for (a source or mirror changed, a namespace appeared); `resumed` holds the rest
of urgent work that yielded; `background` holds start-up, resyncs, retries and the rest of
background work that yielded. Urgent keys are handed out first, then resumed ones, then
background ones; resumed keys only while no urgent key is in flight, background ones only
while no urgent or resumed key is. Work in progress yields (`should_yield`) to a fresh urgent
key, and resumed work also to an urgent key in flight: so a user's edit of one source waits for
at most one batch of writes per worker, not for every other source that is being created or
deleted (each of which would otherwise take its turn again and again ahead of it), and has the
server to itself while it is written.

One lock (`_cond`) guards every field.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Any, Literal

Lane = Literal["urgent", "resumed", "background"]
_RANK: dict[Lane, int] = {"urgent": 0, "resumed": 1, "background": 2}


class WorkQueue:
    def __init__(self, *, base_delay: float = 0.5, max_delay: float = 300.0) -> None:
        self._cond = threading.Condition()
        # A key promoted from background to urgent stays in the background deque too; `_queued`
        # says which entry counts, and the other is skipped when popped.
        self._lanes: dict[Lane, deque[Any]] = {"urgent": deque(), "resumed": deque(), "background": deque()}
        self._queued: dict[Hashable, Lane] = {}
        self._active: dict[Hashable, Lane] = {}
        self._dirty: dict[Hashable, Lane] = {}  # re-added while active: requeue when done
        self._later: list[tuple[float, int, Any]] = []
        self._failures: dict[Hashable, int] = {}
        # Kept as counts, so `should_yield`, asked before every write, costs O(1).
        self._urgent_queued = 0
        self._urgent_active = 0  # urgent and resumed keys in flight
        self._urgent_lane_active = 0  # urgent keys alone
        self._seq = 0
        self._closed = False
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __len__(self) -> int:
        with self._cond:
            return len(self._queued) + len(self._later)

    def add(self, key: Hashable, *, urgent: bool = True) -> None:
        lane: Lane = "urgent" if urgent else "background"
        with self._cond:
            self._add(key, lane)

    def resume(self, key: Hashable) -> None:
        """The rest of work on `key` that yielded: after fresh urgent keys, before background ones
        (or in the background lane, when the yielded work was background work)."""
        with self._cond:
            self._add(key, "background" if self._active.get(key) == "background" else "resumed")

    def _add(self, key: Hashable, lane: Lane) -> None:
        if key not in self._active:
            self._enqueue(key, lane)
        elif key not in self._dirty or _RANK[lane] < _RANK[self._dirty[key]]:
            self._dirty[key] = lane  # queued again when the work in flight is done

    def _enqueue(self, key: Hashable, lane: Lane) -> None:
        queued = self._queued.get(key)
        if queued is not None and _RANK[queued] <= _RANK[lane]:
            return  # already queued in this lane or a more urgent one
        if lane == "urgent":
            self._urgent_queued += 1
        self._queued[key] = lane
        self._lanes[lane].append(key)
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
        """The next key: urgent first; resumed only while no urgent key is in flight; background
        only while no urgent or resumed key is."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                while self._later and self._later[0][0] <= now:
                    _, _, key = heapq.heappop(self._later)
                    if key in self._active:
                        self._dirty.setdefault(key, "background")
                    else:
                        self._enqueue(key, "background")
                key = self._pop("urgent")
                if key is None and not self._urgent_lane_active:
                    key = self._pop("resumed")
                if key is None and not self._urgent_active:
                    key = self._pop("background")
                if key is not None:
                    return key
                if self._closed or now >= deadline:
                    return None
                wait = deadline - now
                if self._later:
                    wait = min(wait, max(0.0, self._later[0][0] - now))
                self._cond.wait(wait)

    def _pop(self, lane: Lane) -> Any | None:
        entries = self._lanes[lane]
        while entries:
            key = entries.popleft()
            if self._queued.get(key) == lane:  # else promoted, and popped from the other lane
                del self._queued[key]
                self._active[key] = lane
                if lane == "urgent":
                    self._urgent_queued -= 1
                    self._urgent_lane_active += 1
                if lane != "background":
                    self._urgent_active += 1
                return key
        return None

    def should_yield(self, key: Hashable) -> bool:
        """Whether the work on `key` should stop at the next write and be continued later
        (`resume(key)`): background work yields to any urgent or resumed key, queued or in
        flight; resumed work to any urgent key, queued or in flight; urgent work to fresh urgent
        keys waiting."""
        with self._cond:
            mine = self._active.get(key)
            if mine is None:  # not handed out by this queue: nobody to yield to
                return False
            if mine == "background":
                return bool(self._urgent_queued or self._urgent_active or self._lanes["resumed"])
            if mine == "resumed":
                return bool(self._urgent_queued or self._urgent_lane_active)
            return bool(self._urgent_queued)

    def lane_of(self, key: Hashable) -> Lane | None:
        with self._cond:
            return self._active.get(key)

    def done(self, key: Hashable) -> None:
        with self._cond:
            lane_was = self._active.pop(key, None)
            if lane_was in ("urgent", "resumed"):
                self._urgent_active -= 1
            if lane_was == "urgent":
                self._urgent_lane_active -= 1
            lane = self._dirty.pop(key, None)
            if lane is not None:
                self._enqueue(key, lane)
            self._cond.notify_all()  # background keys may have waited for this one

    def idle(self) -> bool:
        with self._cond:
            return not self._queued and not self._active and not self._later

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
