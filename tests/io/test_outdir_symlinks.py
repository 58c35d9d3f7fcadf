"""render --output-dir never reads, writes or replaces through a symbolic link inside the
directory (a mirror file, a namespace directory, the kustomization.yaml), nor anything that is not
a plain file or directory; the --output-dir path the user typed may itself be a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.io.tree import mirror, namespace, one_error_line, snapshot, source, write_inputs

MIRROR = "team-a/configmap-settings.yaml"


def _inputs(tmp_path: Path) -> Path:
    return write_inputs(tmp_path / "in" / "inputs.yaml", namespace("team-a") + "---\n" + source()).parent


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim" / "important.yaml"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    return victim


@pytest.mark.parametrize("check", [False, True], ids=["write", "check"])
def test_a_symlinked_mirror_file_is_refused_and_its_target_untouched(tmp_path: Path, check: bool) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    victim = _victim(tmp_path)
    (out / "team-a").mkdir(parents=True)
    (out / MIRROR).symlink_to(victim)
    before = snapshot(tmp_path)
    line = one_error_line(mirror(str(src), "--output-dir", str(out), *(["--check"] if check else [])))
    assert "symbolic link" in line
    assert snapshot(tmp_path) == before


def test_a_dangling_symlink_at_a_mirror_path_creates_nothing_outside(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    (out / "team-a").mkdir(parents=True)
    (out / MIRROR).symlink_to(tmp_path / "created-by-accident.yaml")
    before = snapshot(tmp_path)
    one_error_line(mirror(str(src), "--output-dir", str(out)))
    assert snapshot(tmp_path) == before


def test_a_symlinked_namespace_directory_is_refused(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    _victim(tmp_path)
    out.mkdir()
    (out / "team-a").symlink_to(tmp_path / "victim", target_is_directory=True)
    before = snapshot(tmp_path)
    line = one_error_line(mirror(str(src), "--output-dir", str(out)))
    assert "team-a" in line and "symbolic link" in line
    assert snapshot(tmp_path) == before


def test_a_symlinked_kustomization_is_refused(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    victim = _victim(tmp_path)
    out.mkdir()
    (out / "kustomization.yaml").symlink_to(victim)
    before = snapshot(tmp_path)
    one_error_line(mirror(str(src), "--output-dir", str(out)))
    assert snapshot(tmp_path) == before


def test_a_fifo_at_a_mirror_path_is_refused_without_blocking(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    (out / "team-a").mkdir(parents=True)
    os.mkfifo(out / MIRROR)
    line = one_error_line(mirror(str(src), "--output-dir", str(out)))
    assert "not a regular file" in line


def test_a_directory_at_a_mirror_path_is_refused(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    (out / MIRROR).mkdir(parents=True)
    before = snapshot(tmp_path)
    one_error_line(mirror(str(src), "--output-dir", str(out)))
    assert snapshot(tmp_path) == before


def test_a_file_where_a_namespace_directory_goes_is_refused(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    out.mkdir()
    (out / "team-a").write_text("mine\n")
    before = snapshot(tmp_path)
    one_error_line(mirror(str(src), "--output-dir", str(out)))
    assert snapshot(tmp_path) == before


def test_an_output_dir_that_is_itself_a_symlink_is_used(tmp_path: Path) -> None:
    src = _inputs(tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    proc = mirror(str(src), "--output-dir", str(link))
    assert proc.returncode == 0, proc.stderr
    assert (real / MIRROR).is_file()
    assert mirror(str(src), "--output-dir", str(link), "--check").returncode == 0


def test_an_output_dir_under_a_symlinked_parent_is_used(tmp_path: Path) -> None:
    src = _inputs(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    proc = mirror(str(src), "--output-dir", str(tmp_path / "link" / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "real" / "out" / MIRROR).is_file()


def test_an_output_dir_that_is_a_file_is_one_error(tmp_path: Path) -> None:
    src = _inputs(tmp_path)
    (tmp_path / "out").write_text("x")
    line = one_error_line(mirror(str(src), "--output-dir", str(tmp_path / "out")))
    assert "not a directory" in line
