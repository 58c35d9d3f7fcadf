"""Label and field selectors, parsed and matched as the real server does.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`,
joined by commas. Field selectors: `f=v`, `f==v`, `f!=v` on the fields a resource supports.
Pure functions over plain dicts; parse errors raise `ApiError` 400 like the real server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import errors

_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_NAME = re.compile(rf"^{_NAME}$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # = != in notin exists !exists gt lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if not present or value is None:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        (bound,) = self.values
        return number > int(bound) if self.op == "gt" else number < int(bound)


LabelSelector = tuple[Requirement, ...]


def label_key_problem(key: str) -> str | None:
    """The reason `key` is not a valid qualified name, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return (
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character"
        )
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        if len(name) > 63:
            return "name part must be no more than 63 characters"
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if value and not _LABEL_NAME.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character"
        )
    return None


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<vals>[^()]*)\)$")
_CMP_RE = re.compile(r"^(?P<key>[^=!<>\s]+)\s*(?P<op>==|=|!=|>|<)\s*(?P<val>[^=!<>\s]*)$")


def _bad(selector: str, why: str) -> errors.ApiError:
    return errors.bad_request(f"unable to parse requirement: {why}")


def parse_labels(selector: str) -> LabelSelector:
    if not selector.strip():
        return ()
    reqs: list[Requirement] = []
    for part in _split_top(selector):
        reqs.append(_parse_requirement(selector, part))
    return tuple(reqs)


def _parse_requirement(selector: str, part: str) -> Requirement:
    if not part:
        raise _bad(selector, "found '', expected: identifier")
    if m := _SET_RE.match(part):
        key = m["key"]
        values = frozenset(v.strip() for v in m["vals"].split(",") if v.strip())
        _check_key(selector, key)
        for v in values:
            _check_value(selector, v)
        return Requirement(key, m["op"], values)
    if part.startswith("!"):
        key = part[1:].strip()
        _check_key(selector, key)
        return Requirement(key, "!exists")
    if m := _CMP_RE.match(part):
        key, op, val = m["key"], m["op"], m["val"]
        _check_key(selector, key)
        if op in (">", "<"):
            if not val.lstrip("-").isdigit():
                raise _bad(selector, f"for 'Gt', 'Lt' operators, the value must be an integer: {val}")
            return Requirement(key, "gt" if op == ">" else "lt", frozenset({val}))
        _check_value(selector, val)
        return Requirement(key, "!=" if op == "!=" else "=", frozenset({val}))
    if re.match(r"^[^=!<>()\s,]+$", part):
        _check_key(selector, part)
        return Requirement(part, "exists")
    raise _bad(selector, f"found '{part}', expected: in, notin, =, ==, !=, gt, lt")


def _check_key(selector: str, key: str) -> None:
    if problem := label_key_problem(key):
        raise _bad(selector, f'invalid label key "{key}": {problem}')


def _check_value(selector: str, value: str) -> None:
    if problem := label_value_problem(value):
        raise _bad(selector, f'invalid label value: "{value}": at key: {problem}')


def matches_labels(selector: LabelSelector, labels: dict[str, str]) -> bool:
    return all(r.matches(labels) for r in selector)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    negate: bool
    value: str


FieldSelector = tuple[FieldRequirement, ...]

COMMON_FIELDS = ("metadata.name", "metadata.namespace")


def parse_fields(selector: str, supported: tuple[str, ...]) -> FieldSelector:
    if not selector.strip():
        return ()
    out: list[FieldRequirement] = []
    for part in selector.split(","):
        m = re.match(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise errors.bad_request(f"invalid field selector: '{part}': unable to parse requirement")
        field, op, value = m.groups()
        if field not in COMMON_FIELDS and field not in supported:
            raise errors.bad_request(f"field label not supported: {field}")
        out.append(FieldRequirement(field, op == "!=", value))
    return tuple(out)


def field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def matches_fields(selector: FieldSelector, obj: dict[str, Any]) -> bool:
    return all((field_value(obj, r.field) == r.value) != r.negate for r in selector)
