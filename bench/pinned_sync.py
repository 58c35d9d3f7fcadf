"""`kubectl-mirror ARGS` with the executor's concurrency pinned: bench/sync.py --concurrency's child.

    python3 bench/pinned_sync.py CONCURRENCY PEAK_FILE sync -A --kubeconfig K ...

Runs the real CLI (`kubectl_mirror.cli.main`) in this process after replacing
`kubectl_mirror.live.execute.Executor` with a wrapper that builds it with `concurrency=CONCURRENCY`,
whatever the command passes (`--concurrency` or its default): a benchmark gets the value it asks
for from any revision of the CLI. Nothing in the product reads this; the pin is the bench's own.

At exit it writes its peak RSS (VmHWM, bytes) to PEAK_FILE: the `ru_maxrss` a parent gets from
`wait4` is no use here, because Linux starts it at the RSS of the parent that forked the child
(subprocess uses vfork), and the bench's own process outgrows a sync's after a few rounds.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path
from typing import Any


def pin(concurrency: int) -> None:
    from kubectl_mirror.live import execute

    plain = execute.Executor

    def pinned(*args: Any, **kwargs: Any) -> Any:
        return plain(*args, **{**kwargs, "concurrency": concurrency})

    execute.Executor = pinned  # type: ignore[assignment,misc]


def write_peak(path: Path) -> None:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                path.write_text(str(int(line.split()[1]) * 1024))


def main() -> None:
    concurrency, peak, *args = sys.argv[1:]
    pin(int(concurrency))
    atexit.register(write_peak, Path(peak))
    from kubectl_mirror.cli.main import main as cli

    sys.argv = ["kubectl-mirror", *args]
    cli()


if __name__ == "__main__":
    main()
