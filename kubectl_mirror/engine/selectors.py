"""Kubernetes label selectors: the string form (`env in (a,b),!legacy`) and the structured form
(`matchLabels` / `matchExpressions`), parsed into one representation and matched in-process.

Offline there is no API server to evaluate selectors, and live we match namespaces we already
listed once, so the engine needs its own matcher with the API server's grammar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Op = Literal["in", "notin", "exists", "!exists"]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
# Used with fullmatch: `$` would also accept a trailing newline.
_KEY_RE = re.compile(rf"({_PREFIX}/)?{_NAME}")
_VALUE_RE = re.compile(rf"({_NAME})?")


class SelectorError(ValueError):
    """The selector text or structure is not valid; the message says which part."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        return self.key not in labels or labels[self.key] not in self.values


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]
    text: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def check_key(key: str) -> None:
    if len(key) > 316 or not _KEY_RE.fullmatch(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise SelectorError(f"invalid label key {key!r}")


def check_value(value: str) -> None:
    if len(value) > 63 or not _VALUE_RE.fullmatch(value):
        raise SelectorError(f"invalid label value {value!r}")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError("unbalanced ')'")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise SelectorError("unbalanced '('")
    parts.append("".join(cur))
    return parts


_SET_RE = re.compile(r"^\s*(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s*\((?P<vals>[^()]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*(?P<key>[^\s!=()]+)\s*(?P<op>==|=|!=)\s*(?P<val>[^\s!=()]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=()]+)\s*$")


def _parse_requirement(part: str) -> Requirement:
    if m := _SET_RE.match(part):
        vals = tuple(v.strip() for v in m["vals"].split(","))
        if not any(vals):
            raise SelectorError(f"empty value set in {part.strip()!r}")
        for v in vals:
            check_value(v)
        check_key(m["key"])
        return Requirement(m["key"], "in" if m["op"] == "in" else "notin", tuple(sorted(vals)))
    if m := _EQ_RE.match(part):
        check_key(m["key"])
        check_value(m["val"])
        return Requirement(m["key"], "notin" if m["op"] == "!=" else "in", (m["val"],))
    if m := _EXISTS_RE.match(part):
        check_key(m["key"])
        return Requirement(m["key"], "!exists" if m["neg"] else "exists")
    raise SelectorError(f"cannot parse requirement {part.strip()!r}")


@lru_cache(maxsize=1024)
def parse_selector(text: str) -> Selector:
    """Parse the string form; an empty string selects everything (as on the API server)."""
    if not text.strip():
        return Selector((), text)
    reqs = []
    for part in _split_top(text):
        if not part.strip():
            raise SelectorError(f"empty requirement in {text!r}")
        reqs.append(_parse_requirement(part))
    return Selector(tuple(reqs), text)


_STRUCT_OPS: dict[str, Op] = {
    "In": "in",
    "NotIn": "notin",
    "Exists": "exists",
    "DoesNotExist": "!exists",
}


def selector_from_struct(data: Any) -> Selector:
    """`{matchLabels: {...}, matchExpressions: [...]}` as in a LabelSelector."""
    if not isinstance(data, Mapping):
        raise SelectorError("must be a mapping with matchLabels and/or matchExpressions")
    unknown = set(data) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"unknown field {sorted(unknown)[0]!r}")
    reqs: list[Requirement] = []
    match_labels = data.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be a mapping")
    for key, value in sorted(match_labels.items()):
        if not isinstance(key, str) or not isinstance(value, str):
            raise SelectorError(f"matchLabels[{key!r}] must be a string")
        check_key(key)
        check_value(value)
        reqs.append(Requirement(key, "in", (value,)))
    exprs = data.get("matchExpressions") or []
    if not isinstance(exprs, list):
        raise SelectorError("matchExpressions must be a list")
    for i, expr in enumerate(exprs):
        reqs.append(_struct_requirement(i, expr))
    return Selector(tuple(reqs), to_text(reqs))


def _struct_requirement(i: int, expr: Any) -> Requirement:
    where = f"matchExpressions[{i}]"
    if not isinstance(expr, Mapping):
        raise SelectorError(f"{where} must be a mapping")
    key, op_name, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if not isinstance(key, str):
        raise SelectorError(f"{where}.key must be a string")
    check_key(key)
    if op_name not in _STRUCT_OPS:
        raise SelectorError(f"{where}.operator {op_name!r} is not In, NotIn, Exists or DoesNotExist")
    op = _STRUCT_OPS[op_name]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SelectorError(f"{where}.values must be a list of strings")
    if op in ("in", "notin") and not values:
        raise SelectorError(f"{where}.values must not be empty for {op_name}")
    if op in ("exists", "!exists") and values:
        raise SelectorError(f"{where}.values must be empty for {op_name}")
    for v in values:
        check_value(v)
    return Requirement(key, op, tuple(sorted(values)))


def to_text(reqs: list[Requirement] | tuple[Requirement, ...]) -> str:
    """The API server's string form, for `labelSelector=` query parameters."""
    out = []
    for r in reqs:
        if r.op == "exists":
            out.append(r.key)
        elif r.op == "!exists":
            out.append("!" + r.key)
        elif len(r.values) == 1:
            out.append(f"{r.key}{'=' if r.op == 'in' else '!='}{r.values[0]}")
        else:
            out.append(f"{r.key} {r.op} ({','.join(r.values)})")
    return ",".join(out)
