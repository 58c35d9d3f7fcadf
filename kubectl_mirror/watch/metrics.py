"""Prometheus metrics for the controller, without a dependency on `prometheus_client`.

The controller exposes a handful of metrics; a full client library (and its multiprocess,
push-gateway and OpenMetrics machinery) would outweigh them. This module holds a tiny registry
rendering the text exposition format 0.0.4, which every Prometheus-compatible scraper reads.
It does no I/O: `health.serve` puts `Registry.render` on `/metrics`.

All metrics are safe to update from any thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Reconciles take milliseconds (nothing to do) to tens of seconds (a source with thousands of
# targets against a throttled API server); controller-runtime's buckets cover the same range.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# What Controller.reconcile reports: it wrote something, found everything in sync, or failed
# (the source is retried with backoff). Conflicts are not failures: they are Events on the source.
RECONCILE_RESULTS = (
    "changed",
    "unchanged",
    "conflict",
    "yielded",
    "waiting",
    "error",
)  # watch/reconciler.Outcome

LabelValues = tuple[str, ...]
Sample = tuple[str, LabelValues, float]  # suffix, label values, value


class Metric:
    """A named family of samples keyed by label values; subclasses say how values change."""

    kind = "untyped"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()
        self._values: dict[LabelValues, float] = {}
        self._collect: Callable[[], Mapping[LabelValues, float]] | None = None

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def collect_from(self, fn: Callable[[], Mapping[LabelValues, float]]) -> None:
        """Read the values from `fn` at every scrape (label values in `labelnames` order).

        For counts kept elsewhere, e.g. `Cluster.requests`: copying them on every change
        would put this module on the hot path of every API call."""
        self._collect = fn

    def value(self, **labels: str) -> float:
        key = self._key(labels)
        return self._current().get(key, 0.0)

    def _current(self) -> dict[LabelValues, float]:
        if self._collect is not None:
            return {tuple(k): float(v) for k, v in self._collect().items()}
        with self._lock:
            return dict(self._values)

    def samples(self) -> list[Sample]:
        return [("", key, value) for key, value in sorted(self._current().items())]


class Counter(Metric):
    """A value that only goes up (restarts reset it; Prometheus' rate() copes)."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter cannot decrease")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def touch(self, **labels: str) -> None:
        """Make a label combination visible at 0, so rate() sees its first increment."""
        self.inc(0.0, **labels)


class Gauge(Metric):
    """A value that goes up and down."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def set_function(self, fn: Callable[[], float]) -> None:
        """Read an unlabeled gauge from `fn` at every scrape (queue length, cache size...)."""
        if self.labelnames:
            raise ValueError(f"{self.name} has labels; use collect_from")
        self.collect_from(lambda: {(): fn()})


class Histogram(Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        super().__init__(name, help)
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds:
            raise ValueError("a histogram needs at least one finite bucket")
        self.buckets = (*bounds, math.inf)
        self._counts = [0] * len(self.buckets)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        with self._lock:
            self._sum += value
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[i] += 1
                    break

    @contextmanager
    def time(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - start)

    def samples(self) -> list[Sample]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        out: list[Sample] = []
        running = 0
        for bound, count in zip(self.buckets, counts, strict=True):
            running += count
            out.append(("_bucket", (_number(bound),), float(running)))
        out.append(("_sum", (), total))
        out.append(("_count", (), float(running)))
        return out


M = TypeVar("M", bound=Metric)


class Registry:
    """Metrics in registration order, rendered as one exposition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}

    def register(self, metric: M) -> M:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"metric {metric.name} is already registered")
            self._metrics[metric.name] = metric
        return metric

    def render(self) -> str:
        with self._lock:
            metrics = list(self._metrics.values())
        lines: list[str] = []
        for metric in metrics:
            lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            names = metric.labelnames
            for suffix, values, value in metric.samples():
                label_names = ("le",) if suffix == "_bucket" else names
                lines.append(f"{metric.name}{suffix}{_labels(label_names, values)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


@dataclass
class ControllerMetrics:
    """The metrics `kubectl mirror watch` exposes; names are documented in docs/operations.md."""

    registry: Registry = field(default_factory=Registry)
    reconciles: Counter = field(init=False)
    reconcile_duration: Histogram = field(init=False)
    mirrors_managed: Gauge = field(init=False)
    queue_depth: Gauge = field(init=False)
    watch_restarts: Counter = field(init=False)
    api_requests: Counter = field(init=False)
    leader: Gauge = field(init=False)
    rollouts: Counter = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconciles = r.register(
            Counter("kubectl_mirror_reconciles_total", "Reconciles of a source, by result.", ["result"])
        )
        for result in RECONCILE_RESULTS:
            self.reconciles.touch(result=result)
        self.reconcile_duration = r.register(
            Histogram("kubectl_mirror_reconcile_duration_seconds", "Time one reconcile of a source took.")
        )
        self.mirrors_managed = r.register(
            Gauge("kubectl_mirror_mirrors_managed", "Mirrors the controller currently manages.")
        )
        self.queue_depth = r.register(
            Gauge("kubectl_mirror_queue_depth", "Sources waiting in the work queue.")
        )
        self.watch_restarts = r.register(
            Counter(
                "kubectl_mirror_watch_restarts_total",
                "Watches restarted, by resource and reason (expired, error, closed...).",
                ["resource", "reason"],
            )
        )
        self.api_requests = r.register(
            Counter("kubectl_mirror_api_requests_total", "Kubernetes API requests sent, by verb.", ["verb"])
        )
        self.leader = r.register(
            Gauge("kubectl_mirror_leader", "1 while this replica holds the leader Lease, else 0.")
        )
        self.rollouts = r.register(
            Counter(
                "kubectl_mirror_rollouts_total",
                "Workloads rolled out because the data of a mirror they use changed, by namespace and kind.",
                ["namespace", "kind"],
            )
        )

    def count_requests_of(self, *counts: Mapping[str, int]) -> None:
        """Feed `kubectl_mirror_api_requests_total` from `Cluster.requests` (one per Cluster).

        Several Clusters (the controller's and the leader elector's) are summed by verb."""

        def collect() -> dict[LabelValues, float]:
            total: dict[LabelValues, float] = {}
            for c in counts:
                for verb, n in dict(c).items():  # dict() first: a snapshot under the GIL
                    total[(verb,)] = total.get((verb,), 0.0) + n
            return total

        self.api_requests.collect_from(collect)

    def render(self) -> str:
        return self.registry.render()
