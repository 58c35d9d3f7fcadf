"""Transform rules: per-target changes to a mirror (`path` + one of value/template/merge/delete).

Rules are validated once, when a source's markers or policy are read (types, one operation per
rule, path syntax, namespacePattern globs, the count and size limits, and template syntax), so a
broken rule is reported before any mirror is planned. Applying them is pure: a new object comes
back, the input is untouched, and a failing rule either raises (strict) or is skipped with a
warning Result.

Semantics worth knowing:
- `merge` is shallow, as in KubeMirror's applyMergeRule: top-level keys of the rule's mapping
  replace those of the mapping at `path`, which is created when absent.
- On a v1 Secret, `data.<key>` holds plain text as far as rules are concerned: templates see the
  decoded value as `value`, and what `value`/`template` write (and what `merge` writes into `data`)
  is base64-encoded. A current value that is not base64 of UTF-8 text fails a template rule.
- jinja2 and the Go-template interpreter are imported only when a rule of theirs is compiled or
  rendered: start-up counts for a KRM function run on every build.
- A rule cannot change what identifies the mirror: `apiVersion`, `kind`, `metadata.name`,
  `metadata.namespace` (nor replace or delete `metadata` whole); such a rule is refused when it is
  read. The kind rules (kinds.py) are checked again on the transformed mirror (render.py).
- On a Secret, a failing template's message never quotes Jinja's or Python's error text, which
  can hold the value (`'str object' has no attribute 'hunter2'`): only the error's type.
- A source's deadline (budget.py) is checked before every rule and inside templates; passing it
  fails the source whatever `strict` says.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubectl_mirror.engine.budget import BudgetError, Deadline
from kubectl_mirror.engine.globs import GlobError, compile_glob, glob_match
from kubectl_mirror.engine.model import (
    EngineOptions,
    Obj,
    Result,
    RuleOp,
    TemplateSyntax,
    TransformRule,
)
from kubectl_mirror.engine.paths import (
    MISSING,
    Segments,
    delete_path,
    get_path,
    parse_path,
    set_path,
)
from kubectl_mirror.engine.redact import is_secret
from kubectl_mirror.engine.values import check_json_like
from kubectl_mirror.errors import MirrorError, Ref, TransformError

RULE_FIELDS = ("path", "value", "template", "merge", "delete", "namespacePattern")
# What identifies a mirror: the engine writes these, a rule may not.
IDENTITY_FIELDS = ("apiVersion", "kind")
IDENTITY_METADATA = ("name", "namespace")


@dataclass(frozen=True)
class TemplateContext:
    """What a template may know about the mirror being rendered."""

    target_namespace: str
    source_namespace: str
    source_name: str
    source_kind: str
    mirror_name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


# --- parsing ------------------------------------------------------------------------------------


def parse_rules(
    raw: str | Any,
    *,
    ref: Ref,
    field_path: str,
    syntax: TemplateSyntax,
    options: EngineOptions,
) -> tuple[TransformRule, ...]:
    """Validate rules from annotation text (YAML) or already-parsed policy data."""
    items, base = _rule_list(raw, ref=ref, field_path=field_path, options=options)
    limit = options.limits.max_rules
    if len(items) > limit:
        raise TransformError(f"{len(items)} transform rules; at most {limit} are allowed", ref, base)
    return tuple(
        _rule(item, ref=ref, field_path=f"{base}[{i}]", syntax=syntax) for i, item in enumerate(items)
    )


def _rule_list(raw: Any, *, ref: Ref, field_path: str, options: EngineOptions) -> tuple[list[Any], str]:
    """The list of raw rules (plain list or KubeMirror's `rules:` mapping) and its field path."""
    limit = options.limits.max_rule_bytes
    if isinstance(raw, str):
        size = len(raw.encode("utf-8", "surrogatepass"))
    else:
        check_json_like(raw, ref, base=field_path, error=TransformError)
        size = len(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode())
    if size > limit:
        raise TransformError(
            f"transform rules are {size} bytes; at most {limit} are allowed", ref, field_path
        )
    data = _load_yaml(raw, ref=ref, field_path=field_path, options=options) if isinstance(raw, str) else raw
    if data is None:
        return [], field_path
    if isinstance(data, Mapping):
        extra = sorted(str(k) for k in data if k != "rules")
        if extra:
            raise TransformError(
                f"unknown key {extra[0]!r}: expected a list of rules or a mapping with 'rules:'",
                ref,
                field_path,
            )
        data, field_path = data.get("rules"), f"{field_path}.rules"
        if data is None:
            return [], field_path
    if not isinstance(data, list):
        raise TransformError(
            f"transform rules must be a list (or a mapping with 'rules:'), not {_type(data)}",
            ref,
            field_path,
        )
    return data, field_path


def _load_yaml(text: str, *, ref: Ref, field_path: str, options: EngineOptions) -> Any:
    if not text.strip():
        return None
    try:
        return options.host.parse_yaml(text)
    except MirrorError:
        raise
    except Exception as err:  # the injected parser's own error types are unknown here
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TransformError(f"transform rules are not valid YAML: {first_line}", ref, field_path) from err


def _rule(item: Any, *, ref: Ref, field_path: str, syntax: TemplateSyntax) -> TransformRule:
    if not isinstance(item, Mapping):
        raise TransformError(f"a rule must be a mapping, not {_type(item)}", ref, field_path)
    for key in item:
        if key not in RULE_FIELDS:
            raise TransformError(
                f"unknown rule field {key!r} (expected {', '.join(RULE_FIELDS)})", ref, field_path
            )
    path = _path_of(item, ref=ref, field_path=field_path)
    op = _op_of(item, ref=ref, field_path=field_path)
    arg = _arg_of(item, op, ref=ref, field_path=field_path, syntax=syntax)
    _check_identity(parse_path(path), op, arg, ref=ref, field_path=f"{field_path}.path")
    pattern = item.get("namespacePattern") or ""
    if not isinstance(pattern, str):
        raise TransformError(
            f"namespacePattern must be a string, not {_type(pattern)}",
            ref,
            f"{field_path}.namespacePattern",
        )
    try:
        compile_glob(pattern)
    except GlobError as err:
        raise TransformError(
            f"invalid glob {pattern!r}: {err}", ref, f"{field_path}.namespacePattern"
        ) from err
    return TransformRule(path=path, op=op, arg=arg, namespace_pattern=pattern, syntax=syntax)


def _path_of(item: Mapping[str, Any], *, ref: Ref, field_path: str) -> str:
    path = item.get("path")
    if not isinstance(path, str) or not path:
        raise TransformError("a rule needs a non-empty string 'path'", ref, f"{field_path}.path")
    try:
        parse_path(path)
    except TransformError as err:
        raise TransformError(err.message, ref, f"{field_path}.path") from err
    return path


def _check_identity(segs: Segments, op: RuleOp, arg: Any, *, ref: Ref, field_path: str) -> None:
    """Refuse a rule that would change the mirror's apiVersion, kind, name or namespace."""
    head = segs[0]
    touched = ""
    if head in IDENTITY_FIELDS:
        touched = str(head)
    elif head == "metadata" and len(segs) == 1:
        if op != "merge":
            touched = "metadata"
        else:
            touched = next((f"metadata.{k}" for k in IDENTITY_METADATA if k in arg), "")
    elif head == "metadata" and segs[1] in IDENTITY_METADATA:
        touched = f"metadata.{segs[1]}"
    if touched:
        raise TransformError(
            f"a rule cannot change {touched}: the mirror keeps its source's apiVersion, kind and name, "
            "and the namespace it is rendered for",
            ref,
            field_path,
        )


def _op_of(item: Mapping[str, Any], *, ref: Ref, field_path: str) -> RuleOp:
    delete = item.get("delete", False)
    if not isinstance(delete, bool):
        raise TransformError(
            f"delete must be true or false, not {_type(delete)}", ref, f"{field_path}.delete"
        )
    ops: list[RuleOp] = [op for op in ("value", "template", "merge") if op in item]
    if delete:
        ops.append("delete")
    if len(ops) != 1:
        found = f"it has {' and '.join(ops)}" if ops else "it has none"
        raise TransformError(
            f"a rule needs exactly one of value, template, merge or delete: true ({found})",
            ref,
            field_path,
        )
    return ops[0]


def _arg_of(item: Mapping[str, Any], op: RuleOp, *, ref: Ref, field_path: str, syntax: TemplateSyntax) -> Any:
    if op == "delete":
        return None
    arg = item[op]
    where = f"{field_path}.{op}"
    if op == "merge" and not (isinstance(arg, Mapping) and all(isinstance(k, str) for k in arg)):
        raise TransformError(f"merge must be a mapping with string keys, not {_type(arg)}", ref, where)
    if op == "template":
        if not isinstance(arg, str):
            raise TransformError(f"template must be a string, not {_type(arg)}", ref, where)
        try:
            _compile(arg, syntax)
        except TransformError as err:
            raise TransformError(err.message, ref, where) from err
        return str(arg)
    check_json_like(arg, ref, base=where, error=TransformError)
    return _plain(arg)


def _compile(text: str, syntax: TemplateSyntax) -> Any:
    if syntax == "go":
        from kubectl_mirror.engine.gotemplate import compile_go_template

        return compile_go_template(text)
    from kubectl_mirror.engine.jinja_sandbox import compile_jinja

    return compile_jinja(text)


def _plain(value: Any) -> Any:
    """YAML parsers hand back subclasses (ruamel's CommentedMap...); mirrors hold plain data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


# --- applying -----------------------------------------------------------------------------------


def apply_transforms(
    obj: Obj,
    rules: tuple[TransformRule, ...],
    *,
    context: TemplateContext,
    strict: bool,
    options: EngineOptions,
    ref: Ref,
    deadline: Deadline | None = None,
) -> tuple[Obj, tuple[Result, ...]]:
    """Apply `rules` in order for one target namespace; return the new object and warnings.
    BudgetError (the source's `deadline` passed) fails the source, strict or not."""
    out: Obj = dict(obj)
    results: list[Result] = []
    for index, rule in enumerate(rules):
        try:
            if deadline is not None:
                deadline.check(options.host.clock)
            if rule.namespace_pattern and not glob_match(rule.namespace_pattern, context.target_namespace):
                continue
            out = _apply(out, rule, context=context, options=options, deadline=deadline)
        except BudgetError as err:
            raise BudgetError(f"transform rule {index} ({rule.op}): {err.message}", ref, rule.path) from err
        except (TransformError, GlobError) as err:
            reason = err.message if isinstance(err, TransformError) else f"invalid glob: {err}"
            message = f"transform rule {index} ({rule.op}) failed: {reason}"
            if strict:
                raise TransformError(message, ref, rule.path) from err
            results.append(
                Result(
                    severity="warning",
                    message=f"{message}; rule skipped",
                    ref=ref,
                    field_path=rule.path,
                )
            )
    return out, tuple(results)


def _apply(
    obj: Obj,
    rule: TransformRule,
    *,
    context: TemplateContext,
    options: EngineOptions,
    deadline: Deadline | None,
) -> Obj:
    segs = parse_path(rule.path)
    secret_key = _is_secret_data_key(obj, segs)
    new: Any
    if rule.op == "delete":
        return delete_path(obj, segs)  # type: ignore[no-any-return]
    if rule.op == "merge":
        return _merge(obj, segs, rule.arg, encode=_is_secret(obj) and segs == ("data",))
    if rule.op == "value":
        new = copy.deepcopy(rule.arg)
    else:
        current = get_path(obj, segs, default=MISSING)
        if secret_key and current is not MISSING:
            current = _decode(current)
        new = _render(
            rule, current, context=context, options=options, deadline=deadline, secret=is_secret(obj)
        )
    return set_path(obj, segs, _encode(new) if secret_key else new)  # type: ignore[no-any-return]


def _is_secret(obj: Obj) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion", "v1") == "v1"


def _is_secret_data_key(obj: Obj, segs: Segments) -> bool:
    if not (_is_secret(obj) and len(segs) >= 2 and segs[0] == "data"):
        return False
    if len(segs) > 2 or not isinstance(segs[1], str):
        raise TransformError("Secret data values are text: a path cannot go below data.<key>")
    return True


def _decode(value: Any) -> str:
    if not isinstance(value, str):
        raise TransformError(f"the Secret value is {_type(value)}, not base64 text")
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except UnicodeDecodeError as err:
        raise TransformError("the Secret value is binary, not UTF-8 text; a template cannot read it") from err
    except ValueError as err:  # binascii.Error, or non-ASCII characters
        raise TransformError("the Secret value is not valid base64") from err


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise TransformError(f"a Secret data value must be text, not {_type(value)}")
    return base64.b64encode(value.encode()).decode("ascii")


def _merge(obj: Obj, segs: Segments, patch: Mapping[str, Any], *, encode: bool) -> Obj:
    existing = get_path(obj, segs, default=None)
    if existing is None:
        existing = {}
    if not isinstance(existing, dict):
        raise TransformError(f"merge needs a mapping at the path, found {_type(existing)}")
    added = {k: _encode(v) if encode else copy.deepcopy(v) for k, v in patch.items()}
    return set_path(obj, segs, {**existing, **added})  # type: ignore[no-any-return]


def jinja_variables(context: TemplateContext, current: Any) -> dict[str, Any]:
    """The Jinja context: `value` is left out when the path is absent (so StrictUndefined names
    it, and `value | default(...)` works)."""
    variables: dict[str, Any] = {
        "target": {"namespace": context.target_namespace},
        "source": {
            "namespace": context.source_namespace,
            "name": context.source_name,
            "kind": context.source_kind,
        },
        "mirror": {"name": context.mirror_name},
        "labels": dict(context.labels),
        "annotations": dict(context.annotations),
    }
    if current is not MISSING:
        variables["value"] = current
    return variables


def go_variables(context: TemplateContext) -> dict[str, Any]:
    """KubeMirror's TransformContext, field for field."""
    return {
        "TargetNamespace": context.target_namespace,
        "SourceNamespace": context.source_namespace,
        "SourceName": context.source_name,
        "TargetName": context.mirror_name,
        "Labels": dict(context.labels),
        "Annotations": dict(context.annotations),
    }


def _render(
    rule: TransformRule,
    current: Any,
    *,
    context: TemplateContext,
    options: EngineOptions,
    deadline: Deadline | None,
    secret: bool,
) -> str:
    if rule.syntax == "go":
        from kubectl_mirror.engine.gotemplate import compile_go_template, render_go_template

        return render_go_template(compile_go_template(rule.arg), go_variables(context), options=options)
    from kubectl_mirror.engine.jinja_sandbox import compile_jinja, render_jinja

    return render_jinja(
        compile_jinja(rule.arg),
        jinja_variables(context, current),
        options=options,
        deadline=deadline,
        quote_errors=not secret,
    )
