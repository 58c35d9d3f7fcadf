"""`LiveConfig`: everything a live command was told on its command line about the cluster and
the engine, checked once and frozen. `sync`, `status`, `diff`, `prune`, `can-i` and `watch` all
start from one (cli/flags.py builds it from kubectl's flags, declared once), so a flag means the
same thing in every command and nothing passes loose dictionaries around."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.io.cluster import Cluster, ClusterOptions, connect
from kubectl_mirror.live.state import Scope


@dataclass(frozen=True)
class LiveConfig:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None  # -n; None: the context's
    all_namespaces: bool = False
    selector: str = ""
    request_timeout: float | None = None
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    qps: float = 0.0  # client-side rate limit (0: none)
    burst: int = 10
    concurrency: int = 1  # writes in flight at once
    engine: EngineOptions = field(default_factory=EngineOptions)

    def cluster_options(self) -> ClusterOptions:
        return ClusterOptions(
            kubeconfig=self.kubeconfig,
            context=self.context,
            namespace=self.namespace,
            request_timeout=self.request_timeout,
            qps=self.qps,
            burst=self.burst,
            impersonate=self.impersonate,
            impersonate_groups=self.impersonate_groups,
            pool_size=max(128, 4 * self.concurrency),
        )

    def connect(self) -> tuple[Cluster, Scope]:
        """The cluster and the scope of sources; -A wins over -n, as in kubectl."""
        cluster = connect(self.cluster_options())
        return cluster, Scope(None if self.all_namespaces else cluster.namespace, self.selector)
