"""Run the fake API server by hand: `python -m tests.apiserver --port 0`.

Prints the URL and a kubeconfig path; `kubectl --kubeconfig <path> get ns` then works.
Stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
from pathlib import Path

from .server import ApiServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.apiserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", type=Path, help="where to write the kubeconfig")
    parser.add_argument(
        "--namespace-defaults",
        action="store_true",
        help="seed ServiceAccount default and kube-root-ca.crt per namespace",
    )
    args = parser.parse_args(argv)
    with ApiServer(host=args.host, port=args.port) as server:
        server.api.namespace_defaults = args.namespace_defaults
        path = args.kubeconfig or Path(tempfile.mkdtemp(prefix="fake-apiserver-")) / "kubeconfig"
        server.write_kubeconfig(path)
        print(f"serving on {server.url}", flush=True)
        print(f"kubeconfig: {path}", flush=True)
        print(f"try: kubectl --kubeconfig {path} get namespaces", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
