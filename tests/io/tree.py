"""Helpers for the --output-dir tests: run the real CLI, and snapshot a whole directory tree
(files, links, directories, modes) so a test can say that nothing outside --output-dir changed."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

Entry = tuple[str, bytes | str, int]


def mirror(*args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl-mirror", "render", *args],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def snapshot(root: Path, *, skip: Path | None = None) -> dict[str, Entry]:
    """Every entry under `root` (links not followed): kind, content or link target, mode."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = here / name
            if skip is not None and path == skip:
                continue
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path), 0)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", "", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("file", path.read_bytes(), stat.S_IMODE(st.st_mode))
    return out


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit 1 and exactly one `error:` line on stderr, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def write_inputs(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


SOURCE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: platform
  labels:
    kubectl-mirror.io/source: "true"
  annotations:
    kubectl-mirror.io/targets: {targets}
data:
  key: value
"""

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {name}
"""


def source(name: str = "settings", targets: str = '"team-a"') -> str:
    return SOURCE.format(name=name, targets=targets)


def namespace(name: str) -> str:
    return NAMESPACE.format(name=name)
