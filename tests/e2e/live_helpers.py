"""Builders for the live end-to-end tests: objects seeded into the test API server."""

from __future__ import annotations

import json
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


def get(apiserver: Any, kubectl: Any, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    done = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None
