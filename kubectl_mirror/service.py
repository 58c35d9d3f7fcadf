"""Use cases shared by the CLI and the KRM function: wiring adapters around the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubectl_mirror.engine.model import EngineOptions, Obj
from kubectl_mirror.engine.plan import Item, Outcome, render_all
from kubectl_mirror.engine.policies import is_any_policy
from kubectl_mirror.errors import InputError, Ref
from kubectl_mirror.options import RawOptions, build_engine_options

CONFIG_KINDS = ("ConfigMap", "MirrorTransformer", "MirrorGenerator")


def render_items(items: Sequence[Item], options: EngineOptions) -> Outcome:
    return render_all(items, options)


def options_from_function_config(config: Any) -> tuple[EngineOptions, list[Item]]:
    """A functionConfig is a policy (MirrorPolicy, ConfigMapSync or ConfigMirror: one more policy
    input), or a ConfigMap / MirrorTransformer whose `data` / `options` hold the same option
    names as the CLI flags."""
    if config is None:
        return build_engine_options(RawOptions({})), []
    if not isinstance(config, Mapping):
        raise InputError("must be an object", Ref(), "functionConfig")
    ref = Ref.of(config)
    if is_any_policy(dict(config)):
        return build_engine_options(RawOptions({})), [Item(dict(config), "functionConfig")]
    kind = config.get("kind")
    if kind not in CONFIG_KINDS:
        raise InputError(
            f"unsupported functionConfig kind {kind!r} "
            "(use MirrorPolicy, ConfigMapSync, ConfigMirror, ConfigMap or MirrorTransformer)",
            ref,
            "kind",
        )
    key = "data" if kind == "ConfigMap" else "options"
    values = config.get(key) or {}
    if not isinstance(values, Mapping):
        raise InputError("must be a mapping", ref, key)
    return build_engine_options(RawOptions(dict(values), ref, key + ".{key}")), []


def plain(value: Any) -> Any:
    """Round-trip YAML nodes (CommentedMap, ScalarString...) as plain dicts, lists and scalars."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def is_our_mirror(obj: Obj) -> bool:
    from kubectl_mirror.engine import markers as m

    meta = obj.get("metadata")
    return isinstance(meta, Mapping) and m.is_mirror(dict(meta))
