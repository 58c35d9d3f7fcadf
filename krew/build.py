"""Build the krew archive: one tarball for every platform krew installs on (linux and darwin).

    python3 krew/build.py               # dist/kubectl-mirror.tar.gz
    python3 krew/build.py --out DIR

Every dependency is pure Python, or has a pure-Python fallback for its compiled speed-ups
(PyYAML, MarkupSafe, charset-normalizer), so one archive serves every platform and every CPython
from 3.11 on. The archive holds

    kubectl-mirror      the launcher krew links as `kubectl-mirror` (the manifest's `bin`)
    lib/                kubectl_mirror and its dependencies

It is a directory, not a zipapp: Python caches the bytecode of a directory beside its sources in
krew's store on the first run, while a zipapp would compile every module on every start. The
launcher puts `lib` first on sys.path and leaves the user's site-packages out, so a different
typer or ruamel.yaml installed there cannot break the plugin. A compiled extension without a
known fallback stops the build rather than shipping an archive that fails on other machines.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE_FALLBACK = {"yaml", "_yaml", "markupsafe", "charset_normalizer"}
# Releases from 36 on depend on aiohttp and its compiled helpers, which the client we use never
# imports; 35 is the newest without them.
KUBERNETES = "kubernetes==35.0.0"
# Installed by pip for the console scripts; the archive has its own launcher.
DROP = ("bin",)

LAUNCHER = '''#!/usr/bin/env python3
"""kubectl-mirror as krew installs it (built by krew/build.py)."""
import os
import sys

if sys.version_info < (3, 11):
    found = "%s (%s)" % (sys.version.split()[0], sys.executable)
    sys.exit("error: kubectl-mirror needs python3 3.11 or newer on PATH; found " + found)
here = os.path.dirname(os.path.realpath(__file__))
rest = [p for p in sys.path[1:] if os.path.basename(p) not in ("site-packages", "dist-packages")]
sys.path[:] = [os.path.join(here, "lib")] + rest

from kubectl_mirror.cli.main import main  # noqa: E402

main()
'''


class BuildError(Exception):
    pass


def install(lib: Path) -> None:
    """kubectl-mirror and its dependencies into `lib`, without compiled extensions."""
    pip = [sys.executable, "-m", "pip", "--quiet", "install", "--no-compile", "--target", str(lib)]
    done = subprocess.run(
        [*pip, str(ROOT), KUBERNETES],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BuildError(f"pip install failed:\n{done.stderr.strip()}")
    for name in DROP:
        shutil.rmtree(lib / name, ignore_errors=True)
    for ext in sorted([*lib.rglob("*.so"), *lib.rglob("*.pyd")]):
        if ext.relative_to(lib).parts[0] not in PURE_FALLBACK:
            raise BuildError(f"{ext.relative_to(lib)}: a compiled extension without a known fallback")
        ext.unlink()


def build(out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="krew-build-") as tmp:
        stage = Path(tmp)
        install(stage / "lib")
        launcher = stage / "kubectl-mirror"
        launcher.write_text(LAUNCHER)
        launcher.chmod(0o755)
        out.mkdir(parents=True, exist_ok=True)
        archive = out / "kubectl-mirror.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for entry in ("kubectl-mirror", "lib"):
                tar.add(stage / entry, arcname=entry)
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    try:
        archive = build(args.out)
    except BuildError as err:
        sys.exit(f"error: {err}")
    print(f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive}")


if __name__ == "__main__":
    main()
