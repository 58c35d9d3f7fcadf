"""Engine options from flags or from a KRM functionConfig ConfigMap, validated in one place.

Both front doors spell the options the same way (`max-targets`, `namespaces`, ...), so a user can
move a flag into a Kptfile `configMap:` without translating it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubectl_mirror.engine.globs import GlobError, compile_glob
from kubectl_mirror.engine.model import DEFAULT_PROTECTED, EngineOptions, Limits
from kubectl_mirror.errors import InputError, Ref
from kubectl_mirror.io.host import real_host

_NS = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]*$")

LIST_KEYS = (
    "namespaces",
    "include-namespaces",
    "exclude-namespaces",
    "protected-namespaces",
    "allow-kinds",
    "drop-metadata",
)
INT_KEYS = (
    "max-targets",
    "max-rules",
    "max-rule-bytes",
    "max-template-output",
    "template-timeout-ms",
)
KNOWN_KEYS = LIST_KEYS + INT_KEYS


@dataclass(frozen=True)
class RawOptions:
    """Options as given, before validation (flags or ConfigMap data)."""

    values: Mapping[str, Any]
    ref: Ref = field(default_factory=Ref)
    where: str = "--{key}"


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    out: list[str] = []
    for entry in value:
        out.extend(p for p in re.split(r"[,\s]+", str(entry)) if p)
    return tuple(out)


def build_engine_options(raw: RawOptions) -> EngineOptions:
    def where(key: str) -> str:
        return raw.where.format(key=key)

    unknown = sorted(set(raw.values) - set(KNOWN_KEYS))
    if unknown:
        raise InputError(
            f"unknown option {unknown[0]!r} (known: {', '.join(KNOWN_KEYS)})",
            raw.ref,
            where(unknown[0]),
        )
    lists = {k: _list(raw.values.get(k)) for k in LIST_KEYS}
    for key in ("namespaces", "protected-namespaces"):
        for name in lists[key]:
            if not _NS.match(name):
                raise InputError(f"{name!r} is not a valid namespace name", raw.ref, where(key))
    for key in ("include-namespaces", "exclude-namespaces", "drop-metadata"):
        for pattern in lists[key]:
            try:
                compile_glob(pattern)
            except GlobError as err:
                raise InputError(f"invalid glob {pattern!r}: {err}", raw.ref, where(key)) from err
    for kind in lists["allow-kinds"]:
        if not _KIND.match(kind):
            raise InputError(f"{kind!r} is not a kind name (e.g. Role)", raw.ref, where("allow-kinds"))
    ints: dict[str, int] = {}
    for key in INT_KEYS:
        value = raw.values.get(key)
        if value is None:
            continue
        try:
            ints[key] = int(str(value))
        except ValueError:
            raise InputError(f"must be a whole number, got {value!r}", raw.ref, where(key)) from None
        if ints[key] < 1:
            raise InputError(f"must be at least 1, got {ints[key]}", raw.ref, where(key))
    defaults = Limits()
    limits = Limits(
        max_rules=ints.get("max-rules", defaults.max_rules),
        max_rule_bytes=ints.get("max-rule-bytes", defaults.max_rule_bytes),
        max_template_output=ints.get("max-template-output", defaults.max_template_output),
        template_time_budget_ms=ints.get("template-timeout-ms", defaults.template_time_budget_ms),
    )
    return EngineOptions(
        max_targets=ints.get("max-targets", 100),
        protected_namespaces=(
            DEFAULT_PROTECTED
            if raw.values.get("protected-namespaces") is None
            else lists["protected-namespaces"]
        ),
        include_namespaces=lists["include-namespaces"],
        exclude_namespaces=lists["exclude-namespaces"],
        extra_namespaces=lists["namespaces"],
        allow_kinds=lists["allow-kinds"],
        drop_metadata=lists["drop-metadata"],
        limits=limits,
        host=real_host(),
    )
