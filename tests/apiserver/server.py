"""`ApiServer`: the fake API server on 127.0.0.1 in a background thread, and its kubeconfig.

    with ApiServer() as server:
        server.write_kubeconfig(tmp / "kubeconfig")
        ...  # kubectl --kubeconfig ..., kubernetes.config.new_client_from_config(...)

`reset()` brings it back to a fresh cluster (the four default namespaces, no CRDs, no
faults, an empty request log) without restarting; resourceVersions keep growing across
resets, so watches from before a reset get 410. `stop()` ends watch streams, closes client
connections and joins every thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from .api import Api, Call
from .faults import Faults
from .handler import Handler
from .requestlog import RequestLog
from .resources import Registry
from .store import Store

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True
    allow_reuse_address = True
    app: ApiServer


class ApiServer:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        history: int = 100_000,
        bookmark_interval: float = 1.0,
        watch_timeout: float = 1800.0,
    ) -> None:
        self.host = host
        self._wanted_port = port
        self.registry = Registry()
        self.store = Store(history=history)
        self.api = Api(self.store, self.registry)
        self.faults = Faults(self.store)
        self.log = RequestLog()
        self.crashes: list[str] = []  # tracebacks of bugs in this server, to fail tests on
        self.default_bookmark_interval = self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.kubeconfig: Path | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._seed()

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> ApiServer:
        httpd = _HTTPServer((self.host, self._wanted_port), Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="fake-apiserver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.store.hub.close()
        httpd.shutdown()
        self.drop_connections()
        httpd.server_close()  # joins the request threads
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> ApiServer:
        return self.start() if self._httpd is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def drop_connections(self) -> None:
        """Cut every client connection (keep-alive ones included)."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake apiserver is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- state ----------------------------------------------------------------------------

    def reset(self) -> None:
        """A fresh cluster: default namespaces only, no CRDs, faults or log entries."""
        self.store.hub.close()
        self.faults.clear()
        self.registry.reset()
        self.store.reset()
        self.api.namespace_defaults = False
        self.bookmark_interval = self.default_bookmark_interval
        self._seed()
        self.log.clear()
        self.crashes.clear()

    def _seed(self) -> None:
        for name in DEFAULT_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def create(self, obj: dict[str, Any], *, manager: str = "seed") -> dict[str, Any]:
        """Create `obj` in-process (no HTTP, not logged) with the same rules as a POST."""
        rt = self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if rt is None:
            raise LookupError(f"no resource serves {obj.get('apiVersion')} {obj.get('kind')}")
        namespace = obj.get("metadata", {}).get("namespace") if rt.namespaced else None
        version = obj["apiVersion"].rpartition("/")[2]
        call = Call(rt, version, namespace, None, params={"fieldManager": manager})
        return self.api.create(call, obj)[1]

    def write_kubeconfig(self, path: Path | str, *, namespace: str = "default") -> Path:
        path = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "fake-token"}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "tester", "namespace": namespace},
                }
            ],
            "current-context": "fake",
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig = path
        return path
