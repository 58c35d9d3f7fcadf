"""The KRM function under the real kpt: fn eval, fn render and the source | fn | sink pipe."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import ROOT, need, run

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "krm-function" / "examples" / "kpt"


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    shutil.copytree(EXAMPLE, pkg)
    return pkg


def _files(pkg: Path) -> dict[str, str]:
    return {str(p.relative_to(pkg)): p.read_text() for p in sorted(pkg.rglob("*.yaml"))}


def _mirrors(pkg: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted((pkg / "mirrors").rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        found.append((doc["metadata"]["namespace"], doc["metadata"]["name"]))
        assert doc["metadata"]["labels"]["kubectl-mirror.io/mirror"] == "true"
        assert "internal.config.kubernetes.io/path" not in doc["metadata"].get("annotations", {})
    return found


def test_kpt_fn_eval_exec_writes_one_file_per_mirror(e2e_env: dict[str, str], tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    proc = run(
        [
            need("kpt"),
            "fn",
            "eval",
            str(pkg),
            "--exec",
            "kubectl-mirror-fn",
            "--",
            "namespaces=team-a,team-b",
        ],
        e2e_env,
    )
    assert proc.returncode == 0, proc.stderr
    assert _mirrors(pkg) == [("team-a", "shared-settings"), ("team-b", "shared-settings")]
    assert sorted(_files(pkg)) == [
        "mirrors/team-a/configmap_shared-settings.yaml",
        "mirrors/team-b/configmap_shared-settings.yaml",
        "settings.yaml",
    ]


def test_kpt_fn_eval_keeps_the_source_file_byte_for_byte(e2e_env: dict[str, str], tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    before = (pkg / "settings.yaml").read_text()
    run(
        [
            need("kpt"),
            "fn",
            "eval",
            str(pkg),
            "--exec",
            "kubectl-mirror-fn",
            "--",
            "namespaces=team-a",
        ],
        e2e_env,
    )
    assert (pkg / "settings.yaml").read_text() == before


def test_kpt_fn_render_pipeline_is_idempotent(e2e_env: dict[str, str], tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    first = run([need("kpt"), "fn", "render", str(pkg), "--allow-exec"], e2e_env)
    assert first.returncode == 0, first.stderr
    after_one = _files(pkg)
    second = run([need("kpt"), "fn", "render", str(pkg), "--allow-exec"], e2e_env)
    assert second.returncode == 0, second.stderr
    assert _files(pkg) == after_one
    assert _mirrors(pkg) == [("team-a", "shared-settings"), ("team-b", "shared-settings")]


def test_kpt_fn_render_removes_mirrors_when_the_source_goes(e2e_env: dict[str, str], tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    run([need("kpt"), "fn", "render", str(pkg), "--allow-exec"], e2e_env)
    (pkg / "settings.yaml").unlink()
    proc = run([need("kpt"), "fn", "render", str(pkg), "--allow-exec"], e2e_env)
    assert proc.returncode == 0, proc.stderr
    assert not list(pkg.rglob("mirrors/**/*.yaml"))


def test_kpt_reports_errors_as_results_and_leaves_files_alone(
    e2e_env: dict[str, str], tmp_path: Path
) -> None:
    pkg = _package(tmp_path)
    settings = pkg / "settings.yaml"
    settings.write_text(settings.read_text().replace('"team-*"', '"team-[a"'))
    before = _files(pkg)
    results = tmp_path / "results"
    proc = run(
        [need("kpt"), "fn", "render", str(pkg), "--allow-exec", "--results-dir", str(results)],
        e2e_env,
    )
    assert proc.returncode == 1
    assert _files(pkg) == before
    report = yaml.safe_load((results / "results.yaml").read_text())
    (found,) = report["items"][0]["results"]
    assert found["severity"] == "error"
    assert found["message"].startswith("invalid glob 'team-[a'")
    assert found["resourceRef"]["name"] == "shared-settings"
    assert found["field"]["path"] == 'metadata.annotations["kubectl-mirror.io/targets"]'


def test_kpt_pipe_without_known_namespaces_adds_nothing(e2e_env: dict[str, str], tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    kpt = need("kpt")
    source = run([kpt, "fn", "source", str(pkg)], e2e_env)
    assert source.returncode == 0, source.stderr
    fn = run(["kubectl-mirror-fn"], e2e_env, stdin=source.stdout)
    assert fn.returncode == 0, fn.stderr
    out = tmp_path / "out"
    sink = run([kpt, "fn", "sink", str(out)], e2e_env, stdin=fn.stdout)
    assert sink.returncode == 0, sink.stderr
    # No Namespace objects and no config: the glob matches nothing, so only the inputs remain.
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "Kptfile",
        "settings.yaml",
    ]


def test_kpt_pipe_with_fn_config_renders_mirrors(e2e_env: dict[str, str], tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    config = tmp_path / "fn-config.yaml"
    config.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: function-input\ndata:\n  namespaces: team-c\n"
    )
    kpt = need("kpt")
    source = run([kpt, "fn", "source", str(pkg), "--fn-config", str(config)], e2e_env)
    fn = run(["kubectl-mirror-fn"], e2e_env, stdin=source.stdout)
    assert fn.returncode == 0, fn.stderr
    out = tmp_path / "out"
    assert run([kpt, "fn", "sink", str(out)], e2e_env, stdin=fn.stdout).returncode == 0
    assert _mirrors(out) == [("team-c", "shared-settings")]
