"""Inputs that expand without bound in an unbounded loader, through the real front doors.

Each runs in a child process limited to 1 GiB of address space and a generous timeout, so a
regression fails the test instead of taking the machine down. No timing is asserted."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
LIMIT = 1 << 30


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run(
    argv: list[str], *, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit,
        env={**os.environ, **(env or {})},
        check=False,
    )


def laughs(levels: int = 9, width: int = 9, indent: str = "") -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "".join(f"{indent}{line}\n" for line in lines)


def merge_bomb(levels: int = 16, indent: str = "") -> str:
    lines = ["m0: &m0 {k0: v, k1: v}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], x{i}a: *m{i - 1}, x{i}b: *m{i - 1}}}")
    return "".join(f"{indent}{line}\n" for line in lines)


def source(*, body: str = "data:\n  region: eu\n", annotations: str = "") -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: platform\n"
        "  labels:\n    kubectl-mirror.io/source: 'true'\n"
        f"  annotations:\n    kubectl-mirror.io/targets: team-a\n{annotations}{body}"
    )


def transform(rules: str) -> str:
    return "    kubectl-mirror.io/transform: |\n" + "".join(f"      {line}\n" for line in rules.splitlines())


NAMESPACES = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"
DEEP = "x: " + "[" * 100_000 + "]" * 100_000 + "\n"  # crashes PyYAML's C composer

RENDER_BOMBS = {
    "billion-laughs-document": {"bomb.yaml": laughs()},
    "billion-laughs-in-source-data": {
        "src.yaml": source(body="data:\n  region: eu\nx:\n" + laughs(indent="  "))
    },
    "merge-key-bomb": {"bomb.yaml": merge_bomb()},
    "deep-nesting": {"bomb.yaml": DEEP},
}


@pytest.mark.parametrize("files", RENDER_BOMBS.values(), ids=RENDER_BOMBS.keys())
def test_render_refuses_a_bomb_with_one_line_naming_the_file(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in {"ns.yaml": NAMESPACES, **files}.items():
        (tmp_path / name).write_text(text)
    out = tmp_path.parent / f"{tmp_path.name}-out"
    proc = run([str(BIN / "kubectl-mirror"), "render", str(tmp_path), "--output-dir", str(out)])
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    (bad,) = files
    assert line.startswith(f"error: {tmp_path / bad}: line ")
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("rules", [laughs(indent="    "), merge_bomb(indent="    ")], ids=["laughs", "merge"])
def test_render_refuses_a_bomb_inside_the_transform_annotation(tmp_path: Path, rules: str) -> None:
    annotation = transform("- path: data.x\n  value:\n" + rules)
    (tmp_path / "ns.yaml").write_text(NAMESPACES)
    (tmp_path / "src.yaml").write_text(source(annotations=annotation))
    proc = run([str(BIN / "kubectl-mirror"), "render", str(tmp_path)])
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert 'metadata.annotations["kubectl-mirror.io/transform"]: transform rules are not valid YAML' in line
    assert "aliases expand the input past 10,000 nodes" in line


def test_render_counts_alias_expansion_across_all_files_of_a_run(tmp_path: Path) -> None:
    # Each file adds ~141,000 nodes through aliases: harmless alone, past the budget as ten.
    each = laughs(levels=6, width=9)
    for i in range(10):
        (tmp_path / f"f{i:02d}.yaml").write_text(each)
    single = run([str(BIN / "kubectl-mirror"), "render", str(tmp_path / "f00.yaml")])
    assert single.returncode == 1 and "aliases" not in single.stderr  # not an object, but read
    proc = run([str(BIN / "kubectl-mirror"), "render", str(tmp_path)])
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert "aliases expand the input past 1,000,000 nodes" in line


def resource_list(*items: str) -> str:
    entries = "".join("- " + item.rstrip("\n").replace("\n", "\n  ") + "\n" for item in items)
    return f"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n{entries}"


def passthrough(body: str) -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: team-a\n"
        "  annotations:\n    internal.config.kubernetes.io/path: other.yaml\n" + body
    )


KRM_BOMBS = {
    "billion-laughs-in-passthrough-item": passthrough("data:\n" + laughs(indent="  ")),
    "merge-key-bomb-in-passthrough-item": passthrough("spec:\n" + merge_bomb(indent="  ")),
}


@pytest.mark.parametrize("item", KRM_BOMBS.values(), ids=KRM_BOMBS.keys())
def test_the_function_refuses_a_bomb_in_any_item_naming_it(item: str) -> None:
    proc = run([str(BIN / "kubectl-mirror-fn")], stdin=resource_list(NAMESPACES, source(), item))
    assert proc.returncode == 1
    out = yaml.safe_load(proc.stdout)
    assert out["items"] == []
    (result,) = out["results"]
    assert result["severity"] == "error"
    assert result["message"].startswith("cannot read ResourceList: items[2]: line ")
    assert "aliases expand the input past 1,000,000 nodes" in result["message"]
    assert result["file"] == {"path": "other.yaml"}
    assert result["resourceRef"]["name"] == "other"


def test_the_function_refuses_deep_nesting_cleanly() -> None:
    proc = run([str(BIN / "kubectl-mirror-fn")], stdin=resource_list(NAMESPACES, passthrough(DEEP)))
    assert proc.returncode == 1
    (result,) = yaml.safe_load(proc.stdout)["results"]
    # Our builder stops at MAX_DEPTH; the libyaml bundled with PyYAML 6.0.4 refuses deep flow
    # collections first, in its scanner (1,000 levels). Either is one clean line.
    assert "nested deeper than" in result["message"] or "exceeded maximum nesting depth" in result["message"]


def test_the_legacy_kustomize_plugin_refuses_a_bomb_in_one_line() -> None:
    config = json.dumps({"apiVersion": "kubectl-mirror.io/v1alpha1", "kind": "MirrorTransformer"})
    stream = "---\n".join([NAMESPACES, source(), laughs()])
    proc = run([str(BIN / "kubectl-mirror-fn")], stdin=stream, env={"KUSTOMIZE_PLUGIN_CONFIG_STRING": config})
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("kubectl-mirror: <stdin>: cannot read kustomize's input: document 3: line ")
    assert proc.stdout == ""
