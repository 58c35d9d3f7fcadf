"""The server as a whole: started by hand, stopped cleanly, and fast on many objects."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, config, watch

from tests.apiserver import ApiServer

from .helpers import configmap, namespace

ROOT = Path(__file__).resolve().parents[2]


def test_module_entry_point_prints_a_working_kubeconfig(tmp_path):
    path = tmp_path / "kc"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.apiserver", "--port", "0", "--kubeconfig", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("serving on http://127.0.0.1:")
        assert lines[1].strip() == f"kubeconfig: {path}"
        api = config.new_client_from_config(config_file=str(path))
        try:
            names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        finally:
            api.close()
        assert "default" in names
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_stop_ends_watches_and_keep_alive_connections(tmp_path):
    server = ApiServer().start()
    kubeconfig = server.write_kubeconfig(tmp_path / "kc")
    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    core.list_namespace()  # leaves a keep-alive connection open
    ended = threading.Event()

    def consume():
        try:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=60):
                pass
        finally:
            ended.set()

    thread = threading.Thread(target=consume)
    thread.start()
    deadline = time.monotonic() + 5
    while server.store.hub.open_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    thread.join(5)
    assert ended.is_set()
    api.close()
    assert server._thread is not None and not server._thread.is_alive()


def test_labeled_list_of_many_mirrors_is_fast(apiserver, k8s_client):
    """10,000 mirrors in 20 namespaces; the bench does 200,000 (bench/apiserver.py)."""
    for n in range(20):
        apiserver.create(namespace(f"team-{n}"))
        for s in range(500):
            apiserver.create(
                configmap(
                    f"m{s}",
                    f"team-{n}",
                    labels={"mirror.example.com/source": f"s{s}", "app.kubernetes.io/managed-by": "mirror"},
                )
            )
    core = client.CoreV1Api(k8s_client)
    started = time.perf_counter()
    found = core.list_config_map_for_all_namespaces(
        label_selector="mirror.example.com/source=s7,app.kubernetes.io/managed-by=mirror"
    )
    elapsed = time.perf_counter() - started
    assert len(found.items) == 20
    assert elapsed < 0.25, elapsed
    started = time.perf_counter()
    page = core.list_config_map_for_all_namespaces(limit=500)
    assert len(page.items) == 500 and page.metadata.remaining_item_count == 9500
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
def test_health_endpoints(apiserver, path):
    from .helpers import raw

    code, _, text = raw(apiserver.url, "GET", path)
    assert (code, text) == (200, b"ok")
