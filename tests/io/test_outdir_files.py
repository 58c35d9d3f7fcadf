"""render --output-dir files: modes like any other tool's (the umask; a replaced file keeps its
own), no temporary file left behind, and an error while writing leaves the directory as it was."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kubectl_mirror.errors import InputError
from kubectl_mirror.io import outdir
from tests.io.tree import mirror, namespace, snapshot, source, write_inputs

MIRROR = "team-a/configmap-settings.yaml"


def _inputs(tmp_path: Path, value: str = "value") -> Path:
    text = namespace("team-a") + "---\n" + source().replace("key: value", f"key: {value}")
    return write_inputs(tmp_path / "in" / "inputs.yaml", text).parent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "out"
    proc = mirror(str(_inputs(tmp_path)), "--output-dir", str(out), umask=umask)
    assert proc.returncode == 0, proc.stderr
    assert _mode(out / MIRROR) == 0o666 & ~umask
    assert _mode(out / "kustomization.yaml") == 0o666 & ~umask
    assert _mode(out / "team-a") == 0o777 & ~umask


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert mirror(str(_inputs(tmp_path)), "--output-dir", str(out)).returncode == 0
    (out / MIRROR).chmod(0o640)
    assert mirror(str(_inputs(tmp_path, "changed")), "--output-dir", str(out), umask=0o077).returncode == 0
    assert "changed" in (out / MIRROR).read_text()
    assert _mode(out / MIRROR) == 0o640


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert mirror(str(_inputs(tmp_path)), "--output-dir", str(out)).returncode == 0
    assert mirror(str(_inputs(tmp_path, "changed")), "--output-dir", str(out)).returncode == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["kustomization.yaml", "team-a", MIRROR]


def _mirror_obj(name: str, value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "team-b" if name == "late" else "team-a",
            "labels": {"app.kubernetes.io/managed-by": "kubectl-mirror", "kubectl-mirror.io/mirror": "true"},
        },
        "data": {"k": value},
    }


def test_a_mirror_that_cannot_be_written_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "work" / "out"
    outdir.apply(out, outdir.plan(out, [_mirror_obj("early", "one")]))
    before = snapshot(tmp_path)
    # `early` changes and `late` cannot be encoded: neither may land, and no directory stays.
    mirrors = [_mirror_obj("early", "two"), _mirror_obj("late", "\ud800")]
    planned = outdir.plan(out, mirrors)
    with pytest.raises(InputError) as caught:
        outdir.apply(out, planned)
    assert "\ud800" not in caught.value.one_line()
    assert snapshot(tmp_path) == before


def test_a_refused_first_run_does_not_leave_the_output_dir_behind(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    (tmp_path / "new").mkdir()
    planned = outdir.plan(out, [_mirror_obj("late", "\ud800")])
    with pytest.raises(InputError):
        outdir.apply(out, planned)
    assert not out.exists()


def test_check_passes_after_a_write_and_fails_after_an_edit(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path), tmp_path / "out"
    assert mirror(str(src), "--output-dir", str(out)).returncode == 0
    assert mirror(str(src), "--output-dir", str(out), "--check").returncode == 0
    (out / MIRROR).write_text((out / MIRROR).read_text().replace("key: value", "key: edited"))
    stale = mirror(str(src), "--output-dir", str(out), "--check")
    assert stale.returncode == 1
    assert stale.stderr.splitlines() == [f"out of date: {out / MIRROR}"]
    assert "edited" in (out / MIRROR).read_text()
