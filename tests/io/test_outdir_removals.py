"""render --output-dir removes only files it wrote: listed by its previous kustomization.yaml, of
the exact shape it generates, regular files (not links) whose parsed YAML is our mirror at exactly
that path. Whatever a hostile kustomization.yaml lists, nothing outside the directory goes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubectl_mirror.io.outdir import HEADER
from tests.io.tree import mirror, namespace, snapshot, source, write_inputs

STALE = "team-a/configmap-old.yaml"


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    """An output dir written by a real run, plus a stale mirror file of ours in it (`old`)."""
    src = write_inputs(tmp_path / "in" / "inputs.yaml", namespace("team-a") + "---\n" + source())
    out = tmp_path / "work" / "out"
    assert mirror(str(src.parent), "--output-dir", str(out)).returncode == 0
    good = (out / "team-a" / "configmap-settings.yaml").read_text()
    (out / STALE).write_text(good.replace("name: settings", "name: old"))
    return src.parent, out


def _list(out: Path, *entries: str) -> None:
    body = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
    (out / "kustomization.yaml").write_text(HEADER + body + "".join(f"- {e}\n" for e in entries))


def _our_mirror_text(out: Path) -> str:
    return (out / "team-a" / "configmap-settings.yaml").read_text()


def test_a_listed_stale_mirror_of_ours_is_removed(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    _list(out, "team-a/configmap-settings.yaml", STALE)
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not (out / STALE).exists()
    assert yaml.safe_load((out / "kustomization.yaml").read_text())["resources"] == [
        "team-a/configmap-settings.yaml"
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "../elsewhere/configmap-old.yaml",
        "../../work/elsewhere/configmap-old.yaml",
        "team-a/../../elsewhere/configmap-old.yaml",
        "{outside}/configmap-old.yaml",
        "./../elsewhere/configmap-old.yaml",
        "elsewhere/../../elsewhere/configmap-old.yaml",
        "'..\\elsewhere\\configmap-old.yaml'",
    ],
)
def test_a_listed_path_outside_the_directory_is_never_removed(tmp_path: Path, entry: str) -> None:
    src, out = _setup(tmp_path)
    outside = tmp_path / "work" / "elsewhere"
    outside.mkdir()
    (outside / "configmap-old.yaml").write_text((out / STALE).read_text())
    _list(out, entry.format(outside=outside))
    before = snapshot(tmp_path, skip=out)
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert snapshot(tmp_path, skip=out) == before


def test_a_listed_file_that_only_mentions_our_label_is_left_alone(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    lookalike = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n  namespace: team-a\n"
        "data:\n  notes: |\n    kubectl-mirror.io/mirror: 'true'\n    app.kubernetes.io/managed-by: kubectl-mirror\n"
    )
    (out / STALE).write_text(lookalike)
    _list(out, STALE)
    assert mirror(str(src), "--output-dir", str(out)).returncode == 0
    assert (out / STALE).read_text() == lookalike


def test_a_listed_mirror_of_ours_at_a_path_not_its_own_is_left_alone(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    moved = out / "team-a" / "configmap-moved.yaml"
    moved.write_text((out / STALE).read_text())  # holds the mirror named `old`
    _list(out, "team-a/configmap-moved.yaml")
    assert mirror(str(src), "--output-dir", str(out)).returncode == 0
    assert moved.exists()


@pytest.mark.parametrize("text", ["kind: [\n", "- a\n- b\n", "a: 1\n---\nb: 2\n", "\x00\xff"])
def test_a_listed_file_that_is_not_a_mirror_document_is_left_alone(tmp_path: Path, text: str) -> None:
    src, out = _setup(tmp_path)
    (out / STALE).write_text(text, encoding="latin-1")
    _list(out, STALE)
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / STALE).exists()


def test_a_listed_symlink_to_a_mirror_outside_is_left_alone_and_so_is_its_target(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    outside = tmp_path / "work" / "elsewhere" / "configmap-old.yaml"
    outside.parent.mkdir()
    (out / STALE).rename(outside)
    (out / STALE).symlink_to(outside)
    _list(out, STALE)
    before = snapshot(tmp_path, skip=out)
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / STALE).is_symlink()
    assert snapshot(tmp_path, skip=out) == before


def test_a_listed_file_under_a_symlinked_namespace_directory_is_left_alone(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    outside = tmp_path / "work" / "elsewhere"
    outside.mkdir()
    (outside / "configmap-old.yaml").write_text((out / STALE).read_text())
    (out / "team-z").symlink_to(outside, target_is_directory=True)
    _list(out, "team-z/configmap-old.yaml")
    before = snapshot(tmp_path, skip=out)
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert snapshot(tmp_path, skip=out) == before
    assert (out / "team-z").is_symlink()


def test_a_kustomization_without_our_header_is_refused_and_nothing_is_removed(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    (out / "kustomization.yaml").write_text(f"resources:\n- {STALE}\n")
    before = snapshot(tmp_path)
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 1
    assert "was not written by kubectl-mirror" in proc.stderr
    assert snapshot(tmp_path) == before


def test_the_header_must_open_the_file_not_just_appear_in_it(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    (out / "kustomization.yaml").write_text(f"resources:\n- {STALE}\n{HEADER}")
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 1
    assert (out / STALE).exists()


def test_the_written_kustomization_lists_exactly_the_files_written(tmp_path: Path) -> None:
    src, out = _setup(tmp_path)
    (out / STALE).unlink()
    proc = mirror(str(src), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    text = (out / "kustomization.yaml").read_text()
    assert text.splitlines()[-2:] == ["resources:", "- team-a/configmap-settings.yaml"]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.yaml") if p.name != "kustomization.yaml")
    assert yaml.safe_load(text)["resources"] == files
