"""End-to-end tests run the real kubectl and kpt binaries with our installed entry points.

Every test that uses the `apiserver` fixture (directly or through `kubeconfig`, `kubectl`,
`cluster`, `mirror`, `start_watch`) runs twice, as in controller-runtime's envtest: `[fake]`
against the project's API server (tests/apiserver) and `[real]` against etcd, kube-apiserver and
kube-controller-manager (tests/realserver), skipped when KUBEBUILDER_ASSETS is not set. A test
or module marked `fake_only` (it injects faults or reads the fake's store) runs `[fake]` only; one
marked `real_only` (it needs what only the real server does, such as RBAC) runs `[real]` only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.live_helpers import Watcher, ns

ROOT = Path(__file__).resolve().parents[2]
KPT = shutil.which("kpt") or "/usr/lib/google-cloud-sdk/bin/kpt"
SERVER_KINDS = ("fake", "real")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.realserver.fixtures")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "apiserver" not in metafunc.fixturenames:
        return
    kinds = ("fake",) if metafunc.definition.get_closest_marker("fake_only") else SERVER_KINDS
    if metafunc.definition.get_closest_marker("real_only"):
        kinds = ("real",)
    metafunc.parametrize("server_kind", kinds, indirect=True)


@pytest.fixture
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def apiserver(request: pytest.FixtureRequest, server_kind: str) -> Any:
    """The fake server (tests/apiserver/fixtures.py's fixture of this name) or the real one, reset."""
    if server_kind == "real":
        return request.getfixturevalue("real_apiserver")
    return request.getfixturevalue("apiserver")  # from inside this fixture: the one it overrides


@pytest.fixture
def e2e_env(tmp_path: Path) -> dict[str, str]:
    """PATH with our console scripts first (kubectl finds plugins on PATH), a private HOME."""
    scripts = Path(sys.executable).parent
    env = dict(os.environ)
    env["PATH"] = f"{scripts}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "home" / ".config")
    env.pop("KUSTOMIZE_PLUGIN_HOME", None)
    env.pop("KUBECONFIG", None)
    (tmp_path / "home").mkdir()
    return env


def need(binary: str) -> str:
    path = shutil.which(binary) or (KPT if binary == "kpt" and Path(KPT).exists() else None)
    if path is None:
        pytest.skip(f"{binary} is not installed")
    return path


def run(
    args: Sequence[str], env: dict[str, str], *, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def mirror(apiserver: Any, kubeconfig: Path, e2e_env: dict[str, str]) -> Any:
    """Run `kubectl mirror ARGS --kubeconfig K` through the real kubectl."""
    kubectl = need("kubectl")

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return run([kubectl, "mirror", *args, "--kubeconfig", str(kubeconfig)], e2e_env)

    return call


@pytest.fixture
def cluster(apiserver: Any) -> Any:
    for name in ("platform", "team-a", "team-b"):
        ns(apiserver, name)
    return apiserver


@pytest.fixture
def start_watch(apiserver: Any, kubeconfig: Path, e2e_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    kubectl = need("kubectl")
    started: list[Watcher] = []

    def start(*args: str, name: str = "watch") -> Watcher:
        argv = [
            kubectl,
            "mirror",
            "watch",
            "--kubeconfig",
            str(kubeconfig),
            "-A",
            "--resync-period",
            "2",
            *args,
        ]
        watcher = Watcher(argv, e2e_env, tmp_path / f"{name}-{len(started)}.log")
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
            watcher.proc.wait(10)
        watcher.handle.close()
