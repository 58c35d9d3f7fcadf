"""Builders for the live end-to-end tests: objects seeded into the test API server."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MANAGED = {"app.kubernetes.io/managed-by": "kubectl-mirror", "kubectl-mirror.io/mirror": "true"}


def ns(apiserver: Any, name: str, **labels: str) -> None:
    apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})


def cm(
    apiserver: Any,
    name: str,
    namespace: str,
    *,
    data: dict[str, str],
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    kind: str = "ConfigMap",
    **extra: Any,
) -> dict[str, Any]:
    obj = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "data": data,
        **extra,
    }
    return apiserver.create(obj)  # type: ignore[no-any-return]


def source(apiserver: Any, name: str = "settings", targets: str = "team-*", **kwargs: Any) -> dict[str, Any]:
    annotations = {"kubectl-mirror.io/targets": targets, **kwargs.pop("annotations", {})}
    labels = {"kubectl-mirror.io/source": "true", **kwargs.pop("labels", {})}
    data = kwargs.pop("data", {"region": "eu"})
    return cm(apiserver, name, "platform", data=data, labels=labels, annotations=annotations, **kwargs)


def patch_data(kubectl: Any, namespace: str, data: dict[str, str], *, name: str = "settings") -> None:
    """`kubectl patch configmap --type merge` of some data keys, as a user edits a ConfigMap."""
    kubectl("patch", "configmap", name, "-n", namespace, "--type", "merge", "-p", json.dumps({"data": data}))


def get(apiserver: Any, kubectl: Any, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    done = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


WAIT = 20.0


def wait_for(check: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Watcher:
    """One `kubectl mirror watch` process; killed at teardown."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.handle, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.handle.close()
        return code


def data_of(apiserver: Any, kubectl: Any, namespace: str, name: str = "settings") -> Any:
    obj = get(apiserver, kubectl, "configmap", namespace, name)
    return obj["data"] if obj else None
