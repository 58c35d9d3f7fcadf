"""`render --output-dir` benchmark: prints figures, asserts nothing.

    python3 bench/outdir.py                          # 500 sources x 100 namespaces = 50,000 mirrors
    python3 bench/outdir.py --sources 50 --namespaces 20

Every step is its own `kubectl-mirror render` process (wall time and peak RSS from `os.wait4`):

1. first write into an empty directory;
2. the same inputs again (every file is read and compared, nothing is written);
3. `--check` on the up-to-date directory;
4. every source changed (every mirror file is checked for ownership, then replaced);
5. half the sources gone (their mirror files are checked for ownership, then removed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
MB = 1024 * 1024


def measure(argv: list[str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS bytes, exit code and stderr of one process."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        return wall, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status), err.read()


def write_inputs(src: Path, *, sources: int, namespaces: int, version: str) -> None:
    docs = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-{i:04d}\n" for i in range(namespaces)]
    for i in range(sources):
        docs.append(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: settings-{i:04d}\n  namespace: platform\n"
            '  labels:\n    kubectl-mirror.io/source: "true"\n'
            '  annotations:\n    kubectl-mirror.io/targets: "team-*"\n'
            f"data:\n  version: {version!r}\n  config.ini: |\n"
            + "".join(f"    key{k} = value-{k}-{i}\n" for k in range(20))
        )
    src.mkdir(parents=True, exist_ok=True)
    (src / "inputs.yaml").write_text("---\n".join(docs))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=100)
    args = parser.parse_args()
    mirrors = args.sources * args.namespaces
    with tempfile.TemporaryDirectory(prefix="bench-outdir-") as tmp:
        src, out = Path(tmp) / "src", Path(tmp) / "out"
        argv = [str(BIN / "kubectl-mirror"), "render", str(src), "--output-dir", str(out)]
        argv += ["--max-targets", str(max(100, args.namespaces))]

        def step(label: str, extra: tuple[str, ...] = ()) -> None:
            wall, rss, code, err = measure([*argv, *extra])
            status = "" if code == 0 else f" (exit {code}: {err.strip().splitlines()[-1:]})"
            print(f"{label}: {wall:.2f} s, peak RSS {rss / MB:,.0f} MB{status}", flush=True)

        write_inputs(src, sources=args.sources, namespaces=args.namespaces, version="1")
        print(f"{args.sources} sources x {args.namespaces} namespaces = {mirrors:,} mirrors", flush=True)
        step("1. first write")
        step("2. unchanged re-run")
        step("3. --check, up to date", ("--check",))
        write_inputs(src, sources=args.sources, namespaces=args.namespaces, version="2")
        step("4. every mirror changed")
        write_inputs(src, sources=args.sources // 2, namespaces=args.namespaces, version="2")
        step("5. half the sources gone")
        left = sum(1 for _ in out.rglob("*.yaml")) - 1
        print(f"   {left:,} mirror files left, expected {(args.sources // 2) * args.namespaces:,}")


if __name__ == "__main__":
    main()
