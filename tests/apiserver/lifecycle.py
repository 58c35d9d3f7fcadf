"""Deletion: finalizers, `deletionTimestamp`, and the Namespace and CRD cascades.

An object with finalizers is only marked (`deletionTimestamp` set) and goes away when a write
clears them. Deleting a Namespace marks it Terminating and deletes what is in it; it goes
away once that is gone. Deleting a CRD deletes its custom resources, then stops serving the
kind. Unlike the real controllers, the cascades run synchronously inside the request.
"""

from __future__ import annotations

from typing import Any

from . import objects
from .objects import meta
from .resources import CRDS, NAMESPACES, Registry, ResourceType
from .store import Store


class Lifecycle:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    def delete(
        self, rt: ResourceType, obj: dict[str, Any], *, dry_run: bool, api_version: str
    ) -> tuple[int, dict[str, Any]]:
        """Delete or mark `obj`; returns the HTTP code and body a real server would."""
        m = meta(obj)
        if m.get("deletionTimestamp"):
            return 200, objects.with_api_version(obj, api_version)
        cascades = rt.key in (NAMESPACES.key, CRDS.key)
        if m.get("finalizers") or cascades:
            marked = self._marked(rt, obj)
            if dry_run:
                return 200, objects.with_api_version(marked, api_version)
            stored = self.store.commit(rt.key, marked, obj)
            if rt.key == NAMESPACES.key:
                self._empty_namespace(m["name"])
            elif rt.key == CRDS.key:
                self._empty_crd(m["name"])
            return 200, objects.with_api_version(stored, api_version)
        if not dry_run:
            self._remove(rt, obj)
        details: dict[str, Any] = {"name": m["name"]}
        if rt.group:
            details["group"] = rt.group
        details |= {"kind": rt.plural, "uid": m.get("uid")}
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def finalize(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The last finalizer of a deleting object was removed by a write: it goes away."""
        return self._remove(rt, obj)

    def _marked(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        m = dict(meta(obj))
        m["deletionTimestamp"] = objects.now()
        m["deletionGracePeriodSeconds"] = 0
        if "generation" in m:
            m["generation"] = int(m["generation"]) + 1
        marked = {**obj, "metadata": m}
        if rt.key == NAMESPACES.key:
            marked["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
        elif rt.key == CRDS.key:
            status = dict(obj.get("status") or {})
            status["conditions"] = [
                *(c for c in status.get("conditions") or [] if c.get("type") != "Terminating"),
                {
                    "type": "Terminating",
                    "status": "True",
                    "reason": "InstanceDeletionInProgress",
                    "message": "CustomResource deletion is in progress",
                    "lastTransitionTime": m["deletionTimestamp"],
                },
            ]
            marked["status"] = status
        return marked

    def _remove(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        gone = self.store.remove(rt.key, obj)
        m = meta(obj)
        if rt.key == CRDS.key:
            self.registry.remove_custom(m["name"])
            self.store.buckets.pop(m["name"], None)
        if rt.namespaced:
            self._maybe_finish_namespace(m.get("namespace", ""))
        if rt.custom:
            self._maybe_finish_crd(rt.key)
        return gone

    def _empty_namespace(self, namespace: str) -> None:
        for rt in self.registry.all():
            if not rt.namespaced:
                continue
            for obj in self.store.select(rt.key, namespace=namespace).items:
                self.delete(rt, obj, dry_run=False, api_version=rt.api_version())
        self._maybe_finish_namespace(namespace)

    def _maybe_finish_namespace(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACES.key, "", namespace)
        if ns is None or not meta(ns).get("deletionTimestamp") or meta(ns).get("finalizers"):
            return
        if any(self.store.count(rt.key, namespace) for rt in self.registry.all() if rt.namespaced):
            return
        self.store.remove(NAMESPACES.key, ns)

    def _empty_crd(self, key: str) -> None:
        rt = self.registry.by_key(key)
        if rt is not None:
            for obj in self.store.select(key).items:
                self.delete(rt, obj, dry_run=False, api_version=rt.api_version())
        self._maybe_finish_crd(key)

    def _maybe_finish_crd(self, key: str) -> None:
        crd = self.store.get(CRDS.key, "", key)
        if crd is None or not meta(crd).get("deletionTimestamp") or meta(crd).get("finalizers"):
            return
        if self.store.count(key):
            return
        self._remove(CRDS, crd)

    def seed_namespace(self, namespace: str) -> None:
        """What the controllers put in every new namespace of a real cluster."""
        stamp = objects.now()
        for kind, plural, body in (
            ("ServiceAccount", "serviceaccounts", {}),
            ("ConfigMap", "configmaps", {"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}}),
        ):
            name = "default" if kind == "ServiceAccount" else "kube-root-ca.crt"
            obj = {
                "apiVersion": "v1",
                "kind": kind,
                **body,
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": objects.new_uid(),
                    "creationTimestamp": stamp,
                },
            }
            self.store.commit(plural, obj, None)
