"""Small builders shared by the tests: objects, options and a fake Host."""

from __future__ import annotations

import itertools
from typing import Any

import yaml

from kubectl_mirror.engine.model import EngineOptions, Host
from kubectl_mirror.engine.plan import Item, Outcome, render_all

_ticks = itertools.count()


def fake_host() -> Host:
    return Host(parse_yaml=yaml.safe_load, clock=lambda: 0.0)


def opts(**kwargs: Any) -> EngineOptions:
    return EngineOptions(host=fake_host(), **kwargs)


def ns(name: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def source(
    name: str = "src",
    namespace: str = "platform",
    *,
    kind: str = "ConfigMap",
    targets: str | None = "*",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    api_version: str = "v1",
) -> dict[str, Any]:
    ann = dict(annotations or {})
    if targets is not None:
        ann.setdefault("kubectl-mirror.io/targets", targets)
    obj: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"kubectl-mirror.io/source": "true", **(labels or {})},
            "annotations": ann,
        },
    }
    obj.update(body if body is not None else {"data": {"key": "value"}})
    return obj


def render(*objs: dict[str, Any], **kwargs: Any) -> Outcome:
    return render_all([Item(o, "input.yaml") for o in objs], opts(**kwargs))


def namespaces_of(outcome: Outcome) -> list[str]:
    return [m["metadata"]["namespace"] for m in outcome.mirrors]


def errors_of(outcome: Outcome) -> list[str]:
    return [r.one_line() for r in outcome.results if r.severity == "error"]
