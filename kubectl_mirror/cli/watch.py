"""`kubectl mirror watch`: the live controller, on a laptop or as a Deployment."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from kubectl_mirror.cli import flags
from kubectl_mirror.cli.flags import DEFAULT_CONCURRENCY
from kubectl_mirror.errors import InputError, Ref

if TYPE_CHECKING:
    from kubectl_mirror.live.config import LiveConfig


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)


@flags.live_command(selector=False, qps=0.0, burst=40, concurrency=DEFAULT_CONCURRENCY)
def watch(
    live: LiveConfig,
    workers: Annotated[int, typer.Option("--workers", help="Sources reconciled in parallel.")] = 2,
    resync_period: Annotated[
        float,
        typer.Option("--resync-period", help="Seconds between full re-checks (no writes when in sync)."),
    ] = 300.0,
    rediscover_period: Annotated[
        float,
        typer.Option(
            "--rediscovery-period",
            help="Seconds between looks for kinds to watch (CRD changes also trigger one at once).",
        ),
    ] = 3600.0,
    source_namespaces: Annotated[
        list[str] | None,
        typer.Option("--source-namespaces", help="Globs: namespaces allowed to publish sources."),
    ] = None,
    require_consent: Annotated[
        bool,
        typer.Option(
            "--require-consent", help="Mirror only into namespaces labeled kubectl-mirror.io/accept=true."
        ),
    ] = False,
    leader_elect: Annotated[
        bool, typer.Option("--leader-elect", help="Only the Lease holder writes.")
    ] = False,
    lease_namespace: Annotated[
        str | None,
        typer.Option("--lease-namespace", help="Namespace of the Lease (default: -n or the pod's)."),
    ] = None,
    lease_name: Annotated[str, typer.Option("--lease-name", help="Name of the Lease.")] = "kubectl-mirror",
    lease_duration: Annotated[
        float, typer.Option("--lease-duration", help="Seconds a Lease is valid.")
    ] = 15.0,
    metrics_addr: Annotated[
        str | None, typer.Option("--metrics-addr", help="Serve Prometheus metrics here (e.g. :8080).")
    ] = None,
    health_addr: Annotated[
        str | None, typer.Option("--health-addr", help="Serve /healthz and /readyz here (e.g. :8081).")
    ] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="text or json.")] = "text",
    stall_after: Annotated[
        float, typer.Option("--watch-stall-timeout", help="Restart a watch silent for this many seconds.")
    ] = 180.0,
) -> None:
    """Keep mirrors in sync continuously (a controller)."""
    from kubectl_mirror.cli.logs import setup_logging
    from kubectl_mirror.engine.globs import GlobError, compile_glob
    from kubectl_mirror.watch.manager import Manager, WatchConfig

    if log_format not in ("text", "json"):
        raise InputError(f"unknown log format {log_format!r} (text or json)", Ref(), "--log-format")
    source_namespaces = [p for entry in source_namespaces or [] for p in entry.split(",") if p.strip()]
    for pattern in source_namespaces:
        try:
            compile_glob(pattern)
        except GlobError as err:
            raise InputError(f"invalid glob {pattern!r}: {err}", Ref(), "--source-namespaces") from err
    setup_logging(log_format)
    cluster, scope = live.connect()
    patterns = tuple(source_namespaces) or ((scope.namespace,) if scope.namespace else ())
    config = WatchConfig(
        workers=workers,
        resync_period=resync_period,
        source_namespaces=patterns,
        require_consent=require_consent,
        stall_after=stall_after,
        rediscover_period=rediscover_period,
        metrics_addr=metrics_addr,
        health_addr=health_addr,
        leader_elect=leader_elect,
        lease_namespace=lease_namespace,
        lease_name=lease_name,
        lease_duration=lease_duration,
    )
    Manager(live, config, cluster=cluster).run()
    sys.exit(0)
