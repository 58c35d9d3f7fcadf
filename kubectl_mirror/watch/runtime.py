"""Everything around the controller that an operator runs it with: metrics, health endpoints,
leader election, and an orderly shutdown (in-flight work first, then the Lease)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from kubectl_mirror.io.cluster import Cluster, connect
from kubectl_mirror.watch.health import HTTPServerHandle, probe_routes, serve
from kubectl_mirror.watch.metrics import ControllerMetrics

log = logging.getLogger("kubectl_mirror.watch")


@dataclass
class Runtime:
    cluster: Cluster
    stop: threading.Event
    controller: Any = None
    metrics: ControllerMetrics = field(default_factory=ControllerMetrics)
    elector: Any = None
    servers: list[HTTPServerHandle] = field(default_factory=list)
    _restarts_seen: dict[tuple[int, str], int] = field(default_factory=dict)
    _elector_thread: threading.Thread | None = None

    def observe_reconcile(self, result: str, seconds: float) -> None:
        self.metrics.reconciles.inc(result=result)
        self.metrics.reconcile_duration.observe(seconds)

    def is_leader(self) -> bool:
        return self.elector is None or bool(self.elector.is_leader)

    # -- health ------------------------------------------------------------------------------

    def serve(self, *, metrics_addr: str | None, health_addr: str | None) -> None:
        self.metrics.count_requests_of(self.cluster.requests)
        self.metrics.leader.set_function(lambda: 1.0 if self.is_leader() else 0.0)
        self.metrics.mirrors_managed.set_function(
            lambda: float(self.controller.mirror_count()) if self.controller else 0.0
        )
        self.metrics.queue_depth.set_function(
            lambda: float(len(self.controller.queue)) if self.controller else 0.0
        )
        prometheus = {"/metrics": "text/plain; version=0.0.4; charset=utf-8"}
        if metrics_addr:
            handle = serve(
                metrics_addr,
                routes={"/metrics": lambda: (200, self.metrics.render())},
                content_types=prometheus,
            )
            self.servers.append(handle)
            log.info("metrics on %s:%d", handle.host, handle.port)
        if health_addr:
            routes = probe_routes(
                synced=lambda: self.controller is not None and self.controller.synced,
                stalled=lambda: self.controller.stalled() if self.controller else [],
                stopping=self.stop.is_set,
            )
            handle = serve(health_addr, routes=routes)
            self.servers.append(handle)
            log.info("health on %s:%d", handle.host, handle.port)

    def tick(self) -> None:
        """Copy informer restart counts into the metric (informers count; metrics publish)."""
        if self.controller is None:
            return
        # Several informers may watch one resource (one per label selector): count each its own.
        for informer in list(self.controller.informers):
            for reason, n in list(informer.restarts.items()):
                key = (id(informer), reason)
                seen = self._restarts_seen.get(key, 0)
                if n > seen:
                    self.metrics.watch_restarts.inc(
                        n - seen, resource=informer.resource.plural, reason=reason
                    )
                    self._restarts_seen[key] = n

    # -- leader election ---------------------------------------------------------------------

    def elect(self, *, namespace: str, name: str, identity: str, lease_duration: float) -> None:
        from kubectl_mirror.watch.leader import LeaderElector, election_options

        renew = lease_duration * 2 / 3
        own = connect(election_options(self.cluster.options, renew_deadline=renew))
        self.metrics.count_requests_of(self.cluster.requests, own.requests)
        self.elector = LeaderElector(
            own,
            namespace=namespace,
            name=name,
            identity=identity,
            lease_duration=lease_duration,
            renew_deadline=renew,
            retry_period=max(0.2, lease_duration / 7.5),
        )
        self._elector_thread = threading.Thread(
            target=self.elector.run,
            args=(
                self.stop,
                lambda: log.info("became leader (%s)", identity),
                lambda: log.info("stopped leading"),
            ),
            name="leader-election",
            daemon=True,
        )
        self._elector_thread.start()

    def shutdown(self) -> None:
        if self._elector_thread is not None:
            self._elector_thread.join(5.0)
        if self.elector is not None and self.elector.release():
            log.info("released the lease")
        for server in self.servers:
            server.close()
