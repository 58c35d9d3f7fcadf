"""The krew archive as krew would install it: built by krew/build.py, unpacked, linked as
`kubectl-mirror` on PATH, and run through kubectl's plugin dispatch.

The build installs from the package index, as `.ci/run` does, so this is the slowest e2e module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, need, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive, unpacked the way krew unpacks it into its store."""
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, str(ROOT / "krew" / "build.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    store = tmp_path_factory.mktemp("store")
    with tarfile.open(out / "kubectl-mirror.tar.gz") as tar:
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


def test_the_manifest_points_every_platform_at_the_archive_the_build_makes() -> None:
    manifest = (ROOT / "krew" / ".krew.yaml").read_text()
    uris = re.findall(r'addURIAndSha "([^"]+)"', manifest)
    assert [uri.rsplit("/", 1)[1] for uri in uris] == ["kubectl-mirror.tar.gz"]
    assert "values: [linux, darwin]" in manifest
    assert "bin: kubectl-mirror" in manifest


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


def test_the_archive_holds_no_compiled_code(installed: Path) -> None:
    compiled = [p for p in installed.rglob("*") if p.suffix in (".so", ".pyd", ".dylib")]
    assert compiled == []
