"""Server-side printing (`as=Table`), which `kubectl get` asks for and prints as columns.

A few built-in kinds get their real columns, custom resources get their
`additionalPrinterColumns` (simple `.a.b` JSON paths), everything else Name and Age.
Pure functions over stored objects.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

Column = tuple[str, str, Callable[[dict[str, Any]], Any]]  # (name, type, cell)


def _age(obj: dict[str, Any]) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    seconds = int((datetime.datetime.now(datetime.UTC) - created).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _cell(path: str, obj: dict[str, Any]) -> Any:
    return _path(obj, path)


def _path(obj: Any, path: str) -> Any:
    for part in path.strip(".").split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


_NAME: Column = ("Name", "string", lambda o: o["metadata"]["name"])
_AGE: Column = ("Age", "string", _age)

_BUILTIN: dict[str, list[Column]] = {
    "configmaps": [
        _NAME,
        ("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    "secrets": [
        _NAME,
        ("Type", "string", lambda o: o.get("type", "Opaque")),
        ("Data", "integer", lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    "namespaces": [_NAME, ("Status", "string", lambda o: _path(o, "status.phase") or ""), _AGE],
    "deployments.apps": [
        _NAME,
        (
            "Ready",
            "string",
            lambda o: f"{_path(o, 'status.readyReplicas') or 0}/{_path(o, 'spec.replicas') or 0}",
        ),
        ("Up-to-date", "integer", lambda o: _path(o, "status.updatedReplicas") or 0),
        ("Available", "integer", lambda o: _path(o, "status.availableReplicas") or 0),
        _AGE,
    ],
}


def columns(rt: ResourceType) -> list[Column]:
    if rt.key in _BUILTIN:
        return _BUILTIN[rt.key]
    custom: list[Column] = []
    for col in rt.printer_columns:
        path = str(col.get("jsonPath", ""))
        custom.append(
            (
                str(col.get("name", path)),
                str(col.get("type", "string")),
                functools.partial(_cell, path),
            )
        )
    return [_NAME, *custom, _AGE]


def _row(rt: ResourceType, obj: dict[str, Any], include: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": [cell(obj) for _, _, cell in columns(rt)]}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {}),
        }
    return row


def table(
    rt: ResourceType, objs: list[dict[str, Any]], list_meta: dict[str, Any], include: str
) -> dict[str, Any]:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": 0,
            }
            for name, kind, _ in columns(rt)
        ],
        "rows": [_row(rt, o, include) for o in objs],
    }


def wants_table(accept: str) -> bool:
    return "as=Table" in accept
