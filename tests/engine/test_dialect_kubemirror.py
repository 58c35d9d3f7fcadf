from __future__ import annotations

from typing import Any

import pytest

from kubectl_mirror.engine.dialects import kubemirror as km
from kubectl_mirror.engine.model import MirrorSpec, NamespaceInfo, Target
from kubectl_mirror.engine.targets import resolve_targets
from kubectl_mirror.errors import Ref, SpecError, TransformError
from tests.helpers import ns, opts, render

ENABLED = {km.ENABLED: "true"}


def cm(
    annotations: dict[str, Any],
    *,
    labels: dict[str, str] | None = None,
    name: str = "app-config",
    namespace: str = "platform",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": ENABLED if labels is None else labels,
            "annotations": annotations,
        },
        "data": {"LOG_LEVEL": "debug", "API_URL": "https://localhost"},
    }


def read(obj: dict[str, Any]) -> MirrorSpec | None:
    return km.read_source(obj, Ref.of(obj), opts())


SYNC = {km.SYNC: "true", km.TARGET_NAMESPACES: "app1,app2"}


def test_a_source_needs_both_the_enabled_label_and_the_sync_annotation() -> None:
    assert read(cm(SYNC)) is not None
    assert read(cm(SYNC, labels={})) is None
    assert read(cm({km.TARGET_NAMESPACES: "app1"})) is None
    assert read(cm({**SYNC, km.SYNC: "false"})) is None


def test_exclude_annotation_opts_the_object_out() -> None:
    assert read(cm({**SYNC, km.EXCLUDE: "true"})) is None


def test_targets_are_names_globs_all_and_all_labeled() -> None:
    spec = read(cm({**SYNC, km.TARGET_NAMESPACES: "app1, prod-*,all,all-labeled"}))
    assert spec is not None
    assert spec.targets == (
        Target("name", "app1"),
        Target("glob", "prod-*"),
        Target("all"),
        Target("labeled", km.ALLOW_MIRRORS),
    )
    assert (spec.strategy, spec.on_source_delete) == ("replace", "delete")


def test_all_labeled_needs_the_namespace_opt_in_and_allow_mirrors_false_opts_out() -> None:
    universe = {
        "platform": NamespaceInfo("platform", ((km.ALLOW_MIRRORS, "true"),)),
        "in": NamespaceInfo("in", ((km.ALLOW_MIRRORS, "true"),)),
        "plain": NamespaceInfo("plain"),
        "out": NamespaceInfo("out", ((km.ALLOW_MIRRORS, "false"),)),
        "kube-system": NamespaceInfo("kube-system", ((km.ALLOW_MIRRORS, "true"),)),
    }

    def chosen(targets: str) -> tuple[str, ...]:
        spec = read(cm({**SYNC, km.TARGET_NAMESPACES: targets}))
        assert spec is not None
        names, _ = resolve_targets(
            spec, source_namespace="platform", universe=universe, options=opts(), ref=Ref()
        )
        return names

    assert chosen("all-labeled") == ("in",)
    assert chosen("all") == ("in", "plain")
    assert chosen("out,plain") == ("plain",)


def test_transform_strict_is_read() -> None:
    spec = read(cm({**SYNC, km.TRANSFORM_STRICT: "true"}))
    assert spec is not None and spec.transform_strict


@pytest.mark.parametrize(
    ("annotations", "key"),
    [
        ({km.SYNC: "true"}, km.TARGET_NAMESPACES),
        ({**SYNC, km.TARGET_NAMESPACES: " , "}, km.TARGET_NAMESPACES),
        ({**SYNC, km.TARGET_NAMESPACES: "app[1"}, km.TARGET_NAMESPACES),
        ({**SYNC, km.TARGET_NAMESPACES: "App1"}, km.TARGET_NAMESPACES),
        ({**SYNC, km.TRANSFORM_STRICT: "yes"}, km.TRANSFORM_STRICT),
        ({**SYNC, km.TARGET_NAMESPACES: ["app1"]}, km.TARGET_NAMESPACES),
    ],
)
def test_bad_values_are_errors_naming_the_annotation(annotations: dict[str, Any], key: str) -> None:
    with pytest.raises(SpecError) as err:
        read(cm(annotations))
    assert err.value.field_path == f'metadata.annotations["{key}"]'


def test_kubemirror_mirrors_are_foreign_mirrors_never_sources() -> None:
    assert km.is_foreign_mirror(cm(SYNC, labels={**ENABLED, km.MIRROR: "true"}))
    assert km.is_foreign_mirror(cm(SYNC, labels={km.MANAGED_BY: "kubemirror"}))
    assert not km.is_foreign_mirror(cm(SYNC))


def test_dialect_reads_any_kind_listed_by_the_enabled_label() -> None:
    assert km.KUBEMIRROR.kinds == ()
    assert km.KUBEMIRROR.source_selector == "kubemirror.raczylo.com/enabled=true"


def test_render_end_to_end(snapshot: Any) -> None:
    source = cm({km.SYNC: "true", km.TARGET_NAMESPACES: "app-*,all-labeled"})
    old_mirror = cm(SYNC, labels={km.MIRROR: "true", km.MANAGED_BY: "kubemirror"}, namespace="x")
    outcome = render(
        source,
        old_mirror,
        ns("platform"),
        ns("app-1"),
        ns("app-2", **{km.ALLOW_MIRRORS: "false"}),
        ns("shared", **{km.ALLOW_MIRRORS: "true"}),
        ns("x"),
    )
    assert [r.one_line() for r in outcome.results] == []
    assert [m["metadata"]["namespace"] for m in outcome.mirrors] == ["app-1", "shared"]
    assert outcome.mirrors == snapshot


TRANSFORM = """rules:
  - path: data.LOG_LEVEL
    value: "error"
    namespacePattern: "prod-*"
  - path: data.API_URL
    template: "https://{{.TargetNamespace}}.api.example.com/{{ upper .SourceName }}"
"""


def test_transform_rules_are_read_with_go_template_syntax() -> None:
    spec = read(cm({**SYNC, km.TRANSFORM: TRANSFORM}))
    assert spec is not None
    assert [(r.path, r.op, r.namespace_pattern, r.syntax) for r in spec.transforms] == [
        ("data.LOG_LEVEL", "value", "prod-*", "go"),
        ("data.API_URL", "template", "", "go"),
    ]


def test_template_outside_kubemirrors_documented_subset_is_an_error_naming_the_rule() -> None:
    bad = "rules:\n  - path: data.X\n    template: '{{ printf \"%s\" .SourceName }}'\n"
    with pytest.raises(TransformError) as err:
        read(cm({**SYNC, km.TRANSFORM: bad}))
    assert "printf" in err.value.message
    assert err.value.field_path == f'metadata.annotations["{km.TRANSFORM}"].rules[0].template'


def test_render_with_transforms_end_to_end(snapshot: Any) -> None:
    source = cm({km.SYNC: "true", km.TARGET_NAMESPACES: "prod-1,dev", km.TRANSFORM: TRANSFORM})
    outcome = render(source, ns("platform"), ns("prod-1"), ns("dev"))
    assert [r.one_line() for r in outcome.results] == []
    assert [m["data"] for m in outcome.mirrors] == [
        {"LOG_LEVEL": "debug", "API_URL": "https://dev.api.example.com/APP-CONFIG"},
        {"LOG_LEVEL": "error", "API_URL": "https://prod-1.api.example.com/APP-CONFIG"},
    ]
    assert outcome.mirrors == snapshot
