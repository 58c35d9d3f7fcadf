"""`kubectl mirror render` on the resources of the tools users migrate from (examples/other-tools/):
ConfigMapSync, ConfigMirror and config-syncer (kubed), through the installed command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "other-tools"


def render(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["kubectl-mirror", "render", *args], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("name", ["configmapsync", "configmirror", "config-syncer"])
def test_render_each_tools_example(name: str, snapshot: SnapshotAssertion) -> None:
    done = render(str(EXAMPLES / f"{name}.yaml"), str(EXAMPLES / "namespaces.yaml"))
    assert done.stderr == ""
    assert done.stdout == snapshot


def test_explain_names_the_policies_and_markers_each_source_was_read_from(
    snapshot: SnapshotAssertion,
) -> None:
    assert render(str(EXAMPLES), "--explain").stdout == snapshot


def test_the_examples_together_render_what_each_renders_alone() -> None:
    together = render(str(EXAMPLES)).stdout.split("---\n")
    alone = [
        doc
        for name in ("configmapsync", "configmirror", "config-syncer")
        for doc in render(str(EXAMPLES / f"{name}.yaml"), str(EXAMPLES / "namespaces.yaml")).stdout.split(
            "---\n"
        )
    ]
    assert sorted(d for d in together if d) == sorted(d for d in alone if d)
