"""Bench the fake API server at mirroring scale and print the figures.

Loads 1,000 sources and their mirrors in 200 namespaces (200,000 mirrors) in-process, then
times over HTTP on 127.0.0.1: labeled lists (through the `kubernetes` client and raw), a paged
walk over every mirror, an unpaged list of all of them, and a watch replaying all 200,000
ADDED events from a resourceVersion. Run: `python bench/apiserver.py [--namespaces N]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import client, config

from tests.apiserver import ApiServer

MANAGED = "app.kubernetes.io/managed-by"
SOURCE = "mirror.kubectl-mirror.io/source"


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, Any]:
    """Median seconds over `runs`, and the last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def get_bytes(server: ApiServer, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def get_json(server: ApiServer, path: str) -> Any:
    return json.loads(get_bytes(server, path))


def watch_replay(server: ApiServer, rv: int, expected: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request(
            "GET",
            f"/api/v1/configmaps?watch=true&resourceVersion={rv}"
            f"&labelSelector={MANAGED}%3Dkubectl-mirror&timeoutSeconds=120",
        )
        resp = conn.getresponse()
        seen = 0
        while seen < expected:
            line = resp.fp.readline()
            if not line:
                break
            if line.strip() and not line.strip().isalnum():  # skip chunk-size lines
                seen += 1
        return seen
    finally:
        conn.close()


def load(server: ApiServer, namespaces: int, sources: int) -> None:
    server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "source"}})
    for s in range(sources):
        server.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"src-{s}", "namespace": "source"},
                "data": {"config.yaml": "x" * 200},
            }
        )
    for n in range(namespaces):
        server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{n}"}})
    for n in range(namespaces):
        for s in range(sources):
            server.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": f"src-{s}",
                        "namespace": f"team-{n}",
                        "labels": {MANAGED: "kubectl-mirror", SOURCE: f"source.src-{s}"},
                        "annotations": {"mirror.kubectl-mirror.io/hash": "0123456789abcdef"},
                    },
                    "data": {"config.yaml": "x" * 200},
                }
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--sources", type=int, default=1000)
    args = parser.parse_args()
    mirrors = args.namespaces * args.sources
    with ApiServer(history=mirrors + 10_000) as server, tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        before = server.store.rv
        load(server, args.namespaces, args.sources)
        print(
            f"load (in-process)      {mirrors:>7} mirrors + {args.sources} sources in "
            f"{time.perf_counter() - started:6.2f} s"
        )
        print(f"max RSS                {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MiB")
        api = config.new_client_from_config(config_file=str(server.write_kubeconfig(Path(tmp) / "kc")))
        core = client.CoreV1Api(api)
        try:
            t, found = timed(
                lambda: core.list_config_map_for_all_namespaces(
                    label_selector=f"{SOURCE}=source.src-7,{MANAGED}=kubectl-mirror"
                )
            )
            print(
                f"labeled list, 1 source ({len(found.items)} mirrors, all namespaces, "
                f"kubernetes client)      {t * 1000:7.1f} ms"
            )
            t, found = timed(
                lambda: core.list_namespaced_config_map(
                    f"team-{args.namespaces // 2}", label_selector=f"{MANAGED}=kubectl-mirror"
                )
            )
            print(
                f"labeled list, 1 namespace ({len(found.items)} mirrors, kubernetes "
                f"client)             {t * 1000:7.1f} ms"
            )
            t, raw = timed(
                lambda: get_json(
                    server,
                    f"/api/v1/namespaces/team-{args.namespaces // 2}/configmaps?labelSelector={MANAGED}"
                    f"%3Dkubectl-mirror",
                )
            )
            print(
                f"labeled list, 1 namespace ({len(raw['items'])} mirrors, raw HTTP)"
                f"                      {t * 1000:7.1f} ms"
            )

            def walk() -> int:
                count, token = 0, ""
                while True:
                    page = get_json(
                        server,
                        f"/api/v1/configmaps?limit=500&labelSelector="
                        f"{MANAGED}%3Dkubectl-mirror&continue={token}",
                    )
                    count += len(page["items"])
                    token = page["metadata"].get("continue", "")
                    if not token:
                        return count

            t, count = timed(walk, runs=1)
            print(
                f"paged labeled list, all ({count} mirrors, limit=500, raw HTTP)"
                f"         {t:7.2f} s ({t / (count / 500) * 1000:.1f} ms/page)"
            )
            path = f"/api/v1/configmaps?labelSelector={MANAGED}%3Dkubectl-mirror"
            t, data = timed(lambda: get_bytes(server, path), runs=1)
            print(f"unpaged labeled list, all ({len(data) / 2**20:.0f} MiB, raw HTTP, cold)       {t:7.2f} s")
            t, data = timed(lambda: get_bytes(server, path), runs=3)
            print(f"unpaged labeled list, all ({len(data) / 2**20:.0f} MiB, raw HTTP, warm)       {t:7.2f} s")
            t, seen = timed(lambda: watch_replay(server, before, mirrors), runs=1)
            print(f"watch replay from rv={before} ({seen} ADDED events, raw HTTP)                {t:7.2f} s")
        finally:
            api.close()


if __name__ == "__main__":
    main()
