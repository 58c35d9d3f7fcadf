"""The architecture, pinned: the engine stays pure, and the offline paths stay light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "kubectl_mirror" / "engine"
IO_MODULES = {
    "os",
    "sys",
    "time",
    "io",
    "pathlib",
    "subprocess",
    "socket",
    "random",
    "datetime",
    "shutil",
    "tempfile",
    "kubernetes",
    "typer",
    "click",
    "ruamel",
    "yaml",
    "urllib",
    "http",
    "threading",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
            found.add("open()")
    return found


@pytest.mark.parametrize("module", sorted(ENGINE.rglob("*.py")), ids=lambda p: p.name)
def test_engine_module_does_no_io(module: Path) -> None:
    bad = _imports(module) & (IO_MODULES | {"open()"})
    assert not bad, f"{module.relative_to(ROOT)} imports {sorted(bad)}"


def test_engine_imports_nothing_from_outer_layers() -> None:
    for module in ENGINE.rglob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kubectl_mirror."):
                layer = node.module.split(".")[1]
                assert layer in ("engine", "errors"), f"{module.name} imports {node.module}"


def _imported_modules(code: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_render_path_never_imports_kubernetes_client(tmp_path: Path) -> None:
    src = ROOT / "examples"
    code = (
        "import sys; from kubectl_mirror.cli.main import main; "
        f"sys.argv=['kubectl-mirror','render',{str(src)!r}]; main()"
    )
    assert "kubernetes" not in _imported_modules(code)


def test_krm_path_never_imports_kubernetes_client() -> None:
    code = (
        "import io, sys; from kubectl_mirror import krm; "
        "krm.run_bytes(b'apiVersion: config.kubernetes.io/v1\\nkind: ResourceList\\nitems: []\\n')"
    )
    assert "kubernetes" not in _imported_modules(code)
