from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
import yaml

from kubectl_mirror.engine.globs import GlobError, compile_glob, glob_match, is_glob
from kubectl_mirror.engine.model import EngineOptions, Host, Limits, TemplateSyntax, TransformRule
from kubectl_mirror.engine.transforms import (
    TemplateContext,
    apply_transforms,
    go_variables,
    parse_rules,
)
from kubectl_mirror.errors import Ref, TransformError

REF = Ref(api_version="v1", kind="ConfigMap", namespace="platform", name="app")
FIELD = 'metadata.annotations["kubectl-mirror.io/transform"]'
OPTIONS = EngineOptions(host=Host(parse_yaml=yaml.safe_load, clock=lambda: 0.0))
CONTEXT = TemplateContext(
    target_namespace="prod-eu",
    source_namespace="platform",
    source_name="app",
    source_kind="ConfigMap",
    mirror_name="app",
    labels={"team": "blue"},
    annotations={"owner": "ops"},
)


def rules(
    raw: Any, *, syntax: TemplateSyntax = "jinja", options: EngineOptions = OPTIONS
) -> tuple[TransformRule, ...]:
    return parse_rules(raw, ref=REF, field_path=FIELD, syntax=syntax, options=options)


def parse_error(
    raw: Any, *, syntax: TemplateSyntax = "jinja", options: EngineOptions = OPTIONS
) -> TransformError:
    with pytest.raises(TransformError) as info:
        rules(raw, syntax=syntax, options=options)
    return info.value


def apply(
    obj: dict[str, Any],
    raw: Any,
    *,
    strict: bool = True,
    syntax: TemplateSyntax = "jinja",
    context: TemplateContext = CONTEXT,
) -> tuple[dict[str, Any], tuple[Any, ...]]:
    return apply_transforms(
        obj, rules(raw, syntax=syntax), context=context, strict=strict, options=OPTIONS, ref=REF
    )


def configmap(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app", "namespace": "prod-eu", "labels": {"team": "blue"}},
        "data": dict(data),
    }


def secret(**plain: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod-eu"},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in plain.items()},
    }


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- parsing ------------------------------------------------------------------------------------


def test_parse_rules_accepts_a_plain_yaml_list() -> None:
    parsed = rules("- path: data.LOG_LEVEL\n  value: error\n- path: data.DEBUG\n  delete: true\n")
    assert parsed == (
        TransformRule(path="data.LOG_LEVEL", op="value", arg="error"),
        TransformRule(path="data.DEBUG", op="delete"),
    )


def test_parse_rules_accepts_kubemirrors_rules_mapping() -> None:
    text = """
rules:
  - path: data.API_URL
    template: "https://{{.TargetNamespace}}.api.example.com"
  - path: metadata.labels
    merge: {environment: production}
  - path: data.GRAPHQL_HOST
    value: "https://preprod.example.com/v1/graphql"
    namespacePattern: "preprod-*"
"""
    parsed = rules(text, syntax="go")
    assert [(r.op, r.syntax, r.namespace_pattern) for r in parsed] == [
        ("template", "go", ""),
        ("merge", "go", ""),
        ("value", "go", "preprod-*"),
    ]
    assert parsed[1].arg == {"environment": "production"}


def test_parse_rules_accepts_already_parsed_policy_data() -> None:
    parsed = rules([{"path": 'data["app.properties"]', "template": "{{ value }}"}])
    assert parsed == (TransformRule(path='data["app.properties"]', op="template", arg="{{ value }}"),)


@pytest.mark.parametrize("raw", ["", "   \n", None, "rules:", {"rules": None}])
def test_empty_rules_parse_to_nothing(raw: Any) -> None:
    assert rules(raw) == ()


@pytest.mark.parametrize(
    ("raw", "field_path", "message"),
    [
        ("- path: [unclosed", FIELD, "transform rules are not valid YAML: "),
        (
            "just text",
            FIELD,
            "transform rules must be a list (or a mapping with 'rules:'), not a str",
        ),
        (
            "rule:\n  - path: a",
            FIELD,
            "unknown key 'rule': expected a list of rules or a mapping with 'rules:'",
        ),
        ("rules: {path: a}", f"{FIELD}.rules", "transform rules must be a list"),
        ("- just-a-string", f"{FIELD}[0]", "a rule must be a mapping, not a str"),
        (
            "- {path: data.a, value: x, namespacepattern: 'p-*'}",
            f"{FIELD}[0]",
            "unknown rule field 'namespacepattern'",
        ),
        ("- {value: x}", f"{FIELD}[0].path", "a rule needs a non-empty string 'path'"),
        ("- {path: '', value: x}", f"{FIELD}[0].path", "a rule needs a non-empty string 'path'"),
        ("- {path: 'data..a', value: x}", f"{FIELD}[0].path", "expected a key at position 5"),
        (
            "- {path: 'items[x]', value: x}",
            f"{FIELD}[0].path",
            "list index must be a non-negative integer",
        ),
        (
            "- {path: data.a}",
            f"{FIELD}[0]",
            "exactly one of value, template, merge or delete: true (it has none)",
        ),
        ("- {path: data.a, delete: false}", f"{FIELD}[0]", "(it has none)"),
        ("- {path: data.a, value: x, template: y}", f"{FIELD}[0]", "(it has value and template)"),
        ("- {path: data.a, value: x, delete: true}", f"{FIELD}[0]", "(it has value and delete)"),
        (
            "- {path: data.a, delete: 'yes'}",
            f"{FIELD}[0].delete",
            "delete must be true or false, not a str",
        ),
        (
            "- {path: data.a, merge: [1]}",
            f"{FIELD}[0].merge",
            "merge must be a mapping with string keys, not a list",
        ),
        (
            "- {path: data.a, template: 3}",
            f"{FIELD}[0].template",
            "template must be a string, not a int",
        ),
        (
            "- {path: data.a, value: x, namespacePattern: 'prod-[a'}",
            f"{FIELD}[0].namespacePattern",
            "invalid glob 'prod-[a': unclosed '[' at position 5",
        ),
        (
            "- {path: data.a, value: x, namespacePattern: 3}",
            f"{FIELD}[0].namespacePattern",
            "namespacePattern must be a string",
        ),
        (
            "- {path: data.a, value: x}\n- {path: data.b, template: '{{ x'}",
            f"{FIELD}[1].template",
            "template syntax error on line 1",
        ),
        (
            "- {path: data.a, template: '{% include \"x\" %}'}",
            f"{FIELD}[0].template",
            "unsafe template: {% include %} is not allowed",
        ),
        (
            "- {path: data.a, template: '{{ x | attr(1) }}'}",
            f"{FIELD}[0].template",
            "No filter named 'attr'",
        ),
    ],
)
def test_invalid_rules_fail_at_parse_time_naming_the_field(raw: str, field_path: str, message: str) -> None:
    err = parse_error(raw)
    assert message in err.message
    assert err.field_path == field_path
    assert err.ref == REF
    assert "\n" not in err.one_line()


def test_go_template_errors_are_reported_at_parse_time() -> None:
    err = parse_error("rules:\n- {path: data.a, template: '{{ printf \"%s\" .X }}'}", syntax="go")
    assert err.field_path == f"{FIELD}.rules[0].template"
    assert err.message.startswith("unknown function 'printf'")


def test_more_rules_than_the_limit_are_refused() -> None:
    many = [{"path": f"data.k{i}", "value": "v"} for i in range(51)]
    err = parse_error(many)
    assert err.message == "51 transform rules; at most 50 are allowed"
    small = EngineOptions(host=OPTIONS.host, limits=Limits(max_rules=2))
    assert parse_error(many[:3], options=small).message == "3 transform rules; at most 2 are allowed"


def test_rule_text_over_the_size_limit_is_refused_for_text_and_parsed_data() -> None:
    big_value = "x" * 11_000
    err = parse_error(f"- path: data.a\n  value: {big_value}\n")
    assert err.message == "transform rules are 11025 bytes; at most 10240 are allowed"
    err = parse_error([{"path": "data.a", "value": big_value}])
    assert err.message.startswith("transform rules are 11030 bytes")


def test_parsing_yaml_without_a_host_parser_is_an_error_not_a_crash() -> None:
    err = parse_error("- {path: a, value: b}", options=EngineOptions())
    assert err.message == "transform rules are not valid YAML: no YAML parser was given to the engine"


# --- applying -----------------------------------------------------------------------------------


def test_value_template_merge_and_delete_apply_in_order() -> None:
    obj = configmap(LOG_LEVEL="debug", DEBUG_MODE="true", API_URL="http://localhost")
    out, results = apply(
        obj,
        """
- {path: data.LOG_LEVEL, value: error}
- {path: data.API_URL, template: "https://{{ target.namespace }}.api.example.com"}
- {path: metadata.labels, merge: {environment: production}}
- {path: data.DEBUG_MODE, delete: true}
- {path: data.REPLICAS, value: 3}
""",
    )
    assert results == ()
    assert out["data"] == {
        "LOG_LEVEL": "error",
        "API_URL": "https://prod-eu.api.example.com",
        "REPLICAS": 3,
    }
    assert out["metadata"]["labels"] == {"team": "blue", "environment": "production"}


def test_apply_never_mutates_the_input() -> None:
    obj = configmap(a="1")
    before = copy.deepcopy(obj)
    apply(obj, "- {path: data.a, value: '2'}\n- {path: metadata.labels, merge: {x: y}}")
    assert before == obj


def test_template_sees_the_current_value_and_context() -> None:
    obj = configmap(**{"app.properties": "level=debug"})
    out, _ = apply(
        obj,
        [
            {
                "path": 'data["app.properties"]',
                "template": "{{ value | replace('debug', 'error') }}\n"
                "# {{ source.kind }} {{ source.namespace }}/{{ source.name }} -> "
                "{{ target.namespace }}/{{ mirror.name }} "
                "{{ labels.team }} {{ annotations.owner }}",
            }
        ],
    )
    assert out["data"]["app.properties"] == ("level=error\n# ConfigMap platform/app -> prod-eu/app blue ops")


def test_template_on_a_missing_path_has_no_value_unless_defaulted() -> None:
    out, _ = apply(configmap(), "- {path: data.NEW, template: \"{{ value | default('none') }}\"}")
    assert out["data"]["NEW"] == "none"
    with pytest.raises(TransformError, match="'value' is undefined"):
        apply(configmap(), "- {path: data.NEW, template: '{{ value }}'}")


def test_merge_is_shallow_and_creates_the_map() -> None:
    obj = configmap()
    obj["spec"] = {"a": {"x": 1, "y": 2}, "b": 1}
    out, _ = apply(obj, "- {path: spec, merge: {a: {x: 9}, c: 3}}\n- {path: extra.map, merge: {k: v}}")
    assert out["spec"] == {"a": {"x": 9}, "b": 1, "c": 3}
    assert out["extra"] == {"map": {"k": "v"}}


def test_merge_into_a_non_mapping_fails() -> None:
    with pytest.raises(TransformError, match="merge needs a mapping at the path, found a str"):
        apply(configmap(a="1"), "- {path: data.a, merge: {k: v}}")


def test_list_index_paths_change_one_element() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"image": "a"}, {"image": "b"}]}}},
    }
    out, _ = apply(
        obj,
        [
            {
                "path": "spec.template.spec.containers[1].image",
                "template": "registry.{{ target.namespace }}/b",
            }
        ],
    )
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"image": "a"},
        {"image": "registry.prod-eu/b"},
    ]


def test_namespace_pattern_limits_a_rule_to_matching_targets() -> None:
    raw = """
- {path: data.HOST, value: preprod.example.com, namespacePattern: "preprod-*"}
- {path: data.HOST, value: api.example.com, namespacePattern: "prod-*"}
- {path: data.LOG, value: warn, namespacePattern: "*-staging"}
"""
    out, results = apply(configmap(), raw)
    assert out["data"] == {"HOST": "api.example.com"}
    assert results == ()


# --- Secrets ------------------------------------------------------------------------------------


def test_secret_data_rules_read_and_write_plain_text() -> None:
    obj = secret(DB_HOST="localhost", DB_URL="postgres://localhost/app")
    out, _ = apply(
        obj,
        """
- {path: data.DB_HOST, template: "{{ target.namespace }}.postgres.svc"}
- {path: data.DB_URL, template: "{{ value | replace('localhost', target.namespace) }}"}
- {path: data.NEW, value: plain}
- {path: data.PORT, value: 5432}
- {path: data.ON, value: true}
""",
    )
    assert out["data"] == {
        "DB_HOST": b64("prod-eu.postgres.svc"),
        "DB_URL": b64("postgres://prod-eu/app"),
        "NEW": b64("plain"),
        "PORT": b64("5432"),
        "ON": b64("true"),
    }


def test_secret_merge_into_data_encodes_each_value() -> None:
    out, _ = apply(secret(a="1"), "- {path: data, merge: {b: two}}")
    assert out["data"] == {"a": b64("1"), "b": b64("two")}


def test_secret_delete_removes_the_key() -> None:
    out, _ = apply(secret(ADMIN_PASSWORD="x", APP="y"), "- {path: data.ADMIN_PASSWORD, delete: true}")
    assert out["data"] == {"APP": b64("y")}


@pytest.mark.parametrize(
    ("data", "raw", "message"),
    [
        (
            {"k": "not base64!"},
            "- {path: data.k, template: '{{ value }}'}",
            "the Secret value is not valid base64",
        ),
        (
            {"k": b64("x")[:-1] + "\u00e9"},
            "- {path: data.k, template: '{{ value }}'}",
            "not valid base64",
        ),
        (
            {"k": base64.b64encode(b"\xff\xfe").decode()},
            "- {path: data.k, template: '{{ value }}'}",
            "binary, not UTF-8 text",
        ),
        ({}, "- {path: data.k, value: {a: 1}}", "a Secret data value must be text, not a mapping"),
        ({}, "- {path: data.k, value: null}", "a Secret data value must be text, not null"),
        ({}, "- {path: data.k.deeper, value: x}", "a path cannot go below data.<key>"),
    ],
)
def test_secret_values_that_are_not_text_fail_clearly(data: dict[str, str], raw: str, message: str) -> None:
    obj = secret()
    obj["data"] = data
    with pytest.raises(
        TransformError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        apply(obj, raw)


def test_binary_secret_values_can_still_be_replaced_without_reading_them() -> None:
    obj = secret()
    obj["data"] = {"bin": base64.b64encode(b"\xff").decode()}
    out, _ = apply(obj, "- {path: data.bin, value: text}")
    assert out["data"]["bin"] == b64("text")


def test_configmap_data_is_not_base64_encoded() -> None:
    out, _ = apply(configmap(), "- {path: data.a, value: plain}")
    assert out["data"]["a"] == "plain"


# --- strict and lenient ---------------------------------------------------------------------------


FAILING = """
- {path: data.a, value: one}
- {path: 'spec.items[3]', value: x}
- {path: data.b, template: '{{ nope }}'}
- {path: data.c, value: three}
"""


def test_strict_mode_raises_on_the_first_failing_rule() -> None:
    with pytest.raises(TransformError) as info:
        apply(configmap(), FAILING, strict=True)
    err = info.value
    assert err.ref == REF
    assert err.field_path == "spec.items[3]"
    assert err.message == (
        "transform rule 1 (value) failed: spec.items does not exist (cannot create a list)"
    )


def test_lenient_mode_skips_failing_rules_with_warnings() -> None:
    obj = configmap()
    obj["spec"] = {"items": []}
    out, results = apply(obj, FAILING, strict=False)
    assert out["data"] == {"a": "one", "c": "three"}
    assert [(r.severity, r.field_path, r.message) for r in results] == [
        (
            "warning",
            "spec.items[3]",
            "transform rule 1 (value) failed: list index spec.items[3] is out of range "
            "(the list has 0 items); rule skipped",
        ),
        (
            "warning",
            "data.b",
            "transform rule 2 (template) failed: template error: 'nope' is undefined; rule skipped",
        ),
    ]
    assert all(r.ref == REF for r in results)


def test_runaway_template_in_lenient_mode_is_a_warning_not_a_hang() -> None:
    out, results = apply(
        configmap(a="keep"),
        "- {path: data.a, template: '{% for i in range(10**9) %}{% endfor %}'}",
        strict=False,
    )
    assert out["data"] == {"a": "keep"}
    assert "exceeds the step budget" in results[0].message


# --- KubeMirror's Go templates ------------------------------------------------------------------


def test_go_syntax_rules_render_kubemirror_examples() -> None:
    obj = secret(DB_HOST="localhost", DB_NAME="app_dev", API_KEY_PREFIX="DEV")
    out, _ = apply(
        obj,
        r"""
rules:
  - path: data.DB_HOST
    template: "{{.TargetNamespace}}.postgres.svc.cluster.local"
  - path: data.DB_NAME
    template: "app_{{replace .TargetNamespace \"-\" \"_\"}}"
  - path: data.API_KEY_PREFIX
    template: "{{upper (replace .TargetNamespace \"-\" \"_\")}}"
  - path: metadata.annotations.origin
    template: >-
      Mirrored from {{.SourceNamespace}}/{{.SourceName}}
      as {{.TargetName}} ({{ .Labels.team }})
""",
        syntax="go",
    )
    assert out["data"] == {
        "DB_HOST": b64("prod-eu.postgres.svc.cluster.local"),
        "DB_NAME": b64("app_prod_eu"),
        "API_KEY_PREFIX": b64("PROD_EU"),
    }
    assert out["metadata"]["annotations"] == {"origin": "Mirrored from platform/app as app (blue)"}


def test_go_variables_follow_kubemirrors_transform_context() -> None:
    assert go_variables(CONTEXT) == {
        "TargetNamespace": "prod-eu",
        "SourceNamespace": "platform",
        "SourceName": "app",
        "TargetName": "app",
        "Labels": {"team": "blue"},
        "Annotations": {"owner": "ops"},
    }


# --- globs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("prod-*", "prod-eu", True),
        ("prod-*", "preprod-eu", False),
        ("*-staging", "app-staging", True),
        ("namespace-?", "namespace-1", True),
        ("namespace-?", "namespace-12", False),
        ("prod-*-v?", "prod-api-v2", True),
        ("team-[a-c]", "team-b", True),
        ("team-[a-c]", "team-d", False),
        ("team-[!a]", "team-a", False),
        ("team-[!a]", "team-b", True),
        ("team-[^a]", "team-b", True),
        ("[]x]", "]", True),
        ("a.b", "axb", False),
        ("a+(b)", "a+(b)", True),
        ("*", "", True),
        ("Prod", "prod", False),
    ],
)
def test_glob_match_supports_star_question_and_classes(pattern: str, name: str, matches: bool) -> None:
    assert glob_match(pattern, name) is matches


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("prod-[a", "unclosed '[' at position 5"),
        ("[!", "unclosed '[' at position 0"),
        ("a]", "unmatched ']' at position 1"),
        ("[z-a]", "bad range z-a at position 1"),
    ],
)
def test_invalid_globs_raise_glob_error(pattern: str, message: str) -> None:
    with pytest.raises(GlobError) as info:
        compile_glob(pattern)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_is_glob_detects_glob_syntax() -> None:
    assert is_glob("prod-*") and is_glob("a?") and is_glob("[ab]")
    assert not is_glob("prod-eu")
