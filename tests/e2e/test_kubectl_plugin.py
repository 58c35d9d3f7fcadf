"""`kubectl mirror ...` through kubectl's real plugin dispatch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import ROOT, need, run

pytestmark = pytest.mark.e2e


def test_kubectl_dispatch_gives_the_same_bytes_as_the_script(e2e_env: dict[str, str]) -> None:
    kubectl = need("kubectl")
    examples = str(ROOT / "examples" / "basic")
    via_kubectl = run([kubectl, "mirror", "render", examples], e2e_env)
    direct = run(["kubectl-mirror", "render", examples], e2e_env)
    assert via_kubectl.returncode == 0, via_kubectl.stderr
    assert via_kubectl.stdout == direct.stdout
    mirrors = list(yaml.safe_load_all(via_kubectl.stdout))
    assert len(mirrors) == 6
    assert all(m["metadata"]["labels"]["kubectl-mirror.io/mirror"] == "true" for m in mirrors)


def test_kubectl_lists_the_plugin(e2e_env: dict[str, str]) -> None:
    proc = run([need("kubectl"), "plugin", "list"], e2e_env)
    assert "kubectl-mirror" in proc.stdout


def test_help_reads_kubectl_mirror_under_kubectl(e2e_env: dict[str, str]) -> None:
    proc = run([need("kubectl"), "mirror", "--help"], e2e_env)
    assert proc.returncode == 0
    assert "Usage: kubectl mirror" in proc.stdout


def test_errors_reach_the_user_as_one_line_through_kubectl(e2e_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: b\n  labels: {kubectl-mirror.io/source: 'true'}\n  annotations: {kubectl-mirror.io/targets: 'Nope!'}\n"
    )
    proc = run([need("kubectl"), "mirror", "render", str(bad)], e2e_env)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: {bad}: ConfigMap b/a: metadata.annotations[\"kubectl-mirror.io/targets\"]: 'Nope!' is not "
        "a valid namespace name (lowercase letters, digits and '-', at most 63)"
    ]


def test_output_dir_output_builds_with_kubectl_kustomize(e2e_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "mirrors"
    proc = run(
        [
            need("kubectl"),
            "mirror",
            "render",
            str(ROOT / "examples" / "basic"),
            "--output-dir",
            str(out),
        ],
        e2e_env,
    )
    assert proc.returncode == 0, proc.stderr
    built = run(["kubectl", "kustomize", str(out)], e2e_env)
    assert built.returncode == 0, built.stderr
    rendered = run(["kubectl-mirror", "render", str(ROOT / "examples" / "basic")], e2e_env)
    key = lambda d: (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, yaml.safe_load_all(built.stdout))) == sorted(
        map(key, yaml.safe_load_all(rendered.stdout))
    )
    assert shutil.which("kubectl")
