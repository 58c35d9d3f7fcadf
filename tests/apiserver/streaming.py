"""Serving one `?watch=true` request: replay, then live events, bookmarks and timeouts.

Registration and the replay are taken under the store lock, so no event is lost or doubled.
Events go out as newline-delimited JSON in HTTP chunks. A resourceVersion older than the
kept history gets one ERROR event carrying a 410 `Expired` Status, like the real server.
The stream ends on `timeoutSeconds`, on `faults.close_watches()`, on server stop, or when
the client goes away.
"""

from __future__ import annotations

import json
import queue
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors, objects, tables
from .api import Call
from .selectors import parse_fields, parse_labels
from .store import Store
from .watch import CLOSE, Watcher

Write = Callable[[bytes], None]


@dataclass(frozen=True)
class WatchOptions:
    bookmark_interval: float
    default_timeout: float
    table: bool = False
    include_object: str = "Metadata"


def open_watch(
    store: Store, call: Call
) -> tuple[Watcher, list[tuple[str, dict[str, Any]]], errors.ApiError | None]:
    """Register a watcher; return it, its initial events, and a 410 to send instead."""
    labels = parse_labels(call.params.get("labelSelector", ""))
    fields = parse_fields(call.params.get("fieldSelector", ""), call.rt.field_labels)
    rv_text = call.params.get("resourceVersion", "")
    if rv_text and not rv_text.isdigit():
        raise errors.bad_request(f'invalid resource version "{rv_text}"')
    watcher = Watcher(call.rt.key, call.namespace, labels, fields)
    initial_list = rv_text in ("", "0") or call.params.get("sendInitialEvents") == "true"
    with store.lock:
        if initial_list:
            page = store.select(call.rt.key, namespace=call.namespace, labels=labels, fields=fields)
            initial = [("ADDED", o) for o in page.items]
        else:
            try:
                initial = store.hub.since(watcher, int(rv_text))
            except errors.ApiError as gone:
                return watcher, [], gone
        store.hub.register(watcher)
    return watcher, initial, None


def _client_gone(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class WatchStream:
    def __init__(
        self, store: Store, call: Call, options: WatchOptions, write: Write, sock: socket.socket
    ) -> None:
        self.store = store
        self.call = call
        self.options = options
        self.write = write
        self.sock = sock

    def _line(self, kind: str, obj: dict[str, Any]) -> bytes:
        if self.options.table and kind != "ERROR" and kind != "BOOKMARK":
            rv = obj.get("metadata", {}).get("resourceVersion", "")
            obj = tables.table(self.call.rt, [obj], {"resourceVersion": rv}, self.options.include_object)
        else:
            obj = objects.with_api_version(obj, self.call.api_version)
        return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"

    def _send(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        batch: list[bytes] = []
        size = 0
        for kind, obj in events:
            line = self._line(kind, obj)
            batch.append(line)
            size += len(line)
            if size >= 1 << 16:
                self.write(b"".join(batch))
                batch, size = [], 0
        if batch:
            self.write(b"".join(batch))

    def _bookmark(self, watcher: Watcher, *, initial_end: bool = False) -> None:
        with self.store.lock:
            if not watcher.queue.empty():
                return  # events are pending: a bookmark now could claim too much
            rv = self.store.rv
        m: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            m["annotations"] = {"k8s.io/initial-events-end": "true"}
        self._send(
            [
                (
                    "BOOKMARK",
                    {"kind": self.call.rt.kind, "apiVersion": self.call.api_version, "metadata": m},
                )
            ]
        )

    def run(self, watcher: Watcher, initial: list[tuple[str, dict[str, Any]]]) -> None:
        params = self.call.params
        bookmarks = params.get("allowWatchBookmarks") == "true"
        timeout = float(params.get("timeoutSeconds") or self.options.default_timeout)
        deadline = time.monotonic() + timeout
        try:
            self._send(initial)
            if bookmarks and params.get("sendInitialEvents") == "true":
                self._bookmark(watcher, initial_end=True)
            self._loop(watcher, deadline, bookmarks)
        finally:
            self.store.hub.unregister(watcher)

    def _loop(self, watcher: Watcher, deadline: float, bookmarks: bool) -> None:
        next_bookmark = time.monotonic() + self.options.bookmark_interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            wait = min(deadline - now, 0.5)
            if bookmarks:
                wait = min(wait, max(next_bookmark - now, 0.0))
            try:
                item = watcher.queue.get(timeout=wait)
            except queue.Empty:
                if _client_gone(self.sock):
                    return
                if bookmarks and time.monotonic() >= next_bookmark:
                    self._bookmark(watcher)
                    next_bookmark = time.monotonic() + self.options.bookmark_interval
                continue
            events = []
            while item is not CLOSE:
                events.append(item)
                try:
                    item = watcher.queue.get_nowait()
                except queue.Empty:
                    break
            self._send(events)
            if item is CLOSE:
                return
