"""HTTP: one request in, one response (or one watch stream) out.

Reads the body, asks `routing` what is meant, lets `faults` fire, calls `api`, logs the
request, writes JSON. Errors are `Status` bodies. Knows nothing of the API's rules.
"""

from __future__ import annotations

import json
import socket
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from . import discovery, errors, openapi, protobuf, tables
from .api import Call
from .requestlog import Record
from .routing import Discovery, Target, parse, verb
from .streaming import WatchOptions, WatchStream, open_watch

if TYPE_CHECKING:
    from .server import ApiServer

MAX_BODY = 3 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    _started = 0.0
    _logged = False
    _record: dict[str, Any]
    protocol_version = "HTTP/1.1"
    server_version = "kubectl-mirror-test-apiserver"
    sys_version = ""

    @property
    def app(self) -> ApiServer:
        return self.server.app  # type: ignore[attr-defined, no-any-return]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.app.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.app.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing -------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _log(self, status: int) -> None:
        """Log the request before its response goes out, so a client never outruns the log."""
        if self._logged:
            return
        self._logged = True
        duration = time.monotonic() - self._started
        self.app.log.add(Record(status=status, duration=duration, **self._record))

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self._log(code)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # -- dispatch -------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        self._started = time.monotonic()
        self._logged = False
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        record: dict[str, Any] = {
            "method": method,
            "path": url.path,
            "verb": "discovery",
            "query": params,
            "user_agent": self.headers.get("User-Agent", ""),
            "content_type": self.headers.get("Content-Type", ""),
            "field_manager": params.get("fieldManager", ""),
            "dry_run": params.get("dryRun") == "All",
        }
        self._record = record
        try:
            body = self._read_body()
            if len(body) > MAX_BODY:
                raise errors.too_large(MAX_BODY)
            target = parse(self.app.registry, url.path)
            if isinstance(target, Discovery):
                self._discovery(method, target)
            else:
                self._resource(method, target, params, body, record)
        except errors.ApiError as err:
            self._send_json(err.code, err.body, err.headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            self._log(499)
        except Exception as exc:  # a bug in the fake server: report it, keep serving
            self.app.crashes.append("".join(traceback.format_exception(exc)))
            crash = errors.internal(f"fake apiserver crashed: {exc!r}")
            self._send_json(500, crash.body)

    def _discovery(self, method: str, target: Discovery) -> int:
        if method != "GET":
            raise errors.method_not_allowed()
        parts = target.parts
        doc: dict[str, Any] | None = None
        registry = self.app.registry
        if parts == ():
            doc = {"paths": ["/api", "/api/v1", "/apis", "/version", "/healthz"]}
        elif parts == ("version",):
            doc = discovery.VERSION_INFO
        elif parts in (("healthz",), ("livez",), ("readyz",)):
            data = b"ok"
            self._log(200)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return 200
        elif parts == ("api",):
            doc = discovery.api_versions(f"{self.app.host}:{self.app.port}")
        elif parts == ("api", "v1"):
            doc = discovery.resource_list(registry, "", "v1")
        elif parts == ("apis",):
            doc = discovery.api_groups(registry)
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(registry, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.resource_list(registry, parts[1], parts[2])
        elif parts == ("openapi", "v3"):
            doc = openapi.root(registry)
        elif parts[:2] == ("openapi", "v3") and len(parts) in (4, 5):
            group, version = (parts[3], parts[4]) if parts[2] == "apis" else ("", parts[3])
            doc = openapi.group_version(registry, group, version)
        if doc is None:
            raise errors.path_not_found()
        self._send_json(200, doc)
        return 200

    def _resource(
        self,
        method: str,
        target: Target,
        params: dict[str, str],
        raw: bytes,
        record: dict[str, Any],
    ) -> int:
        watch = params.get("watch") in ("true", "1")
        the_verb = verb(method, target, watch)
        record.update(
            verb=the_verb,
            resource=target.rt.key,
            subresource=target.subresource,
            namespace=target.namespace or "",
            name=target.name or "",
        )
        if the_verb not in target.rt.verbs:
            raise errors.method_not_allowed()
        call = Call(
            target.rt,
            target.version,
            target.namespace,
            target.name,
            target.subresource,
            params,
            self.headers.get("User-Agent", ""),
        )
        after = None
        for rule in self.app.faults.take(the_verb, target.rt.key, target.namespace or "", target.name or ""):
            if rule.delay:
                time.sleep(rule.delay)
            if rule.status is not None:
                injected = errors.for_status(
                    rule.status,
                    group=target.rt.group,
                    plural=target.rt.plural,
                    name=target.name or "",
                    retry_after=rule.retry_after,
                )
                if not rule.after:
                    raise injected
                after = injected
        if the_verb == "watch":
            return self._watch(call)
        code, body = self._call(the_verb, call, raw)
        if after is not None:
            raise after
        accept = self.headers.get("Accept", "")
        if the_verb in ("get", "list") and tables.wants_table(accept):
            items = body.get("items", [body]) if the_verb == "list" else [body]
            list_meta = (
                body.get("metadata", {})
                if the_verb == "list"
                else {"resourceVersion": body["metadata"].get("resourceVersion", "")}
            )
            if the_verb == "list":
                items = [
                    self.app.store.get(
                        target.rt.key, i["metadata"].get("namespace", ""), i["metadata"]["name"]
                    )
                    or i
                    for i in items
                ]
            body = tables.table(target.rt, items, list_meta, params.get("includeObject", "Metadata"))
        self._send_json(code, body)
        return code

    def _call(self, the_verb: str, call: Call, raw: bytes) -> tuple[int, Any]:
        api = self.app.api
        if the_verb == "get":
            return 200, api.get(call)
        if the_verb == "list":
            if tables.wants_table(self.headers.get("Accept", "")):
                return 200, api.collection(call)
            return 200, api.collection_json(call)
        if the_verb == "patch":
            return api.patch(call, raw, self.headers.get("Content-Type", ""))
        ctype = self.headers.get("Content-Type", "")
        if raw and "protobuf" in ctype:
            body = protobuf.decode(raw)
        elif raw and "cbor" in ctype:
            raise errors.unsupported_media_type(ctype)
        else:
            body = _json(raw)
        if the_verb == "create":
            if call.name is not None:
                raise errors.method_not_allowed()
            return api.create(call, body)
        if the_verb == "update":
            return api.update(call, body)
        if the_verb == "delete":
            return api.delete(call, body)
        return api.delete_collection(call, body)

    def _watch(self, call: Call) -> int:
        watcher, initial, gone = open_watch(self.app.store, call)
        self._log(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.close_connection = True
        options = WatchOptions(
            bookmark_interval=self.app.bookmark_interval,
            default_timeout=self.app.watch_timeout,
            table=tables.wants_table(self.headers.get("Accept", "")),
            include_object=call.params.get("includeObject", "Metadata"),
        )
        stream = WatchStream(self.app.store, call, options, self._write_chunk, self.connection)
        try:
            if gone is not None:
                self.app.store.hub.unregister(watcher)
                self._write_chunk(json.dumps({"type": "ERROR", "object": gone.body}).encode() + b"\n")
            else:
                stream.run(watcher, initial)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        return 200


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as err:
        raise errors.bad_request(f"error decoding request body: {err}") from err
