"""The Jinja sandbox: what templates can do, the escapes they cannot make, and the runaway work
that must end quickly with a clear error (even with a frozen clock)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from kubectl_mirror.engine.jinja_sandbox import compile_jinja, render_jinja
from kubectl_mirror.engine.model import EngineOptions, Host, Limits
from kubectl_mirror.errors import TransformError

VARS: dict[str, Any] = {
    "target": {"namespace": "prod-eu"},
    "source": {"namespace": "platform", "name": "db", "kind": "Secret"},
    "mirror": {"name": "db"},
    "labels": {"app": "shop"},
    "annotations": {"team": "blue"},
    "value": "s3cr3t",
}


class FakeClock:
    """Advances by `step` seconds each time it is read."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def options(*, clock_step: float = 0.0, **limits: int) -> EngineOptions:
    return EngineOptions(host=Host(clock=FakeClock(clock_step)), limits=Limits(**limits))


def render(text: str, variables: dict[str, Any] | None = None, opts: EngineOptions | None = None) -> str:
    return render_jinja(
        compile_jinja(text), VARS if variables is None else variables, options=opts or options()
    )


def error_of(text: str, opts: EngineOptions | None = None) -> str:
    started = time.perf_counter()
    with pytest.raises(TransformError) as info:
        render(text, opts=opts)
    assert time.perf_counter() - started < 5, "a refused template must stop quickly"
    return info.value.message


# --- what templates can do ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ target.namespace }}", "prod-eu"),
        ("{{ source.namespace }}/{{ source.name }} ({{ source.kind }})", "platform/db (Secret)"),
        ("{{ mirror.name }}", "db"),
        ("{{ labels.app }}-{{ annotations['team'] }}", "shop-blue"),
        ("{{ value }}", "s3cr3t"),
        ("{{ target.namespace | upper }}", "PROD-EU"),
        ("{{ 'ABC' | lower }}", "abc"),
        ("{{ target.namespace | replace('-', '_') }}", "prod_eu"),
        ("{{ 'a-a-a' | replace('-', '+', 1) }}", "a+a-a"),
        ("{{ target.namespace | trim_prefix('prod-') }}", "eu"),
        ("{{ target.namespace | trim_suffix('-eu') }}", "prod"),
        ("{{ missing | default('fallback') }}", "fallback"),
        ("{{ '' | default('fallback', true) }}", "fallback"),
        ("{{ value | b64enc }}", "czNjcjN0"),
        ("{{ 'czNjcjN0' | b64dec }}", "s3cr3t"),
        (
            "{{ 'abc' | sha256 }}",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        ("{{ 'say \"hi\"' | quote }}", '"say \\"hi\\""'),
        ("{% if target.namespace.startswith('prod') %}error{% else %}debug{% endif %}", "error"),
        ("{% for k, v in labels.items() %}{{ k }}={{ v }}{% endfor %}", "app=shop"),
        (
            "{% for i in range(3) %}{{ loop.index }}{% if not loop.last %},{% endif %}{% endfor %}",
            "1,2,3",
        ),
        (
            "{% macro host(ns) %}{{ ns }}.svc{% endmacro %}{{ host(target.namespace) }}",
            "prod-eu.svc",
        ),
        ("{% set parts = target.namespace.split('-') %}{{ parts[1] }}", "eu"),
        ("{{ labels.get('nope', 'none') }}", "none"),
        ("{{ [1, 2] + [3] }} {{ (1, 'a') }} {{ {'k': 'v'} }}", "[1, 2, 3] (1, 'a') {'k': 'v'}"),
        ("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 7 % 3 }}", "ababab 1024 1"),
        ("{{ value ~ '-' ~ target.namespace }}", "s3cr3t-prod-eu"),
        ("{{ value is defined }} {{ nothing is defined }}", "True False"),
        ("line\n", "line"),  # Jinja drops one trailing newline of a `template: |` block
    ],
)
def test_templates_render_context_variables_and_the_listed_filters(text: str, expected: str) -> None:
    assert render(text) == expected


def test_strict_undefined_names_the_missing_variable() -> None:
    assert error_of("{{ target.nmespace }}") == "template error: 'dict object' has no attribute 'nmespace'"
    assert error_of("{{ nope }}") == "template error: 'nope' is undefined"


@pytest.mark.parametrize(
    "name",
    ["format", "attr", "tojson", "map", "join", "indent", "center", "xmlattr", "list", "length"],
)
def test_filters_outside_the_listed_ones_do_not_exist(name: str) -> None:
    with pytest.raises(TransformError, match=f"template syntax error on line 1: No filter named '{name}'"):
        compile_jinja("{{ value | " + name + " }}")


def test_syntax_errors_are_reported_at_compile_time_with_the_line() -> None:
    with pytest.raises(TransformError, match="template syntax error on line 2: Expected an expression"):
        compile_jinja("ok\n{% if %}")


def test_b64dec_of_invalid_input_fails_clearly() -> None:
    assert error_of("{{ 'not base64!' | b64dec }}").startswith("b64dec: input is not base64 of UTF-8 text")


# --- escapes ------------------------------------------------------------------------------------

ESCAPES = [
    ("{{ ''.__class__.__mro__ }}", "unsafe template: access to attribute '__class__' of 'str'"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe template"),
    ("{{ ().__class__.__base__.__subclasses__() }}", "unsafe template"),
    ("{{ [].__class__ }}", "unsafe template"),
    ("{{ labels.__class__.__init__.__globals__ }}", "unsafe template"),
    ("{{ labels.__dict__ }}", "has no attribute '__dict__'"),
    ("{{ labels['__class__'] }}", "unsafe template"),
    ("{{ value.__len__() }}", "unsafe template"),
    ("{{ cycler.__init__.__globals__.os }}", "unsafe template"),
    ("{{ joiner.__init__.__globals__ }}", "unsafe template"),
    ("{{ namespace.__init__.__globals__ }}", "unsafe template"),
    ("{{ self.__init__.__globals__ }}", "unsafe template: access to attribute '__init__'"),
    ("{{ self._TemplateReference__context }}", "unsafe template"),
    ("{{ self }}", "cannot turn a TemplateReference into text"),
    ("{{ lipsum.__globals__['os'] }}", "template error: 'lipsum' is undefined"),
    ("{{ lipsum() }}", "template error: 'lipsum' is undefined"),
    ("{{ request.application.__globals__ }}", "'request' is undefined"),
    ("{{ config.items() }}", "'config' is undefined"),
    ("{{ range.__self__ }}", "has no attribute '__self__'"),
    ("{{ range.__globals__ }}", "unsafe template"),
    ("{{ range.__code__ }}", "unsafe template"),
    ("{{ loop.__class__ }}", "unsafe template"),
    ("{% for x in [1] %}{{ loop.__class__ }}{% endfor %}", "unsafe template"),
    ("{% macro m() %}{% endmacro %}{{ m.__globals__ }}", "has no attribute '__globals__'"),
    ("{% macro m() %}{% endmacro %}{{ m._func }}", "unsafe template"),
    ("{{ '{0.__class__}'.format(value) }}", "unsafe template: access to attribute 'format'"),
    ("{{ '{0.__class__.__init__.__globals__}'.format_map(labels) }}", "unsafe template"),
    ("{{ '%s' % value.__class__ }}", "string formatting with '%' is not allowed"),
    ("{{ '%(a)s' % labels }}", "string formatting with '%' is not allowed"),
    ("{{ value | attr('__class__') }}", "No filter named 'attr'"),
    ("{{ value | map(attribute='__class__') }}", "No filter named 'map'"),
    ("{% import 'os' as os %}", "unsafe template: {% import %} is not allowed"),
    ("{% from 'x' import y %}", "unsafe template: {% from ... import %} is not allowed"),
    ("{% include '/etc/passwd' %}", "unsafe template: {% include %} is not allowed"),
    ("{% extends '/etc/passwd' %}", "unsafe template: {% extends %} is not allowed"),
    ("{{ labels.pop('app') }}", "unsafe template: access to attribute 'pop' of 'dict'"),
    ("{{ labels.update({'a': 1}) }}", "unsafe template"),
    ("{{ labels.setdefault('x', 1) }}", "unsafe template"),
    ("{{ value.encode() }}", "unsafe template"),
    ("{{ value.replace('s', 'S') }}", "unsafe template"),
    ("{{ labels.items }}", "cannot turn a builtin_function_or_method into text"),
    ("{% debug %}", "template syntax error"),
    ("{% do labels.clear() %}", "template syntax error"),
]


@pytest.mark.parametrize(("text", "fragment"), ESCAPES)
def test_sandbox_escape_attempts_fail_with_a_clear_message(text: str, fragment: str) -> None:
    assert fragment in error_of(text)


def test_escape_errors_leak_nothing_from_the_host() -> None:
    for text, _ in ESCAPES:
        message = error_of(text)
        for leak in ("/etc/passwd:", "root:", "<module", "<function", "0x", "Traceback"):
            assert leak not in message, (text, message)


# --- runaway work -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{{ range(10**9) }}", "range() of 1000000000 items exceeds the step budget of 100000"),
        ("{% for i in range(10**9) %}{% endfor %}", "range() of 1000000000 items exceeds"),
        ("{% for i in range(10**30) %}{% endfor %}", "exceeds the step budget"),
        ("{{ 'x' * 10**9 }}", "'*' would build a value over the 65536-byte output limit"),
        ("{{ [1, 2, 3] * 10**9 }}", "'*' would build a value over"),
        ("{{ 2 ** 100000 }}", "'**' would create a number over 4096 bits"),
        ("{{ (10**10) ** (10**10) }}", "'**' would create a number over 4096 bits"),
        ("{{ 10**1000 * 10**1000 * 10**1000 * 10**1000 * 10**1000 }}", "'*' would create a number"),
        ("{{ '%0999999999d' % 1 }}", "string formatting with '%' is not allowed"),
        ("{{ '{:>999999999}'.format(1) }}", "unsafe template: access to attribute 'format'"),
        ("{{ 'x'.center(10**9) }}", "unsafe template: access to attribute 'center'"),
        ("{{ 'x'.ljust(10**9) }}", "unsafe template"),
        ("{{ 'x'.zfill(10**9) }}", "unsafe template"),
        ("{{ 'x\\t'.expandtabs(10**9) }}", "unsafe template"),
        ("{{ ('x' * 60000) | replace('x', 'yy') }}", "replace would produce 120000 characters"),
        (
            "{% set s = 'x' * 60000 %}{% set s = s ~ s %}{{ s }}",
            "'~' would build a string over the 65536-byte output limit",
        ),
        (
            "{% set s = 'x' * 40000 %}{{ s + s }}",
            "'+' would build a value over the 65536-byte output limit",
        ),
        (
            "{% set s = 'x' * 40000 %}{{ s | b64enc | b64enc }}",
            "template value is larger than the 65536-byte output limit",
        ),
        (
            "{% set a = [1] %}" + "{% set a = [a, a, a, a] %}" * 12 + "{{ a == a }}",
            "template value is larger than the 65536-byte output limit",
        ),
    ],
)
def test_oversized_values_are_refused_before_they_are_built(text: str, fragment: str) -> None:
    assert fragment in error_of(text)


def test_template_with_nested_range_stops_with_step_budget_error() -> None:
    text = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    assert "exceeds the step budget of 100000" in error_of(text)


def test_nested_loops_over_text_stop_with_the_step_budget_even_with_a_frozen_clock() -> None:
    text = "{% set s = 'x' * 5000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
    assert error_of(text, options(clock_step=0.0)) == (
        "template exceeded its step budget of 100000 steps (a loop, range or recursion is too large)"
    )


def test_step_budget_is_configurable_per_render() -> None:
    template = compile_jinja("{% for i in range(50) %}{% endfor %}done")
    assert render_jinja(template, VARS, options=options(), step_budget=100) == "done"
    with pytest.raises(TransformError, match=r"range\(\) of 50 items exceeds the step budget of 10"):
        render_jinja(template, VARS, options=options(), step_budget=10)


def test_slow_template_stops_at_the_time_budget_of_the_injected_clock() -> None:
    # Each clock read advances 10 ms: the 100 ms budget is gone after about ten steps.
    text = "{% for i in range(1000) %}{{ i }}{% endfor %}"
    assert error_of(text, options(clock_step=0.01)) == "template exceeded its time budget of 100 ms"


def test_time_budget_is_taken_from_the_limits() -> None:
    text = "{% for i in range(100) %}{{ i }}{% endfor %}"
    opts = options(clock_step=0.01, template_time_budget_ms=60_000)
    assert render(text, opts=opts).startswith("0123")


def test_deep_macro_recursion_ends_with_a_recursion_error() -> None:
    text = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    assert error_of(text) == "template recursion too deep (more than 40 nested calls)"


def test_recursive_loop_without_end_ends_with_a_recursion_error() -> None:
    text = "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}"
    assert "template recursion too deep" in error_of(text)


def test_doubling_through_macro_arguments_is_refused() -> None:
    text = "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s }}{% endmacro %}{{ d('x' * 10, 60) }}"
    assert "would build a string over the 65536-byte output limit" in error_of(text)


def test_macro_that_buffers_gigabytes_stops_at_the_work_limit() -> None:
    text = (
        "{% macro m() %}{% for i in range(90000) %}{{ 'y' * 60000 }}{% endfor %}{% endmacro %}"
        "{{ m() | sha256 }}"
    )
    assert error_of(text).startswith("template produced more than 1048576 characters")


def test_output_over_the_limit_is_refused() -> None:
    text = "{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}"
    assert error_of(text, options(max_template_output=10_000)) == ("template output exceeds 10000 bytes")


def test_deeply_nested_expression_is_refused_at_compile_time() -> None:
    with pytest.raises(TransformError, match="nested too deeply"):
        compile_jinja("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


def test_renders_are_independent_budgets() -> None:
    template = compile_jinja("{% for i in range(60000) %}{% endfor %}ok")
    for _ in range(3):
        assert render_jinja(template, VARS, options=options()) == "ok"


def test_importing_transforms_does_not_import_jinja2() -> None:
    code = (
        "import sys\n"
        "from kubectl_mirror.engine import transforms\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
