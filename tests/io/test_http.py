"""io/http.py against a scripted server on a real socket: framing, keep-alive, bounds, and what
happens when the server misbehaves. The API servers (fake and real) cover the rest end to end."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pytest

from kubectl_mirror.io import http

CLOSE = b""  # in a script: close the connection instead of answering
Step = bytes | tuple[bytes, str]  # an answer, or (answer, "close"): answer, then close


def answer(status: int = 200, body: bytes = b"{}", *, headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Scripted:
    """Answers each request it reads with the next entry of `script`, in order, across
    connections; records the requests and counts the connections."""

    def __init__(self, script: Sequence[Step]) -> None:
        self.script = list(script)
        self.requests: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    reply = self.script.pop(0) if self.script else CLOSE
                data, then = reply if isinstance(reply, tuple) else (reply, "")
                if data:
                    conn.sendall(data)
                if data == CLOSE or then == "close":
                    return

    def close(self) -> None:
        self.listener.close()


def _read_request(reader: object) -> bytes | None:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            return None
        head += line
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + (reader.read(length) if length else b"")  # type: ignore[attr-defined]


@contextmanager
def served(script: Sequence[Step]) -> Iterator[tuple[Scripted, http.Pool]]:
    server = Scripted(script)
    pool = http.Pool(http.Endpoint("127.0.0.1", server.port, None), max_idle=4)
    try:
        yield server, pool
    finally:
        pool.close()
        server.close()


def get(pool: http.Pool) -> http.Reply:
    return pool.request(
        "GET", "/api/v1/namespaces", headers=[("Accept", "application/json")], body=None, timeout=5
    )


def test_keep_alive_carries_every_request_on_one_connection() -> None:
    with served([answer(body=b'{"n": %d}' % n) for n in range(20)]) as (server, pool):
        bodies = [get(pool).body for _ in range(20)]
    assert bodies == [b'{"n": %d}' % n for n in range(20)]
    assert server.connections == 1


def test_request_carries_host_length_and_headers() -> None:
    with served([answer(201)]) as (server, pool):
        reply = pool.request(
            "POST",
            "/api/v1/namespaces/a/configmaps?fieldManager=kubectl-mirror",
            headers=[
                ("Content-Type", "application/json"),
                ("Impersonate-Group", "a"),
                ("Impersonate-Group", "b"),
            ],
            body=b'{"k": 1}',
            timeout=5,
        )
    assert reply.status == 201
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /api/v1/namespaces/a/configmaps?fieldManager=kubectl-mirror HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Content-Length: 8" in lines
    assert lines.count(b"Impersonate-Group: a") == 1 and b"Impersonate-Group: b" in lines
    assert body == b'{"k": 1}'


def test_chunked_answer_is_joined_and_its_trailers_read() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
    )
    with served([chunked, answer(body=b"next")]) as (server, pool):
        assert get(pool).body == b"hello 0123456789"
        assert get(pool).body == b"next"  # the connection was left at the next answer
    assert server.connections == 1


def test_an_interim_answer_is_skipped() -> None:
    with served([b"HTTP/1.1 100 Continue\r\n\r\n" + answer(201, b"done")]) as (_, pool):
        reply = get(pool)
    assert (reply.status, reply.body) == (201, b"done")


@pytest.mark.parametrize(
    ("reply", "reused"),
    [
        (answer(headers="Connection: close\r\n"), False),
        ((b"HTTP/1.1 200 OK\r\n\r\nto the end", "close"), False),  # no length: ends at close
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", True),
    ],
)
def test_a_connection_is_reused_only_when_the_answer_allows_it(reply: Step, reused: bool) -> None:
    with served([reply, answer()]) as (server, pool):
        first = get(pool)
        assert get(pool).status == 200
    assert first.body in (b"", b"ok", b"to the end", b"{}")
    assert server.connections == (1 if reused else 2)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    with served([(answer(body=b"one"), "close"), answer(body=b"two")]) as (server, pool):
        assert get(pool).body == b"one"
        idle = pool._idle[-1]
        for _ in range(200):  # until the server's FIN has arrived
            if not idle.idle_and_open():
                break
            threading.Event().wait(0.005)
        assert not idle.idle_and_open()
        assert get(pool).body == b"two"
    assert server.connections == 2


@pytest.mark.parametrize(
    "reply",
    [
        CLOSE,
        b"SSH-2.0-OpenSSH\r\n",
        b"HTTP/1.1 two hundred\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (http.MAX_LINE + 10) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (http.MAX_HEADERS + 1) + b"\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (http.MAX_READ + 1),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (http.MAX_READ + 1),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    ],
    ids=[
        "closed",
        "not-http",
        "status",
        "long-line",
        "many-headers",
        "no-colon",
        "negative-length",
        "short-body",
        "huge-length",
        "other-encoding",
        "bad-chunk-size",
        "negative-chunk",
        "huge-chunk",
        "chunk-without-crlf",
    ],
)
def test_a_broken_answer_is_a_transport_error_and_its_connection_is_dropped(reply: bytes) -> None:
    with served([(reply, "close"), answer(body=b"fine")]) as (server, pool):
        with pytest.raises(http.TransportError):
            get(pool)
        assert pool._idle == []
        assert get(pool).body == b"fine"
    assert server.connections == 2


@pytest.mark.parametrize(
    "request_",
    [
        lambda pool: pool.request("GET", "/a b", headers=[], body=None, timeout=1),
        lambda pool: pool.request("GET", "/a\r\nX: y", headers=[], body=None, timeout=1),
        lambda pool: pool.request("GE T", "/", headers=[], body=None, timeout=1),
        lambda pool: pool.request("GET", "/", headers=[("X", "a\r\nInjected: 1")], body=None, timeout=1),
        lambda pool: pool.request("GET", "/", headers=[("X Y", "a")], body=None, timeout=1),
        lambda pool: pool.request("GET", "/", headers=[("X", "a\x00")], body=None, timeout=1),
    ],
)
def test_a_request_http_cannot_carry_is_refused_before_anything_is_sent(
    request_: Callable[[http.Pool], object],
) -> None:
    with served([answer()]) as (server, pool), pytest.raises(ValueError, match="HTTP does not allow"):
        request_(pool)
    assert server.connections == 0 and server.requests == []


def test_a_silent_server_times_out() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) and never answers
    pool = http.Pool(http.Endpoint("127.0.0.1", listener.getsockname()[1], None), max_idle=1)
    try:
        with pytest.raises(http.TransportError, match="timed out"):
            pool.request("GET", "/", headers=[], body=None, timeout=0.2)
    finally:
        pool.close()
        listener.close()


def test_refused_connection_is_a_transport_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    pool = http.Pool(http.Endpoint("127.0.0.1", port, None), max_idle=1)
    with pytest.raises(http.TransportError):
        pool.request("GET", "/", headers=[], body=None, timeout=1)


def test_idle_connections_beyond_max_idle_are_closed() -> None:
    replies = [answer() for _ in range(8)]
    with served(replies) as (_, pool):
        results: list[int] = []
        barrier = threading.Barrier(8)

        def call() -> None:
            barrier.wait()
            results.append(get(pool).status)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 8
        assert len(pool._idle) <= pool.max_idle


class _Config:
    """The attributes of kubernetes.client.Configuration that endpoint() reads."""

    def __init__(self, host: str, **kw: object) -> None:
        self.host = host
        self.proxy = None
        self.no_proxy = None
        self.verify_ssl = True
        self.ssl_ca_cert = None
        self.ca_cert_data = None
        self.cert_file = None
        self.key_file = None
        self.assert_hostname = None
        self.tls_server_name = None
        self.__dict__.update(kw)


def test_endpoint_follows_the_configuration() -> None:
    plain = http.endpoint(_Config("http://127.0.0.1:8080"))
    assert plain == http.Endpoint("127.0.0.1", 8080, None)
    tls = http.endpoint(_Config("https://[::1]", tls_server_name="kubernetes"))
    assert tls is not None and tls.tls is not None
    assert (tls.host, tls.port, tls.server_hostname, tls.authority) == ("::1", 443, "kubernetes", "[::1]:443")
    insecure = http.endpoint(_Config("https://10.0.0.1:6443", verify_ssl=False))
    assert insecure is not None and insecure.tls is not None
    assert insecure.tls.verify_mode.name == "CERT_NONE" and not insecure.tls.check_hostname
    # a proxy keeps every request on the official client's urllib3 pool, unless no_proxy says not
    assert http.endpoint(_Config("https://10.0.0.1:6443", proxy="http://proxy:3128")) is None
    assert (
        http.endpoint(_Config("https://10.0.0.1:6443", proxy="http://proxy:3128", no_proxy="10.0.0.0/8"))
        is not None
    )


@pytest.mark.parametrize(
    "reply",
    [
        b"c2VjcmV0LXZhbHVl\r\n\r\n",  # the tail of a misframed body read as a status line
        b"HTTP/1.1 200 OK\r\nc2VjcmV0LXZhbHVl\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: c2VjcmV0LXZhbHVl\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nc2VjcmV0LXZhbHVl\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: c2VjcmV0LXZhbHVl\r\n\r\n",
    ],
    ids=["status", "header", "length", "chunk-size", "encoding"],
)
def test_an_error_never_quotes_what_the_server_sent(reply: bytes) -> None:
    with served([(reply, "close")]) as (_, pool), pytest.raises(http.TransportError) as caught:
        get(pool)
    assert "c2VjcmV0LXZhbHVl" not in str(caught.value)


def test_a_body_read_to_the_close_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_READ", 64)
    with served(
        [(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 65, "close"), (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 64, "close")]
    ) as (_, pool):
        with pytest.raises(http.TransportError, match="more than this client reads"):
            get(pool)
        assert get(pool).body == b"x" * 64
