"""MirrorPolicy status: conditions and counts, written to the status subresource, like
well-behaved operators report progress."""

from __future__ import annotations

import time
from typing import Any

from kubectl_mirror.io.cluster import Cluster, Resource


def conditions(*, sources: int, mirrors: int, failures: list[str]) -> list[dict[str, Any]]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def cond(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": "True" if ok else "False",
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
        }

    return [
        cond(
            "SourcesFound", sources > 0, "Found" if sources else "NoSources", f"{sources} source(s) selected"
        ),
        cond("Synced", not failures, "Synced" if not failures else "Failures", "; ".join(failures)[:1024]),
        cond("Ready", sources > 0 and not failures, "Ready" if sources and not failures else "NotReady", ""),
    ]


def update_policy_status(
    cluster: Cluster,
    resource: Resource,
    name: str,
    *,
    sources: int,
    mirrors: int,
    failures: list[str] | None = None,
) -> None:
    failures = failures or []
    current = cluster.request("GET", resource.path(None, name), ok=(404,))
    if current.status == 404:
        return
    old = (current.body or {}).get("status") or {}
    status = {
        "observedGeneration": (current.body.get("metadata") or {}).get("generation"),
        "sources": sources,
        "mirrors": mirrors,
        "failures": failures,
        "conditions": conditions(sources=sources, mirrors=mirrors, failures=failures),
    }
    if _same(old, status):
        return  # no write when nothing changed (timestamps aside)
    cluster.request(
        "PATCH",
        resource.path(None, name) + "/status",
        body={"status": status},
        content_type="application/merge-patch+json",
        ok=(404, 409),
    )


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def strip(s: dict[str, Any]) -> dict[str, Any]:
        conds = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in s.get("conditions") or []]
        return {**s, "conditions": conds}

    return strip(old) == strip(new)
