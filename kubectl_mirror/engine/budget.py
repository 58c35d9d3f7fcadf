"""Time budgets above the per-template one: a source's, and the whole run's.

Each template stops at `template_time_budget_ms`, but fifty rules times a hundred targets, each
spending its budget, would still take minutes for one source. So a source gets a deadline on the
host's clock (`Host.clock`, injected: the engine itself never reads the time) when its rendering
starts, and the run hands each source the smaller of that and what is left of its own budget.
Target resolution, every rule and every template step check it; when it passes, that source fails
with a BudgetError (whatever its transform-strict says) and the others go on. A finished render
never depends on the clock: the clock only decides whether a runaway source is stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_mirror.errors import Ref, TransformError


class BudgetError(TransformError):
    """A source ran out of time (its own budget or the run's); it fails as a whole."""


@dataclass(frozen=True)
class Deadline:
    """A point on the host clock after which a source must stop, and what to say when it does."""

    at: float
    reason: str

    def check(self, clock: Callable[[], float], ref: Ref | None = None) -> None:
        if clock() > self.at:
            raise BudgetError(self.reason, ref or Ref())


def source_deadline(*, now: float, source_ms: int, run_left: float, run_ms: int) -> Deadline:
    """The deadline of a source that starts at `now`, `run_left` seconds before the run's ends."""
    if source_ms / 1000 <= run_left:
        reason = f"stopped: the source used up its time budget of {source_ms} ms"
        return Deadline(now + source_ms / 1000, reason)
    return Deadline(now + run_left, f"stopped: the run used up its time budget of {run_ms} ms")
