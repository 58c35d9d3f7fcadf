"""`kubectl mirror install-kustomize-plugin`: link the function where `kubectl kustomize` looks.

kubectl's built-in kustomize cannot run exec KRM functions (no --enable-exec), but it does run
legacy exec plugins with --enable-alpha-plugins; this puts our function at the path it searches.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from kubectl_mirror.errors import InputError, Ref

GROUP_VERSION = "kubectl-mirror.io/v1alpha1"
KIND = "MirrorTransformer"


def register(app: typer.Typer) -> None:
    app.command("install-kustomize-plugin")(install)


def plugin_root() -> Path:
    if os.environ.get("KUSTOMIZE_PLUGIN_HOME"):
        return Path(os.environ["KUSTOMIZE_PLUGIN_HOME"])
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "kustomize" / "plugin"


def install(
    root: Annotated[
        Path | None,
        typer.Option("--plugin-home", help="Plugin root (default: $KUSTOMIZE_PLUGIN_HOME or XDG config)."),
    ] = None,
) -> None:
    """Install the legacy kustomize exec plugin (a symlink to kubectl-mirror-fn)."""
    target = shutil.which("kubectl-mirror-fn") or str(Path(sys.argv[0]).with_name("kubectl-mirror-fn"))
    if not os.access(target, os.X_OK):
        raise InputError("cannot find the kubectl-mirror-fn executable on PATH", Ref(), "kubectl-mirror-fn")
    base = (root or plugin_root()) / GROUP_VERSION / KIND.lower()
    base.mkdir(parents=True, exist_ok=True)
    link = base / KIND
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    print(f"installed {link} -> {target}")
    print("use it with: kubectl kustomize --enable-alpha-plugins DIR")
