"""`sync`, `status`, `diff` and `prune`: the live commands. Each is a thin shell around
`live.plan` (what is and what should be) and `live.execute` (making it so)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, cast

import typer

from kubectl_mirror.cli import flags
from kubectl_mirror.cli.output import print_results
from kubectl_mirror.errors import InputError, Ref

if TYPE_CHECKING:
    from kubectl_mirror.engine.reconcile import Action, Key
    from kubectl_mirror.engine.rollouts import Consumer
    from kubectl_mirror.io.cluster import Cluster
    from kubectl_mirror.live.config import LiveConfig
    from kubectl_mirror.live.execute import DryRun, Report
    from kubectl_mirror.live.plan import LivePlan
    from kubectl_mirror.live.rollout import RolloutReport


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.command("status")(status)
    app.command("diff")(diff)
    app.command("prune")(prune)


DryRunOpt = Annotated[str, typer.Option("--dry-run", help="none, client or server.")]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", help="name, yaml or json.")]


def _plan(live: LiveConfig, *, adopt: bool = False) -> tuple[Cluster, LivePlan]:
    from kubectl_mirror.live.plan import make_plan

    cluster, scope = live.connect()
    return cluster, make_plan(cluster, scope=scope, options=live.engine, adopt=adopt)


@flags.live_command(concurrency=flags.DEFAULT_CONCURRENCY)
def sync(
    live: LiveConfig,
    dry_run: DryRunOpt = "none",
    show_diff: Annotated[bool, typer.Option("--diff", help="Print what changes before changing it.")] = False,
    also_prune: Annotated[bool, typer.Option("--prune", help="Also prune orphaned mirrors.")] = False,
    adopt: Annotated[
        bool,
        typer.Option("--adopt", help="Take over existing objects that are not managed by kubectl-mirror."),
    ] = False,
    output: OutputOpt = None,
    show_secrets: flags.ShowSecrets = False,
    rollout: Annotated[
        bool,
        typer.Option(
            "--rollout",
            help="Also roll out the opted-in workloads whose mirrors' data changed (docs/rollouts.md).",
        ),
    ] = False,
) -> None:
    """Make the cluster's mirrors match their sources."""
    from kubectl_mirror.live.execute import Executor, Report

    _check_choice(dry_run, ("none", "client", "server"), "--dry-run")
    _check_choice(output, (None, "name", "yaml", "json"), "--output")
    cluster, plan = _plan(live, adopt=adopt)
    print_results(plan.results)
    if show_diff:
        from kubectl_mirror.cli.diffs import diff_text

        sys.stdout.write(diff_text([*plan.actions, *(plan.prune if also_prune else ())], show_secrets))
    report = Report()
    executor = Executor(
        cluster,
        lambda a: plan.state.resource(a.key),
        dry_run=_dry_run(dry_run),
        adopt=adopt,
        concurrency=live.concurrency,
    )
    executor.run(plan.actions, report, pulled=set(plan.outcome.filled_pulls))
    if also_prune:
        executor.run(plan.prune, report)
    rolled = _rollout(cluster, report, dry_run=dry_run) if rollout else None
    _print_report(report, output=output, dry_run=dry_run, show_secrets=show_secrets)
    if rolled is not None:
        _print_rollouts(rolled, output=output, dry_run=dry_run)
    failed = report.errors or _failed(plan) or (rolled is not None and rolled.errors)
    conflicts = report.counts()["conflict"]
    raise typer.Exit(1 if failed or conflicts else 0)


def _rollout(cluster: Cluster, report: Report, *, dry_run: str) -> RolloutReport:
    """The workloads to roll for the mirrors this run changed (their data, not only metadata)."""
    from kubectl_mirror.live.rollout import changes_of, rollout_changes

    return rollout_changes(cluster, changes_of(report.done), dry_run=_dry_run(dry_run))


def _print_rollouts(rolled: RolloutReport, *, output: str | None, dry_run: str) -> None:
    """One line per workload rolled, like the mirrors' lines; the count after the summary."""
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
    stream = sys.stderr if output in ("yaml", "json") else sys.stdout
    for warning in rolled.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for planned, word in rolled.done:
        if word == "failed":
            continue
        name = _name(planned.workload)
        print(
            name if output == "name" else f"{name} -n {planned.workload.namespace} {word}{suffix}",
            file=stream,
        )
    for error in rolled.errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"rolled out {len(rolled.restarted)}{suffix}", file=sys.stderr if output else sys.stdout)


def _dry_run(value: str) -> DryRun:
    _check_choice(value, ("none", "client", "server"), "--dry-run")
    return cast("DryRun", value)


def _check_choice(value: str | None, allowed: tuple[str | None, ...], flag: str) -> None:
    if value not in allowed:
        names = ", ".join(a for a in allowed if a)
        raise InputError(f"unknown value {value!r} (expected one of: {names})", Ref(), flag)


def _print_report(report: Report, *, output: str | None, dry_run: str, show_secrets: bool) -> None:
    from kubectl_mirror.engine.reconcile import describe
    from kubectl_mirror.engine.redact import mask

    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
    changed = [(a, w) for a, w in report.done if w not in ("unchanged", "failed", "skipped")]
    if output in ("yaml", "json"):
        from kubectl_mirror.io.emit import json_list, yaml_stream

        objs = [a.desired if a.desired is not None else a.live for a, w in changed if w != "conflict"]
        objs = [o if show_secrets else mask(o) for o in objs if o is not None]
        sys.stdout.write(yaml_stream(objs) if output == "yaml" else json_list(objs))
    else:
        for action, word in changed:
            name = _name(action.key)
            line = name if output == "name" else f"{name} -n {action.key[2]} {word}{suffix}"
            if word == "conflict":
                print(f"conflict: {describe(action.key)}: {action.reason}", file=sys.stderr)
                continue
            print(line)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    counts = report.counts()
    summary = (
        f"created {counts['created']}, updated {counts['configured'] + counts['recreated']}, "
        f"unchanged {counts['unchanged']}, conflicts {counts['conflict']}"
    )
    extra = [f"{word} {counts[word]}" for word in ("deleted", "marked stale", "failed") if counts[word]]
    print(", ".join([summary, *extra]) + suffix, file=sys.stderr if output else sys.stdout)


def _name(key: tuple[str, str, str, str]) -> str:
    """kubectl's `-o name` spelling: kind[.group]/name."""
    kind = key[1].lower() if key[0] == "core" else f"{key[1].lower()}.{key[0]}"
    return f"{kind}/{key[3]}"


@flags.live_command()
def status(
    live: LiveConfig,
    output: Annotated[str | None, typer.Option("--output", "-o", help="wide, yaml or json.")] = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when anything is not in sync (a CI gate).")
    ] = False,
) -> None:
    """What is mirrored where, and what drifted."""
    from kubectl_mirror.cli.status_view import rows_of, table, wide

    _check_choice(output, (None, "wide", "yaml", "json"), "--output")
    cluster, plan = _plan(live)
    print_results(plan.results)
    rows = rows_of(plan, _consumers(cluster, plan) if output == "wide" else None)
    if output in ("yaml", "json"):
        from kubectl_mirror.io.emit import json_list, yaml_stream

        docs = [r.as_dict() for r in rows]
        sys.stdout.write(yaml_stream(docs) if output == "yaml" else json_list(docs))
    else:
        sys.stdout.write(wide(rows) if output == "wide" else table(rows))
    if _failed(plan) or (exit_code and any(not r.in_sync for r in rows)):
        raise typer.Exit(1)


def _consumers(cluster: Cluster, plan: LivePlan) -> dict[Key, tuple[Consumer, ...]]:
    """Per live mirror, the workloads whose pod template uses it (read where mirrors are)."""
    from kubectl_mirror.cli.status_view import by_mirror
    from kubectl_mirror.engine.rollouts import consumers
    from kubectl_mirror.live.rollout import read_workloads

    mirrors = plan.state.mirrors
    workloads, warnings = read_workloads(cluster, {key.namespace for key in mirrors})
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return by_mirror(consumers(workloads, mirrors))


@flags.live_command()
def diff(
    live: LiveConfig,
    show_secrets: flags.ShowSecrets = False,
) -> None:
    """Show, like `kubectl diff`, what `sync` would change, and the workloads `sync --rollout`
    (or `watch`) would roll out. Exits 1 when there are changes."""
    from kubectl_mirror.cli.diffs import diff_text, rollout_diff_text
    from kubectl_mirror.live.rollout import pending_changes
    from kubectl_mirror.live.rollout import plan as plan_rollouts

    cluster, plan = _plan(live)
    print_results(plan.results)
    text = diff_text(plan.actions, show_secrets)
    changes = pending_changes(plan.actions)
    if changes:
        rollouts, warnings = plan_rollouts(cluster, changes)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        text += rollout_diff_text(rollouts)
    sys.stdout.write(text)
    if any(r.severity == "error" for r in plan.results):
        raise typer.Exit(2)
    raise typer.Exit(1 if text else 0)


@flags.live_command(concurrency=flags.DEFAULT_CONCURRENCY)
def prune(
    live: LiveConfig,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Act: delete or mark stale. Default: only list.")
    ] = False,
    dry_run: DryRunOpt = "none",
    output: OutputOpt = None,
) -> None:
    """Find mirrors nothing selects any more; with --yes, delete them (or mark them stale)."""
    from kubectl_mirror.live.execute import Executor, Report

    _check_choice(dry_run, ("none", "client", "server"), "--dry-run")
    _check_choice(output, (None, "name"), "--output")
    cluster, plan = _plan(live)
    print_results(plan.results)
    if not yes:
        for action in plan.prune:
            name = _name(action.key)
            print(
                name
                if output == "name"
                else f"{name} -n {action.key[2]} would be {_planned(action)} ({action.reason})"
            )
        if not plan.prune:
            print("nothing to prune", file=sys.stderr)
        elif output != "name":
            print(f"{len(plan.prune)} mirror(s) to prune; run again with --yes to act", file=sys.stderr)
        raise typer.Exit(1 if _failed(plan) else 0)
    report = Report()
    executor = Executor(
        cluster, lambda a: plan.state.resource(a.key), dry_run=_dry_run(dry_run), concurrency=live.concurrency
    )
    executor.run(plan.prune, report)
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
    for action, word in report.done:
        if word != "failed":
            print(
                _name(action.key)
                if output == "name"
                else f"{_name(action.key)} -n {action.key[2]} {word}{suffix}"
            )
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    raise typer.Exit(1 if report.errors or _failed(plan) else 0)


def _failed(plan: LivePlan) -> bool:
    """Any `error:` line printed means exit code 1."""
    return any(r.severity == "error" for r in plan.results)


def _planned(action: Action) -> str:
    return "marked stale" if action.verb == "mark-stale" else "deleted"
