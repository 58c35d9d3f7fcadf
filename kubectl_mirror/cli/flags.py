"""kubectl's flags for the live commands, declared once.

kubectl passes everything after `mirror` to us and rejects flags placed before the plugin
name, so every live command accepts the global flags itself. Rather than repeat them in every
signature, `@live_command()` adds them to the command's signature (Typer reads the signature)
and hands the command one checked, frozen `LiveConfig` instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.errors import InputError, Ref

if TYPE_CHECKING:
    from kubectl_mirror.live.config import LiveConfig

Kubeconfig = Annotated[str | None, typer.Option("--kubeconfig", help="Path to the kubeconfig file.")]
Context = Annotated[str | None, typer.Option("--context", help="The kubeconfig context to use.")]
Namespace = Annotated[
    str | None, typer.Option("--namespace", "-n", help="Sources in this namespace (default: the context's).")
]
AllNamespaces = Annotated[bool, typer.Option("--all-namespaces", "-A", help="Sources in every namespace.")]
Selector = Annotated[
    str | None, typer.Option("--selector", "-l", help="Label selector over sources (=, ==, !=, in, notin).")
]
RequestTimeout = Annotated[
    str | None, typer.Option("--request-timeout", help="Per-request timeout (e.g. 30s; 0 = none).")
]
As = Annotated[
    str | None, typer.Option("--as", help="Username to impersonate for the operation (as kubectl --as).")
]
AsGroup = Annotated[
    list[str] | None,
    typer.Option("--as-group", help="Group to impersonate (repeatable; needs --as, as in kubectl)."),
]
MaxTargets = Annotated[int, typer.Option("--max-targets", help="Most target namespaces per source.")]
AllowKinds = Annotated[
    list[str] | None, typer.Option("--allow-kinds", help="Kinds denied by default to allow (e.g. Role).")
]
IncludeNamespaces = Annotated[
    list[str] | None, typer.Option("--include-namespaces", help="Only these (globs) may receive mirrors.")
]
ExcludeNamespaces = Annotated[
    list[str] | None, typer.Option("--exclude-namespaces", help="These (globs) never receive mirrors.")
]
Qps = Annotated[float, typer.Option("--qps", help="API requests per second (client-side limit; 0: none).")]
Burst = Annotated[int, typer.Option("--burst", help="Requests allowed above --qps in a burst.")]
Concurrency = Annotated[int, typer.Option("--concurrency", help="Writes in flight at once.")]
ShowSecrets = Annotated[
    bool, typer.Option("--show-secrets", help="Show Secret values instead of masking them.")
]


@dataclass(frozen=True)
class Flag:
    name: str
    annotation: Any
    default: Any


# (name, annotation, default), in the order `--help` lists them.
CLUSTER_FLAGS = (
    Flag("kubeconfig", Kubeconfig, None),
    Flag("context", Context, None),
    Flag("namespace", Namespace, None),
    Flag("all_namespaces", AllNamespaces, False),
    Flag("request_timeout", RequestTimeout, None),
    Flag("as_user", As, None),
    Flag("as_group", AsGroup, None),
)
SELECTOR_FLAG = Flag("selector", Selector, None)
ENGINE_FLAGS = (
    Flag("max_targets", MaxTargets, 100),
    Flag("allow_kinds", AllowKinds, None),
    Flag("include_namespaces", IncludeNamespaces, None),
    Flag("exclude_namespaces", ExcludeNamespaces, None),
)

F = TypeVar("F", bound=Callable[..., Any])

# Writes in flight at once for sync, prune and each watch worker: chosen by bench/sync.py
# --concurrency on a real kube-apiserver (docs/operations.md, "Write concurrency").
DEFAULT_CONCURRENCY = 16


def live_command(
    *,
    selector: bool = True,
    engine: bool = True,
    qps: float | None = None,
    burst: int = 10,
    concurrency: int | None = None,
) -> Callable[[F], F]:
    """Give a command kubectl's cluster flags (and -l, the engine's flags, --qps/--burst and
    --concurrency, where it takes them) in place of its `live: LiveConfig` parameter.

    `qps` and `concurrency` are the defaults of those flags; None leaves the flag out."""
    shared = [*CLUSTER_FLAGS, *([SELECTOR_FLAG] if selector else []), *(ENGINE_FLAGS if engine else ())]
    if qps is not None:
        shared += [Flag("qps", Qps, qps), Flag("burst", Burst, burst)]
    if concurrency is not None:
        shared.append(Flag("concurrency", Concurrency, concurrency))
    names = {f.name for f in shared}

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        own = [_resolved(p, command) for p in signature.parameters.values() if p.name != "live"]
        keyword = inspect.Parameter.KEYWORD_ONLY
        added = [
            inspect.Parameter(f.name, keyword, default=f.default, annotation=f.annotation) for f in shared
        ]

        @functools.wraps(command)
        def run(**given: Any) -> Any:
            values = {name: given.pop(name) for name in names}
            return command(live=_config(values, default_burst=burst), **given)

        own_kw = [p.replace(kind=keyword) for p in own]
        # Typer reads the parameters, with their annotations, from the signature.
        parameters = [*added, *own_kw]
        run.__dict__["__signature__"] = signature.replace(parameters=parameters, return_annotation=None)
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return cast(F, run)

    return decorate


def _resolved(param: inspect.Parameter, command: Callable[..., Any]) -> inspect.Parameter:
    """The parameter with its annotation evaluated (modules here use postponed annotations)."""
    if not isinstance(param.annotation, str):
        return param
    return param.replace(annotation=eval(param.annotation, command.__globals__))


def _config(values: dict[str, Any], *, default_burst: int) -> LiveConfig:
    """Check what needs checking once, and freeze it."""
    from kubectl_mirror.engine.selectors import SelectorError, parse_selector
    from kubectl_mirror.io.cluster import parse_timeout
    from kubectl_mirror.live.config import LiveConfig

    selector = values.get("selector") or ""
    if selector:
        try:
            parse_selector(selector)
        except SelectorError as err:
            raise InputError(f"invalid label selector: {err}", Ref(), "--selector") from err
    groups = tuple(values.get("as_group") or ())
    if groups and not values.get("as_user"):
        raise InputError("impersonating groups needs a user to impersonate as well", Ref(), "--as-group")
    concurrency = int(values.get("concurrency", 1))
    if concurrency < 1:
        raise InputError(f"must be at least 1, got {concurrency}", Ref(), "--concurrency")
    return LiveConfig(
        kubeconfig=values["kubeconfig"],
        context=values["context"],
        namespace=values["namespace"],
        all_namespaces=bool(values["all_namespaces"]),
        selector=selector,
        request_timeout=parse_timeout(values["request_timeout"]),
        impersonate=values.get("as_user") or None,
        impersonate_groups=groups,
        qps=float(values.get("qps", 0.0)),
        burst=int(values.get("burst", default_burst)),
        concurrency=concurrency,
        engine=_engine_options(values) if "max_targets" in values else EngineOptions(),
    )


def _engine_options(values: dict[str, Any]) -> EngineOptions:
    from kubectl_mirror.options import RawOptions, build_engine_options

    raw = {
        "max-targets": values["max_targets"],
        "allow-kinds": values["allow_kinds"],
        "include-namespaces": values["include_namespaces"],
        "exclude-namespaces": values["exclude_namespaces"],
    }
    return build_engine_options(RawOptions({k: v for k, v in raw.items() if v is not None}))
