"""KubeMirror's Go-template subset: documented variables and functions render as Go would, and
everything else is refused by name. Examples come from KubeMirror's README, design.md and
examples/transform-*.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_mirror.engine.gotemplate import compile_go_template, render_go_template
from kubectl_mirror.engine.model import EngineOptions, Limits
from kubectl_mirror.engine.textcap import bounded_replace
from kubectl_mirror.errors import TransformError

VARS: dict[str, Any] = {
    "TargetNamespace": "prod-eu-1",
    "SourceNamespace": "platform",
    "SourceName": "db",
    "TargetName": "db",
    "Labels": {"app": "shop", "empty": ""},
    "Annotations": {"team": "blue"},
}
OPTIONS = EngineOptions()


def render(text: str, variables: dict[str, Any] | None = None, options: EngineOptions = OPTIONS) -> str:
    return render_go_template(
        compile_go_template(text), VARS if variables is None else variables, options=options
    )


def error_of(text: str) -> str:
    with pytest.raises(TransformError) as info:
        render(text)
    return info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://{{.TargetNamespace}}.api.example.com", "https://prod-eu-1.api.example.com"),
        ("Mirrored from {{.SourceNamespace}}/{{.SourceName}}", "Mirrored from platform/db"),
        ("{{ .TargetName }}", "db"),
        ("{{ upper .TargetNamespace }}", "PROD-EU-1"),
        ('{{ lower "ABC" }}', "abc"),
        ('{{replace .TargetNamespace "-" "_"}}', "prod_eu_1"),
        ('app_{{replace .TargetNamespace "-" "_"}}', "app_prod_eu_1"),
        ('{{upper (replace .TargetNamespace "-" "_")}}', "PROD_EU_1"),
        ('{{ trimPrefix .TargetNamespace "prod-" }}', "eu-1"),
        ('{{ trimSuffix .TargetNamespace "-1" }}', "prod-eu"),
        ('{{ hasPrefix .TargetNamespace "prod-" }}', "true"),
        ('{{ hasSuffix .TargetNamespace "-2" }}', "false"),
        ('{{ default "fallback" .Labels.optional }}', "fallback"),
        ('{{ default "fallback" .Labels.empty }}', "fallback"),
        ('{{ default "fallback" .Labels.app }}', "shop"),
        ("{{ .Labels.app }}/{{ .Annotations.team }}", "shop/blue"),
        ('{{ index .Labels "app" }}', "shop"),
        ("{{ .TargetNamespace | upper }}", "PROD-EU-1"),
        ("{{ `raw\\n` }}", "raw\\n"),
        ('{{ "tab\\there" }}', "tab\there"),
        ("{{/* a comment */}}kept", "kept"),
        ("a  {{- /* trimmed */ -}}  b", "ab"),
        ("{{ true }} {{ 42 }}", "true 42"),
        ("{{ .Labels }}", "map[app:shop empty:]"),
        ("{{ .Labels.missing }}", "<no value>"),
    ],
)
def test_documented_variables_and_functions_render_like_go(text: str, expected: str) -> None:
    assert render(text) == expected


def test_design_doc_if_else_chain_picks_the_matching_branch() -> None:
    template = (
        '{{- if hasPrefix .TargetNamespace "prod-" -}}\n'
        "error\n"
        '{{- else if hasPrefix .TargetNamespace "staging-" -}}\n'
        "warn\n"
        "{{- else -}}\n"
        "debug\n"
        "{{- end }}\n"
    )
    assert render(template) == "error\n"
    assert render(template, {**VARS, "TargetNamespace": "staging-1"}) == "warn\n"
    assert render(template, {**VARS, "TargetNamespace": "dev"}) == "debug\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{ if eq .Labels.app "shop" }}yes{{ end }}', "yes"),
        ('{{ if ne .Labels.app "shop" }}yes{{ else }}no{{ end }}', "no"),
        ('{{ if eq .Labels.app "a" "b" "shop" }}any{{ end }}', "any"),
        ("{{ if not .Labels.empty }}empty{{ end }}", "empty"),
        ('{{ if and .Labels.app (hasPrefix .TargetNamespace "prod") }}both{{ end }}', "both"),
        ("{{ or .Labels.empty .Labels.app }}", "shop"),
        ("{{ if .Labels.missing }}x{{ else }}missing is false{{ end }}", "missing is false"),
        ("{{ if .Labels.app }}{{ if .Labels.empty }}a{{ else }}b{{ end }}{{ end }}", "b"),
    ],
)
def test_builtins_needed_by_if_follow_text_template(text: str, expected: str) -> None:
    assert render(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{{ .Namespace }}", "unknown variable .Namespace (supported: .Annotations, .Labels"),
        ('{{ printf "%s" .TargetNamespace }}', "unknown function 'printf'"),
        ("{{ regexFind `^[^-]+` .TargetNamespace }}", "unknown function 'regexFind'"),
        ("{{ range .Labels }}{{ end }}", "'{{range}}' is not supported"),
        ("{{ with .Labels }}{{ end }}", "'{{with}}' is not supported"),
        ('{{ template "x" }}', "'{{template}}' is not supported"),
        ("{{ $x := .TargetNamespace }}", "template variables ($...) are not supported"),
        ("{{ . }}", "'.' (the whole context) is not supported"),
        ("{{ nil }}", "nil is not supported"),
        ("{{ upper }}", "upper: wrong number of arguments: want 1, got 0"),
        ('{{ upper .TargetNamespace "x" }}', "upper: wrong number of arguments: want 1, got 2"),
        ("{{ upper .Labels.missing }}", "upper: argument 1 is a map key that does not exist"),
        ("{{ upper .Labels }}", "upper: argument 1 must be a string, not map"),
        ("{{ .TargetNamespace.Foo }}", "cannot read field Foo of .TargetNamespace: it is a string"),
        ('{{ .TargetNamespace "x" }}', ".TargetNamespace is not a function"),
        ("{{ if .Labels.app }}x", "missing {{end}} for {{if}}"),
        ("{{ end }}", "unexpected {{end}} without {{if}}"),
        ("{{ if true }}a{{ else }}b{{ else }}c{{ end }}", "unexpected {{else}} after {{else}}"),
        ("{{ .TargetNamespace", "unclosed action"),
        ('{{ "abc }}', "unterminated string"),
        ('{{ "\\q" }}', "unsupported escape \\q"),
        ("{{ upper (lower .TargetNamespace }}", "unclosed '('"),
        ("{{ }}", "empty action"),
        ("{{ .TargetNamespace | }}", "missing value in pipeline"),
        ("{{ eq .Labels .Labels }}", "eq: cannot compare map"),
        ("{{/* never closed }}", "unclosed comment"),
        ("{{ a b }}", "unknown function 'a'"),
        ("{{ .TargetNamespace, }}", "unexpected ','"),
    ],
)
def test_anything_outside_the_documented_subset_fails_naming_it(text: str, fragment: str) -> None:
    assert fragment in error_of(text)


def test_compile_reports_syntax_errors_before_rendering() -> None:
    with pytest.raises(TransformError, match="unknown function 'printf'"):
        compile_go_template('{{ printf "%d" 1 }}')


def test_replace_that_would_blow_up_the_output_is_refused_before_allocating() -> None:
    small = EngineOptions(limits=Limits(max_template_output=1000))
    with pytest.raises(TransformError, match="replace would produce 10009 characters"):
        render('{{ replace .TargetNamespace "" "' + "x" * 1000 + '" }}', options=small)


def test_bounded_replace_matches_str_replace_within_the_limit() -> None:
    assert bounded_replace("a-b-c", "-", "_", limit=100) == "a_b_c"
    assert bounded_replace("a-b-c", "-", "_", limit=100, count=1) == "a_b-c"


def test_output_over_the_limit_is_refused() -> None:
    small = EngineOptions(limits=Limits(max_template_output=10))
    with pytest.raises(TransformError, match="template output exceeds 10 bytes"):
        render("{{ .TargetNamespace }}-{{ .TargetNamespace }}", options=small)


def test_trailing_newline_of_a_block_scalar_is_kept_as_go_does() -> None:
    assert render("{{ .SourceName }}\n") == "db\n"
