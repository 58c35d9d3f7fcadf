"""A small HTTP/1.1 client for the API server's one-request-one-answer calls.

Why it exists: on a machine where kubectl-mirror and the control plane share the CPUs, every
millisecond the client spends per write is taken from the server. Through urllib3 and
http.client a create cost the client 0.42-0.61 ms of CPU (header objects, http.client's
email-based header parser, urllib3's layers); the same request framed here costs 0.09-0.12 ms
(bench/sync.py's module docstring has the figures). The framing is what the API server speaks
and no more: a request with a known length, an answer with Content-Length, chunked encoding or
read-to-close.

What it must not do: stream (watches stay on urllib3, which the official client configures),
follow redirects, talk through a proxy (a configuration with a proxy keeps urllib3 for every
call: `endpoint()` returns None), or retry: a failure is a `TransportError` and the caller's
retry loop decides, since only it knows whether the request may be repeated. What the server
sends is someone else's input: status line, header lines, their number, chunk-size lines and
every body are bounded, so a broken or hostile endpoint gets an error, not our memory; and no
error quotes what it sent, since misframed bytes may be a Secret's data.

Threads: `Pool` guards its list of idle connections with its lock, held only to take or return
one; a connection is used by one thread at a time, from the take to the return, so it needs no
lock of its own.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_LINE = 65536  # a status, header or chunk-size line
MAX_HEADERS = 200
MAX_READ = 1 << 30  # one Content-Length body or one chunk; a chunked list may hold many
_TARGET = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: nothing that could end the line
_VALUE = re.compile(r"[\x20-\x7e\t\x80-\xff]*")  # a header value: no CR, LF or other control
_HEX = re.compile(rb"[0-9a-fA-F]{1,16}")
_NO_BODY = frozenset({204, 304})


class TransportError(Exception):
    """The connection failed or the answer could not be read: whether the request took effect
    is unknown."""


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and how the connection is secured."""

    host: str
    port: int
    tls: ssl.SSLContext | None  # None: plain HTTP
    server_hostname: str | None = None  # the name the certificate is checked against

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes


def endpoint(configuration: Any) -> Endpoint | None:
    """The endpoint of a `kubernetes.client.Configuration`, with the TLS settings the official
    client would give urllib3 (CA file or data, client certificate, skip-verify, tls-server-name);
    None when requests must go through its proxy."""
    if getattr(configuration, "proxy", None) and not _bypasses_proxy(configuration):
        return None
    url = urlsplit(str(configuration.host))
    if url.scheme not in ("http", "https") or not url.hostname:
        return None
    port = url.port or (443 if url.scheme == "https" else 80)
    if url.scheme == "http":
        return Endpoint(url.hostname, port, None)
    return Endpoint(
        url.hostname,
        port,
        tls_context(configuration),
        configuration.tls_server_name or url.hostname,
    )


def _bypasses_proxy(configuration: Any) -> bool:
    from kubernetes.client.rest import should_bypass_proxies

    return bool(should_bypass_proxies(configuration.host, configuration.no_proxy or ""))


def tls_context(configuration: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=configuration.ssl_ca_cert or None,
        cadata=getattr(configuration, "ca_cert_data", None) or None,
    )
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


class _Connection:
    def __init__(self, endpoint: Endpoint, timeout: float | None) -> None:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if endpoint.tls is not None:
                sock = endpoint.tls.wrap_socket(sock, server_hostname=endpoint.server_hostname)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.reader = sock.makefile("rb")

    def idle_and_open(self) -> bool:
        """False when the server has closed the connection (or sent what nobody asked for)
        while it sat idle: reusing it would fail the next request."""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return False
        poller = select.poll()  # not select(): it fails on descriptors past 1023
        try:
            poller.register(self.sock, select.POLLIN)
            return not poller.poll(0)  # POLLIN, POLLHUP or POLLERR: data, a close or an error
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        for closable in (self.reader, self.sock):
            with contextlib.suppress(OSError):
                closable.close()


class Pool:
    """Keep-alive connections to one endpoint, at most `max_idle` of them kept between calls."""

    def __init__(self, endpoint: Endpoint, *, max_idle: int) -> None:
        self.endpoint = endpoint
        self.max_idle = max_idle
        self._lock = threading.Lock()  # guards _idle
        self._idle: list[_Connection] = []

    def request(
        self,
        method: str,
        target: str,
        *,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        timeout: float | None,
    ) -> Reply:
        """One request on a connection of its own; `target` is the path and query. A request
        that HTTP cannot carry (a line break in a header, say) is a ValueError, raised before
        anything is sent."""
        head = self._head(method, target, headers, body)
        conn = self._take(timeout)
        try:
            conn.sock.settimeout(timeout)
            conn.sock.sendall(head + body if body else head)
            reply, reusable = _read_reply(conn.reader, method)
        except (OSError, ValueError) as err:  # ssl.SSLError and socket.timeout are OSErrors
            conn.close()
            raise TransportError(_describe(err)) from err
        except BaseException:
            conn.close()
            raise
        if reusable:
            self._give_back(conn)
        else:
            conn.close()
        return reply

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _head(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None
    ) -> bytes:
        if not _TARGET.fullmatch(target) or not _TARGET.fullmatch(method):
            raise ValueError(f"request line has characters HTTP does not allow: {method} {target!r}")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.endpoint.authority}"]
        for name, value in headers:
            if not _TARGET.fullmatch(name) or not _VALUE.fullmatch(value):
                raise ValueError(f"header {name!r} has characters HTTP does not allow")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _take(self, timeout: float | None) -> _Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            if conn.idle_and_open():
                return conn
            conn.close()
        try:
            return _Connection(self.endpoint, timeout)
        except (OSError, ValueError) as err:
            raise TransportError(_describe(err)) from err

    def _give_back(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()


def _read_reply(reader: Any, method: str) -> tuple[Reply, bool]:
    """The next final answer on `reader` and whether the connection may carry another request."""
    while True:
        version, status = _status_line(_line(reader))
        headers = _headers(reader)
        if not 100 <= status < 200:
            break  # 1xx answers (none is asked for) come before the real one
    connection = headers.get("connection", "").lower()
    keep = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    if method == "HEAD" or status in _NO_BODY:
        return Reply(status, headers, b""), keep
    encoding = headers.get("transfer-encoding", "").lower()
    if encoding:
        if encoding != "chunked":
            raise ValueError("the answer's transfer-encoding is not chunked")
        return Reply(status, headers, _chunked(reader)), keep
    length = headers.get("content-length")
    if length is None:  # the body ends when the server closes
        body: bytes = reader.read(MAX_READ + 1)
        if len(body) > MAX_READ:
            raise ValueError(f"a body of more than {MAX_READ} bytes is more than this client reads")
        return Reply(status, headers, body), False
    if not length.isdigit():
        raise ValueError("content-length is not a number")
    return Reply(status, headers, _exactly(reader, int(length))), keep


def _line(reader: Any) -> bytes:
    line: bytes = reader.readline(MAX_LINE + 1)
    if not line:
        raise ConnectionError("the server closed the connection before answering")
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise ValueError("a line of the answer is too long or cut off")
    return line


def _status_line(line: bytes) -> tuple[str, int]:
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError("the answer does not start with an HTTP/1 status line")
    return parts[0], int(parts[1])


def _headers(reader: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = _line(reader)
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ValueError("a header line of the answer has no colon")
        headers[name.strip().lower()] = value.strip()
    raise ValueError(f"more than {MAX_HEADERS} header lines")


def _chunked(reader: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        size_text = _line(reader).split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise ValueError("a chunk size of the answer is not a hexadecimal number")
        size = int(size_text, 16)
        if size == 0:
            _headers(reader)  # trailers, up to the blank line
            return b"".join(parts)
        parts.append(_exactly(reader, size))
        if _line(reader) not in (b"\r\n", b"\n"):
            raise ValueError("chunk not followed by a line end")


def _exactly(reader: Any, size: int) -> bytes:
    if size > MAX_READ:
        raise ValueError(f"a body or chunk of {size} bytes is more than this client reads")
    data: bytes = reader.read(size)
    if len(data) != size:
        raise ConnectionError(f"the server closed the connection {size - len(data)} bytes short")
    return data


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:300]
