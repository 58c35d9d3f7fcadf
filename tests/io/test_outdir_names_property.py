"""Property: whatever namespace, kind and name an input carries (any Unicode, `/`, `..`, `\\`,
NUL, newlines, very long), every path `render --output-dir` writes stays inside the directory and
every path the KRM function assigns is a plain relative path under `mirrors/` - or the run fails
with a one-line error and writes (or changes) nothing."""

from __future__ import annotations

import json
import posixpath
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_mirror.engine.plan import Outcome
from kubectl_mirror.errors import InputError
from kubectl_mirror.io import outdir
from kubectl_mirror.krm import _merge_output, process
from tests.io.tree import snapshot

FRAGMENTS = [
    "..",
    ".",
    "/",
    "\\",
    "\x00",
    "\n",
    "\r",
    "\u2028",
    "\u0085",
    "a",
    "z9",
    "-",
    ":",
    "é",
    "A",
    " ",
    "%",
    "~",
]

any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates and controls too
pieces = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join)
long_text = st.text(st.characters(), min_size=240, max_size=600)
plausible = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True)
names = st.one_of(
    any_text, pieces, long_text, plausible, st.sampled_from(["..", ".", "/", "", "a/../../b", "/etc/x"])
)
kinds = st.one_of(st.sampled_from(["ConfigMap", "Secret", "Widget", "Role"]), pieces, any_text)

SETTINGS = settings(
    max_examples=300,
    deadline=None,  # never a timed assertion
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def mirror_obj(kind: str, namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubectl-mirror", "kubectl-mirror.io/mirror": "true"},
        },
        "data": {"k": "v"},
    }


def _assert_one_line(text: str) -> None:
    assert text.isprintable(), repr(text)


def _assert_inside(out: Path) -> None:
    """Everything under `out` is a real directory or regular file, and the kustomization lists
    exactly the mirror files, each a plain `<namespace>/<file>.yaml`."""
    files = []
    for path in out.rglob("*"):
        assert not path.is_symlink()
        rel = path.relative_to(out).as_posix()
        if path.is_file():
            files.append(rel)
            assert posixpath.normpath(rel) == rel and not rel.startswith(("/", ".."))
            assert rel.isprintable() and "\\" not in rel
    resources = yaml.safe_load((out / "kustomization.yaml").read_text())["resources"]
    assert sorted(resources) == sorted(f for f in files if f != "kustomization.yaml")
    for rel in resources:
        assert rel.count("/") == 1 and rel.endswith(".yaml")


@SETTINGS
@given(st.lists(st.tuples(kinds, names, names), min_size=1, max_size=3))
def test_output_dir_paths_stay_inside_or_nothing_is_written(triples: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        (parent / "sentinel.yaml").write_text("keep\n")
        out = parent / "out"
        before = snapshot(parent)
        mirrors = [mirror_obj(kind, ns, name) for kind, ns, name in triples]
        try:
            outdir.apply(out, outdir.plan(out, mirrors))
        except InputError as err:
            _assert_one_line(err.one_line())
            assert snapshot(parent) == before
            return
        after = snapshot(parent)
        assert {k: v for k, v in after.items() if k != "out" and not k.startswith("out/")} == before
        _assert_inside(out)


def _plain_under_mirrors(path: str) -> bool:
    parts = path.split("/")
    return (
        len(parts) == 3
        and parts[0] == "mirrors"
        and posixpath.normpath(path) == path
        and ".." not in parts
        and "\\" not in path
        and path.isprintable()
    )


@SETTINGS
@given(st.lists(st.tuples(kinds, names, names), min_size=1, max_size=3))
def test_krm_paths_are_plain_under_mirrors_or_an_error_result(triples: list[tuple[str, str, str]]) -> None:
    mirrors = tuple(mirror_obj(kind, ns, name) for kind, ns, name in triples)
    out, problems = _merge_output([], Outcome(mirrors, (), ()))
    if problems:
        assert all(p.severity == "error" for p in problems)
        return
    for item in out:
        annotations = item["metadata"]["annotations"]
        assert _plain_under_mirrors(annotations["internal.config.kubernetes.io/path"])
        assert annotations["config.kubernetes.io/path"] == annotations["internal.config.kubernetes.io/path"]


def _resource_list(namespace: str, kind: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            {
                "apiVersion": "v1" if kind in ("ConfigMap", "Secret") else "example.com/v1",
                "kind": kind,
                "metadata": {
                    "name": name,
                    "namespace": "platform",
                    "labels": {"kubectl-mirror.io/source": "true"},
                    "annotations": {"kubectl-mirror.io/targets": "*"},
                },
                "data": {"k": "dmFsdWU="},
            },
        ],
    }


@settings(max_examples=150, deadline=None)
@given(names, kinds, names)
def test_krm_function_output_paths_are_plain_or_the_items_are_untouched(
    namespace: str, kind: str, name: str
) -> None:
    # `process` is the function on parsed items (run_bytes = YAML reading + process + YAML writing).
    items = _resource_list(namespace, kind, name)["items"]
    out, results = process(items, None)
    if any(r.severity == "error" for r in results):
        assert out == items
        return
    for item in out[2:]:
        assert _plain_under_mirrors(item["metadata"]["annotations"]["internal.config.kubernetes.io/path"])


@settings(max_examples=15, deadline=None)
@given(names, names)
def test_the_real_cli_writes_inside_the_directory_or_fails_on_one_line(namespace: str, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        inputs = parent / "in" / "inputs.json"
        inputs.parent.mkdir()
        doc = _resource_list(namespace, "ConfigMap", name)
        inputs.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": doc["items"]}))
        out = parent / "out"
        before = snapshot(parent)
        proc = subprocess.run(
            ["kubectl-mirror", "render", str(inputs.parent), "--output-dir", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "Traceback" not in proc.stderr
        if proc.returncode != 0:
            assert proc.returncode == 1
            assert all(line.startswith(("error: ", "warning: ")) for line in proc.stderr.splitlines()), (
                proc.stderr
            )
            assert snapshot(parent) == before
            return
        after = snapshot(parent)
        assert {k: v for k, v in after.items() if k != "out" and not k.startswith("out/")} == before
        _assert_inside(out)
