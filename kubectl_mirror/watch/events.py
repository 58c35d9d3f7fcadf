"""Kubernetes Events on sources and policies, so `kubectl describe` shows why mirroring failed.

Events are best effort: failing to record one is logged and never stops reconciling. Messages
name objects and fields, never values.

Threads: every worker records through one recorder. Its only state is a sequence counter
(`itertools.count`, whose `next` is atomic), which keeps two events made in the same
nanosecond apart.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from typing import Any

from kubectl_mirror.engine.model import Obj
from kubectl_mirror.errors import MirrorError
from kubectl_mirror.io.cluster import Cluster

log = logging.getLogger("kubectl_mirror.watch")


class EventRecorder:
    def __init__(self, cluster: Cluster, component: str = "kubectl-mirror") -> None:
        self.cluster = cluster
        self.component = component
        self._seq = itertools.count(1)

    def warn(self, obj: Obj, reason: str, message: str) -> None:
        self.record(obj, "Warning", reason, message)

    def record(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        name = str(meta.get("name", "object"))
        seq = next(self._seq)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{re.sub(r'[^a-z0-9.-]', '-', name.lower())[:200]}.{time.time_ns():x}{seq}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": name,
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": kind,
            "source": {"component": self.component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": self.component,
        }
        try:
            self.cluster.request(
                "POST",
                f"/api/v1/namespaces/{namespace}/events",
                body=event,
                content_type="application/json",
                ok=(403, 404, 409, 422),
            )
        except MirrorError as err:
            log.warning("could not record event %s on %s/%s: %s", reason, namespace, name, err.message)
