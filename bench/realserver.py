"""The real control plane behind `bench/sync.py --real` and `bench/watch.py --real`.

`Server` answers as bench/sync.py's fake `Server` does (`url`, `hello`, `describe()`, `connect()`,
`report()`, `stop()`), over etcd, kube-apiserver and kube-controller-manager started by
tests/realserver/controlplane.py in a folder of the caller's:

- the world is the fake's (bench/sync.py's `make_source`: namespaces team-0..N-1, the sources in
  `default`), created over HTTPS by 16 threads through tests/realserver/rest.py's client, whose
  user agent keeps those requests out of the counts, as the fake's in-process seeding is;
- `report()` summarises (bench/sync.py's `summarize`) what the kubeconfig's user (`admin`) asked
  since the last report, read from the apiserver's audit log by tests/realserver/auditlog.py (the
  controller manager's requests are left out). The first/last request and write times are the
  audit events' own timestamps. `objects` counts the ConfigMaps and Secrets by listing them, less
  those the system keeps (`kube-root-ca.crt` in every namespace); `processes` holds each
  control-plane process's peak and current RSS;
- `raw_create_rate()` measures what the apiserver does for a client with no logic at all: 16
  threads POSTing ConfigMaps, each over its own keep-alive HTTPS connection.

Only the `--real` modes import this module: it needs cryptography, urllib3, PyYAML and the binaries.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sync as sync_bench
import yaml

sys.path.insert(0, str(sync_bench.REPO))

from tests.apiserver.requestlog import WRITE_VERBS, Record
from tests.realserver.auditlog import AuditLog
from tests.realserver.controlplane import ControlPlane, client_context
from tests.realserver.rest import METADATA_LIST, Rest

THREADS = 16
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ROOT_CA = "kube-root-ca.crt"  # the controller manager's ConfigMap in every namespace
WAIT = 60.0
PAGE = "5000"


def _stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


class TimedAuditLog(AuditLog):
    """The audit log as bench/sync.py's TimedLog: records plus first/last request and write times,
    taken and emptied in one step.

    `_taken` guards `_new` and `_times`; the reader fills them (inside `clear()`, in the caller's
    thread) and `take()` swaps them for empty ones. The times come from `_counts`, the one hook
    that sees the audit event itself (a Record has no timestamp)."""

    def __init__(self, path: Path, *, user: str, sentinel: Any) -> None:
        super().__init__(path, user=user, sentinel=sentinel)
        self._taken = threading.Lock()
        self._new: list[Record] = []
        self._times: dict[str, float] = {}

    def add(self, record: Record) -> None:
        with self._taken:
            self._new.append(record)

    def _counts(self, event: dict[str, Any]) -> bool:
        counted = super()._counts(event)
        if counted and "requestReceivedTimestamp" in event and "stageTimestamp" in event:
            received, done = _stamp(event["requestReceivedTimestamp"]), _stamp(event["stageTimestamp"])
            dry = "dryRun=All" in event.get("requestURI", "")
            with self._taken:
                self._note("request", received, done)
                if event.get("verb") in WRITE_VERBS and not dry:
                    self._note("write", received, done)
        return counted

    def _note(self, what: str, received: float, done: float) -> None:
        first, last = f"first_{what}", f"last_{what}"
        self._times[first] = min(self._times.get(first, received), received)
        self._times[last] = max(self._times.get(last, done), done)

    def take(self) -> tuple[list[Record], dict[str, float]]:
        """Every request since the last take, and their times; none is lost between the two."""
        self.clear()  # reads the file up to a fresh sentinel request; the new lines go through add()
        with self._taken:
            records, self._new = self._new, []
            times, self._times = self._times, {}
        return records, times


def process_memory(pids: dict[str, int]) -> dict[str, dict[str, int]]:
    return {name: sync_bench.proc_memory(pid) for name, pid in pids.items()}


class Server:
    """A control plane seeded with bench/sync.py's world; complete when the constructor returns."""

    def __init__(
        self,
        *,
        sources: int,
        namespaces: int,
        kubeconfig: Path,
        workdir: Path,
        count_objects: bool = True,
    ) -> None:
        assets = sync_bench.require_assets()
        self.plane = ControlPlane.start(assets, workdir)
        try:
            self._context = client_context(self.plane.certs)
            self.rest = Rest(self.plane.url, self._context, connections=THREADS)
            self.url = self.plane.url
            self.log = TimedAuditLog(
                self.plane.audit_log, user=self.plane.admin_user, sentinel=self._sentinel
            )
            kubeconfig.write_bytes(self.plane.kubeconfig.read_bytes())
            self._count_objects = count_objects
            started = time.perf_counter()
            self._seed(sources, namespaces)
            seeded = time.perf_counter() - started
            self._wait_root_ca(namespaces)
            self._system_objects = self._stored() - sources if count_objects else 0
            self.log.take()  # the plane's readiness probes and the seeding are not the benchmark's
        except BaseException:
            self.plane.stop()
            raise
        _, version = self.rest.call("GET", "/version")
        self.hello = {
            "url": self.url,
            "seed_seconds": seeded,
            "start_seconds": self.plane.timings.get("total", 0.0),
            "version": version.get("gitVersion", "?"),
        }

    def describe(self) -> str:
        h = self.hello
        return (
            f"control plane (etcd, kube-apiserver {h['version']}, kube-controller-manager) started in "
            f"{h['start_seconds']:.1f} s, seeded over HTTPS by {THREADS} threads in "
            f"{h['seed_seconds']:.2f} s ({self.url})"
        )

    def _sentinel(self, name: str) -> None:
        path = f"/api/v1/namespaces/{sync_bench.SOURCE_NAMESPACE}/configmaps/{name}"
        self.rest.call("GET", path, ok=(404,))

    def _seed(self, sources: int, namespaces: int) -> None:
        posts: list[tuple[str, dict[str, Any]]] = [
            (
                "/api/v1/namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{n}"}},
            )
            for n in range(namespaces)
        ]
        for s in range(sources):
            source = sync_bench.make_source(s)
            plural = "configmaps" if source["kind"] == "ConfigMap" else "secrets"
            posts.append((f"/api/v1/namespaces/{sync_bench.SOURCE_NAMESPACE}/{plural}", source))
        with ThreadPoolExecutor(THREADS, thread_name_prefix="seed") as pool:
            list(pool.map(lambda post: self.rest.call("POST", *post), posts))

    def _wait_root_ca(self, namespaces: int) -> None:
        """Until the controller manager has put its ConfigMap in every namespace: one it adds during
        a sync would count as an object the sync left behind."""
        wanted = namespaces + len(SYSTEM_NAMESPACES)
        deadline = time.monotonic() + WAIT
        while True:
            found = self._count("configmaps", {"fieldSelector": f"metadata.name={ROOT_CA}"})
            if found >= wanted:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"only {found} of {wanted} namespaces got {ROOT_CA} within {WAIT:.0f} s")
            time.sleep(0.2)

    def _count(self, plural: str, params: dict[str, str] | None = None) -> int:
        """Objects of a core resource across all namespaces, paged, metadata only."""
        query = {**(params or {}), "limit": PAGE}
        total = 0
        while True:
            _, page = self.rest.call("GET", f"/api/v1/{plural}", params=query, accept=METADATA_LIST)
            total += len(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return total
            query = {**query, "continue": token}

    def _stored(self) -> int:
        return self._count("configmaps") + self._count("secrets")

    def connect(self, *, timeout: float) -> http.client.HTTPConnection:
        """A connection as the admin user: the bench's own requests count, as on the fake."""
        parts = urllib.parse.urlsplit(self.url)
        return http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=self._context
        )

    def report(self) -> dict[str, Any]:
        """What the admin user asked since the last report, in bench/sync.py's shape."""
        records, times = self.log.take()
        objects = self._stored() - self._system_objects if self._count_objects else -1
        seen = sync_bench.summarize(records, times, objects=objects)
        seen["processes"] = process_memory(self.plane.pids)
        seen["server_peak_rss"] = seen["processes"]["kube-apiserver"]["VmHWM"]
        return seen

    def stop(self) -> None:
        self.rest.close()
        self.plane.stop()


# --- the raw create rate -----------------------------------------------------------------------


@dataclass(frozen=True)
class RawRate:
    created: int
    seconds: float  # from the moment every thread was connected until the last answer
    threads: int
    failed: dict[str, int]  # HTTP status -> count

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds > 0 else float("inf")


def admin_context(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    """The server URL and a TLS context with the current context's client certificate."""
    config = yaml.safe_load(kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    tls.load_cert_chain(user["client-certificate"], user["client-key"])
    return cluster["server"], tls


def raw_create_rate(
    kubeconfig: Path,
    *,
    namespace: str = "bench-raw-posts",
    threads: int = THREADS,
    seconds: float = 5.0,
    limit: int = 1000,
) -> RawRate:
    """ConfigMaps (a source's data, no markers) POSTed into a scratch namespace by `threads`
    threads, each over its own keep-alive connection, until `limit` objects or `seconds`."""
    url, tls = admin_context(kubeconfig)
    parts = urllib.parse.urlsplit(url)

    def connection() -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=60, context=tls)
        conn.connect()
        return conn

    def post(conn: http.client.HTTPConnection, path: str, obj: dict[str, Any]) -> int:
        conn.request("POST", path, body=json.dumps(obj), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status

    first = connection()
    status = post(
        first,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    first.close()
    if status != 201:
        raise SystemExit(f"creating namespace {namespace} failed with HTTP {status}")
    data = sync_bench.make_source(0)["data"]
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    lock = threading.Lock()  # guards `issued`, `created` and `failed`
    issued, created = 0, 0
    failed: dict[str, int] = {}
    ready = threading.Barrier(threads + 1)
    deadline = 0.0  # set before the barrier opens, read only after it

    def worker() -> None:
        nonlocal issued, created
        try:
            conn = connection()
        except BaseException:
            ready.abort()
            raise
        ready.wait()
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if issued >= limit:
                        return
                    index, issued = issued, issued + 1
                meta = {"name": f"raw-{index:05d}"}
                code = post(
                    conn, path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
                )
                with lock:
                    if code == 201:
                        created += 1
                    else:
                        failed[str(code)] = failed.get(str(code), 0) + 1
        finally:
            conn.close()

    workers = [threading.Thread(target=worker, name=f"raw-{n}") for n in range(threads)]
    for w in workers:
        w.start()
    began = time.perf_counter()
    deadline = began + seconds
    ready.wait()
    for w in workers:
        w.join()
    return RawRate(created, time.perf_counter() - began, threads, failed)
