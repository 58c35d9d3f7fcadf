"""Build the krew archives: one tarball per platform, each runnable by any CPython 3.11-3.14.

    python3 krew/build.py                       # every platform in PLATFORMS, into dist/
    python3 krew/build.py --out DIR --platform linux-amd64 --python 3.11

A single pure-Python zipapp is not possible: typer (0.29 and later) needs pydantic, and
pydantic-core is a compiled extension without a pure-Python fallback, built per platform and per
CPython version; extension modules cannot be imported from a zip either. So each archive holds

    kubectl-mirror          the launcher krew links as `kubectl-mirror` (the `bin` of the manifest)
    lib/                    every pure-Python dependency, and kubectl_mirror itself
    native/cp3XX/           pydantic-core built for this platform and CPython 3.XX

and the launcher puts `native/<its CPython>` and `lib` first on sys.path, leaving out the user's
site-packages so a different typer or pydantic installed there cannot break the plugin. The other
extensions pip installs (PyYAML, MarkupSafe, charset-normalizer) are dropped: each has a
pure-Python fallback. Any other extension stops the build rather than shipping a broken archive.
Bytecode is not shipped (it is per CPython version); Python caches it beside the sources in krew's
store on the first run.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# krew's os-arch -> the wheel platform tag pip should download for it.
PLATFORMS = {
    "linux-amd64": "manylinux2014_x86_64",
    "linux-arm64": "manylinux2014_aarch64",
    "darwin-amd64": "macosx_10_12_x86_64",
    "darwin-arm64": "macosx_11_0_arm64",
}
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
NATIVE = "pydantic_core"
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

here = os.path.dirname(os.path.realpath(__file__))
native = os.path.join(here, "native", "cp%d%d" % sys.version_info[:2])
if sys.version_info < (3, 11) or not os.path.isdir(native):
    sys.exit(
        "error: kubectl-mirror needs python3 3.11 to 3.14 on PATH; found %s (%s)"
        % (sys.version.split()[0], sys.executable)
    )
rest = [p for p in sys.path[1:] if os.path.basename(p) not in ("site-packages", "dist-packages")]
sys.path[:] = [native, os.path.join(here, "lib")] + rest

from kubectl_mirror.cli.main import main  # noqa: E402

main()
'''


class BuildError(Exception):
    pass


def pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"pip {' '.join(args)} failed:\n{done.stderr.strip()}")


def install_pure(lib: Path) -> str:
    """Install kubectl-mirror and its dependencies into `lib`; return the pydantic-core version."""
    pip("install", "--no-compile", "--target", str(lib), str(ROOT), KUBERNETES)
    for name in DROP:
        shutil.rmtree(lib / name, ignore_errors=True)
    versions = [p.name.removesuffix(".dist-info").split("-")[1] for p in lib.glob(f"{NATIVE}-*.dist-info")]
    if len(versions) != 1:
        raise BuildError(f"expected one {NATIVE} in the dependencies, found {versions}")
    shutil.rmtree(lib / NATIVE)
    for ext in sorted(lib.rglob("*.so")) + sorted(lib.rglob("*.pyd")):
        top = ext.relative_to(lib).parts[0]
        if top not in PURE_FALLBACK:
            raise BuildError(f"{ext.relative_to(lib)}: a compiled extension without a known fallback")
        ext.unlink()
    return versions[0]


def fetch_native(version: str, platform: str, python: str, into: Path, cache: Path) -> None:
    tag = PLATFORMS[platform]
    wanted = cache / f"{platform}-{python}"
    wanted.mkdir(parents=True, exist_ok=True)
    pip(
        "download", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
        "--platform", tag, "--python-version", python, "--dest", str(wanted),
        f"pydantic-core=={version}",
    )  # fmt: skip
    wheels = list(wanted.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"no single pydantic-core {version} wheel for {platform} / CPython {python}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(into)


def build(out: Path, platforms: list[str], pythons: list[str]) -> list[tuple[str, Path, str]]:
    built = []
    with tempfile.TemporaryDirectory(prefix="krew-build-") as tmp:
        work = Path(tmp)
        version = install_pure(work / "lib")
        for platform in platforms:
            stage = work / platform
            shutil.copytree(work / "lib", stage / "lib")
            for python in pythons:
                fetch_native(
                    version,
                    platform,
                    python,
                    stage / "native" / f"cp{python.replace('.', '')}",
                    work / "wheels",
                )
            launcher = stage / "kubectl-mirror"
            launcher.write_text(LAUNCHER)
            launcher.chmod(0o755)
            out.mkdir(parents=True, exist_ok=True)
            archive = out / f"kubectl-mirror-{platform}.tar.gz"
            with tarfile.open(archive, "w:gz") as tar:
                for entry in ("kubectl-mirror", "lib", "native"):
                    tar.add(stage / entry, arcname=entry)
            built.append((platform, archive, hashlib.sha256(archive.read_bytes()).hexdigest()))
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), dest="platforms")
    parser.add_argument("--python", action="append", choices=PYTHONS, dest="pythons")
    args = parser.parse_args()
    try:
        built = build(args.out, args.platforms or list(PLATFORMS), args.pythons or list(PYTHONS))
    except BuildError as err:
        sys.exit(f"error: {err}")
    for platform, archive, digest in built:
        print(f"{digest}  {archive}  ({platform})")


if __name__ == "__main__":
    main()
