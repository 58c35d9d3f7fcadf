"""Every request the fake server answered, so tests can assert API load.

`log.count(verb="patch", resource="configmaps")`, `log.writes()` (create, update, patch,
delete, deletecollection that were not dry runs), `log.counts()` by (verb, resource).
Resources are named like RBAC does: `configmaps`, `deployments.apps`.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class Record:
    method: str
    path: str
    verb: str  # get list watch create update patch delete deletecollection, or "discovery"
    resource: str = ""  # "" for non-resource paths
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    status: int = 0
    dry_run: bool = False
    content_type: str = ""
    field_manager: str = ""
    user_agent: str = ""
    query: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS and not self.dry_run


def _resource_matches(record: Record, resource: str | None) -> bool:
    if resource is None:
        return True
    return record.resource == resource or record.resource.split(".", 1)[0] == resource


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[Record] = []

    def add(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def filter(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        status: int | None = None,
    ) -> list[Record]:
        return [
            r
            for r in self.records
            if (verb is None or r.verb == verb)
            and _resource_matches(r, resource)
            and (namespace is None or r.namespace == namespace)
            and (name is None or r.name == name)
            and (status is None or r.status == status)
        ]

    def count(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        status: int | None = None,
    ) -> int:
        return len(self.filter(verb=verb, resource=resource, namespace=namespace, name=name, status=status))

    def writes(self, resource: str | None = None) -> list[Record]:
        return [r for r in self.records if r.is_write and _resource_matches(r, resource)]

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((r.verb, r.resource) for r in self.records)
