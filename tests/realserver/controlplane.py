"""`ControlPlane`: etcd, kube-apiserver and kube-controller-manager on 127.0.0.1, as child processes.

    plane = ControlPlane.start(Path(os.environ["KUBEBUILDER_ASSETS"]), Path(tmp))
    try:
        ...  # kubectl --kubeconfig plane.kubeconfig ...; plane.audit_log holds every request
    finally:
        plane.stop()

The recipe is /work/shared/envtest/README.md's, done with our own process handling: free ports
found by binding port 0, certificates from tests/realserver/certs.py, the apiserver's audit log
on (Metadata level, JSON, written before the response completes), and a controller manager that
authenticates as `kube-controller-manager`, not as the tests' `admin`, so the audit log tells
their requests apart. Everything lives in `workdir`: certificates, kubeconfigs, etcd data, logs.

No process outlives its owner: `stop()` ends them in reverse order (SIGTERM, then SIGKILL after
a timeout); `start()` stops what it started when it fails; an atexit hook covers an interrupted
run; and on Linux each child asks the kernel for SIGKILL when the thread that started it dies
(PR_SET_PDEATHSIG), which covers a SIGKILLed parent. Start it from a thread that lives as long as
the control plane should (pytest's main thread does).

Usable from bench scripts: this module must not import pytest.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from .certs import Certificates, generate

ADMIN_USER = "admin"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
KCM_CONTROLLERS = "*,-service-ca-certificate-publisher-controller"
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}
PR_SET_PDEATHSIG = 1


class ControlPlaneError(RuntimeError):
    """A process did not start or become ready; the message names the log to read."""


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child SIGKILLed when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, only called after
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _get(url: str, *, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    parts = url.split("/", 3)
    host, path = parts[2], "/" + (parts[3] if len(parts) > 3 else "")
    conn = (
        http.client.HTTPSConnection(host, timeout=timeout, context=context)
        if url.startswith("https:")
        else http.client.HTTPConnection(host, timeout=timeout)
    )
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _answers(url: str, *, context: ssl.SSLContext | None = None) -> bool:
    try:
        status, body = _get(url, context=context)
    except (OSError, http.client.HTTPException):
        return False
    if status != 200:
        return False
    return json.loads(body).get("health") == "true" if url.endswith("/health") else True


def client_context(certs: Certificates, *, user: str = "admin") -> ssl.SSLContext:
    """TLS context that trusts the test CA and presents `user`'s client certificate."""
    context = ssl.create_default_context(cafile=str(certs.ca.cert))
    pair = certs.admin if user == "admin" else certs.controller_manager
    context.load_cert_chain(str(pair.cert), str(pair.key))
    return context


def write_kubeconfig(path: Path, *, url: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "real", "cluster": {"server": url, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "real", "context": {"cluster": "real", "user": user, "namespace": "default"}}],
        "current-context": "real",
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class ControlPlane:
    """Three running processes and the files to reach them; built by `start()` only."""

    def __init__(self, assets: Path, workdir: Path) -> None:
        self.assets = assets
        self.workdir = workdir
        self.certs = generate(workdir, admin_user=ADMIN_USER)
        self.admin_user = ADMIN_USER
        self.api_port = free_port()
        self.url = f"https://127.0.0.1:{self.api_port}"
        self.kubeconfig = write_kubeconfig(
            workdir / "kubeconfig",
            url=self.url,
            ca=self.certs.ca.cert,
            cert=self.certs.admin.cert,
            key=self.certs.admin.key,
            user=ADMIN_USER,
        )
        self.audit_log = workdir / "audit.log"
        self.timings: dict[str, float] = {}
        self._children: list[_Child] = []

    @classmethod
    def start(cls, assets: Path, workdir: Path, *, timeout: float = START_TIMEOUT) -> ControlPlane:
        """Start etcd, then kube-apiserver, then kube-controller-manager; each ready before the next."""
        began = time.monotonic()
        workdir.mkdir(parents=True, exist_ok=True)
        missing = [b for b in BINARIES if not (assets / b).is_file()]
        if missing:
            raise ControlPlaneError(f"{assets} lacks {', '.join(missing)} (KUBEBUILDER_ASSETS)")
        plane = cls(assets, workdir)
        atexit.register(plane.stop)
        try:
            plane._start_etcd(timeout)
            plane._start_apiserver(timeout)
            plane._start_controller_manager(timeout)
        except BaseException:
            plane.stop()
            raise
        plane.timings["total"] = time.monotonic() - began
        return plane

    # -- the three processes --------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> _Child:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as handle:
            proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(),
                process_group=0,  # a terminal's Ctrl-C reaches pytest, which then stops us in order
            )
        child = _Child(name, proc, log)
        self._children.append(child)
        (self.workdir / f"{name}.pid").write_text(f"{proc.pid}\n")
        return child

    def _wait(self, child: _Child, ready: Callable[[], bool], timeout: float) -> None:
        began = time.monotonic()
        deadline = began + timeout
        while not ready():
            code = child.proc.poll()
            if code is not None:
                raise ControlPlaneError(
                    f"{child.name} exited with status {code} at start-up; see {child.log}"
                )
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{child.name} not ready after {timeout:.0f} s; see {child.log}")
            time.sleep(0.05)
        self.timings[child.name] = time.monotonic() - began

    def _start_etcd(self, timeout: float) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        self.etcd_url = url
        child = self._spawn(
            "etcd",
            [
                str(self.assets / "etcd"),
                "--name=test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                "--listen-peer-urls=http://127.0.0.1:0",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._wait(child, lambda: _answers(f"{url}/health"), timeout)

    def _start_apiserver(self, timeout: float) -> None:
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False))
        c = self.certs
        child = self._spawn(
            "kube-apiserver",
            [
                str(self.assets / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                f"--secure-port={self.api_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--client-ca-file={c.ca.cert}",
                f"--tls-cert-file={c.serving.cert}",
                f"--tls-private-key-file={c.serving.key}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={c.sa_pub}",
                f"--service-account-signing-key-file={c.sa_key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=RBAC",
                "--endpoint-reconciler-type=none",
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-mode=blocking",
                "--audit-log-format=json",
                "--audit-log-maxsize=0",
            ],
        )
        context = client_context(c)
        self._wait(child, lambda: _answers(f"{self.url}/readyz", context=context), timeout)

    def _start_controller_manager(self, timeout: float) -> None:
        c = self.certs
        config = write_kubeconfig(
            self.workdir / "kube-controller-manager.kubeconfig",
            url=self.url,
            ca=c.ca.cert,
            cert=c.controller_manager.cert,
            key=c.controller_manager.key,
            user="kube-controller-manager",
        )
        port = free_port()
        child = self._spawn(
            "kube-controller-manager",
            [
                str(self.assets / "kube-controller-manager"),
                f"--kubeconfig={config}",
                f"--secure-port={port}",
                "--bind-address=127.0.0.1",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                f"--root-ca-file={c.ca.cert}",
                f"--controllers={KCM_CONTROLLERS}",
            ],
        )
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # its serving cert is self-signed
        self._wait(child, lambda: _answers(f"https://127.0.0.1:{port}/healthz", context=insecure), timeout)

    # -- stopping -------------------------------------------------------------------------

    @property
    def pids(self) -> dict[str, int]:
        return {child.name: child.proc.pid for child in self._children}

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM each process, newest first, and wait; SIGKILL what is still alive after `timeout`."""
        while self._children:
            child = self._children.pop()
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.terminate()
                try:
                    child.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()
        atexit.unregister(self.stop)

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
