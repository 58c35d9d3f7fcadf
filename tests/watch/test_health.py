"""The probe and metrics endpoints, over real HTTP."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator

import pytest

from kubectl_mirror.watch.health import HTTPServerHandle, parse_addr, probe_routes, serve
from kubectl_mirror.watch.metrics import CONTENT_TYPE, ControllerMetrics


def get(handle: HTTPServerHandle, path: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        conn.close()


@pytest.fixture
def server() -> Iterator[HTTPServerHandle]:
    calls = {"n": 0}

    def counted() -> tuple[int, str]:
        calls["n"] += 1
        return 200, f"call {calls['n']}\n"

    def broken() -> tuple[int, str]:
        raise RuntimeError("boom")

    with serve("127.0.0.1:0", routes={"/count": counted, "/broken": broken}) as handle:
        yield handle


def test_port_zero_picks_a_free_port_and_routes_answer(server: HTTPServerHandle) -> None:
    assert server.port > 0
    assert get(server, "/count") == (200, "call 1\n", get(server, "/count")[2])
    status, body, headers = get(server, "/count?verbose=1")
    assert (status, body) == (200, "call 3\n")  # the query string is not part of the path
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


def test_unknown_paths_are_404(server: HTTPServerHandle) -> None:
    status, body, _ = get(server, "/metrics")
    assert status == 404
    assert "/metrics" in body
    assert get(server, "/count/")[0] == 404


def test_a_failing_route_answers_500_and_the_server_keeps_serving(server: HTTPServerHandle) -> None:
    assert get(server, "/broken")[:2] == (500, "internal error\n")
    assert get(server, "/count")[0] == 200


def test_head_has_no_body(server: HTTPServerHandle) -> None:
    status, body, headers = get(server, "/count", method="HEAD")
    assert (status, body) == (200, "")
    assert headers["Content-Length"] == "7"


def test_close_frees_the_port_and_stops_its_threads() -> None:
    before = set(threading.enumerate())
    handle = serve("127.0.0.1:0", routes={"/": lambda: (200, "ok")})
    port = handle.port
    assert get(handle, "/")[0] == 200
    handle.close()
    handle.close()  # idempotent

    def serves_this(thread: threading.Thread) -> bool:
        # Other in-process servers (earlier tests' fake API servers) may start request threads
        # meanwhile; this server's own threads are the ones that must be gone.
        target = getattr(thread, "_target", None)
        return thread is handle._thread or getattr(target, "__self__", None) is handle._httpd

    assert [t for t in threading.enumerate() if t not in before and serves_this(t)] == []
    with serve(f"127.0.0.1:{port}", routes={"/": lambda: (200, "again")}) as again:  # the port is free
        assert get(again, "/")[:2] == (200, "again")


def test_empty_host_listens_on_every_interface() -> None:
    with serve(":0", routes={"/": lambda: (200, "ok")}) as handle:
        assert handle.host in ("::", "0.0.0.0")
        conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=5)  # IPv4 reaches it too
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.status == 200
            response.read()
        finally:
            conn.close()


@pytest.mark.parametrize(
    ("addr", "parsed"),
    [(":8080", ("", 8080)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:8081", ("::1", 8081))],
)
def test_addresses_read_like_go_listen_addresses(addr: str, parsed: tuple[str, int]) -> None:
    assert parse_addr(addr) == parsed


@pytest.mark.parametrize("addr", ["8080", "host:", "host:http", ":70000", ""])
def test_bad_addresses_are_refused(addr: str) -> None:
    with pytest.raises(ValueError, match="invalid address"):
        parse_addr(addr)


def test_metrics_are_served_with_prometheus_content_type() -> None:
    metrics = ControllerMetrics()
    metrics.reconciles.inc(result="changed")
    with serve(
        "127.0.0.1:0",
        routes={"/metrics": lambda: (200, metrics.render())},
        content_types={"/metrics": CONTENT_TYPE},
    ) as handle:
        status, body, headers = get(handle, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE
    assert 'kubectl_mirror_reconciles_total{result="changed"} 1\n' in body


class Signals:
    def __init__(self) -> None:
        self.synced = False
        self.stalled: list[str] = []
        self.stopping = False


@pytest.fixture
def probes() -> Iterator[tuple[Signals, HTTPServerHandle]]:
    s = Signals()
    routes = probe_routes(synced=lambda: s.synced, stalled=lambda: s.stalled, stopping=lambda: s.stopping)
    with serve("127.0.0.1:0", routes=routes) as handle:
        yield s, handle


def test_not_ready_until_caches_are_synced(probes: tuple[Signals, HTTPServerHandle]) -> None:
    s, handle = probes
    assert get(handle, "/readyz")[:2] == (503, "caches not synced\n")
    assert get(handle, "/healthz")[:2] == (200, "ok\n")  # syncing is not a reason to restart
    s.synced = True
    assert get(handle, "/readyz")[:2] == (200, "ok\n")


def test_unhealthy_while_a_watch_is_stalled(probes: tuple[Signals, HTTPServerHandle]) -> None:
    s, handle = probes
    s.synced = True
    s.stalled = ["secrets", "configmaps"]
    assert get(handle, "/healthz")[:2] == (500, "stalled watches: configmaps, secrets\n")
    assert get(handle, "/livez")[0] == 500
    s.stalled = []
    assert get(handle, "/healthz")[0] == 200


def test_not_ready_once_shutdown_began(probes: tuple[Signals, HTTPServerHandle]) -> None:
    s, handle = probes
    s.synced = True
    s.stopping = True
    assert get(handle, "/readyz")[:2] == (503, "shutting down\n")
    assert get(handle, "/healthz")[0] == 200
