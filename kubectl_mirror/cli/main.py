"""The Typer app and the single place where errors become one-line messages.

kubectl passes every argument after `mirror` through unchanged (flags before the plugin name are
rejected by kubectl itself), so global flags are accepted after the command name.
"""

from __future__ import annotations

import os
import sys

import typer

from kubectl_mirror.errors import MirrorError


def prog_name() -> str:
    """`kubectl mirror` when run as a kubectl plugin (krew's naming guidance), else the script."""
    base = os.path.basename(sys.argv[0]) if sys.argv else "kubectl-mirror"
    return "kubectl mirror" if base.startswith("kubectl-") or base == "kubectl" else base


# Which module defines each command, in the order `--help` lists them. Only the module of the
# command being run is imported: typer builds a pydantic adapter for every parameter of every
# registered command, and `render` should not pay for `watch`'s flags or the cluster client.
COMMANDS = {
    "render": "render",
    "sync": "live",
    "status": "live",
    "diff": "live",
    "prune": "live",
    "watch": "watch",
    "can-i": "can_i",
    "install-kustomize-plugin": "kustomize_plugin",
}


def _group() -> None:
    """Mirror Secrets, ConfigMaps and any namespaced resource into many namespaces."""


def build_app(args: list[str] | None = None) -> typer.Typer:
    """The app with every command, or only the module of the command named in `args`."""
    import importlib

    app = typer.Typer(
        name="mirror",
        help="Mirror Secrets, ConfigMaps and any namespaced resource into many namespaces.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    # A callback keeps the app a group even when a single command is registered.
    app.callback()(_group)
    first = next((a for a in args or [] if not a.startswith("-")), None)
    wanted = [COMMANDS[first]] if first in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in wanted:
        importlib.import_module(f"kubectl_mirror.cli.{name}").register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point; `--debug` keeps tracebacks for bugs (never for user errors)."""
    import gc

    # Tens of thousands of parsed objects live for the whole run: collecting them again and
    # again was a third of a 200,000-mirror sync's CPU (bench/sync.py).
    gc.set_threshold(100_000, 50, 100)
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    app = build_app(args)
    try:
        code = app(args=args, prog_name=prog_name(), standalone_mode=False)
    except MirrorError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        sys.exit(1)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as err:
        # typer raises click's exceptions or, in newer releases, its vendored copies of them.
        if isinstance(err, typer.Exit) or type(err).__name__ == "Exit":
            sys.exit(getattr(err, "exit_code", 0))
        if isinstance(err, typer.Abort) or type(err).__name__ == "Abort":
            sys.exit(1)
        if hasattr(err, "show") and isinstance(getattr(err, "exit_code", None), int):
            err.show()
            sys.exit(err.exit_code)  # type: ignore[attr-defined]
        if debug:
            raise
        print(
            f"error: internal error ({type(err).__name__}: {' '.join(str(err).split())[:200]}); "
            "re-run with --debug and report it",
            file=sys.stderr,
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)
