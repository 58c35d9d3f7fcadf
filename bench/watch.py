"""Controller benchmark: `kubectl-mirror watch -A --leader-elect` against the project's API server.

    python3 bench/watch.py                  # 1,000 sources x 200 namespaces = 200,000 mirrors
    python3 bench/watch.py --quick          # 50 x 20, 30 idle seconds: a smoke run
    python3 bench/watch.py --sources 1000 --namespaces 20 --idle 60 --timeout 900
    export KUBEBUILDER_ASSETS=$(../shared/envtest/unpack.sh)
    python3 bench/watch.py --real --sources 50 --namespaces 100 --idle 60 --updates 10

The API server is bench/sync.py's: a child process (`bench/sync.py --serve`) that seeds itself
in-process with namespaces team-0..team-N-1 and the sources in `default` (half ConfigMaps, half
Secrets, `kubectl-mirror.io/targets: "*"`), and reports what it was asked since its last report
(verbs, lists, writes, peak RSS) over a line protocol. This script reuses that code rather than
repeating it. The real console script then runs as the controller, in its own process:

    kubectl-mirror watch -A --leader-elect --lease-namespace default --metrics-addr 127.0.0.1:0
        --max-targets 1000 --workers 4 --qps 0

and is measured in phases, each printed as it ends:

1. converge: from its start until its `kubectl_mirror_mirrors_managed` metric counts every mirror
   (it counts mirrors it has seen come back on its own watch, so they exist), then until the
   queue is empty and the reconcile counters stop moving ("settled");
2. updates: one source at a time is merge-patched over HTTP (bench/sync.py's `patch_source`);
   the latency is from just before the patch until a watch on its mirrors (by their source-id
   label, opened before the patch) has seen every one of them carry the new value;
3. idle: the request log is cleared, nothing happens for `--idle` seconds, and every request
   the controller made is reported (expected: the Lease's renewals, watches reopened when their
   `timeoutSeconds` ends, and no writes to mirrors);
4. memory: the controller's RSS (/proc/PID/status) at steady state, then after `--grow` more
   namespaces are created (sources x grow more mirrors): the difference per 1,000 mirrors;
5. restart: the controller is stopped (SIGTERM) and a new one started on the converged cluster,
   as in a rollout: time until it manages every mirror, writes (none but the Lease's), and its
   RSS, whose peak now includes the initial lists of every mirror.

A table of the figures and their targets ends the output (RSS in MiB; the target is 200).

`--real` runs the same five phases against etcd, kube-apiserver and kube-controller-manager v1.36
(bench/sync.py --real's control plane, bench/realserver.py; $KUBEBUILDER_ASSETS or exit 2).
What differs from the fake mode:
- the requests are the admin user's, read from the apiserver's audit log at each report (a
  sentinel GET, not counted, marks how far to read); the controller manager's requests, and the
  seeding's (16 threads over HTTPS), are left out. The bench's own patches, GETs, watches and
  namespace creates go over HTTPS as admin and count, as they do on the fake;
- the server's memory line gives etcd's, kube-apiserver's and kube-controller-manager's peak and
  current RSS (/proc/PID/status) instead of the fake child's peak;
- nothing here uses the fake-only parts (its in-process store count, its fault hooks), so no
  phase is left out; the controller manager adds `kube-root-ca.crt` to every namespace, including
  the `--grow` ones, which are no sources and change nothing mirrored;
- discovery on a real server lists every built-in namespaced kind, so the controller lists and
  watches each of them (see the figures), where the fake serves a few.

Measured at commit 5bf11ff (main), 2 CPUs, load average 0.1-3: converged from empty in 147.6 s
(200,001 creates, the Lease's included, and no GET before them); source update -> all 200
mirrors p50 0.188 s, p99 0.237 s (20 updates, each 200 PUTs with the cached resourceVersion);
300 idle seconds: 311 requests, 150 Lease GETs + 150 Lease PUTs and 11 watches reopened at their
timeoutSeconds, no list, no discovery, 1,000 unchanged reconciles (resync), no other write,
1.8 CPU seconds; RSS 174 MiB at 200,000 mirrors (target 200), 0.39 MiB per 1,000 more; after a
restart on 220,000 mirrors: every mirror managed in 11.7 s with no write but the Lease's, RSS
peak 197 MiB, settled 189 MiB (the Deployment's limit is 256Mi). At a259016, before the
controller stopped re-queuing a source for the echo of its own writes and re-hashing desired
mirrors: 152.1 s, p50 0.192 s / p99 0.248 s, 3.1 idle CPU seconds, 174 MiB, restart peak 198 MiB.

At fc1a822, before relists were paged and cache records slimmed, the same run gave: converge
215.8 s (each create after a GET answered 404), update p50 0.302 s / p99 0.385 s, 2 relists in
the idle minutes after stale pooled connections, RSS 309 MiB, 0.98 MiB per 1,000, restart peak
821 MiB.

Both servers at commit b650648, 50 sources x 100 namespaces = 5,000 mirrors, `--idle 60
--updates 10`, 2 CPUs, load average 0.2-1.5, fake / real (--real): converged from empty in 4.9 s
/ 7.0 s (5,001 creates each, the Lease's included); source update -> all 100 mirrors p50 0.115 s
/ 0.228 s, p99 0.128 s / 0.324 s; 60 idle seconds: 60 requests on both, 30 Lease GETs + 30 Lease
PUTs, no list, no discovery, no watch reopened, no other write, 0.2 CPU seconds; RSS 54 / 62 MiB
at 5,000 mirrors, 0.99 / 1.14 MiB per 1,000 more; after a restart on 6,000 mirrors: every mirror
managed in 0.9 s / 0.9 s with no write but the Lease's, RSS peak 62 / 70 MiB. On the real server
the controller starts with 22 discovery requests, 56 lists and 56 watches (17 namespaced built-in
kinds under three marker dialects' labels), against 6, 11 and 11 on the fake (a restart: 150
requests against 44). Server memory: the fake 107 MiB; kube-apiserver 361 MiB, etcd 77 MiB,
kube-controller-manager 144 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# bench/sync.py: the server child and its seeding, the report protocol, the source patch.
# This directory is sys.path[0] when the script runs as `python3 bench/watch.py`.
import sync as sync_bench

MIB = sync_bench.MIB
METRIC = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$")
RSS_TARGET_MIB = 200


# --- the controller process -----------------------------------------------------------------


class Watch:
    """One `kubectl-mirror watch` process: its metrics endpoint and its /proc figures."""

    def __init__(self, argv: Sequence[str], log: IO[str]) -> None:
        self.log = log
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.metrics_port = self._metrics_port(timeout=60.0)

    def _metrics_port(self, *, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log.name, encoding="utf-8", errors="replace") as handle:
                found = re.search(r"metrics on [^\s:]+:(\d+)", handle.read())
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                raise SystemExit(f"kubectl-mirror watch exited ({self.proc.returncode}): see {self.log.name}")
            time.sleep(0.05)
        raise SystemExit(f"kubectl-mirror watch did not serve metrics within {timeout:.0f} s")

    def metrics(self) -> dict[str, float]:
        """`name{labels}` -> value, from /metrics."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=30)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        values = {}
        for line in text.splitlines():
            found = METRIC.match(line)
            if found and not line.startswith("#"):
                values[found.group(1) + (found.group(2) or "")] = float(found.group(3))
        return values

    def status(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) in bytes."""
        return sync_bench.proc_memory(self.proc.pid)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        """SIGTERM (finish in-flight work, release the Lease), as the kubelet does."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def watch_argv(kubeconfig: Path, *, workers: int, shipped: bool = False) -> list[str]:
    """`shipped`: the defaults a user gets (only what the bench needs to read it is added)."""
    args = ["watch", "-A", "--leader-elect", "--lease-namespace", "default"]
    args += ["--metrics-addr", "127.0.0.1:0", "--max-targets", "1000", "--kubeconfig", str(kubeconfig)]
    if not shipped:
        args += ["--workers", str(workers), "--qps", "0"]  # --qps 0: no client-side limiter
    script = sync_bench.BIN / "kubectl-mirror"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from kubectl_mirror.cli.main import main; main()", *args]


def managed(metrics: dict[str, float]) -> int:
    return int(metrics.get("kubectl_mirror_mirrors_managed", 0))


def queue_depth(metrics: dict[str, float]) -> int:
    return int(metrics.get("kubectl_mirror_queue_depth", 0))


def reconciles(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("kubectl_mirror_reconciles_total"))


def delta(after: dict[str, float], before: dict[str, float], prefix: str) -> dict[str, int]:
    """Counter increases of one metric family, by label set."""
    return {
        k[len(prefix) :] or "total": int(v - before.get(k, 0.0))
        for k, v in sorted(after.items())
        if k.startswith(prefix) and v - before.get(k, 0.0)
    }


# --- the API server over HTTP (the bench's own few requests) ---------------------------------


def api(server: sync_bench.BenchServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = server.connect(timeout=60)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def create_namespace(server: sync_bench.BenchServer, name: str) -> None:
    status, _ = api(server, "POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    if status != 201:
        raise SystemExit(f"creating namespace {name} failed with HTTP {status}")


def kind_of(index: int) -> str:
    return "configmaps" if index % 2 == 0 else "secrets"  # as bench/sync.py's make_source


def source_id(server: sync_bench.BenchServer, index: int) -> str:
    kind, name = kind_of(index), sync_bench.source_name(index)
    status, mirror = api(server, "GET", f"/api/v1/namespaces/team-0/{kind}/{name}")
    if status != 200:
        raise SystemExit(f"mirror team-0/{name} not found (HTTP {status})")
    return str(mirror["metadata"]["labels"]["kubectl-mirror.io/source-id"])


class MirrorWatch:
    """A watch on one source's mirrors (by their source-id label) that notes when every one of
    them holds a `region` different from the one it had when listed, i.e. the patched one (the
    value itself is patch_source's business). It sees each write as an informer does, without
    polling the server."""

    def __init__(self, server: sync_bench.BenchServer, index: int, namespaces: int) -> None:
        self.kind, self.namespaces = kind_of(index), namespaces
        selector = f"kubectl-mirror.io/source-id%3D{source_id(server, index)}"
        self.conn = server.connect(timeout=300)
        self.conn.request("GET", f"/api/v1/{self.kind}?watch=true&labelSelector={selector}")
        self.resp = self.conn.getresponse()
        self.values: dict[str, str] = {}  # namespace -> region
        self.listed_values: dict[str, str] = {}
        self.listed = threading.Event()  # the initial ADDED events are in
        self.done = threading.Event()
        self.done_at = math.inf
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
            for line in self.resp:
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") in ("ADDED", "MODIFIED"):
                    self.values[obj["metadata"]["namespace"]] = obj["data"]["region"]
                listed = self.listed.is_set()
                if not listed and len(self.values) >= self.namespaces:
                    self.listed_values = dict(self.values)
                    self.listed.set()
                elif listed and all(v != self.listed_values.get(ns) for ns, v in self.values.items()):
                    self.done_at = time.perf_counter()
                    self.done.set()
                    return

    def close(self) -> None:
        if self.conn.sock is not None:
            with contextlib.suppress(OSError):
                self.conn.sock.shutdown(socket.SHUT_RDWR)  # ends the reader's blocking read
        self.conn.close()
        self.thread.join(5)


# --- phases ----------------------------------------------------------------------------------


@dataclass
class Converged:
    seconds: float | None  # spawn -> every mirror managed; None: --timeout first
    settled: float | None  # spawn -> queue empty and no reconcile for a while
    mirrors: int
    cpu: float
    rss: dict[str, int]
    metrics: dict[str, float]


def converge(watch: Watch, expected: int, *, timeout: float, progress: float = 30.0) -> Converged:
    """Poll the controller's metrics until it manages `expected` mirrors and is quiet."""
    reached: float | None = None
    quiet_since: float | None = None
    last_reconciles = -1.0
    next_progress = progress
    while True:
        time.sleep(0.25)
        now = time.perf_counter() - watch.started
        if not watch.alive():
            raise SystemExit(f"kubectl-mirror watch exited ({watch.proc.returncode}): see {watch.log.name}")
        metrics = watch.metrics()
        count = managed(metrics)
        if reached is None and count >= expected:
            reached = now
        if now >= next_progress:
            next_progress += progress
            rss = watch.status()["VmRSS"] / MIB
            print(
                f"    {now:7.0f} s: {count:,} mirrors ({count / now:.0f}/s), queue "
                f"{queue_depth(metrics)}, RSS {rss:.0f} MiB",
                flush=True,
            )
        if reached is not None:
            done = reconciles(metrics)
            quiet = queue_depth(metrics) == 0 and done == last_reconciles
            quiet_since = (quiet_since or now) if quiet else None
            last_reconciles = done
            if quiet_since is not None and now - quiet_since >= 2.0:
                return Converged(reached, quiet_since, count, watch.cpu_seconds(), watch.status(), metrics)
        if now >= timeout:
            return Converged(reached, None, count, watch.cpu_seconds(), watch.status(), metrics)


@dataclass(frozen=True)
class Update:
    index: int
    latency: float  # patch sent -> the last of its mirrors seen with the new value on a watch
    writes: int  # writes in the window, the patch left out (mirrors and Lease renewals)
    strays: frozenset[str]  # objects written that are neither its mirrors, the source nor the Lease
    window: float  # seconds the writes were counted over
    by_verb: Counter[str]
    matching: int  # mirrors whose region equals the source's after the patch


def update_one(server: sync_bench.BenchServer, index: int, namespaces: int, *, timeout: float) -> Update:
    """Patch one source; time until a watch on its mirrors has seen all of them change.

    The request log is read only before the patch and a second after the last mirror changed:
    bench/sync.py's `report` clears the log after summarising it, so a request logged in between
    (here only a Lease renewal can be) is lost."""
    kind, name = kind_of(index), sync_bench.source_name(index)
    targets = {f"{kind}/team-{n}/{name}" for n in range(namespaces)}
    patched = f"{kind}/{sync_bench.SOURCE_NAMESPACE}/{name}"
    watch = MirrorWatch(server, index, namespaces)
    try:
        if not watch.listed.wait(60):
            raise SystemExit(f"the watch on {name}'s mirrors did not list them")
        server.report()  # start from an empty log
        started = time.perf_counter()
        sync_bench.patch_source(server, index)
        watch.done.wait(timeout)
        latency = watch.done_at - started
    finally:
        watch.close()
    _, source = api(server, "GET", f"/api/v1/namespaces/{sync_bench.SOURCE_NAMESPACE}/{kind}/{name}")
    matching = sum(v == source["data"]["region"] for v in watch.values.values())
    time.sleep(1.0)  # late writes (there should be none) count against this update
    seen = server.report()
    window = time.perf_counter() - started
    written = set(seen["written"] or ())
    strays = frozenset(w for w in written - targets if w != patched and not w.startswith("leases."))
    return Update(index, latency, seen["writes"] - 1, strays, window, Counter(seen["by_verb"]), matching)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# --- printing --------------------------------------------------------------------------------


def revision() -> str:
    """The package code measured: other engineers edit it while benchmarks run."""
    repo = sync_bench.REPO
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return f"kubectl_mirror from {repo} (not a git checkout)"
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "kubectl_mirror"], capture_output=True, text=True
    )
    edited = [f for f in dirty.stdout.split() if f.endswith(".py")]
    return f"kubectl_mirror at {head.stdout.strip()}" + (
        f" + uncommitted {', '.join(edited)}" if edited else ""
    )


def load() -> str:
    """The load average: other work on the machine makes every time here longer."""
    one, five, fifteen = os.getloadavg()
    return f" (load average {one:.2f} {five:.2f} {fifteen:.2f})"


def verbs(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {n}" for v, n in sorted(counts.items())) or "none"


def mib(value: float) -> str:
    return f"{value / MIB:.0f} MiB"


def table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"  {'figure'.ljust(width)}  {'measured'.rjust(value_width)}  target")
    for name, value, target in rows:
        print(f"  {name.ljust(width)}  {value.rjust(value_width)}  {target}")


# --- the run ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    mirrors = args.sources * args.namespaces
    flags = "the shipped defaults" if args.shipped else f"{args.workers} workers, --qps 0"
    print(
        f"kubectl-mirror watch -A: {args.sources} sources x {args.namespaces} namespaces = "
        f"{mirrors:,} mirrors; {flags}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
        flush=True,
    )
    print(revision())
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        logs = Path(args.logs or tmp)
        logs.mkdir(parents=True, exist_ok=True)
        server = sync_bench.start_server(
            real=args.real,
            sources=args.sources,
            namespaces=args.namespaces,
            kubeconfig=kubeconfig,
            workdir=Path(tmp),
            count_objects=False,  # this bench never checks them
        )
        watches: list[Watch] = []

        def start() -> Watch:
            log = open(logs / f"watch-{len(watches) + 1}.log", "w+", encoding="utf-8")  # noqa: SIM115
            watches.append(Watch(watch_argv(kubeconfig, workers=args.workers, shipped=args.shipped), log))
            return watches[-1]

        try:
            print(server.describe())
            phases(args, server, start)
        finally:
            for watch in watches:
                if watch.alive():
                    print(f"controller stopped with SIGTERM: exit {watch.stop()}")
                watch.log.close()
            print(f"controller logs: {logs}/watch-*.log")
            server.stop()


def phases(args: argparse.Namespace, server: sync_bench.BenchServer, start: Callable[[], Watch]) -> None:
    rows: list[tuple[str, str, str]] = []
    expected = args.sources * args.namespaces
    watch = start()
    print(f"1. converge from empty{load()}", flush=True)
    result = converge(watch, expected, timeout=args.timeout)
    seen = server.report()
    creates = seen["by_verb"].get("create", 0)
    if result.seconds is None:
        elapsed = time.perf_counter() - watch.started
        rate = result.mirrors / elapsed
        print(f"  STOPPED at --timeout {args.timeout:.0f} s: {result.mirrors:,} of {expected:,} mirrors")
        print(f"  rate {rate:.0f} mirrors/s; all {expected:,} would take {expected / rate:.0f} s at it")
        print(f"  requests {seen['requests']:,}: {verbs(seen['by_verb'])}")
        print(f"  RSS {mib(result.rss['VmRSS'])}, peak {mib(result.rss['VmHWM'])}")
        return
    print(
        f"  every mirror managed after {result.seconds:.1f} s ({expected / result.seconds:.0f} mirrors/s), "
        f"settled after {result.settled:.1f} s; controller CPU {result.cpu:.0f} s"
    )
    print(f"  requests {seen['requests']:,}: {verbs(seen['by_verb'])}; non-2xx {seen['not_ok'] or 'none'}")
    print(f"  lists: {verbs(seen['lists'])}")
    print(f"  reconciles: {verbs(delta(result.metrics, {}, 'kubectl_mirror_reconciles_total'))}")
    restarts = delta(result.metrics, {}, "kubectl_mirror_watch_restarts_total")
    print(f"  watch restarts (metric): {verbs(restarts)}")
    print(f"  RSS {mib(result.rss['VmRSS'])}, peak {mib(result.rss['VmHWM'])}")
    rows.append(("converge from empty (all mirrors exist)", f"{result.seconds:.1f} s", "-"))
    rows.append(("  creates (the Lease's included) / mirrors", f"{creates:,} / {expected:,}", "+1"))

    count = min(args.updates, args.sources)
    print(f"2. {count} source updates, one at a time, ConfigMaps and Secrets{load()}", flush=True)
    updates = []
    for i in range(count):
        base = i * (args.sources // count)
        index = base if base % 2 == i % 2 or base + 1 >= args.sources else base + 1
        updates.append(update_one(server, index, args.namespaces, timeout=args.update_timeout))
        time.sleep(args.update_gap)
    done = [u.latency for u in updates if u.latency < math.inf]
    by_verb: Counter[str] = Counter()
    for u in updates:
        by_verb.update(u.by_verb)
    p50, p99 = (percentile(done, 50), percentile(done, 99)) if done else (math.inf, math.inf)
    print(
        f"  source update -> all {args.namespaces} mirrors changed: p50 {p50:.3f} s, p99 {p99:.3f} s, "
        f"min {min(done, default=math.inf):.3f} s, max {max(done, default=math.inf):.3f} s "
        f"({len(done)} of {count} complete within {args.update_timeout:.0f} s; nearest rank)"
    )
    print(f"  each, in order: {' '.join(f'{u.latency:.2f}' for u in updates)} s")
    writes, window = sum(u.writes for u in updates), sum(u.window for u in updates)
    strays = sorted(set().union(*(u.strays for u in updates)))
    print(
        f"  writes besides the patches: {writes} in {window:.0f} s = {count} x {args.namespaces} mirrors "
        f"+ {writes - count * args.namespaces} (the Lease renews every 2 s: ~{window / 2:.0f}); "
        f"other objects written: {strays or 'none'}"
    )
    print(f"  requests (the bench's patches and checks included): {verbs(by_verb)}")
    matching = sum(u.matching for u in updates)
    print(f"  mirrors holding their source's new value: {matching} of {count * args.namespaces}")
    rows.append((f"update -> {args.namespaces} mirrors p50", f"{p50:.3f} s", "-"))
    rows.append((f"update -> {args.namespaces} mirrors p99", f"{p99:.3f} s", f"({len(done)} samples)"))

    if args.contend:
        rows += contended(args, server, watch)
        expected = args.sources * args.namespaces

    print(f"3. idle {args.idle:.0f} s{load()}", flush=True)
    server.report()
    before, cpu_before = watch.metrics(), watch.cpu_seconds()
    time.sleep(args.idle)
    seen = server.report()
    after, cpu = watch.metrics(), watch.cpu_seconds() - cpu_before
    written = Counter(w.split("/")[0] for w in seen["written"] or ())
    mirror_writes = sum(n for r, n in written.items() if not r.startswith("leases."))
    print(
        f"  requests {seen['requests']}: {verbs(seen['by_verb'])}; writes {seen['writes']} "
        f"to {sorted(seen['written'] or ())}"
    )
    print(f"  lists: {verbs(seen['lists'])}; non-2xx {seen['not_ok'] or 'none'}")
    print(f"  controller's own count: {verbs(delta(after, before, 'kubectl_mirror_api_requests_total'))}")
    restarts = delta(after, before, "kubectl_mirror_watch_restarts_total")
    print(f"  watch restarts (metric): {verbs(restarts)}")
    print(f"  reconciles: {verbs(delta(after, before, 'kubectl_mirror_reconciles_total'))}")
    print(f"  controller CPU {cpu:.1f} s in {args.idle:.0f} s ({cpu / args.idle * 100:.1f}% of one core)")
    rows.append((f"idle {args.idle:.0f} s: writes", str(seen["writes"]), "lease renewals only"))
    rows.append((f"idle {args.idle:.0f} s: objects written besides the Lease", str(mirror_writes), "0"))
    rows.append((f"idle {args.idle:.0f} s: requests", str(seen["requests"]), "lease + watch restarts"))
    rows.append((f"idle {args.idle:.0f} s: controller CPU", f"{cpu:.1f} s", "-"))

    print(f"4. memory{load()}", flush=True)
    steady = watch.status()
    print(f"  steady state ({expected:,} mirrors): RSS {mib(steady['VmRSS'])}, peak {mib(steady['VmHWM'])}")
    rows.append(("RSS at steady state", mib(steady["VmRSS"]), f"<= {RSS_TARGET_MIB} MiB"))
    rows.append(("RSS peak (VmHWM)", mib(steady["VmHWM"]), "-"))
    if args.grow:
        first = args.namespaces
        for n in range(first, first + args.grow):
            create_namespace(server, f"team-{n}")
        more = args.sources * args.grow
        watch.started = time.perf_counter()
        grown = converge(watch, expected + more, timeout=args.timeout)
        after_grow = watch.status()
        per_1000 = (after_grow["VmRSS"] - steady["VmRSS"]) / (more / 1000)
        print(
            f"  +{args.grow} namespaces (+{more:,} mirrors) managed in {grown.seconds or math.inf:.1f} s: "
            f"RSS {mib(after_grow['VmRSS'])} ({(after_grow['VmRSS'] - steady['VmRSS']) / MIB:+.1f} MiB), "
            f"{per_1000 / MIB:.2f} MiB per 1,000 mirrors"
        )
        rows.append(("RSS per 1,000 more mirrors", f"{per_1000 / MIB:.2f} MiB", "-"))
        rows.append((f"  x {expected:,} mirrors", mib(per_1000 * expected / 1000), "-"))
        expected += more
    if args.restart:
        rows += restart(args, server, watch, start, expected)
    print(sync_bench.server_memory(server.report()))
    print(f"figures{load()}")
    table(rows)


def contended(
    args: argparse.Namespace, server: sync_bench.BenchServer, watch: Watch
) -> list[tuple[str, str, str]]:
    """2b. Updates of one existing source while `--contend` new sources' mirrors are being
    created (each targets every namespace: contend x namespaces creates), then while the same
    sources are deleted (as many deletes). A user's edit must not wait behind bulk work."""
    rows: list[tuple[str, str, str]] = []
    base = args.sources * args.namespaces
    extra = range(args.sources, args.sources + args.contend)
    for phase, verb in (("created", "POST"), ("deleted", "DELETE")):
        bulk = args.contend * args.namespaces
        print(
            f"2b. updates while {bulk:,} mirrors of {args.contend} other sources are {phase}{load()}",
            flush=True,
        )
        server.report()
        for index in extra:
            obj = sync_bench.make_source(index)
            kind = kind_of(index)
            path = f"/api/v1/namespaces/{sync_bench.SOURCE_NAMESPACE}/{kind}"
            if verb == "POST":
                status, _ = api(server, "POST", path, obj)
            else:
                status, _ = api(server, "DELETE", f"{path}/{sync_bench.source_name(index)}")
            if status not in (200, 201, 202):
                raise SystemExit(f"{verb} source {index} failed with HTTP {status}")
        goal = base + bulk if verb == "POST" else base
        latencies: list[float] = []
        during: list[int] = []
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            now = managed(watch.metrics())
            if now == goal and len(latencies) >= 3:
                break
            during.append(now)
            update = update_one(server, len(latencies) % 2, args.namespaces, timeout=args.update_timeout)
            latencies.append(update.latency)
        still_busy = sum(1 for n in during if n != goal)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        print(
            f"  {len(latencies)} updates, {still_busy} of them started while the bulk work was in flight "
            f"(mirrors managed when each started: {', '.join(f'{n:,}' for n in during)})"
        )
        print(
            f"  source update -> all {args.namespaces} mirrors: p50 {p50:.3f} s, p99 {p99:.3f} s, "
            f"max {max(latencies):.3f} s"
        )
        rows.append((f"update p99 while {bulk:,} mirrors are {phase}", f"{p99:.3f} s", "< 1 s"))
        converge(watch, goal, timeout=args.timeout)
    return rows


def restart(
    args: argparse.Namespace,
    server: sync_bench.BenchServer,
    old: Watch,
    start: Callable[[], Watch],
    expected: int,
) -> list[tuple[str, str, str]]:
    """A new controller process on the converged cluster (a pod restart or a rollout): the
    initial lists now hold every mirror."""
    print(f"5. restart on the converged cluster ({expected:,} mirrors){load()}", flush=True)
    code = old.stop()
    server.report()
    watch = start()
    result = converge(watch, expected, timeout=args.timeout)
    seen = server.report()
    written = seen["written"]
    others = sorted(w for w in written if not w.startswith("leases.")) if written is not None else None
    print(f"  old controller exit {code} after SIGTERM")
    print(
        f"  every mirror managed after {result.seconds or math.inf:.1f} s, settled after "
        f"{result.settled or math.inf:.1f} s; controller CPU {result.cpu:.0f} s"
    )
    print(f"  requests {seen['requests']:,}: {verbs(seen['by_verb'])}; non-2xx {seen['not_ok'] or 'none'}")
    print(f"  lists: {verbs(seen['lists'])}")
    print(f"  writes {seen['writes']}; objects written besides the Lease: {others}")
    print(f"  reconciles: {verbs(delta(result.metrics, {}, 'kubectl_mirror_reconciles_total'))}")
    print(f"  RSS {mib(result.rss['VmRSS'])}, peak {mib(result.rss['VmHWM'])}")
    shown = str(len(others)) if others is not None else "> 5000"
    return [
        ("restart: every mirror managed", f"{result.seconds or math.inf:.1f} s", "-"),
        ("restart: objects written besides the Lease", shown, "0"),
        ("restart: RSS peak (VmHWM)", mib(result.rss["VmHWM"]), f"<= {RSS_TARGET_MIB} MiB"),
        ("restart: RSS settled", mib(result.rss["VmRSS"]), f"<= {RSS_TARGET_MIB} MiB"),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--updates", type=int, default=20, help="sources updated one at a time")
    parser.add_argument("--update-gap", type=float, default=2.0, help="seconds between updates")
    parser.add_argument("--update-timeout", type=float, default=120.0)
    parser.add_argument("--idle", type=float, default=300.0, help="seconds of idle measured")
    parser.add_argument(
        "--contend", type=int, default=0, help="sources created, then deleted, while one source is updated"
    )
    parser.add_argument(
        "--shipped", action="store_true", help="run watch with its own defaults (no --qps 0, no --workers)"
    )
    parser.add_argument("--grow", type=int, default=20, help="namespaces added for RSS per mirror")
    parser.add_argument("--timeout", type=float, default=1500.0, help="stop converging after this")
    parser.add_argument("--logs", help="directory for the controllers' logs (default: a temporary one)")
    parser.add_argument(
        "--no-restart", dest="restart", action="store_false", help="skip the restart on the converged cluster"
    )
    parser.add_argument("--quick", action="store_true", help="50 sources x 20 namespaces, 30 s idle")
    parser.add_argument(
        "--real",
        action="store_true",
        help="a real control plane (etcd, kube-apiserver, kube-controller-manager from $KUBEBUILDER_ASSETS)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sources, args.namespaces, args.idle, args.updates, args.grow = 50, 20, 30.0, 10, 10
    if args.real:
        sync_bench.require_assets()
    return args


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
