"""Time budgets per source and per run, on an injected clock: deterministic, never timed."""

from __future__ import annotations

from typing import Any

import yaml

from kubectl_mirror.engine.model import EngineOptions, Host, Limits, NamespaceInfo
from kubectl_mirror.engine.plan import Item, classify, render_all, render_source
from kubectl_mirror.engine.render import Source
from tests.helpers import ns, source


class FakeClock:
    """Advances by `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


# 50 loop steps: each reads the clock once, so one render costs 50 reads of fake time.
SLOW = '- path: data.x\n  template: "{% for i in range(50) %}x{% endfor %}"\n'
TEAMS = [ns(f"team-{i}") for i in range(10)]


def options(clock: FakeClock, **limits: int) -> EngineOptions:
    # Each template alone may take as long as it likes here: the budgets above it are under test.
    limits.setdefault("template_time_budget_ms", 100_000)
    return EngineOptions(host=Host(parse_yaml=yaml.safe_load, clock=clock), limits=Limits(**limits))


def slow(name: str, *, strict: bool = False) -> dict[str, Any]:
    annotations = {"kubectl-mirror.io/transform": SLOW}
    if strict:
        annotations["kubectl-mirror.io/transform-strict"] = "true"
    return source(name, targets="team-*", annotations=annotations)


def run(*objs: dict[str, Any], clock: FakeClock, **limits: int) -> Any:
    return render_all([Item(o, "in.yaml") for o in (*objs, ns("platform"), *TEAMS)], options(clock, **limits))


def test_a_source_over_its_budget_fails_alone_even_when_not_strict() -> None:
    clock = FakeClock(0.01)  # one render = 0.5 s of fake time; ten targets = 5 s
    outcome = run(
        slow("a-slow"), source("b-plain", targets="team-*"), clock=clock, source_time_budget_ms=2000
    )
    by_source = {o.source.ref.name: o for o in outcome.sources}
    assert by_source["a-slow"].mirrors == ()
    [problem] = by_source["a-slow"].results
    assert problem.severity == "error"
    assert problem.message.endswith("stopped: the source used up its time budget of 2000 ms")
    assert problem.message.startswith("transform rule 0 (template)")
    assert len(by_source["b-plain"].mirrors) == 10


def test_a_source_within_its_budget_renders_every_mirror() -> None:
    outcome = run(slow("a-slow"), clock=FakeClock(0.01), source_time_budget_ms=60_000)
    assert [r for r in outcome.results if r.severity == "error"] == []
    assert len(outcome.mirrors) == 10


def test_once_the_run_budget_is_spent_the_remaining_sources_fail_at_once() -> None:
    clock = FakeClock(0.01)
    outcome = run(
        slow("a"),
        slow("b"),
        slow("c"),
        source("d-plain", targets="team-*"),
        clock=clock,
        source_time_budget_ms=4000,
        run_time_budget_ms=7000,
    )
    messages = {o.source.ref.name: [r.message for r in o.results] for o in outcome.sources}
    assert messages["a"] and messages["a"][0].endswith("the source used up its time budget of 4000 ms")
    assert messages["b"] and messages["b"][0].endswith("the run used up its time budget of 7000 ms")
    spent = "not rendered: the run used up its time budget of 7000 ms"
    assert messages["c"] == [spent]
    assert messages["d-plain"] == [spent]


def test_budget_decisions_are_the_same_on_the_same_clock() -> None:
    def once() -> list[str]:
        outcome = run(slow("a"), slow("b"), clock=FakeClock(0.01), source_time_budget_ms=3000)
        return [r.one_line() for r in outcome.results]

    assert once() == once()


def test_a_frozen_clock_never_stops_anything() -> None:
    outcome = run(
        slow("a"), slow("b", strict=True), clock=FakeClock(0.0), source_time_budget_ms=1, run_time_budget_ms=1
    )
    assert [r for r in outcome.results if r.severity == "error"] == []
    assert len(outcome.mirrors) == 20


def test_render_source_alone_gets_the_source_budget_from_now() -> None:
    clock = FakeClock(0.01)
    opts = options(clock, source_time_budget_ms=1000)
    inventory = classify([Item(slow("a")), Item(ns("platform")), *(Item(t) for t in TEAMS)], opts)
    [src] = inventory.sources
    outcome = render_source(src, universe=inventory.universe, options=opts)
    assert outcome.mirrors == ()
    assert "the source used up its time budget of 1000 ms" in outcome.results[0].message


def test_target_resolution_over_a_huge_universe_is_bounded_by_the_source_budget() -> None:
    clock = FakeClock(1.0)
    opts = options(clock, source_time_budget_ms=5000)
    obj = source("wide", targets="*")
    universe = {f"n-{i}": NamespaceInfo(f"n-{i}") for i in range(10_000)}
    inventory = classify([Item(obj)], opts)
    [src] = inventory.sources
    assert isinstance(src, Source)
    outcome = render_source(src, universe=universe, options=opts)
    assert outcome.mirrors == ()
    [problem] = outcome.results
    assert problem.message == "stopped: the source used up its time budget of 5000 ms"
    assert problem.ref.name == "wide"
    assert clock.reads < 20


def test_reading_markers_counts_against_the_run_budget_and_stops_with_one_error() -> None:
    clock = FakeClock(1.0)  # every read of the clock is a second: reading stops after a few objects
    objs = [source(f"s{i}", targets="team-*") for i in range(10)]
    outcome = run(*objs, clock=clock, run_time_budget_ms=3000)
    errors = [r for r in outcome.results if r.severity == "error"]
    not_read = [r for r in errors if "while reading the inputs" in r.message]
    assert len(not_read) == 1
    assert not_read[0].message.startswith("stopped: the run used up its time budget of 3000 ms while reading")
    assert not_read[0].ref.kind == "ConfigMap"
    read = {o.source.ref.name for o in outcome.sources}
    assert 0 < len(read) < 10
    assert outcome.mirrors == ()
