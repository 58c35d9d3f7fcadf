"""pytest fixtures for the fake API server.

Load them with `pytest_plugins = ["tests.apiserver.fixtures"]`.

- `apiserver`: the running `ApiServer`, reset to a fresh cluster for each test
  (`.url`, `.kubeconfig`, `.store`, `.faults`, `.log`, `.reset()`, `.create(obj)`).
- `kubeconfig`: path of a kubeconfig pointing at it (context `fake`, namespace `default`).
- `k8s_client`: a `kubernetes.client.ApiClient` for it, closed after the test.
- `dynamic_client`: a `kubernetes.dynamic.DynamicClient` with its own discovery cache.
- `kubectl`: runs the real kubectl against it (skips the test if kubectl is missing).

One server runs per session; a test that leaves a bug trace in it (`apiserver.crashes`)
fails at teardown.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import ApiServer


@pytest.fixture(scope="session")
def apiserver_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(bookmark_interval=0.2)
    server.start()
    server.write_kubeconfig(tmp_path_factory.mktemp("apiserver") / "kubeconfig")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def apiserver(apiserver_session: ApiServer) -> Iterator[ApiServer]:
    apiserver_session.reset()
    yield apiserver_session
    apiserver_session.store.hub.close()
    crashes = list(apiserver_session.crashes)
    apiserver_session.faults.clear()
    if crashes:
        pytest.fail("the fake apiserver crashed:\n" + "\n".join(crashes))


@pytest.fixture
def kubeconfig(apiserver: ApiServer) -> Path:
    assert apiserver.kubeconfig is not None
    return apiserver.kubeconfig


@pytest.fixture
def k8s_client(kubeconfig: Path) -> Iterator[Any]:
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def dynamic_client(k8s_client: Any, tmp_path: Path) -> Any:
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(k8s_client, cache_file=str(tmp_path / "discovery-cache.json"))  # type: ignore[no-untyped-call]


class Kubectl:
    """The real kubectl, pointed at the fake server, with a private HOME and cache."""

    def __init__(self, binary: str, kubeconfig: Path, home: Path) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "cache")}
        self.env.pop("KUBECONFIG", None)

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--kubeconfig", str(self.kubeconfig), *args]

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(*args),
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed")
    home = tmp_path / "kubectl-home"
    home.mkdir()
    return Kubectl(binary, kubeconfig, home)
