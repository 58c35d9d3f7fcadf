"""The verbs: get, list, create, update, patch, apply, delete, deletecollection.

Takes parsed requests (`Call`) and returns (HTTP code, JSON body); raises `ApiError`.
Holds the store lock across each write so a read-modify-write is atomic. Deletion,
finalizers and the namespace/CRD cascades live in `lifecycle.py`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import errors, managed, objects, validation
from .lifecycle import Lifecycle
from .objects import meta
from .patches import json_patch, merge_patch, strategic_merge
from .resources import NAMESPACES, Registry, ResourceType, from_crd
from .selectors import parse_fields, parse_labels
from .store import Page, Store

MAX_OBJECT_BYTES = 1536 * 1024  # etcd's request limit
CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True)
class Call:
    rt: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str = ""
    params: dict[str, str] = field(default_factory=dict)
    user_agent: str = ""

    @property
    def api_version(self) -> str:
        return self.rt.api_version(self.version)

    @property
    def dry_run(self) -> bool:
        value = self.params.get("dryRun")
        if value is None:
            return False
        if value != "All":
            raise errors.bad_request(f'Invalid dry run value "{value}": only "All" is supported')
        return True

    @property
    def manager(self) -> str:
        explicit = self.params.get("fieldManager")
        if explicit:
            return explicit
        return (self.user_agent.split("/", 1)[0] or "unknown")[:128]


class Api:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.lifecycle = Lifecycle(store, registry)
        self.namespace_defaults = False

    # -- reads ----------------------------------------------------------------------------

    def get(self, call: Call) -> dict[str, Any]:
        obj = self._existing(call)
        return objects.with_api_version(obj, call.api_version)

    def _page(self, call: Call) -> tuple[Page, dict[str, Any]]:
        labels = parse_labels(call.params.get("labelSelector", ""))
        fields = parse_fields(call.params.get("fieldSelector", ""), call.rt.field_labels)
        limit = _positive_int(call.params.get("limit"))
        token = call.params.get("continue")
        after, list_rv = None, None
        if token:
            after, list_rv = self._decode_continue(token)
        with self.store.lock:
            rv = list_rv or self.store.rv
            page = self.store.select(
                call.rt.key, namespace=call.namespace, labels=labels, fields=fields, after=after, limit=limit
            )
        list_meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if page.last is not None:
            list_meta["continue"] = _encode_continue(rv, page.last)
            if page.remaining is not None:
                list_meta["remainingItemCount"] = page.remaining
        return page, list_meta

    def collection(self, call: Call) -> dict[str, Any]:
        page, list_meta = self._page(call)
        return {
            "kind": call.rt.list_kind,
            "apiVersion": call.api_version,
            "metadata": list_meta,
            "items": [objects.list_item(call.rt, o, call.api_version) for o in page.items],
        }

    def collection_json(self, call: Call) -> bytes:
        """`collection()` already serialized, reusing each unchanged item's cached JSON."""
        page, list_meta = self._page(call)
        bucket = self.store.bucket(call.rt.key)
        cacheable = call.version == call.rt.storage_version

        def encode(obj: dict[str, Any]) -> bytes:
            item = objects.list_item(call.rt, obj, call.api_version)
            return json.dumps(item, separators=(",", ":")).encode()

        items = [
            bucket.encoded(_key(o), o, functools.partial(encode, o)) if cacheable else encode(o)
            for o in page.items
        ]
        head = json.dumps(
            {"kind": call.rt.list_kind, "apiVersion": call.api_version, "metadata": list_meta},
            separators=(",", ":"),
        ).encode()
        return head[:-1] + b',"items":[' + b",".join(items) + b"]}"

    def _decode_continue(self, token: str) -> tuple[tuple[str, str], int]:
        try:
            data = json.loads(base64.b64decode(token))
            start = str(data["start"]).rstrip("\x00")
            rv = int(data["rv"])
        except (ValueError, KeyError, TypeError, binascii.Error) as err:
            raise errors.bad_request(f"continue key is not valid: {err}") from err
        if rv < self.store.hub.floor:
            raise errors.expired(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter, or use the "
                "continue token in this response to retrieve the remainder of the results."
            )
        ns, _, name = start.rpartition("/")
        return (ns, name), rv

    def _existing(self, call: Call) -> dict[str, Any]:
        found = self.store.get(call.rt.key, call.namespace or "", call.name or "")
        if found is None:
            raise errors.not_found(call.rt.group, call.rt.plural, call.name or "")
        return found

    # -- create ---------------------------------------------------------------------------

    def create(self, call: Call, body: Any) -> tuple[int, dict[str, Any]]:
        obj = self._check_body(call, body)
        m = obj["metadata"]
        if m.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if call.subresource:
            raise errors.method_not_allowed()
        with self.store.lock:
            self._check_can_create(call, m.get("name") or m.get("generateName") or "")
            if not m.get("name") and m.get("generateName"):
                m["name"] = self._free_name(call, m["generateName"])
            return 201, self._create(call, obj, apply_entries=None)

    def _create(
        self, call: Call, obj: dict[str, Any], apply_entries: list[managed.Entry] | None
    ) -> dict[str, Any]:
        rt = call.rt
        m = obj["metadata"]
        if self.store.get(rt.key, call.namespace or "", m.get("name") or "") is not None:
            raise errors.already_exists(rt.group, rt.plural, m.get("name") or "")
        if rt.key == "secrets":
            validation.decode_secret_data(obj)
            obj = objects.fold_string_data(obj)
            obj.setdefault("type", "Opaque")
        validation.validate(rt, obj, None)
        m = obj["metadata"]
        for key in objects.PRESERVED_META:
            m.pop(key, None)
        m["uid"] = objects.new_uid()
        m["creationTimestamp"] = objects.now()
        if rt.tracks_generation:
            m["generation"] = 1
        if rt.has_status:
            status = objects.default_status(rt, obj)
            obj.pop("status", None)
            if status is not None:
                obj["status"] = status
        if rt.key == "namespaces":
            obj["spec"] = {"finalizers": ["kubernetes"]}
        if apply_entries is not None:
            m["managedFields"] = managed.dump_entries(apply_entries)
        elif not self._client_managed(m, None):
            entries = managed.record_update(
                None,
                obj,
                manager=call.manager,
                api_version=call.api_version,
                now=objects.now(),
                skip_status=rt.has_status,
            )
            m["managedFields"] = managed.dump_entries(entries)
        obj["apiVersion"] = rt.api_version()
        obj["kind"] = rt.kind
        _check_size(obj)
        if call.dry_run:
            return objects.with_api_version(obj, call.api_version)
        stored = self.store.commit(rt.key, obj, None)
        self._after_create(rt, stored)
        return objects.with_api_version(stored, call.api_version)

    def _after_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.key == CRD_KEY:
            self.registry.add_custom(from_crd(obj))
        elif rt.key == "namespaces" and self.namespace_defaults:
            self.lifecycle.seed_namespace(meta(obj)["name"])

    def _check_body(self, call: Call, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of the request must be a {call.rt.kind} object")
        obj = copy.deepcopy(body)
        kind = obj.get("kind")
        if kind and kind != call.rt.kind:
            raise errors.bad_request(
                f"the kind in the request body ({kind}) does not match the resource "
                f"{call.rt.plural} ({call.rt.kind})"
            )
        served = {call.rt.api_version(v) for v in call.rt.versions}
        if obj.get("apiVersion") and obj["apiVersion"] not in served:
            raise errors.bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the "
                f"expected API version ({call.api_version})"
            )
        m = obj.setdefault("metadata", {})
        if not isinstance(m, dict):
            raise errors.bad_request("metadata must be an object")
        if call.rt.namespaced:
            if m.get("namespace") and m["namespace"] != call.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            m["namespace"] = call.namespace
        else:
            m.pop("namespace", None)
        if call.name is not None and m.get("name") and m["name"] != call.name:
            raise errors.bad_request(
                f"the name of the object ({m['name']}) does not match the name on the URL ({call.name})"
            )
        if call.name is not None:
            m["name"] = call.name
        return obj

    def _check_can_create(self, call: Call, name: str) -> None:
        rt = call.rt
        if rt.namespaced:
            ns = self.store.get(NAMESPACES.key, "", call.namespace or "")
            if ns is None:
                raise errors.not_found("", "namespaces", call.namespace or "")
            if meta(ns).get("deletionTimestamp"):
                why = (
                    f"unable to create new content in namespace {call.namespace} because "
                    f"it is being terminated"
                )
                raise errors.forbidden(rt.group, rt.plural, name, why, "NamespaceTerminating")
        if rt.custom:
            crd = self.store.get(CRD_KEY, "", rt.key)
            if crd is not None and meta(crd).get("deletionTimestamp"):
                raise errors.method_not_allowed(
                    "create not allowed while custom resource definition is terminating"
                )

    def _free_name(self, call: Call, prefix: str) -> str:
        for _ in range(8):
            name = objects.generated_name(prefix)
            if self.store.get(call.rt.key, call.namespace or "", name) is None:
                return name
        raise errors.already_exists(call.rt.group, call.rt.plural, prefix)

    # -- update / patch / apply ------------------------------------------------------------

    def update(self, call: Call, body: Any) -> tuple[int, dict[str, Any]]:
        obj = self._check_body(call, body)
        with self.store.lock:
            current = self.store.get(call.rt.key, call.namespace or "", call.name or "")
            if current is None:
                if call.rt.create_on_update and not call.subresource:
                    self._check_can_create(call, call.name or "")
                    obj["metadata"].pop("resourceVersion", None)
                    return 201, self._create(call, obj, apply_entries=None)
                raise errors.not_found(call.rt.group, call.rt.plural, call.name or "")
            sent_rv = obj["metadata"].get("resourceVersion")
            if not sent_rv and not call.rt.unconditional_update:
                raise errors.invalid(
                    call.rt.kind,
                    call.rt.group,
                    call.name or "",
                    [
                        (
                            "FieldValueInvalid",
                            "metadata.resourceVersion",
                            "Invalid value: 0x0: must be specified for an update",
                        )
                    ],
                )
            return 200, self._replace(call, current, obj, sent_rv=sent_rv)

    def patch(self, call: Call, raw: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        ctype = content_type.split(";", 1)[0].strip()
        if ctype == APPLY_PATCH:
            return self._apply(call, raw)
        try:
            doc = json.loads(raw or b"null")
        except ValueError as err:
            raise errors.bad_request(f"error decoding patch: {err}") from err
        if ctype == STRATEGIC_PATCH and not call.rt.strategic_merge:
            raise errors.unsupported_media_type(ctype)
        with self.store.lock:
            current = self._existing(call)
            if ctype == JSON_PATCH:
                patched = json_patch(current, doc)
            elif ctype == MERGE_PATCH:
                if not isinstance(doc, dict):
                    raise errors.bad_request("merge patch: the patch must be a JSON object")
                patched = merge_patch(current, doc)
            elif ctype == STRATEGIC_PATCH:
                patched = strategic_merge(current, doc)
            else:
                raise errors.unsupported_media_type(ctype)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch produced something other than an object")
            obj = self._check_body(call, patched)
            sent_rv = obj["metadata"].get("resourceVersion")
            if sent_rv == meta(current).get("resourceVersion"):
                sent_rv = None
            return 200, self._replace(call, current, obj, sent_rv=sent_rv)

    def _replace(
        self,
        call: Call,
        current: dict[str, Any],
        obj: dict[str, Any],
        *,
        sent_rv: str | None,
        entries: list[managed.Entry] | None = None,
    ) -> dict[str, Any]:
        rt = call.rt
        if sent_rv and sent_rv != meta(current).get("resourceVersion"):
            raise errors.conflict(rt.group, rt.plural, call.name or "", errors.STALE)
        if call.subresource == "status":
            obj = {**current, "status": obj.get("status")} if "status" in obj else dict(current)
            obj["metadata"] = dict(meta(current)) | {
                "managedFields": meta(obj).get("managedFields", meta(current).get("managedFields"))
            }
        elif call.subresource:
            raise errors.method_not_allowed()
        elif rt.has_status:
            obj = {k: v for k, v in obj.items() if k != "status"}
            if "status" in current:
                obj["status"] = current["status"]
        if rt.key == "secrets":
            validation.decode_secret_data(obj)
            obj = objects.fold_string_data(obj)
            obj.setdefault("type", "Opaque")
        m = obj["metadata"] = dict(meta(obj))
        old_m = meta(current)
        for key in objects.PRESERVED_META:
            if key in old_m:
                m[key] = old_m[key]
            else:
                m.pop(key, None)
        if rt.key == "namespaces":
            obj["spec"] = current.get("spec", {})
        validation.validate(rt, obj, current)
        if rt.tracks_generation and objects.spec_part(obj) != objects.spec_part(current):
            m["generation"] = int(old_m.get("generation", 0)) + 1
        if entries is not None:
            m["managedFields"] = managed.dump_entries(entries)
        elif not self._client_managed(m, current):
            new_entries = managed.record_update(
                current,
                obj,
                manager=call.manager,
                api_version=call.api_version,
                now=objects.now(),
                subresource=call.subresource,
                skip_status=rt.has_status,
            )
            m["managedFields"] = managed.dump_entries(new_entries)
        obj["apiVersion"] = rt.api_version()
        obj["kind"] = rt.kind
        if objects.without_meta_time(obj) == objects.without_meta_time(current):
            return objects.with_api_version(current, call.api_version)  # no-op: no write
        _check_size(obj)
        if old_m.get("deletionTimestamp") and not m.get("finalizers"):
            if call.dry_run:
                return objects.with_api_version(obj, call.api_version)
            gone = self.lifecycle.finalize(rt, obj)
            return objects.with_api_version(gone, call.api_version)
        if call.dry_run:
            return objects.with_api_version(obj, call.api_version)
        stored = self.store.commit(rt.key, obj, current)
        if rt.key == CRD_KEY:
            self.registry.add_custom(from_crd(stored))
        return objects.with_api_version(stored, call.api_version)

    def _client_managed(self, m: dict[str, Any], current: dict[str, Any] | None) -> bool:
        """True when the request sets managedFields itself (kept as sent, or `[{}]` resets)."""
        sent = m.get("managedFields")
        if sent is None or sent == (meta(current).get("managedFields") if current else None):
            return False
        if sent == [] and current is not None:
            m["managedFields"] = meta(current).get("managedFields", [])
            return True
        if sent == [{}]:
            m.pop("managedFields")
            return True
        m["managedFields"] = managed.dump_entries(managed.parse_entries(sent))
        return True

    def _apply(self, call: Call, raw: bytes) -> tuple[int, dict[str, Any]]:
        manager = call.params.get("fieldManager")
        if not manager:
            raise errors.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [
                    (
                        "FieldValueRequired",
                        "fieldManager",
                        "Required value: is required for apply patch",
                    )
                ],
            )
        force = call.params.get("force", "false") == "true"
        try:
            applied = yaml.safe_load(raw.decode() or "null")
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise errors.bad_request(f"error decoding YAML: {err}") from err
        if not isinstance(applied, dict):
            raise errors.bad_request("the apply configuration must be an object")
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise errors.bad_request(
                "invalid object type: apiVersion and kind must be set in an apply configuration"
            )
        applied_obj = self._check_body(call, applied)
        applied["metadata"] = applied_obj["metadata"]
        with self.store.lock:
            current = self.store.get(call.rt.key, call.namespace or "", call.name or "")
            skeleton = current or {
                "apiVersion": call.api_version,
                "kind": call.rt.kind,
                "metadata": {},
            }
            merged, entries = managed.apply(
                skeleton,
                applied,
                manager=manager,
                force=force,
                api_version=call.api_version,
                now=objects.now(),
                skip_status=call.rt.has_status and call.subresource != "status",
            )
            merged = self._check_body(call, merged)
            sent_rv = meta(applied).get("resourceVersion")
            if current is None:
                if sent_rv:
                    raise errors.not_found(call.rt.group, call.rt.plural, call.name or "")
                self._check_can_create(call, call.name or "")
                merged["metadata"].pop("resourceVersion", None)
                return 201, self._create(call, merged, apply_entries=entries)
            return 200, self._replace(call, current, merged, sent_rv=sent_rv, entries=entries)

    # -- delete ---------------------------------------------------------------------------

    def delete(self, call: Call, options: Any) -> tuple[int, dict[str, Any]]:
        opts = options if isinstance(options, dict) else {}
        if call.subresource:
            raise errors.method_not_allowed()
        if opts.get("dryRun"):
            call = Call(
                call.rt,
                call.version,
                call.namespace,
                call.name,
                call.subresource,
                {**call.params, "dryRun": opts["dryRun"][0]},
                call.user_agent,
            )
        with self.store.lock:
            current = self._existing(call)
            pre = opts.get("preconditions") or {}
            m = meta(current)
            if pre.get("uid") and pre["uid"] != m.get("uid"):
                raise errors.conflict(
                    call.rt.group,
                    call.rt.plural,
                    call.name or "",
                    f"Precondition failed: UID in precondition: {pre['uid']}"
                    f", UID in object meta: {m.get('uid')}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != m.get("resourceVersion"):
                raise errors.conflict(
                    call.rt.group,
                    call.rt.plural,
                    call.name or "",
                    f"Precondition failed: ResourceVersion in precondition: "
                    f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                    f"{m.get('resourceVersion')}",
                )
            return self.lifecycle.delete(call.rt, current, dry_run=call.dry_run, api_version=call.api_version)

    def delete_collection(self, call: Call, options: Any) -> tuple[int, dict[str, Any]]:
        labels = parse_labels(call.params.get("labelSelector", ""))
        fields = parse_fields(call.params.get("fieldSelector", ""), call.rt.field_labels)
        with self.store.lock:
            page = self.store.select(call.rt.key, namespace=call.namespace, labels=labels, fields=fields)
            items = []
            for obj in page.items:
                _, result = self.lifecycle.delete(
                    call.rt, obj, dry_run=call.dry_run, api_version=call.api_version
                )
                items.append(result if result.get("kind") != "Status" else obj)
            rv = self.store.rv
        return 200, {
            "kind": call.rt.list_kind,
            "apiVersion": call.api_version,
            "metadata": {"resourceVersion": str(rv)},
            "items": [objects.list_item(call.rt, o, call.api_version) for o in items],
        }


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    m = obj["metadata"]
    return (m.get("namespace", ""), m["name"])


def _check_size(obj: dict[str, Any]) -> None:
    if len(json.dumps(obj)) > MAX_OBJECT_BYTES:
        raise errors.ApiError(
            500,
            "InternalError",
            "etcdserver: request is too large",
            details={"causes": [{"message": "etcdserver: request is too large"}]},
        )


def _positive_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError as err:
        raise errors.bad_request(f"invalid limit: {value}") from err
    return number if number > 0 else None


def _encode_continue(rv: int, last: tuple[str, str]) -> str:
    start = f"{last[0]}/{last[1]}\x00"
    data = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).encode()
    return base64.b64encode(data).decode()
