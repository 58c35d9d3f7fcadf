"""Flags shared by the live commands, spelled as kubectl spells them.

kubectl passes everything after `mirror` to us and rejects flags placed before the plugin
name, so every live command accepts the global flags itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.errors import InputError, Ref

if TYPE_CHECKING:
    from kubectl_mirror.io.cluster import Cluster
    from kubectl_mirror.live.state import Scope

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
As = Annotated[
    str | None, typer.Option("--as", help="Username to impersonate for the operation (as kubectl --as).")
]
AsGroup = Annotated[
    list[str] | None,
    typer.Option("--as-group", help="Group to impersonate (repeatable; needs --as, as in kubectl)."),
]
ShowSecrets = Annotated[
    bool, typer.Option("--show-secrets", help="Show Secret values instead of masking them.")
]


def engine_options(
    *,
    max_targets: int,
    allow_kinds: list[str] | None,
    include_namespaces: list[str] | None,
    exclude_namespaces: list[str] | None,
) -> EngineOptions:
    from kubectl_mirror.options import RawOptions, build_engine_options

    raw = {
        "max-targets": max_targets,
        "allow-kinds": allow_kinds,
        "include-namespaces": include_namespaces,
        "exclude-namespaces": exclude_namespaces,
    }
    return build_engine_options(RawOptions({k: v for k, v in raw.items() if v is not None}))


def connect(
    *,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    selector: str | None,
    request_timeout: str | None,
    qps: float = 0.0,
    burst: int = 10,
    impersonate: str | None = None,
    impersonate_groups: list[str] | None = None,
) -> tuple[Cluster, Scope]:
    """The cluster and the scope of sources; -A wins over -n, as in kubectl."""
    from kubectl_mirror.engine.selectors import SelectorError, parse_selector
    from kubectl_mirror.io.cluster import ClusterOptions, parse_timeout
    from kubectl_mirror.io.cluster import connect as open_cluster
    from kubectl_mirror.live.state import Scope

    if selector:
        try:
            parse_selector(selector)
        except SelectorError as err:
            raise InputError(f"invalid label selector: {err}", Ref(), "--selector") from err
    if impersonate_groups and not impersonate:
        raise InputError("impersonating groups needs a user to impersonate as well", Ref(), "--as-group")
    cluster = open_cluster(
        ClusterOptions(
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
            request_timeout=parse_timeout(request_timeout),
            qps=qps,
            burst=burst,
            impersonate=impersonate or None,
            impersonate_groups=tuple(impersonate_groups or ()),
        )
    )
    scope = Scope(None if all_namespaces else cluster.namespace, selector or "")
    return cluster, scope
