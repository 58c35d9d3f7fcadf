"""No value of a Secret reaches an error, warning or result; the same failures on a ConfigMap
keep their full text (they hold no secret, and the text helps)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubectl_mirror.engine.redact import MASK, scrub, secret_strings
from tests.helpers import render, source

SECRET = "hunter2-Sup3r-s3cret"
B64 = base64.b64encode(SECRET.encode()).decode()


def secret_source(
    *, annotations: dict[str, str] | None = None, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    return source(
        "creds",
        kind="Secret",
        targets="team-a",
        annotations=annotations,
        body=body if body is not None else {"type": "Opaque", "data": {"password": B64}},
    )


def configmap_source(*, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return source("settings", targets="team-a", annotations=annotations, body={"data": {"password": SECRET}})


def rule(template: str, *, strict: bool = False) -> dict[str, str]:
    out = {"kubectl-mirror.io/transform": f"- path: data.password\n  template: {json.dumps(template)}\n"}
    if strict:
        out["kubectl-mirror.io/transform-strict"] = "true"
    return out


def lines(*objs: dict[str, Any]) -> str:
    from tests.helpers import ns

    outcome = render(*objs, ns("platform"), ns("team-a"))
    return "\n".join(r.one_line() for r in outcome.results)


TEMPLATES = [
    "{{ target[value] }}",  # Jinja: 'dict object' has no attribute '<value>'
    "{{ value.nope }}",
    "{{ value + 1 }}",
    "{{ target[value | upper] }}",  # a value the message quotes changed, so no redaction by value
    "{{ target[value[:10]] }}",
    "{{ value | b64dec }}",
]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("strict", [False, True])
def test_template_failures_on_a_secret_never_quote_its_value(template: str, strict: bool) -> None:
    text = lines(secret_source(annotations=rule(template, strict=strict)))
    assert text, "the failure is reported"
    assert SECRET not in text and SECRET.upper() not in text and SECRET[:10] not in text
    assert B64 not in text
    assert "data.password" in text


def test_the_same_failure_on_a_configmap_keeps_jinjas_text() -> None:
    text = lines(configmap_source(annotations=rule("{{ target[value] }}")))
    assert f"has no attribute '{SECRET}'" in text


def test_a_secret_template_failure_still_names_the_error_type() -> None:
    text = lines(secret_source(annotations=rule("{{ target[value] }}")))
    assert "UndefinedError" in text and "not shown" in text


def test_a_secret_value_quoted_by_a_marker_error_is_redacted() -> None:
    obj = secret_source(annotations={"kubectl-mirror.io/targets": f"Bad_{SECRET}"})
    text = lines(obj)
    assert "is not a valid namespace name" in text
    assert SECRET not in text and MASK in text


def test_a_value_that_is_not_base64_is_redacted_in_its_raw_form() -> None:
    obj = secret_source(
        annotations={**rule("{{ value }}"), "kubectl-mirror.io/targets": f"{SECRET}!!"},
        body={"type": "Opaque", "data": {"password": f"{SECRET}!!"}},
    )
    text = lines(obj)
    assert SECRET not in text


def test_go_template_failures_on_a_secret_hold_no_value() -> None:
    rules = json.dumps({"rules": [{"path": "data.password", "template": "{{ .Labels.nope.more }}"}]})
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "km",
            "namespace": "platform",
            "labels": {"kubemirror.raczylo.com/enabled": "true"},
            "annotations": {
                "kubemirror.raczylo.com/sync": "true",
                "kubemirror.raczylo.com/target-namespaces": "team-a",
                "kubemirror.raczylo.com/transform": rules,
            },
        },
        "type": "Opaque",
        "data": {"password": B64},
    }
    text = lines(obj)
    assert "cannot read field more" in text
    assert SECRET not in text and B64 not in text


def test_string_data_values_are_redacted_too() -> None:
    obj = secret_source(
        annotations={"kubectl-mirror.io/targets": f"x,{SECRET}_"},
        body={"type": "Opaque", "stringData": {"password": SECRET}},
    )
    assert SECRET not in lines(obj)


def test_secret_strings_cover_raw_decoded_and_escaped_forms_longest_first() -> None:
    multi = "line-one\nline-two"
    obj = {
        "kind": "Secret",
        "data": {"a": base64.b64encode(multi.encode()).decode(), "b": "abc"},
        "stringData": {"c": "plain-text"},
    }
    found = secret_strings(obj)
    assert multi in found and "line-one\\nline-two" in found and "line-one" in found
    assert "plain-text" in found
    assert "abc" not in found  # too short to hide without garbling every message
    assert list(found) == sorted(found, key=lambda s: (-len(s), s))
    assert secret_strings({"kind": "ConfigMap", "data": {"a": "value"}}) == ()


def test_scrub_replaces_every_occurrence() -> None:
    assert scrub("x hunter2 y hunter2", ("hunter2",)) == f"x {MASK} y {MASK}"
