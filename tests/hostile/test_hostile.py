"""Every hostile or careless input through both offline front doors, in child processes.

Whatever the input, each run must: end within the time limit and under 1 GiB of address space;
exit 0 or 1 (never 70, never a signal); print errors as lines, never a traceback; quote no Secret
value in any error, warning or result; write and delete nothing outside the output directory
(the KRM function: nothing at all); and give what the case expects where it says.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hostile.cases import SECRET, SECRET_B64, VICTIM, Case, cases

BIN = Path(sys.executable).parent
KPT = Path(shutil.which("kpt") or "/usr/lib/google-cloud-sdk/bin/kpt")
MEMORY = 1 << 30
TIME_LIMIT = 120.0
CASES = list(cases())
LINE_PREFIXES = ("error: ", "warning: ", "info: ")
SUMMARY = re.compile(r"wrote \d+ mirrors? to .*|\d+ files? (un)?changed.*|nothing to write.*")


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _run(argv: list[str], *, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "KUSTOMIZE_PLUGIN_CONFIG_STRING"}
    return subprocess.run(
        argv,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=TIME_LIMIT,
        preexec_fn=_limits,
        env=env,
        check=False,
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


def _sandbox(case: Case, root: Path) -> tuple[Path, Path]:
    pkg, out = root / "pkg", root / "out"
    for rel, text in case.files.items():
        _write(pkg / rel, text)
    _write(root / VICTIM, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: victim}\n")
    _write(root / "elsewhere" / "keep.yaml", "keep: me\n")
    out.mkdir()
    for rel, content in case.out.items():
        if content.startswith("->"):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).symlink_to(root / content[2:])
        else:
            _write(out / rel, content)
    return pkg, out


def _tree(root: Path, *, skip: Path | None = None) -> dict[str, str]:
    """Every entry under root (symlinks not followed) with what it is and holds."""
    seen: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in [*dirnames, *filenames]:
            path = here / name
            if skip is not None and path == skip:
                continue
            rel = str(path.relative_to(root))
            if path.is_symlink():
                seen[rel] = "link:" + os.readlink(path)
            elif path.is_file():
                seen[rel] = f"{oct(path.stat().st_mode)}:" + hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                seen[rel] = "dir"
    return seen


def _lines_only(stderr: str) -> None:
    assert "Traceback" not in stderr
    for line in stderr.splitlines():
        ok = line.startswith(LINE_PREFIXES) or SUMMARY.fullmatch(line)
        assert ok, f"not a one-line message: {line[:200]!r}"


def _top(output: bytes) -> dict[str, Any]:
    """`kind` and `results` of the function's output, read without constructing its items: they
    may rightly carry any tag, complex keys or anchors the function passed through as written."""
    root = yaml.compose(output, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(root, yaml.MappingNode), "stdout is not a ResourceList"
    top = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    loader = yaml.SafeLoader("")
    kind = top.get("kind")
    return {
        "kind": kind.value if isinstance(kind, yaml.ScalarNode) else None,
        "results": loader.construct_document(top["results"]) if "results" in top else [],
    }


def _no_secret(text: str) -> None:
    assert SECRET not in text and SECRET_B64 not in text


def _resource_list(case: Case, pkg: Path) -> bytes:
    """The package as a ResourceList: as `kpt fn source` gives it (path annotations and all, as
    in a kpt pipeline), or, where kpt refuses the package, built as text, so the function still
    sees what kpt would not pass (and the test itself never parses a bomb)."""
    if KPT.exists():
        try:
            sourced = subprocess.run(
                [str(KPT), "fn", "source", str(pkg)], capture_output=True, timeout=60, check=False
            )
        except subprocess.TimeoutExpired:
            sourced = None
        if sourced is not None and sourced.returncode == 0:
            return sourced.stdout
    items: list[str] = []
    for text in case.files.values():
        for doc in text.replace("\r\n", "\n").split("\n---\n"):
            doc = doc.removeprefix("---\n")
            if not doc.strip():
                continue
            lines = doc.rstrip("\n").split("\n")
            items.append("- " + lines[0] + "".join("\n  " + line for line in lines[1:]))
    body = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + "\n".join(items) + "\n"
    return body.encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_render_output_dir_keeps_every_promise(case: Case, tmp_path: Path) -> None:
    pkg, out = _sandbox(case, tmp_path)
    before = _tree(tmp_path, skip=out)
    done = _run([str(BIN / "kubectl-mirror"), "render", str(pkg), "--output-dir", str(out)], cwd=tmp_path)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode in (0, 1), f"exit {done.returncode}: {stderr[-2000:]}"
    _lines_only(stderr)
    _no_secret(stderr)
    assert _tree(tmp_path, skip=out) == before, "something outside --output-dir changed"
    for path in out.rglob("*"):
        assert path.resolve().is_relative_to(out.resolve()) or path.is_symlink()
    if done.returncode == 1:
        assert stderr.strip(), "exit 1 without a message"
    if case.expect == "ok":
        assert done.returncode == 0, stderr[-2000:]
    elif case.expect == "error":
        assert done.returncode == 1
        assert case.says in stderr
    if case.render_args:
        shown = _run([str(BIN / "kubectl-mirror"), "render", str(pkg), *case.render_args], cwd=tmp_path)
        assert shown.returncode in (0, 1)
        text = shown.stdout.decode("utf-8", "replace") + shown.stderr.decode("utf-8", "replace")
        assert "\nFORGED" not in text and "\x1b" not in text


@pytest.mark.parametrize("case", [c for c in CASES if c.krm], ids=[c.name for c in CASES if c.krm])
def test_krm_function_keeps_every_promise(case: Case, tmp_path: Path) -> None:
    pkg, _ = _sandbox(case, tmp_path)
    resource_list = _resource_list(case, pkg)
    before = _tree(tmp_path)
    done = _run([str(BIN / "kubectl-mirror-fn")], cwd=tmp_path, stdin=resource_list)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode in (0, 1), f"exit {done.returncode}: {stderr[-2000:]}"
    assert "Traceback" not in stderr
    assert _tree(tmp_path) == before, "the KRM function wrote to disk"
    out = _top(done.stdout)
    assert out["kind"] == "ResourceList", "stdout is not a ResourceList"
    results = out.get("results") or []
    messages = "\n".join(str(r.get("message", "")) for r in results if isinstance(r, dict))
    _no_secret(messages + stderr)
    failed = any(isinstance(r, dict) and r.get("severity", "error") == "error" for r in results)
    assert failed == (done.returncode == 1)
    if case.expect == "ok":
        assert done.returncode == 0, messages[-2000:]
    elif case.expect == "error":
        assert done.returncode == 1
        assert case.says in messages
