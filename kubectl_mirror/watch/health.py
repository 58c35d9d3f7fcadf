"""Plain HTTP endpoints for the kubelet's probes and Prometheus' scrapes.

`serve` runs a standard-library ThreadingHTTPServer in a daemon thread and maps exact paths to
functions returning `(status, text)`; nothing else (no framework, no TLS: both endpoints are
meant for the pod network, like every controller's). `probe_routes` turns the controller's own
signals into `/healthz` and `/readyz`. This module knows nothing of Kubernetes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

Route = Callable[[], tuple[int, str]]
TEXT = "text/plain; charset=utf-8"

log = logging.getLogger(__name__)


class HTTPServerHandle:
    """A running server: `.port` (the real one when 0 was asked for), `.close()` to stop it."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self._closed = False

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    def close(self) -> None:
        """Stop serving, close the socket and wait for the threads (requests in flight finish)."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the request threads
        self._thread.join()

    def __enter__(self) -> HTTPServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve(
    addr: str,
    *,
    routes: Mapping[str, Route],
    content_types: Mapping[str, str] | None = None,
) -> HTTPServerHandle:
    """Serve `routes` (exact paths; the query string is ignored) on `addr`: ":8080" (every
    interface), "127.0.0.1:0" (a free port) or "[::1]:8081". Other paths are 404.

    `content_types` overrides the default `text/plain` per path (Prometheus' for /metrics)."""
    host, port = parse_addr(addr)
    table = dict(routes)
    types = dict(content_types or {})
    handler = type("Handler", (_Handler,), {"routes": table, "content_types": types})
    httpd = _bind(host, port, handler)
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.2},
        name=f"http{addr}",
        daemon=True,  # never keeps a dying process alive; close() is the orderly way
    )
    thread.start()
    return HTTPServerHandle(httpd, thread)


def parse_addr(addr: str) -> tuple[str, int]:
    """`host:port` as Go's net.Listen reads it (the flags follow controller-runtime's)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid address {addr!r}: expected HOST:PORT or :PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() joins request threads, so tests leave none behind


class _Server6(_Server):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        # Dual stack: "::" also accepts IPv4, so ":8080" works on v4, v6 and dual-stack pods.
        with contextlib.suppress(OSError, AttributeError):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def _bind(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    if ":" in host:
        return _Server6((host, port), handler)
    if host:
        return _Server((host, port), handler)
    if socket.has_ipv6:
        try:
            return _Server6(("::", port), handler)
        except OSError:  # IPv6 disabled in this pod's kernel/network namespace
            pass
    return _Server(("0.0.0.0", port), handler)


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}
    content_types: dict[str, str] = {}
    server_version = "kubectl-mirror"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        route = self.routes.get(path)
        if route is None:
            status, text = 404, f"404 page not found: {path}\n"
        else:
            try:
                status, text = route()
            except Exception:  # a broken check must answer 500, not drop the connection
                log.exception("handler for %s failed", path)
                status, text = 500, "internal error\n"
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_types.get(path, TEXT))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        # Probes hit every few seconds; access lines would drown the controller's own logs.
        log.debug("%s " + format, self.address_string(), *args)


def probe_routes(
    *,
    synced: Callable[[], bool],
    stalled: Callable[[], Sequence[str]],
    stopping: Callable[[], bool] = lambda: False,
) -> dict[str, Route]:
    """`/healthz` and `/readyz` from the controller's signals.

    - healthz fails while any watch is stalled (no event or bookmark for too long): only a
      restart helps a wedged connection pool or a dead thread, and that is what liveness does.
    - readyz fails until every cache has synced, and again once shutdown has begun, so a
      rollout waits for a warm replica and a terminating one is taken out of the Service; a
      replica that is not healthy is not ready either.
    Leadership is in neither: a standby is healthy and ready, waiting for the Lease."""

    def healthz() -> tuple[int, str]:
        bad = sorted(stalled())
        if bad:
            return 500, "stalled watches: " + ", ".join(bad) + "\n"
        return 200, "ok\n"

    def readyz() -> tuple[int, str]:
        if stopping():
            return 503, "shutting down\n"
        if not synced():
            return 503, "caches not synced\n"
        return healthz()

    return {"/healthz": healthz, "/readyz": readyz, "/livez": healthz}
