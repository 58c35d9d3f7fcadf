"""Hostile-input figures for the engine: prints them, asserts nothing.

    python3 bench/engine_hostile.py             # matchers and the honest render (about 10 s)
    python3 bench/engine_hostile.py --budgets   # also the time budgets on the real clock (~2.5 min)

1. Globs: `*a*a*...*b` against long names (steps and wall time; Python's `re` took minutes).
2. Regexes (Reflector/Replicator): backtracking classics against 60-character names, and the
   largest pattern allowed (`.{0,999}`, 1999 NFA states) against 1,000 namespace names.
3. The honest render: 1,000 sources x 200 namespaces (5% with a template) through render_all.
4. With --budgets: one source of 50 rules x 10 targets whose templates each spend their 100 ms
   (stopped by the 10 s source budget), then 5 and 10 such sources (the 60 s run budget).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from kubectl_mirror.engine.globs import compile_glob
from kubectl_mirror.engine.model import EngineOptions
from kubectl_mirror.engine.plan import Item, render_all
from kubectl_mirror.engine.regexes import compile_regex
from kubectl_mirror.io.host import real_host

SLOW_TEMPLATE = "{% for i in range(99000) %}{% endfor %}"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def globs() -> None:
    print("1. globs")
    for pattern in ("*a" * 20 + "*b", "*[a]" * 11 + "*b", "*?" * 30 + "*b"):
        glob = compile_glob(pattern)
        for name in ("a" * 63, "a" * 62 + "b", "a" * 253):
            (matched, steps), wall = timed(lambda g=glob, n=name: g.run(n))
            where = f"{pattern[:16]:<16}... vs {len(name)} chars"
            print(f"   {where}: {matched!s:<5} {steps:>6} steps {wall * 1e3:7.3f} ms")


def regexes() -> None:
    print("2. regexes")
    for pattern in ("(a+)+b", "(a|aa)+b", "(a*)*b", "(.*a){20}b", "([a-z]+)*$b"):
        compiled = compile_regex(pattern)
        (matched, steps), wall = timed(lambda c=compiled: c.run("a" * 60))
        print(f"   {pattern:<12} vs 60 chars: {matched!s:<5} {steps:>6} steps {wall * 1e3:7.3f} ms")
    compiled = compile_regex(".{0,999}")
    names = [f"ns-{i:04d}-" + "x" * 50 for i in range(1000)]
    _, wall = timed(lambda: [compiled.fullmatch(n) for n in names])
    print(f"   .{{0,999}} ({len(compiled.kinds)} states) vs 1,000 names of 58 chars: {wall:.2f} s")


def namespaces(count: int) -> list[Item]:
    items = [
        Item({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{i}"}})
        for i in range(count)
    ]
    return [*items, Item({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "platform"}})]


def configmap(name: str, annotations: dict[str, str]) -> Item:
    meta = {
        "name": name,
        "namespace": "platform",
        "labels": {"kubectl-mirror.io/source": "true"},
        "annotations": {"kubectl-mirror.io/targets": "team-*", **annotations},
    }
    return Item({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}})


def options() -> EngineOptions:
    return EngineOptions(host=real_host(), max_targets=100_000)


def honest() -> None:
    print("3. honest render")
    items = namespaces(200)
    transform = '- path: data.owner\n  template: "{{ target.namespace | upper }}"\n'
    for i in range(1000):
        items.append(configmap(f"cm-{i}", {"kubectl-mirror.io/transform": transform} if i % 20 == 0 else {}))
    outcome, wall = timed(lambda: render_all(items, options()))
    print(f"   1,000 sources x 200 namespaces: {len(outcome.mirrors):,} mirrors in {wall:.2f} s")


def budgets() -> None:
    print("4. budgets (real clock)")
    rules = "".join(f"- path: data.k{i}\n  template: {SLOW_TEMPLATE!r}\n" for i in range(50))
    for sources in (1, 5, 10):
        items = namespaces(10) + [
            configmap(f"s{i}", {"kubectl-mirror.io/transform": rules}) for i in range(sources)
        ]
        outcome, wall = timed(lambda it=items: render_all(it, options()))
        errors = [r.message for r in outcome.results if r.severity == "error"]
        kinds = sorted({m.split(": ")[-1] if ": " in m else m for m in errors})
        print(
            f"   {sources:>2} source(s) x 50 rules x 10 targets: {wall:5.1f} s, {len(errors)} errors: {kinds}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", action="store_true", help="also run the ~2.5 min budget phase")
    args = parser.parse_args()
    globs()
    regexes()
    honest()
    if args.budgets:
        budgets()


if __name__ == "__main__":
    main()
