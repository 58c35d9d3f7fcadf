"""The template clock must not count garbage collection against a template."""

from __future__ import annotations

import gc
import time

from kubectl_mirror.io.host import real_host


def test_time_spent_collecting_garbage_is_not_counted() -> None:
    clock = real_host().clock
    junk = [[i] for i in range(300_000)]
    start_wall, start = time.monotonic(), clock()
    for _ in range(5):
        gc.collect()
    wall, counted = time.monotonic() - start_wall, clock() - start
    del junk
    assert wall > 0
    assert counted < wall / 2
