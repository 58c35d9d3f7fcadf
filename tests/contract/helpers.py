"""Builders and small helpers shared by the contract tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException


def configmap(
    name: str,
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, **meta}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": data if data is not None else {"k": "v"},
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def crd(
    group: str = "example.com",
    kind: str = "Widget",
    plural: str = "widgets",
    *,
    scope: str = "Namespaced",
    status: bool = False,
) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "additionalPrinterColumns": [{"name": "Size", "type": "string", "jsonPath": ".spec.size"}],
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "versions": [version],
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "shortNames": ["wd"]},
        },
    }


def body(err: ApiException) -> dict[str, Any]:
    return json.loads(err.body)  # type: ignore[no-any-return]


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def raw(
    url: str,
    method: str,
    path: str,
    payload: Any = None,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request without any client library: (status, headers, decoded JSON body)."""
    import http.client
    import urllib.parse

    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        data = None
        if payload is not None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"Content-Type": content_type, **(headers or {})}
        conn.request(method, path, body=data, headers=sent)
        resp = conn.getresponse()
        text = resp.read()
        decoded = json.loads(text) if text.strip().startswith((b"{", b"[")) else text
        return resp.status, dict(resp.getheaders()), decoded
    finally:
        conn.close()
