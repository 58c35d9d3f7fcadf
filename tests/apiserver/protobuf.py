"""Decoding the Kubernetes protobuf encoding for the few kinds kubectl's typed commands send.

`kubectl create configmap|secret|namespace|serviceaccount` POST protobuf bodies (the
`k8s\\x00` envelope around a `runtime.Unknown`). This decodes those four kinds into the same
JSON the other clients send, by field number from k8s.io/api's generated.proto. Any other
kind gets 415, as the server cannot read it. Responses are always JSON, which kubectl accepts.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from . import errors

MAGIC = b"k8s\x00"

Schema = dict[int, tuple[str, str, Any]]  # field → (json name, how, sub-schema)

TIME: Schema = {1: ("seconds", "int", None), 2: ("nanos", "int", None)}
OWNER_REF: Schema = {
    1: ("kind", "string", None),
    3: ("name", "string", None),
    4: ("uid", "string", None),
    5: ("apiVersion", "string", None),
    6: ("controller", "bool", None),
    7: ("blockOwnerDeletion", "bool", None),
}
OBJECT_META: Schema = {
    1: ("name", "string", None),
    2: ("generateName", "string", None),
    3: ("namespace", "string", None),
    5: ("uid", "string", None),
    6: ("resourceVersion", "string", None),
    7: ("generation", "int", None),
    8: ("creationTimestamp", "time", TIME),
    11: ("labels", "map", "string"),
    12: ("annotations", "map", "string"),
    13: ("ownerReferences", "list", OWNER_REF),
    14: ("finalizers", "strings", None),
}
OBJECT_REF: Schema = {
    1: ("kind", "string", None),
    2: ("namespace", "string", None),
    3: ("name", "string", None),
    4: ("uid", "string", None),
    5: ("apiVersion", "string", None),
}
KINDS: dict[str, Schema] = {
    "ConfigMap": {
        1: ("metadata", "message", OBJECT_META),
        2: ("data", "map", "string"),
        3: ("binaryData", "map", "bytes"),
        4: ("immutable", "bool", None),
    },
    "Secret": {
        1: ("metadata", "message", OBJECT_META),
        2: ("data", "map", "bytes"),
        3: ("type", "string", None),
        4: ("stringData", "map", "string"),
        5: ("immutable", "bool", None),
    },
    "Namespace": {
        1: ("metadata", "message", OBJECT_META),
        2: ("spec", "message", {1: ("finalizers", "strings", None)}),
    },
    "ServiceAccount": {
        1: ("metadata", "message", OBJECT_META),
        2: ("secrets", "list", OBJECT_REF),
        3: ("imagePullSecrets", "list", {1: ("name", "string", None)}),
        4: ("automountServiceAccountToken", "bool", None),
    },
}
UNKNOWN: Schema = {
    1: ("typeMeta", "message", {1: ("apiVersion", "string", None), 2: ("kind", "string", None)}),
    2: ("raw", "raw", None),
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            out.append((number, data[pos : pos + size]))
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _message(data: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        name, how, sub = schema[number]
        if how == "raw":
            out[name] = value
        elif how == "string":
            text = bytes(value).decode() if isinstance(value, bytes) else str(value)
            if text:  # Go writes unset strings as "": they mean "absent"
                out[name] = text
        elif how == "bool":
            out[name] = bool(value)
        elif how == "int":
            if value:
                out[name] = value
        elif how == "strings":
            out.setdefault(name, []).append(bytes(value).decode())
        elif how in ("message", "list", "time"):
            decoded = _message(value, sub)
            if how == "time":
                if decoded.get("seconds"):
                    out[name] = datetime.datetime.fromtimestamp(decoded["seconds"], datetime.UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    )
            elif how == "list":
                out.setdefault(name, []).append(decoded)
            else:
                out[name] = decoded
        elif how == "map":
            entry = dict(_fields(value))
            key = bytes(entry.get(1, b"")).decode()
            raw = bytes(entry.get(2, b""))
            out.setdefault(name, {})[key] = base64.b64encode(raw).decode() if sub == "bytes" else raw.decode()
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object of a known kind; 415 otherwise."""
    if not body.startswith(MAGIC):
        raise errors.unsupported_media_type("application/vnd.kubernetes.protobuf")
    try:
        unknown = _message(body[len(MAGIC) :], UNKNOWN)
        type_meta = unknown.get("typeMeta", {})
        schema = KINDS.get(type_meta.get("kind", ""))
        if schema is None:
            raise errors.ApiError(
                415,
                "UnsupportedMediaType",
                f"the fake apiserver decodes protobuf bodies only for {', '.join(KINDS)}; "
                f"got a {type_meta.get('kind')}: send JSON (kubectl apply/create -f) instead",
                details={},
            )
        obj = _message(unknown.get("raw", b""), schema)
    except (ValueError, IndexError, UnicodeDecodeError) as err:
        raise errors.bad_request(f"cannot decode protobuf body: {err}") from err
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": type_meta["kind"], **obj}
