"""The real `Host` the engine borrows: a YAML parser and a monotonic clock."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from kubectl_mirror.engine.model import Host


def parse_yaml_text(text: str) -> Any:
    """YAML inside a marker value, read with the bounded loader every input goes through."""
    from kubectl_mirror.io.yamlload import load_marker_value

    return load_marker_value(text)


class _WorkClock:
    """time.monotonic() minus the time spent in garbage collection.

    The clock only guards templates against running away; a collection pass (hundreds of ms with
    200,000 mirrors in memory) landing inside a render must not count against the template, or
    the same input could give different output from one run to the next."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a collection may start while __call__ holds it
        self._collecting = 0.0
        self._started: float | None = None
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            if phase == "start":
                self._started = now
            elif self._started is not None:
                self._collecting += now - self._started
                self._started = None

    def __call__(self) -> float:
        with self._lock:
            return time.monotonic() - self._collecting


_CLOCK: _WorkClock | None = None


def real_host() -> Host:
    global _CLOCK
    if _CLOCK is None:
        _CLOCK = _WorkClock()
    return Host(parse_yaml=parse_yaml_text, clock=_CLOCK)
