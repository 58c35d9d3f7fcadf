"""A small JSON-over-HTTPS client for the fixture's own requests (create, reset, the audit sentinel).

Plain REST through one urllib3 pool that threads share, rather than the `kubernetes` client:
reset lists some fifty resources per test, and the official client's model layer would cost more
than the requests. Every request carries `USER_AGENT`, which is how the request log leaves the
fixture's own requests out, as the fake server never logs its in-process `create()`.

A 429 is retried (`Rest.call`): a custom resource's storage answers "storage is (re)initializing"
for a moment after its CRD comes or goes, which reset() meets on short runs. The server rejected
the request before acting on it, so sending it again is safe, whatever the method.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.parse
from typing import Any

import urllib3

USER_AGENT = "tests-realserver-fixture"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
BUSY_SECONDS = 30.0  # how long one request keeps retrying 429, in all
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 2.0  # without Retry-After: doubling from the first


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message", "") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.body = body


class Rest:
    def __init__(
        self, url: str, context: ssl.SSLContext, *, connections: int = 16, busy_seconds: float = BUSY_SECONDS
    ) -> None:
        self._busy_seconds = busy_seconds
        parts = urllib.parse.urlsplit(url)
        self._pool = urllib3.HTTPSConnectionPool(
            parts.hostname,
            parts.port,
            ssl_context=context,
            maxsize=connections,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=5, read=30),
        )

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        ok: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """Send one request; a status >= 400 not listed in `ok` raises `ApiError`. A 429 not listed
        is sent again after Retry-After (or a doubling pause) for up to `busy_seconds` in all."""
        if params:
            path = f"{path}?{urllib.parse.urlencode(params)}"
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        response = self._send(method, path, data, headers, retry=429 not in ok)
        text = response.data
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text.decode(errors="replace")
        if response.status >= 400 and response.status not in ok:
            raise ApiError(method, path, response.status, payload)
        return response.status, payload

    def _send(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str], *, retry: bool
    ) -> urllib3.BaseHTTPResponse:
        deadline = time.monotonic() + self._busy_seconds
        pause = _FIRST_PAUSE
        while True:
            response = self._pool.urlopen(method, path, body=data, headers=headers)
            left = deadline - time.monotonic()
            if not retry or response.status != 429 or left <= 0:
                return response
            time.sleep(min(_retry_after(response) or pause, left))
            pause = min(pause * 2, _LONGEST_PAUSE)

    def close(self) -> None:
        self._pool.close()


def _retry_after(response: urllib3.BaseHTTPResponse) -> float | None:
    """Retry-After in seconds (the API server sends whole seconds; a date is not used)."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if seconds > 0 else None
