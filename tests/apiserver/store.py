"""Objects by resource, namespace and name, with the indexes that keep lists cheap.

One store-wide resourceVersion counter; every commit bumps it, stamps the object and
publishes a watch event. Stored objects are never mutated after commit (writers build new
dicts), so readers may serialize them outside the lock. Indexes: per namespace, per label
key and value, and a sorted key list rebuilt only when objects are added or removed. The
store applies no API rules; `api.py` does.
"""

from __future__ import annotations

import bisect
import copy
import functools
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .selectors import FieldSelector, LabelSelector, matches_fields, matches_labels
from .watch import Event, WatchHub

Key = tuple[str, str]  # (namespace or "", name)


class Bucket:
    """All objects of one resource type."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.by_namespace: dict[str, dict[str, dict[str, Any]]] = {}
        self.labels: dict[str, dict[str, set[Key]]] = {}
        self._sorted: list[Key] | None = None
        self._encoded: dict[Key, tuple[dict[str, Any], bytes]] = {}

    def put(self, key: Key, obj: dict[str, Any]) -> None:
        old = self.objects.get(key)
        if old is None:
            self._sorted = None
        else:
            self._unindex(key, old)
        self.objects[key] = obj
        self.by_namespace.setdefault(key[0], {})[key[1]] = obj
        for k, v in (obj["metadata"].get("labels") or {}).items():
            self.labels.setdefault(k, {}).setdefault(v, set()).add(key)

    def remove(self, key: Key) -> None:
        old = self.objects.pop(key, None)
        if old is None:
            return
        self._sorted = None
        self._encoded.pop(key, None)
        self._unindex(key, old)
        names = self.by_namespace[key[0]]
        del names[key[1]]
        if not names:
            del self.by_namespace[key[0]]

    def _unindex(self, key: Key, obj: dict[str, Any]) -> None:
        for k, v in (obj["metadata"].get("labels") or {}).items():
            keys = self.labels[k][v]
            keys.discard(key)
            if not keys:
                del self.labels[k][v]
                if not self.labels[k]:
                    del self.labels[k]

    def sorted_keys(self) -> list[Key]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def candidates(
        self, namespace: str | None, selector: LabelSelector
    ) -> tuple[int, Callable[[], Iterable[Key]]] | None:
        """The smallest key set the indexes give for the query, as (size, producer).

        Sizes are summed before any set is built, so a selector matching everything costs
        nothing here. None means "no index applies".
        """
        options: list[tuple[int, Callable[[], Iterable[Key]]]] = []
        if namespace is not None:
            names = self.by_namespace.get(namespace, {})
            options.append((len(names), lambda: [(namespace, n) for n in names]))
        for req in selector:
            if req.op in ("=", "in"):
                by_value = self.labels.get(req.key, {})
                sets = [by_value[v] for v in req.values if v in by_value]
            elif req.op == "exists":
                sets = list(self.labels.get(req.key, {}).values())
            else:
                continue
            size = sum(len(keys) for keys in sets)
            options.append((size, functools.partial(itertools.chain.from_iterable, sets)))
        return min(options, key=lambda o: o[0]) if options else None

    def encoded(self, key: Key, obj: dict[str, Any], make: Callable[[], bytes]) -> bytes:
        """The cached JSON of a list item; entries are checked by identity, so never stale."""
        cached = self._encoded.get(key)
        if cached is not None and cached[0] is obj:
            return cached[1]
        data = make()
        self._encoded[key] = (obj, data)
        return data


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    last: Key | None  # key of the last item when more remain
    remaining: int | None


class Store:
    def __init__(self, *, history: int = 100_000) -> None:
        self.lock = threading.RLock()
        self.rv = 0
        self.buckets: dict[str, Bucket] = {}
        self.hub = WatchHub(history)

    # -- writes (callers hold `lock`) -----------------------------------------------------

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def commit(self, bucket: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """Store `obj` (a new dict, not referenced elsewhere) at a new resourceVersion."""
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        meta = obj["metadata"]
        self.bucket(bucket).put((meta.get("namespace", ""), meta["name"]), obj)
        self.hub.publish(Event(rv, bucket, "MODIFIED" if old else "ADDED", obj, old))
        return obj

    def remove(self, bucket: str, obj: dict[str, Any]) -> dict[str, Any]:
        rv = self.next_rv()
        gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}
        meta = obj["metadata"]
        self.bucket(bucket).remove((meta.get("namespace", ""), meta["name"]))
        self.hub.publish(Event(rv, bucket, "DELETED", gone))
        return gone

    def reset(self) -> None:
        with self.lock:
            self.buckets.clear()
            self.hub.clear(self.rv)

    # -- reads ----------------------------------------------------------------------------

    def bucket(self, name: str) -> Bucket:
        found = self.buckets.get(name)
        if found is None:
            found = self.buckets[name] = Bucket()
        return found

    def get(self, bucket: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.buckets.get(bucket)
            return found.objects.get((namespace, name)) if found else None

    def count(self, bucket: str, namespace: str | None = None) -> int:
        with self.lock:
            found = self.buckets.get(bucket)
            if found is None:
                return 0
            if namespace is None:
                return len(found.objects)
            return len(found.by_namespace.get(namespace, {}))

    def select(
        self,
        bucket: str,
        *,
        namespace: str | None = None,
        labels: LabelSelector = (),
        fields: FieldSelector = (),
        after: Key | None = None,
        limit: int | None = None,
    ) -> Page:
        """Matching objects sorted by (namespace, name), starting after `after`."""
        with self.lock:
            found = self.buckets.get(bucket)
            if found is None:
                return Page([], None, 0 if limit else None)
            return _select(found, namespace, labels, fields, after, limit)

    def dump(self, bucket: str | None = None) -> list[dict[str, Any]]:
        """Deep copies of stored objects (for assertions in tests)."""
        with self.lock:
            names = [bucket] if bucket else sorted(self.buckets)
            objs = [o for n in names if n in self.buckets for k, o in sorted(self.buckets[n].objects.items())]
            return copy.deepcopy(objs)


def _walk_sorted(bucket: Bucket, namespace: str | None, after: Key | None) -> Iterator[Key]:
    keys = bucket.sorted_keys()
    start = (namespace, "") if namespace is not None else ("", "")
    if after is not None and after > start:
        pos = bisect.bisect_right(keys, after)
    else:
        pos = bisect.bisect_left(keys, start)
    for key in keys[pos:]:
        if namespace is not None and key[0] != namespace:
            return
        yield key


def _select(
    bucket: Bucket,
    namespace: str | None,
    labels: LabelSelector,
    fields: FieldSelector,
    after: Key | None,
    limit: int | None,
) -> Page:
    narrowed = bucket.candidates(namespace, labels)
    keys: Iterable[Key]
    if narrowed is not None and narrowed[0] * 8 < max(len(bucket.objects), 64):
        keys = sorted(k for k in narrowed[1]() if after is None or k > after)
    else:
        keys = _walk_sorted(bucket, namespace, after)
    items: list[dict[str, Any]] = []
    last: Key | None = None
    for key in keys:
        obj = bucket.objects[key]
        if labels and not matches_labels(labels, obj["metadata"].get("labels") or {}):
            continue
        if fields and not matches_fields(fields, obj):
            continue
        if limit is not None and len(items) == limit:
            last = (items[-1]["metadata"].get("namespace", ""), items[-1]["metadata"]["name"])
            break
        items.append(obj)
    remaining = None
    if last is not None and not labels and not fields:
        total = bucket.sorted_keys()
        scope_end = (
            bisect.bisect_left(total, (namespace + "\x00", "")) if namespace is not None else len(total)
        )
        remaining = scope_end - bisect.bisect_right(total, last)
    return Page(items, last, remaining)
