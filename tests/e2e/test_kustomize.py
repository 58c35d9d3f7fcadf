"""kubectl's built-in kustomize runs the function as a legacy exec plugin."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import ROOT, need, run

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "krm-function" / "examples" / "kustomize"


def _overlay(tmp_path: Path) -> Path:
    overlay = tmp_path / "overlay"
    shutil.copytree(EXAMPLE, overlay)
    return overlay


def test_install_command_links_the_plugin_where_kustomize_looks(e2e_env: dict[str, str]) -> None:
    proc = run(["kubectl-mirror", "install-kustomize-plugin"], e2e_env)
    assert proc.returncode == 0, proc.stderr
    link = (
        Path(e2e_env["XDG_CONFIG_HOME"])
        / "kustomize/plugin/kubectl-mirror.io/v1alpha1/mirrortransformer/MirrorTransformer"
    )
    assert link.is_symlink()


def test_kubectl_kustomize_outputs_sources_and_mirrors(e2e_env: dict[str, str], tmp_path: Path) -> None:
    kubectl = need("kubectl")
    assert run(["kubectl-mirror", "install-kustomize-plugin"], e2e_env).returncode == 0
    proc = run([kubectl, "kustomize", "--enable-alpha-plugins", str(_overlay(tmp_path))], e2e_env)
    assert proc.returncode == 0, proc.stderr
    docs = list(yaml.safe_load_all(proc.stdout))
    assert [
        (
            d["metadata"]["namespace"],
            d["metadata"].get("labels", {}).get("kubectl-mirror.io/mirror"),
        )
        for d in docs
    ] == [
        ("platform", None),
        ("team-a", "true"),
        ("team-b", "true"),
    ]
    for mirror in docs[1:]:
        annotations = mirror["metadata"]["annotations"]
        assert not [
            k
            for k in annotations
            if k.startswith(("kustomize.config.k8s.io/", "config.kubernetes.io/", "internal.config"))
        ]
        assert mirror["data"] == docs[0]["data"]


def test_kubectl_kustomize_fails_with_the_one_line_error(e2e_env: dict[str, str], tmp_path: Path) -> None:
    assert run(["kubectl-mirror", "install-kustomize-plugin"], e2e_env).returncode == 0
    overlay = _overlay(tmp_path)
    settings = overlay / "settings.yaml"
    settings.write_text(settings.read_text().replace('"team-*"', '"Team_X"'))
    proc = run([need("kubectl"), "kustomize", "--enable-alpha-plugins", str(overlay)], e2e_env)
    assert proc.returncode != 0
    assert (
        "ConfigMap platform/shared-settings: metadata.annotations[\"kubectl-mirror.io/targets\"]: 'Team_X' is not a valid namespace name"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_without_the_plugin_kubectl_kustomize_says_where_it_looked(
    e2e_env: dict[str, str], tmp_path: Path
) -> None:
    proc = run([need("kubectl"), "kustomize", "--enable-alpha-plugins", str(_overlay(tmp_path))], e2e_env)
    assert proc.returncode != 0
    assert "unable to find plugin root" in proc.stderr
