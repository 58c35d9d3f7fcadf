"""`kubectl mirror render`: files in, mirror manifests out. No cluster, no kubernetes import."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kubectl_mirror.cli.output import print_results
from kubectl_mirror.errors import InputError, Ref

if TYPE_CHECKING:
    from kubectl_mirror.engine.model import Obj
    from kubectl_mirror.engine.plan import Item, Outcome


def register(app: typer.Typer) -> None:
    app.command("render", no_args_is_help=False)(render)


ListOpt = Annotated[list[str] | None, typer.Option(metavar="LIST")]


def render(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files or directories (recursive); - for stdin.")
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="yaml or json.")] = "yaml",
    all_: Annotated[bool, typer.Option("--all", help="Pass the input objects through too.")] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="Write one file per mirror and a kustomization.yaml."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="With --output-dir: write nothing, exit 1 if out of date."),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Print, per source, why each namespace was (not) chosen."),
    ] = False,
    namespaces: Annotated[
        list[str] | None,
        typer.Option("--namespaces", help="Namespaces that exist besides the input's."),
    ] = None,
    include_namespaces: Annotated[
        list[str] | None,
        typer.Option("--include-namespaces", help="Only these (globs) may receive mirrors."),
    ] = None,
    exclude_namespaces: Annotated[
        list[str] | None,
        typer.Option("--exclude-namespaces", help="These (globs) never receive mirrors."),
    ] = None,
    protected_namespaces: Annotated[
        str | None,
        typer.Option("--protected-namespaces", help="Reached only when named (default: kube-system,...)."),
    ] = None,
    allow_kinds: Annotated[
        list[str] | None,
        typer.Option("--allow-kinds", help="Kinds denied by default to allow (e.g. Role)."),
    ] = None,
    drop_metadata: Annotated[
        list[str] | None,
        typer.Option("--drop-metadata", help="Label/annotation keys (globs) not copied."),
    ] = None,
    max_targets: Annotated[
        int, typer.Option("--max-targets", help="Most target namespaces per source.")
    ] = 100,
    max_rules: Annotated[
        int | None, typer.Option("--max-rules", help="Most transform rules per source.")
    ] = None,
    max_rule_bytes: Annotated[
        int | None, typer.Option("--max-rule-bytes", help="Most transform rule text per source.")
    ] = None,
    max_template_output: Annotated[
        int | None, typer.Option("--max-template-output", help="Most bytes one template may render.")
    ] = None,
    template_timeout_ms: Annotated[
        int | None, typer.Option("--template-timeout-ms", help="Time budget per template render.")
    ] = None,
) -> None:
    """Render mirror manifests from files (offline)."""
    from kubectl_mirror.engine.plan import render_all
    from kubectl_mirror.io.documents import TextItem, read_inputs
    from kubectl_mirror.io.filenames import is_kustomization
    from kubectl_mirror.options import RawOptions, build_engine_options

    if output not in ("yaml", "json"):
        raise InputError(f"unknown output format {output!r} (yaml or json)", Ref(), "--output")
    if check and output_dir is None:
        raise InputError("--check needs --output-dir", Ref(), "--check")
    if not paths and sys.stdin.isatty():
        raise InputError("give files or directories to read, or - for stdin", Ref(), "PATH")
    raw = {
        "namespaces": namespaces,
        "include-namespaces": include_namespaces,
        "exclude-namespaces": exclude_namespaces,
        "protected-namespaces": protected_namespaces,
        "allow-kinds": allow_kinds,
        "drop-metadata": drop_metadata,
        "max-targets": max_targets,
        "max-rules": max_rules,
        "max-rule-bytes": max_rule_bytes,
        "max-template-output": max_template_output,
        "template-timeout-ms": template_timeout_ms,
    }
    options = build_engine_options(RawOptions({k: v for k, v in raw.items() if v is not None}))
    # --all writes unchanged inputs as they were read where it can: dumping them costs more than
    # reading them did (bench/render.py --reading).
    keep_text = all_ and output == "yaml" and output_dir is None and not explain
    items = read_inputs(paths or ["-"], keep_text=keep_text)
    items = [i for i in items if not is_kustomization(i.obj, i.file)]  # never sources, not objects
    # The inputs live until exit: keep the collector from walking them again and again.
    import gc

    gc.freeze()
    outcome = render_all(items, options)
    print_results(outcome.results)
    if outcome.failed:
        raise typer.Exit(1)
    if explain:
        from kubectl_mirror.cli.output import explain_text

        sys.stdout.write(explain_text(outcome))
        return
    if output_dir is not None:
        _write_dir(output_dir, outcome.mirrors, check=check)
        return
    from kubectl_mirror.io.emit import json_list, write_yaml_stream

    passed = _passthrough(items, outcome) if all_ else []
    objs = [item.obj for item in passed] + list(outcome.mirrors)
    if output == "json":
        sys.stdout.write(json_list(objs))
        return
    texts = [item.text if isinstance(item, TextItem) else None for item in passed]
    write_yaml_stream(objs, sys.stdout, texts=texts + [None] * len(outcome.mirrors))


def _passthrough(items: list[Item], outcome: Outcome) -> list[Item]:
    """The inputs --all writes out: all but the mirrors, ours or pulls the run filled in."""
    from kubectl_mirror.engine.model import ObjectKey
    from kubectl_mirror.service import is_our_mirror

    return [
        item
        for item in items
        if ObjectKey.of(item.obj) not in outcome.filled_pulls and not is_our_mirror(item.obj)
    ]


def _write_dir(root: Path, mirrors: Sequence[Obj], *, check: bool) -> None:
    """Every name is checked before it becomes a path; nothing is written on any error."""
    from kubectl_mirror.io import outdir

    planned = outdir.plan(root, mirrors)
    if check:
        stale = outdir.changed(root, planned)
        for rel in stale:
            print(f"out of date: {root / rel}", file=sys.stderr)
        if stale:
            raise typer.Exit(1)
        return
    outdir.apply(root, planned)
    print(f"info: wrote {len(mirrors)} mirrors to {root}", file=sys.stderr)
