"""The KRM function front door: a ResourceList in, a ResourceList out.

`run_bytes` is the whole function without a process (tests call it directly); `main` only moves
bytes between stdin/stdout and picks the legacy kustomize exec-plugin form when kustomize's
environment says so. Never imports `kubernetes`: start-up time is paid on every pipeline run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.model import Obj, ObjectKey, Result
from kubectl_mirror.engine.plan import Item, Outcome
from kubectl_mirror.engine.reconcile import is_ours
from kubectl_mirror.errors import InputError, MirrorError, Ref
from kubectl_mirror.io.filenames import ambiguous, file_component, is_kustomization, needs_group, path_parts
from kubectl_mirror.io.yamlload import YamlError
from kubectl_mirror.service import options_from_function_config, plain, render_items

PATH = "internal.config.kubernetes.io/path"
INDEX = "internal.config.kubernetes.io/index"
LEGACY_PATH = "config.kubernetes.io/path"
LEGACY_INDEX = "config.kubernetes.io/index"
MIRROR_DIR = "mirrors"
GENERATOR = "kubectl-mirror-fn"  # the value of m.GENERATED_BY on every mirror this function adds


def _file_of(item: Any) -> str:
    meta = item.get("metadata") if isinstance(item, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return ""
    return str(annotations.get(PATH) or annotations.get(LEGACY_PATH) or "")


def mirror_path(obj: Obj, *, qualify: bool = False) -> str:
    """`mirrors/<namespace>/<kind>_<name>.yaml`, from checked names only (InputError otherwise):
    never absolute, never `..`, no backslash or control character. With `qualify` (one kind and
    name in two API groups), `<kind>.<group>_<name>.yaml` for a non-core group."""
    namespace, kind, name = path_parts(obj, qualify=qualify)
    return f"{MIRROR_DIR}/{namespace}/{file_component(obj, f'{kind}_{name}')}"


def _with_path(obj: Obj, path: str) -> Obj:
    meta = dict(obj["metadata"])
    meta["annotations"] = {
        **dict(sorted({**meta.get("annotations", {}), m.GENERATED_BY: GENERATOR}.items())),
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
        if _generated(obj):
            continue  # this function's own earlier output: replaced (or dropped) by this run's
        kept.append(raw)
        if not is_kustomization(obj, _file_of(obj)):  # passed through untouched, never a source
            engine_items.append(Item(obj, _file_of(obj)))
    outcome = render_items(engine_items, options)
    if outcome.failed:
        return list(items), list(outcome.results)
    out, problems = _merge_output(kept, outcome)
    if problems:
        return list(items), [*outcome.results, *problems]
    return out, list(outcome.results)


def _generated(obj: Any) -> bool:
    """Whether an input item is a mirror this function wrote on an earlier run, the only kind of
    item it may replace or drop: our ownership labels, our generator annotation (which no
    source passes on: control markers are never copied), and a path that is exactly the one
    `mirror_path` gives it. Anything else with our labels is someone else's and passes through."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(labels, dict) or not isinstance(annotations, dict) or not is_ours(obj):
        return False
    if annotations.get(m.GENERATED_BY) != GENERATOR:
        return False
    paths = {str(annotations[k]) for k in (PATH, LEGACY_PATH) if k in annotations}
    try:
        return len(paths) == 1 and paths <= {mirror_path(obj), mirror_path(obj, qualify=True)}
    except InputError:
        return False


def _key(obj: Any) -> ObjectKey | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return ObjectKey.of(obj) if isinstance(meta, dict) else None


def _merge_output(kept: list[Any], outcome: Outcome) -> tuple[list[Any], list[Result]]:
    """Inputs pass through untouched, except pull objects, which are replaced by their filled
    version in place (same file); new mirrors follow, each with a file of its own. A new mirror
    whose object or file an input item already holds is an error result, never an overwrite."""
    filled = {ObjectKey.of(mi): mi for mi in outcome.mirrors if ObjectKey.of(mi) in outcome.filled_pulls}
    out: list[Any] = []
    held: dict[ObjectKey, str] = {}  # object -> file of the input item holding it
    files: set[str] = set()
    for raw in kept:
        key = _key(raw)
        if key is not None and key in filled:
            out.append(_keep_location(filled[key], raw))
        else:
            out.append(raw)
        if key is not None:
            held.setdefault(key, _file_of(raw))
        files.add(_normal_path(_file_of(raw)))
    problems: list[Result] = []
    new = [mi for mi in outcome.mirrors if ObjectKey.of(mi) not in outcome.filled_pulls]
    shared = ambiguous(new)
    for mirror in new:
        key = ObjectKey.of(mirror)
        try:
            path = mirror_path(mirror, qualify=needs_group(mirror, shared))
        except InputError as err:
            problems.append(Result.from_error(err))
            continue
        clash = _clash(mirror, key, path, held=held, files=files)
        if clash is not None:
            problems.append(clash)
            continue
        files.add(path)
        out.append(_with_path(mirror, path))
    return out, problems


def _normal_path(path: str) -> str:
    import posixpath

    return posixpath.normpath(path) if path else ""


def _clash(
    mirror: Obj, key: ObjectKey, path: str, *, held: dict[ObjectKey, str], files: set[str]
) -> Result | None:
    if key in held:
        where = held[key] or "an item without a path"
        return Result(
            "error",
            f"{key.describe()} is already in the package at {where}, which this function did not "
            f"generate (no {m.GENERATED_BY}: {GENERATOR}, or not at its generated path {path}); "
            "the mirror is not written: remove that item to let the function manage it",
            Ref.of(mirror, file=held[key]),
        )
    if path in files:
        return Result(
            "error",
            f"{path} already holds an item this function did not generate; the mirror is not written",
            Ref.of(mirror, file=path),
        )
    return None


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
    """ResourceList bytes in, ResourceList bytes and exit code out. Items the function returns
    unchanged are copied from the input text (io.resourcelist): comments and quoting survive."""
    from kubectl_mirror.io import resourcelist

    try:
        source = resourcelist.read(_decode(data))
        items, config = _unwrap(source.value)
    except YamlError as err:
        return _emit_error(_read_error(err)), 1
    except MirrorError as err:
        return _emit_error(err), 1
    out_items, results = process(items, config)
    unreadable = _unreadable_mirrored(source, items, out_items)
    if unreadable:
        out_items, results = list(items), [*results, *unreadable]
    entries = [result_entry(r) for r in results] if results else None
    try:
        text = resourcelist.write(source, out_items, entries)
    except YamlError as err:
        return _emit_error(InputError(f"cannot write the ResourceList back: {err}", Ref(file="<stdin>"))), 1
    return text.encode(), 1 if any(r.severity == "error" for r in results) else 0


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"cannot read ResourceList: not UTF-8 (byte {err.start})", Ref(file="<stdin>")
        ) from err


def _read_error(err: YamlError) -> InputError:
    """A ResourceList the loader refused, pinned on the item it happened in when there is one.
    Lines and columns count in the ResourceList, not in the item's file."""
    item = err.item if isinstance(err.item, dict) else None
    where = f"items[{err.path[1]}]: " if len(err.path) == 2 and err.path[0] == "items" else ""
    ref = Ref.of(item, file=_file_of(item) or "<stdin>") if item else Ref(file="<stdin>")
    return InputError(f"cannot read ResourceList: {where}{err}", ref)


def _unreadable_mirrored(source: Any, given: Sequence[Any], out_items: Sequence[Any]) -> list[Result]:
    """Items with no JSON-like form (a recursive alias, a duplicate key) pass through as written;
    the engine saw only what could be read of them, so a new item with the kind and name of one
    (a mirror of it) would carry content nobody wrote: an error instead."""
    if not source.unreadable:
        return []
    from kubectl_mirror.io.resourcelist import kind_and_name, same_kind_and_name

    old = {id(item) for item in given}
    new = [item for item in out_items if id(item) not in old]
    found: list[Result] = []
    for index, problem in sorted(source.unreadable.items()):
        item = source.items[index]
        key = kind_and_name(item)
        if key is not None and same_kind_and_name(new, key):
            message = (
                f"cannot be mirrored: ResourceList line {problem.line}, column {problem.column}: "
                f"{problem.message}"
            )
            found.append(Result("error", message, Ref.of(item, file=_file_of(item))))
    return found


def _unwrap(doc: Any) -> tuple[list[Any], Any]:
    if not isinstance(doc, dict) or doc.get("kind") != "ResourceList":
        raise InputError("input is not a ResourceList (kind: ResourceList)", Ref(file="<stdin>"))
    items = doc.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InputError("must be a list", Ref(file="<stdin>"), "items")
    return items, doc.get("functionConfig")


def _emit_error(err: MirrorError) -> bytes:
    from kubectl_mirror.io.resourcelist import to_yaml

    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [],
        "results": [result_entry(Result.from_error(err))],
    }
    return to_yaml(doc).encode()


def run_legacy_plugin(config_text: str, stdin_text: str) -> tuple[str, list[Result]]:
    """kustomize's legacy exec plugin: config YAML and a multi-doc stream in, a stream out.
    kustomize strips comments and re-serializes what it gets back, so the output is dumped."""
    from kubectl_mirror.io.resourcelist import to_yaml_stream
    from kubectl_mirror.io.yamlload import AliasBudget, load_all

    budget = AliasBudget()
    try:
        configs = load_all(config_text, budget=budget) if config_text.strip() else []
        items = [d for d in load_all(stdin_text, budget=budget) if d is not None]
    except YamlError as err:
        raise InputError(f"cannot read kustomize's input: {err}", Ref(file="<stdin>")) from err
    config = configs[0] if configs else None
    out_items, results = process(items, config)
    if any(r.severity == "error" for r in results):
        return "", results
    return to_yaml_stream(out_items), results


def main() -> None:
    if os.environ.get("KUSTOMIZE_PLUGIN_CONFIG_STRING") is not None:
        config = os.environ["KUSTOMIZE_PLUGIN_CONFIG_STRING"]
        try:
            text, results = run_legacy_plugin(config, sys.stdin.buffer.read().decode("utf-8"))
        except MirrorError as err:  # malformed YAML from kustomize or the config: one line, no trace
            print(f"kubectl-mirror: {Result.from_error(err).one_line()}", file=sys.stderr)
            sys.exit(1)
        except UnicodeDecodeError as err:
            print(f"kubectl-mirror: <stdin>: not UTF-8 (byte {err.start})", file=sys.stderr)
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
