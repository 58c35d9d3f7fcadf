"""The real-server fixture itself: whose requests the log shows, what reset leaves, what stop leaves."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.fixtures import Kubectl
from tests.contract.helpers import crd
from tests.realserver.controlplane import ControlPlane
from tests.realserver.fixtures import NO_ASSETS
from tests.realserver.server import RealServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kubectl(real_apiserver: RealServer, tmp_path: Path) -> Kubectl:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed")
    (tmp_path / "home").mkdir()
    return Kubectl(binary, real_apiserver.kubeconfig, tmp_path / "home")


@pytest.fixture
def assets() -> Path:
    if not os.environ.get("KUBEBUILDER_ASSETS"):
        pytest.skip(NO_ASSETS)
    return Path(os.environ["KUBEBUILDER_ASSETS"])


def _alive(pid: int) -> bool:
    """Running, that is: it exists and is not a zombie waiting for a parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _audit_users(server: RealServer, verb: str, resource: str, namespace: str) -> set[str]:
    users = set()
    for line in server.plane.audit_log.read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        if (event["verb"], ref.get("resource"), ref.get("namespace")) == (verb, resource, namespace):
            users.add(event["user"]["username"])
    return users


def test_the_log_shows_the_test_users_requests_and_not_the_controller_managers(
    real_apiserver: RealServer, kubectl: Kubectl
) -> None:
    kubectl("create", "namespace", "audited")
    kubectl("create", "configmap", "planned", "-n", "audited", "--dry-run=server")
    for kind, name in (("serviceaccount", "default"), ("configmap", "kube-root-ca.crt")):
        deadline = time.monotonic() + 10
        while kubectl("get", kind, name, "-n", "audited", check=False).returncode != 0:
            assert time.monotonic() < deadline, f"the controller manager never created {kind}/{name}"
            time.sleep(0.05)
    log = real_apiserver.log
    assert [(r.verb, r.resource, r.name, r.status) for r in log.writes()] == [
        ("create", "namespaces", "audited", 201)
    ]
    [planned] = log.filter(verb="create", resource="configmaps")
    assert (planned.namespace, planned.name, planned.dry_run) == ("audited", "planned", True)
    assert not planned.is_write
    assert log.count(verb="get", resource="serviceaccounts", namespace="audited") >= 1
    assert log.count(verb="discovery") >= 1
    assert all(r.user_agent.startswith("kubectl") for r in log.records)  # not the fixture's own
    # The controller manager's writes are in the audit log, under its own name.
    assert _audit_users(real_apiserver, "create", "serviceaccounts", "audited") == {"kube-controller-manager"}
    log.clear()
    assert log.records == []
    kubectl("get", "configmaps", "-n", "audited")
    assert [(r.verb, r.resource, r.namespace) for r in log.records if r.verb != "discovery"] == [
        ("list", "configmaps", "audited")
    ]


def test_reset_removes_a_namespace_with_content_and_it_can_be_created_again_at_once_empty(
    real_apiserver: RealServer, kubectl: Kubectl
) -> None:
    server = real_apiserver
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}})
    server.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team-x"}})
    server.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "team-x"}})
    server.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    )
    server.create(crd())
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "team-x"},
    }
    server.create(widget)
    kubectl("label", "namespace", "default", "added=yes")
    kubectl("annotate", "namespace", "kube-public", "added=yes")

    assert server.reset() < 2.0

    assert kubectl("get", "namespace", "team-x", check=False).returncode == 1
    assert kubectl("get", "crd", "widgets.example.com", check=False).returncode == 1
    assert kubectl("get", "configmap", "c", "-n", "default", check=False).returncode == 1
    assert "added" not in kubectl.json("get", "namespace", "default")["metadata"]["labels"]
    assert "added" not in kubectl.json("get", "namespace", "kube-public")["metadata"].get("annotations", {})
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}})
    configmaps = {i["metadata"]["name"] for i in kubectl.json("get", "configmaps", "-n", "team-x")["items"]}
    assert configmaps <= {"kube-root-ca.crt"}
    assert kubectl.json("get", "secrets", "-n", "team-x")["items"] == []
    server.create(crd())
    assert kubectl.json("get", "widgets", "-A")["items"] == []


def test_stop_leaves_no_process_behind(assets: Path, tmp_path: Path) -> None:
    plane = ControlPlane.start(assets, tmp_path)
    pids = list(plane.pids.values())
    assert len(pids) == 3 and all(_alive(pid) for pid in pids)
    plane.stop()
    assert not any(_alive(pid) for pid in pids)


def test_the_processes_die_with_a_sigkilled_parent(assets: Path, tmp_path: Path) -> None:
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from tests.realserver.controlplane import ControlPlane\n"
        "plane = ControlPlane.start(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "print(json.dumps(list(plane.pids.values())), flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(assets), str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pids: list[Any] = json.loads(parent.stdout.readline())
        assert len(pids) == 3 and all(_alive(pid) for pid in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()  # type: ignore[union-attr]
    assert _gone(pids), f"still running after their parent was SIGKILLed: {[p for p in pids if _alive(p)]}"
