"""The shape every dialect reader has, and helpers they share."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_mirror.engine.globs import GlobError, compile_glob
from kubectl_mirror.engine.model import EngineOptions, MirrorSpec, Obj, PullRef, Target
from kubectl_mirror.engine.names import NAMESPACE_RULE, is_namespace_name, is_subdomain, quoted
from kubectl_mirror.engine.regexes import RegexError, compile_regex
from kubectl_mirror.engine.selectors import SelectorError, parse_selector
from kubectl_mirror.errors import Ref, SpecError

_GLOB_CHARS = set("*?[")


def _never_pull(obj: Obj, ref: Ref) -> PullRef | None:
    return None


def _never_allows(source: Obj, namespace: str) -> bool:
    return False


def _not_mirror(obj: Obj) -> bool:
    return False


@dataclass(frozen=True)
class Dialect:
    """One tool's markers.

    `source_selector` is the label selector a cluster adapter uses to list this dialect's sources
    ("" when the dialect marks sources with annotations only, so every object of `kinds` must be
    read). `kinds` limits the dialect to the kinds that tool supports (empty: any kind).
    """

    name: str
    source_selector: str
    read_source: Callable[[Obj, Ref, EngineOptions], MirrorSpec | None]
    kinds: tuple[str, ...] = ()
    read_pull: Callable[[Obj, Ref], PullRef | None] = _never_pull
    allows_pull: Callable[[Obj, str], bool] = _never_allows
    is_foreign_mirror: Callable[[Obj], bool] = _not_mirror
    tool: str = ""  # the tool's name as users know it, for messages about its copies


def labels_of(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def annotations_of(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def field_of(key: str, *, label: bool = False) -> str:
    where = "labels" if label else "annotations"
    return f'metadata.{where}["{key}"]'


def string_marker(markers: Mapping[str, Any], key: str, ref: Ref, *, label: bool = False) -> str | None:
    """A marker's value as a string; YAML may have typed it (true, 1) so reject non-strings."""
    if key not in markers:
        return None
    value = markers[key]
    if not isinstance(value, str):
        raise SpecError(
            f"must be a string, got {type(value).__name__} ({_quote_hint(key, value)})",
            ref,
            field_of(key, label=label),
        )
    return value


def _quote_hint(key: str, value: Any) -> str:
    """How to write it, when YAML typed a scalar: `source: true` -> `source: "true"`."""
    if isinstance(value, bool):
        return f'quote it in YAML: {key}: "{str(value).lower()}"'
    if isinstance(value, int | float) and abs(value) < 10**15:
        return f'quote it in YAML: {key}: "{value}"'
    return f"quote it in YAML: {key}"


def is_true(markers: Mapping[str, Any], key: str) -> bool:
    value = markers.get(key)
    return isinstance(value, str) and value.strip().lower() == "true"


def gate(markers: Mapping[str, Any], key: str, ref: Ref, *, label: bool = False) -> bool:
    """A marker that switches something on (`source: "true"`). A value YAML typed as a bool or a
    number (`source: true` unquoted) is an error, never a silent "off": the user meant it."""
    value = string_marker(markers, key, ref, label=label)
    return value is not None and value.strip().lower() == "true"


def choice(
    markers: Mapping[str, Any],
    key: str,
    ref: Ref,
    allowed: Mapping[str, str],
    default: str,
    *,
    label: bool = False,
) -> str:
    """Map a marker's value through `allowed` (dialect word -> our word), with a clear error."""
    raw = string_marker(markers, key, ref, label=label)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in allowed:
        options = ", ".join(sorted(allowed))
        message = f"unknown value {raw!r} (expected one of: {options})"
        raise SpecError(message, ref, field_of(key, label=label))
    return allowed[value]


def check_namespace_name(name: str, ref: Ref, field_path: str) -> None:
    if not is_namespace_name(name):
        raise SpecError(f"{quoted(name)} is not a valid namespace name ({NAMESPACE_RULE})", ref, field_path)


def parse_target_entry(
    entry: str,
    ref: Ref,
    field_path: str,
    *,
    all_words: tuple[str, ...] = ("*",),
    labeled_words: tuple[str, ...] = ("labeled",),
    labeled_key: str = "",
) -> Target:
    """One entry of our target grammar: a name, a glob, `*`, or `labeled`."""
    if entry in all_words:
        return Target("all")
    if entry in labeled_words:
        return Target("labeled", labeled_key)
    if _GLOB_CHARS & set(entry):
        try:
            compile_glob(entry)
        except GlobError as err:
            raise SpecError(f"invalid glob {entry!r}: {err}", ref, field_path) from err
        return Target("glob", entry)
    check_namespace_name(entry, ref, field_path)
    return Target("name", entry)


def split_list(text: str, separators: str = ",") -> list[str]:
    """Split on any of `separators` and whitespace; drop empty entries."""
    pattern = "[" + re.escape(separators) + r"\s]+"
    return [p for p in re.split(pattern, text.strip()) if p]


def parse_target_list(
    text: str,
    ref: Ref,
    field_path: str,
    *,
    separators: str = ",",
    labeled_key: str = "",
    all_words: tuple[str, ...] = ("*",),
    labeled_words: tuple[str, ...] = ("labeled",),
) -> tuple[Target, ...]:
    return tuple(
        parse_target_entry(
            e,
            ref,
            field_path,
            all_words=all_words,
            labeled_words=labeled_words,
            labeled_key=labeled_key,
        )
        for e in split_list(text, separators)
    )


def parse_regex_list(text: str, ref: Ref, field_path: str) -> tuple[Target, ...]:
    """Comma lists whose entries are regexes (Reflector, Replicator); plain names stay names."""
    out = []
    for entry in split_list(text, ","):
        if is_namespace_name(entry):
            out.append(Target("name", entry))
            continue
        try:
            compile_regex(entry)
        except RegexError as err:
            raise SpecError(f"invalid regular expression {entry!r}: {err}", ref, field_path) from err
        out.append(Target("regex", entry))
    return tuple(out)


def selector_target(text: str, ref: Ref, field_path: str) -> Target:
    try:
        parse_selector(text)
    except SelectorError as err:
        raise SpecError(f"invalid label selector {text!r}: {err}", ref, field_path) from err
    return Target("selector", text)


def flag(markers: Mapping[str, Any], key: str, ref: Ref, *, label: bool = False) -> bool | None:
    """A `"true"`/`"false"` marker (any case); None when absent, an error for anything else."""
    raw = string_marker(markers, key, ref, label=label)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise SpecError(f'must be "true" or "false", got {raw!r}', ref, field_of(key, label=label))
    return value == "true"


def parse_pull_ref(text: str, ref: Ref, field_path: str, *, dialect: str) -> PullRef:
    """`<namespace>/<name>`, as in Reflector's `reflects` and Replicator's `replicate-from`."""
    namespace, sep, name = text.strip().partition("/")
    if not sep or not namespace or not name:
        raise SpecError(f"must be <namespace>/<name>, got {quoted(text)}", ref, field_path)
    check_namespace_name(namespace, ref, field_path)
    if not is_subdomain(name):
        raise SpecError(f"{quoted(name)} is not a valid object name", ref, field_path)
    return PullRef(dialect, namespace, name)


def regex_list_matches(text: str, name: str) -> bool:
    """True when `name` fully matches an entry of a comma list of regexes; a broken entry never
    matches (callers use this to decide whether to allow something, so it must fail closed)."""
    for entry in split_list(text, ","):
        try:
            if compile_regex(entry).fullmatch(name):
                return True
        except RegexError:
            continue
    return False
