"""Fault injection: make chosen requests fail or slow down, end watches, force 410s.

    rule = apiserver.faults.fail(500, verb="patch", resource="configmaps", times=2)
    apiserver.faults.fail(429, verb="list", retry_after=3)
    apiserver.faults.delay(0.5, verb="get")
    apiserver.faults.close_watches("configmaps")
    apiserver.faults.compact()          # watches/continue tokens from before now get 410

Rules match on verb, resource, namespace and name (None matches anything) and fire `times`
times (None: until cleared); `rule.hits` counts how often one fired. A `fail(..., after=True)`
rule lets the request take effect and then answers with the error, as when a response is lost.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .store import Store


@dataclass(eq=False)
class Rule:
    verb: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    status: int | None = None
    delay: float = 0.0
    times: int | None = 1
    retry_after: int = 1
    after: bool = False
    hits: int = 0

    def matches(self, verb: str, resource: str, namespace: str, name: str) -> bool:
        return (
            (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource in (resource, resource.split(".", 1)[0]))
            and (self.namespace is None or self.namespace == namespace)
            and (self.name is None or self.name == name)
        )


class Faults:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def fail(
        self,
        status: int,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        times: int | None = 1,
        retry_after: int = 1,
        after: bool = False,
    ) -> Rule:
        return self._add(
            Rule(
                verb,
                resource,
                namespace,
                name,
                status=status,
                times=times,
                retry_after=retry_after,
                after=after,
            )
        )

    def delay(
        self,
        seconds: float,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        times: int | None = None,
    ) -> Rule:
        return self._add(Rule(verb, resource, namespace, name, delay=seconds, times=times))

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, verb: str, resource: str, namespace: str, name: str) -> list[Rule]:
        """The rules that fire for this request (their `times` are used up here)."""
        fired = []
        with self._lock:
            for rule in self._rules:
                if rule.times == 0 or not rule.matches(verb, resource, namespace, name):
                    continue
                rule.hits += 1
                if rule.times is not None:
                    rule.times -= 1
                fired.append(rule)
            self._rules = [r for r in self._rules if r.times != 0]
        return fired

    def close_watches(self, resource: str | None = None) -> int:
        """End open watch streams (of one resource, like `configmaps`); returns how many."""
        return self._store.hub.close(resource)

    def compact(self) -> int:
        """Drop all watch history: watches and continue tokens from older RVs get 410."""
        with self._store.lock:
            self._store.hub.compact(self._store.rv)
            return self._store.rv

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
