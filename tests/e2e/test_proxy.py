"""A kubeconfig with `proxy-url` sends every request through the proxy, as kubectl does.

Requests with one answer normally go through io/http.py, which speaks no proxy protocol; with a
proxy configured they must stay on the official client's urllib3 pool. The proxy here tunnels
(HTTP CONNECT) and records what it tunnelled, so a request that went around it is seen. It runs
on the real server only: the fake one speaks plain HTTP, which a proxy forwards, not tunnels.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import need, run
from tests.e2e.live_helpers import source

pytestmark = [pytest.mark.e2e, pytest.mark.real_only]


class ConnectProxy:
    """Tunnels HTTP CONNECT to 127.0.0.1 only; counts tunnels and the bytes sent through them."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.tunnels: list[str] = []
        self.bytes_up = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host != "127.0.0.1":
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            with self._lock:
                self.tunnels.append(target)
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with upstream:
                down = threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True)
                down.start()
                self._pipe(client, upstream, True)
                down.join(5)

    def _pipe(self, source_: socket.socket, sink: socket.socket, up: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source_.recv(65536):
                sink.sendall(data)
                if up:
                    with self._lock:
                        self.bytes_up += len(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the accepting thread (Linux); close alone does not
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


@pytest.fixture
def proxy() -> Any:
    found = ConnectProxy()
    yield found
    found.close()


def test_a_proxy_url_in_the_kubeconfig_carries_sync_and_status(
    cluster: Any, kubeconfig: Path, proxy: ConnectProxy, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    source(cluster, targets="team-*")
    config = yaml.safe_load(kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["proxy-url"] = proxy.url
    proxied = tmp_path / "proxied-kubeconfig"
    proxied.write_text(yaml.safe_dump(config))
    server = config["clusters"][0]["cluster"]["server"].removeprefix("https://")
    kubectl = need("kubectl")

    synced = run([kubectl, "mirror", "sync", "-A", "--kubeconfig", str(proxied)], e2e_env)
    assert synced.returncode == 0, synced.stderr
    assert proxy.tunnels and set(proxy.tunnels) == {server}
    tunnels, sent = len(proxy.tunnels), proxy.bytes_up

    status = run([kubectl, "mirror", "status", "-A", "--kubeconfig", str(proxied)], e2e_env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[1].split() == [
        "platform/settings",
        "ConfigMap",
        "2",
        "2",
        "0",
        "0",
        "0",
        "0",
    ]
    assert len(proxy.tunnels) > tunnels and proxy.bytes_up > sent

    # the proxy is the only way in: with it gone, the same kubeconfig reaches nothing
    proxy.close()
    gone = run(
        [kubectl, "mirror", "status", "-A", "--kubeconfig", str(proxied), "--request-timeout", "2s"], e2e_env
    )
    assert gone.returncode != 0
    assert "Traceback" not in gone.stderr
