"""`RealServer`: a running `ControlPlane` used the way e2e tests use the fake `ApiServer`.

    server = RealServer(ControlPlane.start(assets, workdir))
    server.reset()                      # back to the cluster as it was after start-up
    server.create({...})                # as the admin user, returns the created object
    server.log.writes()                 # what the tests' user wrote since the last clear()

`reset()` is what makes one control plane serve a whole session. At construction, once the
controller manager has filled the four system namespaces (their `default` ServiceAccount and
`kube-root-ca.crt`), every object of every listable built-in resource is recorded by
(resource, namespace, name), with the namespaces' labels and annotations. A reset then:

1. deletes each namespace not in that snapshot and finalizes it at once (DELETE, then PUT
   `.../finalize` with no finalizers), instead of waiting seconds for the namespace controller;
   deletes added CRDs (their custom resources go with them) and waits until they are gone;
   deletes other added cluster-scoped objects; restores the labels and annotations of the
   snapshot's namespaces;
2. then lists every namespaced resource across the cluster and deletes each object not in the
   snapshot: by name in a snapshot namespace, by collection in a namespace that is gone. Doing
   it after the namespaces are gone leaves no window in which the controller manager could add
   a `kube-root-ca.crt` behind our back, and an object left in etcd under a deleted namespace
   would reappear in the next test that creates a namespace of that name;
3. clears the request log.

Objects of the snapshot that a test changed are not restored (only namespace labels and
annotations are). `faults` and `store` exist only on the fake: tests that need them are marked
`fake_only`.

Threads: discovery and reset fan out over a pool of `workers` threads that share one connection
pool (urllib3's is thread-safe). The only state they write is `_kinds`, one key per
group-version, each set by a single assignment; the snapshot is built before any reset runs and
never changes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .auditlog import AuditLog
from .controlplane import ControlPlane, client_context
from .rest import METADATA_LIST, Rest

WAIT = 30.0
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CRDS = "customresourcedefinitions.apiextensions.k8s.io"
# Served twice (events.k8s.io/v1 events are core/v1 events); listed and deleted through core only.
ALIASES = frozenset({"events.events.k8s.io"})


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def key(self) -> str:
        """RBAC's name: `configmaps`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


ObjectKey = tuple[str, str, str]  # resource key, namespace ("" at cluster scope), name


def _wait(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


class RealServer:
    def __init__(self, plane: ControlPlane, *, workers: int = 8) -> None:
        self.plane = plane
        self.url = plane.url
        self.kubeconfig = plane.kubeconfig
        self.rest = Rest(plane.url, client_context(plane.certs), connections=workers * 2)
        self.log = AuditLog(plane.audit_log, user=plane.admin_user, sentinel=self._sentinel)
        self.reset_seconds: list[float] = []
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="realserver")
        self._kinds: dict[str, dict[str, Resource]] = {}  # apiVersion -> kind -> resource
        self._resources = self._discover()
        self._wait_settled()
        self._objects, self._namespaces = self._snapshot()
        self.log.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.rest.close()

    @property
    def faults(self) -> Any:
        raise AttributeError("fault injection exists only on the fake apiserver: mark the test fake_only")

    @property
    def store(self) -> Any:
        raise AttributeError("the store exists only on the fake apiserver: mark the test fake_only")

    # -- discovery ------------------------------------------------------------------------

    def _group_versions(self) -> list[str]:
        _, groups = self.rest.call("GET", "/apis")
        return ["v1"] + [g["preferredVersion"]["groupVersion"] for g in groups["groups"]]

    def _resources_of(self, group_version: str, *, refresh: bool = False) -> dict[str, Resource]:
        if refresh or group_version not in self._kinds:
            path = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
            status, doc = self.rest.call("GET", path, ok=(404,))
            group, _, version = group_version.rpartition("/")
            found = [] if status == 404 else doc["resources"]
            self._kinds[group_version] = {
                r["kind"]: Resource(
                    group, version, r["name"], r["kind"], r["namespaced"], frozenset(r["verbs"])
                )
                for r in found
                if "/" not in r["name"]
            }
        return self._kinds[group_version]

    def _discover(self) -> list[Resource]:
        """Every built-in resource that can be listed and deleted, each in its preferred version."""
        versions = list(self._pool.map(self._resources_of, self._group_versions()))
        return [
            r
            for kinds in versions
            for r in kinds.values()
            if {"list", "delete"} <= r.verbs and r.key not in ALIASES
        ]

    def resource(self, api_version: str, kind: str) -> Resource:
        found = self._resources_of(api_version).get(kind)
        if found is None:  # a kind a CRD added since the last look
            found = self._resources_of(api_version, refresh=True).get(kind)
        if found is None:
            raise LookupError(f"no resource serves {api_version} {kind}")
        return found

    # -- objects --------------------------------------------------------------------------

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create `obj` as the admin user; a CRD is returned once its kind is served."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        namespace = (obj.get("metadata", {}).get("namespace") or "default") if res.namespaced else None
        _, created = self.rest.call("POST", res.path(namespace), obj)
        if res.key == "customresourcedefinitions.apiextensions.k8s.io":
            self._wait_served(created)
        return created  # type: ignore[no-any-return]

    def _wait_served(self, crd: dict[str, Any]) -> None:
        res = self.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        name = crd["metadata"]["name"]

        def established() -> bool:
            _, current = self.rest.call("GET", res.path(name=name))
            conditions = (current.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        _wait(established, f"CRD {name} to be established")
        spec = crd["spec"]
        kind = spec["names"]["kind"]
        for version in spec["versions"]:
            group_version = f"{spec['group']}/{version['name']}"
            _wait(
                lambda gv=group_version: kind in self._resources_of(gv, refresh=True),
                f"{kind} in the discovery of {group_version}",
            )

    def _sentinel(self, name: str) -> None:
        self.rest.call("GET", f"/api/v1/namespaces/default/configmaps/{name}", ok=(404,))

    def _list(self, res: Resource) -> list[dict[str, Any]]:
        """Metadata of every object of `res` in the cluster."""
        _, doc = self.rest.call("GET", res.path(), accept=METADATA_LIST, ok=(404,))
        return [item["metadata"] for item in (doc or {}).get("items") or []]

    def _list_all(self, resources: Iterable[Resource]) -> list[tuple[Resource, dict[str, Any]]]:
        resources = list(resources)
        listed = self._pool.map(self._list, resources)
        return [(res, meta) for res, metas in zip(resources, listed, strict=True) for meta in metas]

    # -- snapshot and reset ---------------------------------------------------------------

    def _wait_settled(self) -> None:
        """Wait until the controller manager has given each system namespace what it gives all."""

        def settled() -> bool:
            for namespace in SYSTEM_NAMESPACES:
                for path in ("serviceaccounts/default", "configmaps/kube-root-ca.crt"):
                    status, _ = self.rest.call("GET", f"/api/v1/namespaces/{namespace}/{path}", ok=(404,))
                    if status == 404:
                        return False
            return True

        _wait(settled, "the controller manager to fill the system namespaces")

    def _snapshot(self) -> tuple[set[ObjectKey], dict[str, dict[str, Any]]]:
        listed = self._list_all(self._resources)
        objects = {(res.key, meta.get("namespace", ""), meta["name"]) for res, meta in listed}
        namespaces = {
            meta["name"]: {"labels": meta.get("labels", {}), "annotations": meta.get("annotations", {})}
            for res, meta in listed
            if res.key == "namespaces"
        }
        return objects, namespaces

    def reset(self) -> float:
        """Back to the snapshot; returns the seconds it took (also kept in `reset_seconds`)."""
        began = time.monotonic()
        cluster = [r for r in self._resources if not r.namespaced]
        jobs: list[Callable[[], None]] = []
        listed = self._list_all(cluster)
        self._release_custom_resources(
            [m for r, m in listed if r.key == CRDS and (r.key, "", m["name"]) not in self._objects]
        )
        for res, meta in listed:
            key = (res.key, "", meta["name"])
            if res.key == "namespaces":
                jobs.append(self._namespace_job(meta))
            elif key not in self._objects:
                jobs.append(lambda res=res, name=meta["name"]: self._delete_cluster_object(res, name))
        self._run(jobs)
        self._delete_namespaced_extras()
        self.log.clear()
        seconds = time.monotonic() - began
        self.reset_seconds.append(seconds)
        return seconds

    def _release_custom_resources(self, crds: list[dict[str, Any]]) -> None:
        """Drop the finalizers of the custom resources of CRDs about to go (a controller's, which
        stopped with its test), while their namespaces still exist: they would hold the CRD."""
        for name in (m["name"] for m in crds):
            status, crd = self.rest.call(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}", ok=(404,)
            )
            spec = crd.get("spec") or {} if status == 200 and isinstance(crd, dict) else {}
            version = next((v["name"] for v in spec.get("versions", []) if v.get("storage")), None)
            if not version:
                continue
            base, plural = f"/apis/{spec['group']}/{version}", spec["names"]["plural"]
            _, listed = self.rest.call("GET", f"{base}/{plural}", ok=(404,))
            for item in listed.get("items", []) if isinstance(listed, dict) else []:
                meta = item.get("metadata") or {}
                where = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
                self._drop_finalizers(f"{base}{where}/{plural}/{meta['name']}", item)

    def _run(self, jobs: list[Callable[[], None]]) -> None:
        for future in [self._pool.submit(job) for job in jobs]:
            future.result()

    def _namespace_job(self, meta: dict[str, Any]) -> Callable[[], None]:
        name = meta["name"]
        if name not in self._namespaces:
            return lambda: self._remove_namespace(name)
        return lambda: self._restore_namespace(meta)

    def _remove_namespace(self, name: str) -> None:
        """Delete and finalize at once; its content is deleted afterwards, by collection."""
        path = f"/api/v1/namespaces/{name}"
        status, namespace = self.rest.call("DELETE", path, ok=(404, 409))
        if status == 404:
            return
        if status == 409:  # already terminating
            _, namespace = self.rest.call("GET", path)
        namespace["spec"]["finalizers"] = []
        self.rest.call("PUT", f"{path}/finalize", namespace, ok=(404, 409))
        _wait(lambda: self.rest.call("GET", path, ok=(404,))[0] == 404, f"namespace {name} to go away")

    def _restore_namespace(self, meta: dict[str, Any]) -> None:
        wanted = self._namespaces[meta["name"]]
        patch: dict[str, dict[str, Any]] = {}
        for field in ("labels", "annotations"):
            now, then = meta.get(field, {}), wanted[field]
            added = {k: None for k in now if k not in then}
            changes = added | {k: v for k, v in then.items() if now.get(k) != v}
            if changes:
                patch[field] = changes
        if patch:
            self.rest.call(
                "PATCH",
                f"/api/v1/namespaces/{meta['name']}",
                {"metadata": patch},
                content_type="application/merge-patch+json",
            )

    def _delete_cluster_object(self, res: Resource, name: str) -> None:
        if res.key != CRDS:
            self._delete_one(res, None, name)
            return
        # Its cleanup finalizer deletes its custom resources, in namespaces gone or not; dropping
        # that finalizer would leave them in etcd, back as soon as the CRD is created again.
        # (Their own finalizers were dropped first: `_release_custom_resources`.)
        path = res.path(name=name)
        self.rest.call("DELETE", path, ok=(404, 409))
        _wait(lambda: self.rest.call("GET", path, ok=(404,))[0] == 404, f"CRD {name} to go away")

    def _delete_one(self, res: Resource, namespace: str | None, name: str) -> None:
        path = res.path(namespace, name)
        status, obj = self.rest.call("DELETE", path, ok=(404, 409))
        if status < 300 and isinstance(obj, dict):
            self._drop_finalizers(path, obj)

    def _drop_finalizers(self, path: str, obj: dict[str, Any]) -> None:
        if obj.get("metadata", {}).get("finalizers"):
            self.rest.call(
                "PATCH",
                path,
                {"metadata": {"finalizers": None}},
                content_type="application/merge-patch+json",
                ok=(404, 409),
            )

    def _delete_namespaced_extras(self) -> None:
        namespaced = [r for r in self._resources if r.namespaced]
        by_collection: dict[tuple[Resource, str], int] = defaultdict(int)
        jobs: list[Callable[[], None]] = []
        for res, meta in self._list_all(namespaced):
            namespace, name = meta["namespace"], meta["name"]
            if (res.key, namespace, name) in self._objects:
                continue
            if namespace not in self._namespaces and "deletecollection" in res.verbs:
                by_collection[(res, namespace)] += 1
            else:
                jobs.append(lambda res=res, ns=namespace, name=name: self._delete_one(res, ns, name))
        for res, namespace in by_collection:
            jobs.append(lambda res=res, ns=namespace: self._delete_collection(res, ns))
        self._run(jobs)

    def _delete_collection(self, res: Resource, namespace: str) -> None:
        _, deleted = self.rest.call("DELETE", res.path(namespace))
        for item in (deleted or {}).get("items", []):
            self._drop_finalizers(res.path(namespace, item["metadata"]["name"]), item)
