"""The metrics registry renders text exposition 0.0.4 that a strict parser reads back."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter as Tally
from dataclasses import dataclass, field

import pytest

from kubectl_mirror.watch.metrics import (
    CONTENT_TYPE,
    ControllerMetrics,
    Counter,
    Gauge,
    Histogram,
    Registry,
)

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


@dataclass
class Family:
    help: str = ""
    type: str = ""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], text)


def parse(text: str) -> dict[str, Family]:
    """A strict reader of the text format: every line must be HELP, TYPE or a sample of a
    family declared before it, and each sample may appear once."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert name not in families, f"{name} declared twice"
            families[name] = Family(help=_unescape(help_))
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            families[name].type = kind
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, raw_labels, raw_value = m.groups()
            labels: list[tuple[str, str]] = []
            rest = raw_labels or ""
            while rest:
                lm = LABEL.match(rest)
                assert lm, f"bad labels in {line!r}"
                labels.append((lm.group(1), _unescape(lm.group(2))))
                rest = rest[lm.end() :]
            family = next(f for n, f in families.items() if name == n or name.startswith(n + "_"))
            key = (name, tuple(labels))
            assert key not in family.samples, f"duplicate sample {line!r}"
            family.samples[key] = float(raw_value)
    return families


def test_counter_renders_help_type_and_one_sample_per_label_set() -> None:
    registry = Registry()
    c = registry.register(Counter("things_total", "Things done.", ["result"]))
    c.inc(result="ok")
    c.inc(2, result="ok")
    c.inc(result="failed")

    assert registry.render() == (
        "# HELP things_total Things done.\n"
        "# TYPE things_total counter\n"
        'things_total{result="failed"} 1\n'
        'things_total{result="ok"} 3\n'
    )
    assert c.value(result="ok") == 3


def test_label_values_and_help_are_escaped() -> None:
    registry = Registry()
    c = registry.register(Counter("odd_total", 'Help with \\ and\na newline and "quotes".', ["path"]))
    c.inc(path='C:\\dir\n"quoted"')

    text = registry.render()
    assert '# HELP odd_total Help with \\\\ and\\na newline and "quotes".\n' in text
    assert 'odd_total{path="C:\\\\dir\\n\\"quoted\\""} 1\n' in text
    family = parse(text)["odd_total"]
    assert family.help == 'Help with \\ and\na newline and "quotes".'
    assert family.samples == {("odd_total", (("path", 'C:\\dir\n"quoted"'),)): 1.0}


def test_counters_refuse_to_go_down_and_wrong_labels() -> None:
    c = Counter("c_total", "c", ["a"])
    with pytest.raises(ValueError, match="cannot decrease"):
        c.inc(-1, a="x")
    with pytest.raises(ValueError, match="takes labels"):
        c.inc(b="x")
    with pytest.raises(ValueError, match="takes labels"):
        c.inc()


def test_gauge_set_inc_dec_and_set_function() -> None:
    registry = Registry()
    g = registry.register(Gauge("depth", "Depth."))
    g.set(5)
    g.inc(2)
    g.dec(0.5)
    assert g.value() == 6.5
    items = [1, 2, 3]
    g.set_function(lambda: len(items))
    items.append(4)
    assert parse(registry.render())["depth"].samples == {("depth", ()): 4.0}


def test_set_function_is_for_unlabeled_gauges_only() -> None:
    with pytest.raises(ValueError, match="has labels"):
        Gauge("g", "g", ["x"]).set_function(lambda: 1.0)


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    registry = Registry()
    h = registry.register(Histogram("took_seconds", "Took.", buckets=[1, 0.1, 10]))
    for value in (0.05, 0.1, 0.5, 3, 100):
        h.observe(value)

    family = parse(registry.render())["took_seconds"]
    assert family.type == "histogram"
    assert family.samples == {
        ("took_seconds_bucket", (("le", "0.1"),)): 2.0,
        ("took_seconds_bucket", (("le", "1"),)): 3.0,
        ("took_seconds_bucket", (("le", "10"),)): 4.0,
        ("took_seconds_bucket", (("le", "+Inf"),)): 5.0,
        ("took_seconds_sum", ()): pytest.approx(103.65),
        ("took_seconds_count", ()): 5.0,
    }


def test_histogram_time_observes_the_block() -> None:
    h = Histogram("t_seconds", "t", buckets=[60])
    with h.time():
        pass
    assert [v for s, _, v in h.samples() if s == "_count"] == [1.0]


def test_a_name_registers_once() -> None:
    registry = Registry()
    registry.register(Gauge("x", "x"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Counter("x", "x"))


def test_numbers_use_the_formats_prometheus_reads() -> None:
    registry = Registry()
    g = registry.register(Gauge("v", "v", ["k"]))
    g.set(math.inf, k="inf")
    g.set(-math.inf, k="neg")
    g.set(math.nan, k="nan")
    g.set(0.25, k="frac")
    g.set(1e20, k="big")
    text = registry.render()
    assert 'v{k="inf"} +Inf\n' in text
    assert 'v{k="neg"} -Inf\n' in text
    assert 'v{k="nan"} NaN\n' in text
    assert 'v{k="frac"} 0.25\n' in text
    assert 'v{k="big"} 1e+20\n' in text


def test_controller_metrics_expose_every_documented_name() -> None:
    m = ControllerMetrics()
    families = parse(m.render())

    assert {name: f.type for name, f in families.items()} == {
        "kubectl_mirror_reconciles_total": "counter",
        "kubectl_mirror_reconcile_duration_seconds": "histogram",
        "kubectl_mirror_mirrors_managed": "gauge",
        "kubectl_mirror_queue_depth": "gauge",
        "kubectl_mirror_watch_restarts_total": "counter",
        "kubectl_mirror_api_requests_total": "counter",
        "kubectl_mirror_leader": "gauge",
        "kubectl_mirror_rollouts_total": "counter",
    }
    assert all(f.help for f in families.values())
    # Every result exists at 0 from the start, so rate() sees the first failure.
    reconciles = families["kubectl_mirror_reconciles_total"].samples
    assert reconciles == {
        ("kubectl_mirror_reconciles_total", (("result", r),)): 0.0
        for r in ("changed", "conflict", "error", "unchanged", "waiting", "yielded")
    }


def test_controller_metrics_follow_the_controller() -> None:
    m = ControllerMetrics()
    queue = ["a", "b"]
    leading = [False]
    m.queue_depth.set_function(lambda: len(queue))
    m.leader.set_function(lambda: float(leading[0]))
    m.mirrors_managed.set(200)
    m.reconciles.inc(result="changed")
    m.reconcile_duration.observe(0.02)
    m.watch_restarts.inc(resource="secrets", reason="expired")
    controller_requests: Tally[str] = Tally({"get/list": 3, "watch": 2})
    elector_requests: Tally[str] = Tally({"get/list": 5, "update": 4})
    m.count_requests_of(controller_requests, elector_requests)
    controller_requests["patch"] += 1
    leading[0] = True

    samples = {k: v for f in parse(m.render()).values() for k, v in f.samples.items()}

    assert samples[("kubectl_mirror_queue_depth", ())] == 2
    assert samples[("kubectl_mirror_leader", ())] == 1
    assert samples[("kubectl_mirror_mirrors_managed", ())] == 200
    assert samples[("kubectl_mirror_reconciles_total", (("result", "changed"),))] == 1
    assert samples[("kubectl_mirror_reconcile_duration_seconds_count", ())] == 1
    assert samples[("kubectl_mirror_reconcile_duration_seconds_bucket", (("le", "0.025"),))] == 1
    assert samples[("kubectl_mirror_reconcile_duration_seconds_bucket", (("le", "0.01"),))] == 0
    assert (
        samples[("kubectl_mirror_watch_restarts_total", (("resource", "secrets"), ("reason", "expired")))]
        == 1
    )
    requests = {k[1][0][1]: v for k, v in samples.items() if k[0] == "kubectl_mirror_api_requests_total"}
    assert requests == {"get/list": 8, "watch": 2, "update": 4, "patch": 1}
    assert m.api_requests.value(verb="get/list") == 8
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_updates_from_many_threads_are_not_lost() -> None:
    m = ControllerMetrics()

    def work() -> None:
        for _ in range(2000):
            m.reconciles.inc(result="unchanged")
            m.reconcile_duration.observe(0.001)
            m.queue_depth.inc()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for _ in range(20):
        parse(m.render())  # rendering while others write never breaks the format
    for t in threads:
        t.join()
    assert m.reconciles.value(result="unchanged") == 16000
    assert m.queue_depth.value() == 16000
    assert [v for s, _, v in m.reconcile_duration.samples() if s == "_count"] == [16000]
