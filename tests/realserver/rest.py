"""A small JSON-over-HTTPS client for the fixture's own requests (create, reset, the audit sentinel).

Plain REST through one urllib3 pool that threads share, rather than the `kubernetes` client:
reset lists some fifty resources per test, and the official client's model layer would cost more
than the requests. Every request carries `USER_AGENT`, which is how the request log leaves the
fixture's own requests out, as the fake server never logs its in-process `create()`.
"""

from __future__ import annotations

import json
import ssl
import urllib.parse
from typing import Any

import urllib3

USER_AGENT = "tests-realserver-fixture"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message", "") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.body = body


class Rest:
    def __init__(self, url: str, context: ssl.SSLContext, *, connections: int = 16) -> None:
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
        """Send one request; a status >= 400 not listed in `ok` raises `ApiError`."""
        if params:
            path = f"{path}?{urllib.parse.urlencode(params)}"
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        response = self._pool.urlopen(method, path, body=data, headers=headers)
        text = response.data
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text.decode(errors="replace")
        if response.status >= 400 and response.status not in ok:
            raise ApiError(method, path, response.status, payload)
        return response.status, payload

    def close(self) -> None:
        self._pool.close()
