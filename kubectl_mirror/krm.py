"""The KRM function front door: a ResourceList in, a ResourceList out.

`run_bytes` is the whole function without a process (tests call it directly); `main` only moves
bytes between stdin/stdout and picks the legacy kustomize exec-plugin form when kustomize's
environment says so. Never imports `kubernetes`: start-up time is paid on every pipeline run.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from typing import Any

from kubectl_mirror.engine.model import Obj, ObjectKey, Result
from kubectl_mirror.engine.plan import Item, Outcome
from kubectl_mirror.errors import InputError, MirrorError, Ref
from kubectl_mirror.service import is_our_mirror, options_from_function_config, plain, render_items

PATH = "internal.config.kubernetes.io/path"
INDEX = "internal.config.kubernetes.io/index"
LEGACY_PATH = "config.kubernetes.io/path"
LEGACY_INDEX = "config.kubernetes.io/index"
MIRROR_DIR = "mirrors"


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 30
    # Mirrors share unchanged sub-trees with their source; never emit those as YAML anchors.
    yaml.representer.ignore_aliases = lambda *args: True
    return yaml


def _file_of(item: Any) -> str:
    meta = item.get("metadata") if isinstance(item, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return ""
    return str(annotations.get(PATH) or annotations.get(LEGACY_PATH) or "")


def mirror_path(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{MIRROR_DIR}/{meta['namespace']}/{str(obj['kind']).lower()}_{meta['name']}.yaml"


def _with_path(obj: Obj, path: str) -> Obj:
    meta = dict(obj["metadata"])
    meta["annotations"] = {
        **meta.get("annotations", {}),
        PATH: path,
        INDEX: "0",
        LEGACY_PATH: path,
        LEGACY_INDEX: "0",
    }
    return {**obj, "metadata": meta}


def result_entry(result: Result) -> dict[str, Any]:
    ref = result.ref
    located = bool(ref.kind and ref.name)
    # A Result's `field` needs a resourceRef; without one, the field goes into the message.
    message = result.message if located or not result.field_path else f"{result.field_path}: {result.message}"
    entry: dict[str, Any] = {"message": message, "severity": result.severity}
    if located:
        entry["resourceRef"] = {
            k: v
            for k, v in (
                ("apiVersion", ref.api_version),
                ("kind", ref.kind),
                ("name", ref.name),
                ("namespace", ref.namespace),
            )
            if v
        }
        if result.field_path:
            entry["field"] = {"path": result.field_path}
    if ref.file:
        entry["file"] = {"path": ref.file}
    return entry


def process(items: Sequence[Any], config: Any) -> tuple[list[Any], list[Result]]:
    """The function on parsed items: returns the output items and the results."""
    try:
        options, extra = options_from_function_config(plain(config) if config is not None else None)
    except MirrorError as err:
        return list(items), [Result.from_error(err)]
    kept: list[Any] = []
    engine_items: list[Item] = list(extra)
    for raw in items:
        obj = plain(raw)
        if isinstance(obj, dict) and is_our_mirror(obj) and not _pulls(obj):
            continue  # an earlier run's mirror: replaced (or dropped) by this run's output
        kept.append(raw)
        engine_items.append(Item(obj, _file_of(obj)))
    outcome = render_items(engine_items, options)
    if outcome.failed:
        return list(items), list(outcome.results)
    return _merge_output(kept, outcome), list(outcome.results)


def _pulls(obj: Obj) -> bool:
    from kubectl_mirror.engine.plan import _read_pull

    return _read_pull(obj, Ref.of(obj)) is not None


_key = ObjectKey.of


def _merge_output(kept: list[Any], outcome: Outcome) -> list[Any]:
    """Inputs pass through untouched, except pull objects, which are replaced by their filled
    version in place (same file); new mirrors follow, each with a file of its own."""
    filled = {_key(m): m for m in outcome.mirrors if _key(m) in outcome.filled_pulls}
    out: list[Any] = []
    for raw in kept:
        key = _key(raw) if isinstance(raw, dict) else None
        if key is not None and key in filled:
            out.append(_keep_location(filled[key], raw))
        else:
            out.append(raw)
    for mirror in outcome.mirrors:
        if _key(mirror) not in outcome.filled_pulls:
            out.append(_with_path(mirror, mirror_path(mirror)))
    return out


def _keep_location(mirror: Obj, original: Any) -> Obj:
    annotations = (original.get("metadata") or {}).get("annotations") or {}
    keep = {
        k: str(v)
        for k, v in annotations.items()
        if k.startswith(
            (
                "internal.config.kubernetes.io/",
                "config.kubernetes.io/",
                "config.k8s.io/",
                "kustomize.config.k8s.io/",
            )
        )
    }
    meta = dict(mirror["metadata"])
    meta["annotations"] = {**meta.get("annotations", {}), **keep}
    return {**mirror, "metadata": meta}


def run_bytes(data: bytes) -> tuple[bytes, int]:
    """ResourceList bytes in, ResourceList bytes and exit code out."""
    yaml = _yaml()
    try:
        doc = yaml.load(data.decode("utf-8"))
        items, config = _unwrap(doc)
    except MirrorError as err:
        return _emit_error(yaml, err), 1
    except Exception as err:  # ruamel raises many types for malformed input
        return _emit_error(
            yaml, InputError(f"cannot read ResourceList: {_first_line(err)}", Ref(file="<stdin>"))
        ), 1
    out_items, results = process(items, config)
    doc["items"] = out_items
    if results:
        doc["results"] = [result_entry(r) for r in results]
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue().encode(), 1 if any(r.severity == "error" for r in results) else 0


def _first_line(err: Exception) -> str:
    return " ".join(str(err).split())[:300]


def _unwrap(doc: Any) -> tuple[list[Any], Any]:
    if not isinstance(doc, dict) or doc.get("kind") != "ResourceList":
        raise InputError("input is not a ResourceList (kind: ResourceList)", Ref(file="<stdin>"))
    items = doc.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InputError("must be a list", Ref(file="<stdin>"), "items")
    return items, doc.get("functionConfig")


def _emit_error(yaml: Any, err: MirrorError) -> bytes:
    buf = io.StringIO()
    yaml.dump(
        {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": [],
            "results": [result_entry(Result.from_error(err))],
        },
        buf,
    )
    return buf.getvalue().encode()


def run_legacy_plugin(config_text: str, stdin_text: str) -> tuple[str, list[Result]]:
    """kustomize's legacy exec plugin: config YAML and a multi-doc stream in, a stream out."""
    yaml = _yaml()
    config = yaml.load(config_text) if config_text.strip() else None
    items = [d for d in yaml.load_all(stdin_text) if d is not None]
    out_items, results = process(items, config)
    if any(r.severity == "error" for r in results):
        return "", results
    buf = io.StringIO()
    yaml.explicit_start = True
    yaml.dump_all(out_items, buf)
    return buf.getvalue(), results


def main() -> None:
    if os.environ.get("KUSTOMIZE_PLUGIN_CONFIG_STRING") is not None:
        config = os.environ["KUSTOMIZE_PLUGIN_CONFIG_STRING"]
        try:
            text, results = run_legacy_plugin(config, sys.stdin.read())
        except Exception as err:  # malformed YAML from kustomize or the config: one line, no trace
            print(f"kubectl-mirror: {_first_line(err)}", file=sys.stderr)
            sys.exit(1)
        for r in results:
            print(f"kubectl-mirror: {r.severity}: {r.one_line()}", file=sys.stderr)
        sys.stdout.write(text)
        sys.exit(1 if any(r.severity == "error" for r in results) else 0)
    out, code = run_bytes(sys.stdin.buffer.read())
    sys.stdout.buffer.write(out)
    if code:
        print("kubectl-mirror: the function reported errors (see results)", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
