"""The krew archive as krew would install it: built by krew/build.py for this machine, unpacked,
linked as `kubectl-mirror` on PATH, and run through kubectl's plugin dispatch.

The build installs from the package index, as `.ci/run` does, so this is the slowest e2e module.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.e2e.conftest import ROOT, need, run

pytestmark = pytest.mark.e2e

HOST_PLATFORM = {("Linux", "x86_64"): "linux-amd64", ("Linux", "aarch64"): "linux-arm64"}.get(
    (platform.system(), platform.machine())
)
PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("krew_build", ROOT / "krew" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive for this machine, unpacked the way krew unpacks it into its store."""
    if HOST_PLATFORM is None:
        pytest.skip(f"no krew archive is built for {platform.system()}/{platform.machine()}")
    out = tmp_path_factory.mktemp("dist")
    script = str(ROOT / "krew" / "build.py")
    build = subprocess.run(
        [sys.executable, script, "--out", str(out), "--platform", HOST_PLATFORM, "--python", PYTHON],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    store = tmp_path_factory.mktemp("store")
    with tarfile.open(out / f"kubectl-mirror-{HOST_PLATFORM}.tar.gz") as tar:
        tar.extractall(store, filter="data")
    return store


@pytest.fixture
def krew_env(installed: Path, e2e_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """PATH with krew's bin (a symlink to the archive's launcher) instead of our console scripts."""
    bin_dir = tmp_path / "krew-bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl-mirror").symlink_to(installed / "kubectl-mirror")
    scripts = str(Path(sys.executable).parent)
    rest = [p for p in e2e_env["PATH"].split(os.pathsep) if p != scripts]
    # python3 itself must still be found (pyenv installs keep it beside the console scripts).
    env = dict(e2e_env, PATH=os.pathsep.join([str(bin_dir), *rest, scripts]))
    env.pop("PYTHONPATH", None)
    return env


def test_every_manifest_platform_has_an_archive_and_only_those() -> None:
    manifest = (ROOT / "krew" / ".krew.yaml").read_text()
    pairs = re.findall(
        r"os: (\w+)\n\s+arch: (\w+)\n\s+\{\{addURIAndSha \"[^\"]*/kubectl-mirror-(\w+)-(\w+)\.tar\.gz",
        manifest,
    )
    assert sorted(f"{os_}-{arch}" for os_, arch, _, _ in pairs) == sorted(load_build().PLATFORMS)
    assert all((os_, arch) == (a_os, a_arch) for os_, arch, a_os, a_arch in pairs)


def test_the_archive_renders_the_same_bytes_through_kubectl(
    krew_env: dict[str, str], e2e_env: dict[str, str]
) -> None:
    examples = str(ROOT / "examples" / "basic")
    via_krew = run([need("kubectl"), "mirror", "render", examples], krew_env)
    from_pip = run(["kubectl-mirror", "render", examples], e2e_env)
    assert via_krew.returncode == 0, via_krew.stderr
    assert via_krew.stdout == from_pip.stdout != ""


def test_the_archive_needs_nothing_from_site_packages(installed: Path) -> None:
    # -S: no site-packages at all, so every import must be satisfied by lib/ and native/.
    launcher = str(installed / "kubectl-mirror")
    render = run([sys.executable, "-S", launcher, "render", str(ROOT / "examples" / "basic")], {})
    assert render.returncode == 0, render.stderr
    assert [line for line in render.stdout.splitlines() if line.startswith("kind: ")] == [
        "kind: Secret"
    ] * 2 + ["kind: ConfigMap"] * 4
    live = run([sys.executable, "-S", launcher, "sync", "--help"], {})
    assert live.returncode == 0, live.stderr
    assert "Usage: kubectl mirror sync" in live.stdout


def test_an_unsupported_python_gets_one_line_not_a_traceback(installed: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    copy.mkdir()
    (copy / "kubectl-mirror").write_text((installed / "kubectl-mirror").read_text())
    (copy / "lib").symlink_to(installed / "lib")
    (copy / "native").mkdir()  # nothing built for this interpreter
    proc = run([sys.executable, str(copy / "kubectl-mirror"), "render"], {})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: kubectl-mirror needs python3 3.11 to 3.14 on PATH; found ")
