"""`AuditLog`: kube-apiserver's JSON audit log read as the fake server's `RequestLog`.

Same interface and the same `Record`s (tests/apiserver/requestlog.py): `clear()`, `records`,
`filter(...)`, `count(...)`, `writes()`, `counts()`. Only the tests' user counts: the controller
manager, the apiserver's loopback client and this fixture's own requests (create, reset, the
sentinel; told apart by their user agent) are left out, as the fake never logs its in-process
work. Verbs are RBAC's, resources `plural[.group]`; a request without an objectRef (/api, /apis,
/openapi, /version) is `discovery`, as on the fake.

The audit log has no request headers, so a Record's `content_type` is known for one case only: a
patch that succeeded with `force` in its query is an apply patch (the apiserver refuses `force`
on any other patch type with 422), recorded as `application/apply-patch` without the +yaml/+json
it cannot see; anything else is left at "". Dry runs are read from the URI (`dryRun=All`).

A client may read the log right after its response, before the apiserver has written the line,
so every read first makes a sentinel request (a GET of a unique name that does not exist) and
waits until its line appears. `clear()` remembers where the file ends instead of truncating it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.apiserver.requestlog import Record, RequestLog

from .rest import USER_AGENT

SENTINEL_TIMEOUT = 10.0
APPLY_PATCH = "application/apply-patch"
METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}


def _seconds(event: dict[str, Any]) -> float:
    try:
        start = dt.datetime.fromisoformat(event["requestReceivedTimestamp"])
        end = dt.datetime.fromisoformat(event["stageTimestamp"])
    except (KeyError, ValueError):
        return 0.0
    return (end - start).total_seconds()


def to_record(event: dict[str, Any]) -> Record:
    """One audit event as the fake server would have logged its request."""
    uri = urllib.parse.urlsplit(event.get("requestURI", ""))
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(uri.query, keep_blank_values=True).items()}
    status = int(event.get("responseStatus", {}).get("code", 0))
    if event.get("stage") == "Panic":
        status = 500
    common = {
        "path": uri.path,
        "status": status,
        "query": query,
        "user_agent": event.get("userAgent", ""),
        "field_manager": query.get("fieldManager", ""),
        "dry_run": query.get("dryRun") == "All",
        "duration": _seconds(event),
    }
    ref = event.get("objectRef")
    if ref is None:
        return Record(method=event.get("verb", "get").upper(), verb="discovery", **common)
    group = ref.get("apiGroup", "")
    resource = ref.get("resource", "") + (f".{group}" if group else "")
    namespace = ref.get("namespace", "")
    if resource == "namespaces":  # a Namespace lives at cluster scope, as the fake records it
        namespace = ""
    verb = event.get("verb", "")
    if verb == "patch" and "force" in query and status < 400:
        common["content_type"] = APPLY_PATCH
    return Record(
        method=METHODS.get(verb, verb.upper()),
        verb=verb,
        resource=resource,
        subresource=ref.get("subresource", ""),
        namespace=namespace,
        name=ref.get("name", ""),
        **common,
    )


class AuditLog(RequestLog):
    """The requests of `user` since the last `clear()`, read from the audit log at `path`."""

    def __init__(self, path: Path, *, user: str, sentinel: Callable[[str], None]) -> None:
        super().__init__()
        self._path = path
        self._needle = f'"username":"{user}"'.encode()
        self._sentinel = sentinel  # makes a request that the log shows with objectRef.name = its argument
        self._offset = 0
        self._watches: set[str] = set()  # auditIDs of watches whose start was recorded
        self._read_lock = threading.Lock()

    def clear(self) -> None:
        with self._read_lock:
            self._catch_up()
            super().clear()

    @property
    def records(self) -> list[Record]:
        with self._read_lock:
            self._catch_up()
        return super().records

    def _catch_up(self) -> None:
        name = f"audit-sentinel-{uuid.uuid4().hex}"
        self._sentinel(name)
        deadline = time.monotonic() + SENTINEL_TIMEOUT
        while not self._read_new(name):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self._path}: no audit line for sentinel {name} in {SENTINEL_TIMEOUT:.0f} s"
                )
            time.sleep(0.002)

    def _read_new(self, sentinel: str) -> bool:
        """Add the complete lines written since the last read; True once `sentinel` is among them."""
        with self._path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        seen = False
        for line in chunk[:end].splitlines():
            if self._needle not in line:
                continue
            event = json.loads(line)
            if event.get("userAgent") == USER_AGENT:
                seen = seen or event.get("objectRef", {}).get("name") == sentinel
                continue
            if self._counts(event):
                self.add(to_record(event))
        return seen

    def _counts(self, event: dict[str, Any]) -> bool:
        """One record per request: a watch at its start, anything else when it completes."""
        audit_id = event.get("auditID", "")
        if event.get("stage") == "ResponseStarted":
            self._watches.add(audit_id)
            return True
        if audit_id in self._watches:
            self._watches.discard(audit_id)
            return False
        return True
