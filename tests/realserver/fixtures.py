"""pytest plugin: one real control plane per session (tests/realserver/controlplane.py).

- `real_apiserver_session`: the `RealServer`, started on first use, stopped at the end of the
  session; skips when `KUBEBUILDER_ASSETS` does not name the binaries.
- `real_apiserver`: the same, reset to the cluster as it was after start-up, for one test.

Load it with `config.pluginmanager.import_plugin("tests.realserver.fixtures")` from a conftest's
`pytest_configure` (idempotent, so several conftests may ask). The terminal summary reports the
control plane's start-up time and how long the resets took.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from .controlplane import ControlPlane
from .server import RealServer

NO_ASSETS = (
    "KUBEBUILDER_ASSETS is not set; real-server tests need kube-apiserver, etcd and kube-controller-manager "
    "binaries: setup-envtest use 1.36 -p path (or ../shared/envtest/unpack.sh)"
)
SERVER = pytest.StashKey[RealServer]()


@pytest.fixture(scope="session")
def real_apiserver_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealServer]:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        pytest.skip(NO_ASSETS)
    plane = ControlPlane.start(Path(assets), tmp_path_factory.mktemp("controlplane"))
    try:
        server = RealServer(plane)
        request.config.stash[SERVER] = server
        try:
            yield server
        finally:
            server.close()
    finally:
        plane.stop()


@pytest.fixture
def real_apiserver(real_apiserver_session: RealServer) -> RealServer:
    real_apiserver_session.reset()
    return real_apiserver_session


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    server = config.stash.get(SERVER, None)
    if server is None:
        return
    timings = server.plane.timings
    steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items() if name != "total")
    line = f"real control plane: started in {timings.get('total', 0):.2f} s ({steps})"
    resets = server.reset_seconds
    if resets:
        line += (
            f"; {len(resets)} resets, median {statistics.median(resets):.3f} s, "
            f"max {max(resets):.3f} s, total {sum(resets):.1f} s"
        )
    terminalreporter.write_line(f"{line}; run folder {server.plane.workdir}")
