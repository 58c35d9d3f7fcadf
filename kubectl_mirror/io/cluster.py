"""The cluster adapter: the only module that imports `kubernetes`.

The official client is used for what it is good at (kubeconfig/in-cluster configuration, TLS
settings, exec/OIDC token refresh, proxies); requests are raw JSON, because deserializing 200,000
objects into generated models costs more than the whole render. Requests with one answer go
through io/http.py (a fraction of urllib3's CPU per call), watches and proxied configurations
through the official client's urllib3 pool.
Transient failures (429 with Retry-After, 5xx, dropped connections) are retried here, once, for
every caller; everything else becomes a `ClusterError` naming the object.
"""

from __future__ import annotations

import json
import os
import random
import re
import ssl
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from kubectl_mirror.errors import ClusterError, ForbiddenError, Ref
from kubectl_mirror.io import http

IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PAGE_SIZE = 5000  # one-shot commands: few requests
WATCH_PAGE_SIZE = 500  # informers: a relist never holds more than a page of full objects
NO_REF = Ref()


@dataclass(frozen=True)
class ClusterOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    request_timeout: float | None = None
    retries: int = 6
    backoff_base: float = 0.2
    qps: float = 0.0  # client-side rate limit (0: none), like client-go's QPS/Burst
    burst: int = 10
    # kubectl's --as/--as-group: every request is made as this user (the kubeconfig's user must
    # be allowed to impersonate).
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    # Connections kept open to the server. Every request in flight holds one (a watch for as
    # long as it runs); fewer than that and urllib3 opens and throws away a connection (a TLS
    # handshake) per request beyond it. The client's default is 5 per CPU.
    pool_size: int = 128


class RateLimiter:
    """A token bucket shared by every thread using one Cluster."""

    def __init__(self, qps: float, burst: int) -> None:
        import threading

        self.qps = qps
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.qps)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.qps
            time.sleep(wait)


@dataclass(frozen=True)
class Resource:
    """One served kind, from discovery."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        return base


@dataclass
class Response:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def parse_timeout(text: str | None) -> float | None:
    """kubectl's --request-timeout: `0` (none), plain seconds, or 1s / 2m / 1h."""
    if text is None or text in ("", "0"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text.strip())
    if not m:
        raise ClusterError(f"invalid duration {text!r} (e.g. 30s, 2m)", Ref(), "--request-timeout")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


class Cluster:
    """Raw JSON requests with retries; counts requests by verb for `--v`/benchmarks."""

    def __init__(self, api_client: Any, *, namespace: str, options: ClusterOptions) -> None:
        self._client = api_client
        self._config = api_client.configuration
        self._pool = api_client.rest_client.pool_manager
        size = max(options.pool_size, int(self._pool.connection_pool_kw.get("maxsize") or 1))
        self._pool.connection_pool_kw["maxsize"] = size
        self._pool.clear()  # pools made before (none yet) would keep the old size
        self.host = str(self._config.host).rstrip("/")
        self._base_path = urlsplit(self.host).path
        self.namespace = namespace
        self.options = options
        # Requests with one answer go through io/http.py unless a proxy is configured; watches
        # (streams) always go through urllib3.
        found = http.endpoint(self._config)
        self._direct = http.Pool(found, max_idle=size) if found is not None else None
        # Like the official client's ApiClient.__del__: a Cluster nobody closed still closes its
        # connections when it goes.
        self._closer = weakref.finalize(self, self._direct.close) if self._direct is not None else None
        self._fixed_headers = _fixed_headers(options)
        self.requests: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._auth_lock = threading.Lock()
        self._resources: list[Resource] | None = None
        self.limiter: RateLimiter | None = (
            RateLimiter(options.qps, options.burst) if options.qps and options.qps > 0 else None
        )

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
        self._client.close()

    def _count(self, verb: str) -> None:
        with self._count_lock:  # Counter's += is a read and a write: threads would lose counts
            self.requests[verb] += 1

    # -- transport ---------------------------------------------------------------------------

    def _headers(self, content_type: str | None) -> list[tuple[str, str]]:
        headers = list(self._fixed_headers)
        if content_type:
            headers.append(("Content-Type", content_type))
        try:
            with self._auth_lock:  # one refresh at a time when several threads write at once
                settings = self._config.auth_settings()  # may refresh a token (exec plugin, OIDC)
        except Exception as err:  # the client raises its own ConfigException, among others
            raise ClusterError(f"cannot get credentials for the cluster: {_one_line(err)}") from err
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                headers.append((str(setting["key"]), str(setting["value"])))
        return headers

    def _send(
        self, method: str, target: str, *, body: bytes | None, headers: list[tuple[str, str]]
    ) -> tuple[int, dict[str, str], bytes]:
        """One attempt: status, headers (lower-case names) and body; `_Transient` when the
        request or its answer was lost on the way."""
        timeout = self.options.request_timeout
        if self._direct is not None:
            try:
                reply = self._direct.request(
                    method, self._base_path + target, headers=headers, body=body, timeout=timeout
                )
            except http.TransportError as err:
                raise _Transient(str(err)) from err
            except ValueError as err:  # nothing was sent: trying again would not help
                raise ClusterError(f"{method} {target.split('?', 1)[0]}: {err}") from err
            return reply.status, reply.headers, reply.body
        import urllib3

        try:
            raw = self._pool.request(
                method,
                self.host + target,
                body=body,
                headers=_urllib3_headers(headers),
                timeout=urllib3.Timeout(total=timeout) if timeout else None,
                retries=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as err:
            raise _Transient(_one_line(err)) from err
        return raw.status, {k.lower(): v for k, v in raw.headers.items()}, raw.data

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        ref: Ref = NO_REF,
        ok: tuple[int, ...] = (),
    ) -> Response:
        """One API call, retried on transient failures; raises ClusterError otherwise.

        Statuses in `ok` are returned to the caller instead of raised (e.g. 404, 409)."""
        target = path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            target += "?" + urlencode(params)
        data = json.dumps(body).encode() if body is not None else None
        verb = _verb(method, params)
        for attempt in range(self.options.retries + 1):
            self._count(verb)
            self._throttle()
            try:
                status, headers, raw = self._send(
                    method,
                    target,
                    body=data,
                    headers=self._headers(content_type if data is not None else None),
                )
            except _Transient as err:
                if attempt < self.options.retries:
                    self._sleep(attempt, None)
                    continue
                raise ClusterError(f"{method} {path}: {err}", ref) from err
            if status in RETRY_STATUSES and attempt < self.options.retries:
                self._sleep(attempt, headers.get("retry-after"))
                continue
            body_out = _json(raw)
            if 200 <= status < 300 or status in ok:
                return Response(status, body_out, headers)
            error = ForbiddenError if status == 403 else ClusterError
            raise error(_status_message(method, path, status, body_out), ref)
        raise AssertionError("unreachable")

    def _throttle(self) -> None:
        if self.limiter is not None:
            self.limiter.take()

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), 30.0)
        else:
            delay = min(self.options.backoff_base * (2**attempt), 10.0)
            delay *= 0.5 + random.random() / 2  # jitter: many clients must not retry in step
        time.sleep(delay)

    # -- discovery ---------------------------------------------------------------------------

    def resources(self) -> list[Resource]:
        """Every served kind (preferred version of each group), subresources left out."""
        if self._resources is not None:
            return self._resources
        found: list[Resource] = []
        core = self.request("GET", "/api/v1").body
        found.extend(_resources_of("", "v1", core))
        groups = self.request("GET", "/apis").body or {}
        for group in groups.get("groups", []):
            preferred = group.get("preferredVersion") or (group.get("versions") or [{}])[0]
            version = preferred.get("version")
            if not version:
                continue
            listing = self.request(
                "GET", f"/apis/{group['name']}/{version}", ok=(404, 503)
            ).body  # a broken aggregated API must not stop the rest
            if isinstance(listing, dict) and listing.get("resources"):
                found.extend(_resources_of(group["name"], version, listing))
        self._resources = found
        return found

    def refresh(self) -> None:
        self._resources = None

    def resource_for(self, api_version: str, kind: str) -> Resource | None:
        group, _, version = api_version.rpartition("/")
        for r in self.resources():
            if r.kind == kind and r.group == group and r.version == version:
                return r
        for r in self.resources():  # another served version of the same group and kind
            if r.kind == kind and r.group == group:
                return r
        return None

    # -- reads -------------------------------------------------------------------------------

    def pages(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        limit: int = PAGE_SIZE,
    ) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """The list one page at a time (and the resourceVersion so far): a caller that keeps
        only a slim copy of each object never holds the whole list."""
        token: str | None = None
        version = ""
        while True:
            body = self.request(
                "GET",
                resource.path(namespace),
                query={"labelSelector": label_selector or None, "limit": limit, "continue": token},
            ).body
            items: list[dict[str, Any]] = []
            for item in body.get("items") or []:
                # Nothing here reads managedFields; they are over a third of a mirror's JSON.
                (item.get("metadata") or {}).pop("managedFields", None)
                item.setdefault("apiVersion", resource.api_version)
                item.setdefault("kind", resource.kind)
                items.append(item)
            meta = body.get("metadata") or {}
            version = meta.get("resourceVersion", version)
            token = meta.get("continue") or None
            yield items, version
            if not token:
                return

    def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """All objects (paged), with apiVersion/kind filled in; and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        version = ""
        for page, page_version in self.pages(resource, namespace=namespace, label_selector=label_selector):
            items.extend(page)
            version = page_version
        return items, version

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.request("GET", resource.path(namespace, name), ok=(404,))
        if found.status == 404:
            return None
        obj: dict[str, Any] = found.body
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        return obj

    def watch(
        self,
        resource: Resource,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
        read_timeout: float = 60.0,
    ) -> Iterator[dict[str, Any]]:
        """Watch events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) as dicts, until the server
        ends the stream. A 410 Gone arrives as an ERROR event (code 410): callers relist.

        `read_timeout` bounds the silence between two reads, so a stalled stream raises
        instead of hanging; with bookmarks on, a healthy stream is never that quiet."""
        import urllib3

        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
            "labelSelector": label_selector or None,
        }
        url = (
            self.host + resource.path() + "?" + urlencode({k: v for k, v in params.items() if v is not None})
        )
        self._count("watch")
        self._throttle()
        try:
            raw = self._pool.request(
                "GET",
                url,
                headers=_urllib3_headers(self._headers(None)),
                timeout=urllib3.Timeout(connect=10.0, read=read_timeout),
                retries=urllib3.Retry(total=1, connect=1, read=1, status=0, redirect=0, other=0),
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as err:
            raise ClusterError(f"watch {resource.plural}: {_one_line(err)}") from err
        try:
            if raw.status != 200:
                body = _json(raw.read())
                if raw.status == 410:
                    yield {"type": "ERROR", "object": body or {"code": 410}}
                    return
                raise ClusterError(_status_message("GET", resource.path(), raw.status, body))
            buffer = b""
            for chunk in raw.stream(65536, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        event = _json(line)
                        obj = event.get("object") if isinstance(event, dict) else None
                        if isinstance(obj, dict):
                            (obj.get("metadata") or {}).pop("managedFields", None)
                            obj.setdefault("apiVersion", resource.api_version)
                            obj.setdefault("kind", resource.kind)
                        yield event
        except urllib3.exceptions.ReadTimeoutError as err:
            raise WatchSilent(f"watch {resource.plural}: no data for {read_timeout:g}s") from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ClusterError(f"watch {resource.plural}: {_one_line(err)}") from err
        finally:
            raw.release_conn()

    # -- writes ------------------------------------------------------------------------------

    def create(self, resource: Resource, obj: Mapping[str, Any], *, dry_run: bool, ref: Ref) -> Response:
        """POST; a 409 AlreadyExists is returned, not raised, so callers can inspect the object."""
        ns = obj["metadata"]["namespace"]
        return self.request(
            "POST",
            resource.path(ns),
            query=_write_query(dry_run),
            body=obj,
            content_type="application/json",
            ref=ref,
            ok=(409,),
        )

    def replace(self, resource: Resource, obj: Mapping[str, Any], *, dry_run: bool, ref: Ref) -> Response:
        """PUT with the live resourceVersion; a 409 Conflict is returned for the caller to re-read."""
        meta = obj["metadata"]
        return self.request(
            "PUT",
            resource.path(meta["namespace"], meta["name"]),
            query=_write_query(dry_run),
            body=obj,
            content_type="application/json",
            ref=ref,
            ok=(409,),
        )

    def apply(self, resource: Resource, obj: Mapping[str, Any], *, dry_run: bool, ref: Ref) -> Response:
        """Server-side apply as field manager kubectl-mirror, forcing our own fields.

        The body carries the live resourceVersion, which the server treats as a precondition,
        so an object that changed hands since we read it is never applied to (409)."""
        meta = obj["metadata"]
        return self.request(
            "PATCH",
            resource.path(meta["namespace"], meta["name"]),
            query={**_write_query(dry_run), "force": "true"},
            body=obj,
            content_type="application/apply-patch+yaml",
            ref=ref,
            ok=(409,),
        )

    def merge_patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        dry_run: bool,
        ref: Ref,
    ) -> Response:
        return self.request(
            "PATCH",
            resource.path(namespace, name),
            query=_write_query(dry_run),
            body=patch,
            content_type="application/merge-patch+json",
            ref=ref,
            ok=(404, 409),
        )

    def delete(self, resource: Resource, obj: Mapping[str, Any], *, dry_run: bool, ref: Ref) -> Response:
        """DELETE with uid and resourceVersion preconditions: only the object we inspected goes."""
        meta = obj["metadata"]
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
        }
        if dry_run:
            body["dryRun"] = ["All"]
        return self.request(
            "DELETE",
            resource.path(meta["namespace"], meta["name"]),
            query={"dryRun": "All"} if dry_run else None,
            body=body,
            content_type="application/json",
            ref=ref,
            ok=(404, 409),
        )


class _Transient(Exception):
    """A request failed on its way (connection refused, reset, timed out): worth another try."""


def _fixed_headers(options: ClusterOptions) -> tuple[tuple[str, str], ...]:
    headers = [("Accept", "application/json"), ("User-Agent", "kubectl-mirror")]
    if options.impersonate:
        headers.append(("Impersonate-User", options.impersonate))
    headers.extend(("Impersonate-Group", group) for group in options.impersonate_groups)
    return tuple(headers)


def _urllib3_headers(headers: list[tuple[str, str]]) -> Any:
    import urllib3

    out = urllib3.HTTPHeaderDict()  # one line per Impersonate-Group
    for name, value in headers:
        out.add(name, value)
    return out


def _write_query(dry_run: bool) -> dict[str, str]:
    query = {"fieldManager": "kubectl-mirror"}
    if dry_run:
        query["dryRun"] = "All"
    return query


def _verb(method: str, params: Mapping[str, Any]) -> str:
    if method == "GET":
        return "watch" if params.get("watch") else "get/list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method)


def _json(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return {"message": data[:200].decode("utf-8", "replace")}


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:300]


def _status_message(method: str, path: str, status: int, body: Any) -> str:
    if isinstance(body, dict) and body.get("kind") == "Status":
        reason = body.get("reason") or "Error"
        return f"{reason} ({status}): {_one_line(Exception(body.get('message', '')))}"
    return f"{method} {path} failed with HTTP {status}"


def _resources_of(group: str, version: str, listing: Any) -> Iterator[Resource]:
    for r in (listing or {}).get("resources", []):
        if "/" in r.get("name", ""):
            continue
        yield Resource(
            group=group,
            version=version,
            kind=r["kind"],
            plural=r["name"],
            namespaced=bool(r.get("namespaced")),
            verbs=frozenset(r.get("verbs") or ()),
        )


class WatchSilent(ClusterError):
    """An open watch delivered nothing, not even a bookmark, for its read timeout. Nothing was
    missed: the watch resumes from the last resourceVersion it saw."""


def connect(options: ClusterOptions) -> Cluster:
    """A Cluster from --kubeconfig/--context/KUBECONFIG, or in-cluster config inside a pod."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        if options.kubeconfig or os.environ.get("KUBECONFIG") or _default_kubeconfig_exists():
            api_client = config.new_client_from_config(
                config_file=options.kubeconfig, context=options.context
            )
            namespace = options.namespace or _context_namespace(options) or "default"
        else:
            cfg = _in_cluster_configuration()
            from kubernetes import client

            api_client = client.ApiClient(cfg)
            namespace = options.namespace or _read(IN_CLUSTER_NAMESPACE) or "default"
    except ConfigException as err:
        raise ClusterError(
            f"cannot load cluster configuration: {_one_line(err)}", Ref(), "--kubeconfig"
        ) from err
    except OSError as err:
        raise ClusterError(f"cannot read kubeconfig: {_one_line(err)}", Ref(), "--kubeconfig") from err
    try:
        return Cluster(api_client, namespace=namespace, options=options)
    except ssl.SSLError as err:  # the TLS context is built here, before any request
        raise ClusterError(
            f"cannot use the cluster's certificate authority or client certificate: {_one_line(err)}",
            Ref(),
            "--kubeconfig",
        ) from err


def _default_kubeconfig_exists() -> bool:
    return os.path.exists(os.path.expanduser("~/.kube/config"))


def _in_cluster_configuration() -> Any:
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_incluster_config(client_configuration=cfg)
    return cfg


def _context_namespace(options: ClusterOptions) -> str | None:
    from kubernetes import config

    contexts, active = config.list_kube_config_contexts(config_file=options.kubeconfig)
    chosen = active
    if options.context:
        chosen = next((c for c in contexts if c.get("name") == options.context), active)
    ns = (chosen or {}).get("context", {}).get("namespace")
    return str(ns) if ns else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None
