"""Human-facing text shared by commands: results on stderr, explanations."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from kubectl_mirror.engine.model import MirrorSpec, Result
from kubectl_mirror.engine.plan import Outcome


def print_results(results: Iterable[Result]) -> None:
    for r in results:
        print(f"{r.severity}: {r.one_line()}", file=sys.stderr)


def _via(spec: MirrorSpec) -> str:
    """What made the object a source: its markers, or the policies (in the order they count)."""
    if spec.policy is None:
        return f"{spec.dialect} markers"
    policies = [spec.policy, *(p for _, p in spec.target_policies if p != spec.policy)]
    return ", ".join(dict.fromkeys(p.describe() for p in policies))


def explain_text(outcome: Outcome) -> str:
    lines: list[str] = []
    for so in outcome.sources:
        spec = so.source.spec
        via = _via(spec)
        lines.append(f"{so.source.ref.describe()} ({via}): {len(so.mirrors)} mirror(s)")
        width = max((len(d.namespace) for d in so.decisions), default=0)
        for d in so.decisions:
            mark = "+" if d.chosen else "-"
            lines.append(f"  {mark} {d.namespace.ljust(width)}  {d.reason}")
    return "\n".join(lines) + ("\n" if lines else "")
