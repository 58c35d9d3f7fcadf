"""config-syncer (formerly kubed) annotations: reading, errors, copies, rendering."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.dialects import kubed
from kubectl_mirror.engine.dialects.registry import copied_by
from kubectl_mirror.engine.model import MirrorSpec, Target
from kubectl_mirror.engine.reconcile import decide
from kubectl_mirror.errors import Ref, SpecError
from kubectl_mirror.io.emit import yaml_stream
from tests.helpers import errors_of, namespaces_of, ns, opts, render


def obj(
    annotations: dict[str, Any],
    *,
    kind: str = "ConfigMap",
    name: str = "omni",
    namespace: str = "demo",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"data": {"you": "rock"}} if kind == "ConfigMap" else {"data": {"k": "dg=="}}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "annotations": annotations}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **body}


def read(o: dict[str, Any]) -> MirrorSpec | None:
    return kubed.read_source(o, Ref.of(o), opts())


@pytest.mark.parametrize("value", ["", "true", "True", "  "])
def test_empty_value_or_true_means_every_namespace(value: str) -> None:
    spec = read(obj({kubed.SYNC: value}))
    assert spec is not None and spec.targets == (Target("all"),)


def test_any_other_value_is_a_label_selector_over_namespaces() -> None:
    spec = read(obj({kubed.SYNC: "app=kubed"}))
    assert spec is not None and spec.targets == (Target("selector", "app=kubed"),)


def test_copies_are_replaced_whole_and_deleted_with_their_source() -> None:
    spec = read(obj({kubed.SYNC: ""}))
    assert spec is not None
    assert (spec.strategy, spec.on_source_delete) == ("replace", "delete")


def test_without_the_sync_annotation_the_object_is_not_a_source() -> None:
    assert read(obj({})) is None
    assert read(obj({kubed.SYNC_CONTEXTS: "east"})) is None


def test_our_mirrors_carry_the_origin_labels_users_select_copies_by() -> None:
    spec = read(obj({kubed.SYNC: ""}))
    assert spec is not None
    assert spec.extra_labels == ((kubed.ORIGIN_NAME, "omni"), (kubed.ORIGIN_NAMESPACE, "demo"))
    # Not origin.cluster: config-syncer's --cluster-name is unknown, and without it a
    # config-syncer started again never takes our mirrors for its own copies.
    assert all(key != kubed.ORIGIN_CLUSTER for key, _ in spec.extra_labels)


def test_origin_labels_are_left_out_for_a_name_no_label_value_can_hold() -> None:
    spec = read(obj({kubed.SYNC: ""}, name="x" * 64))
    assert spec is not None and spec.extra_labels == ()


def test_sync_contexts_is_out_of_scope_and_says_so_with_a_warning() -> None:
    out = render(obj({kubed.SYNC: "", kubed.SYNC_CONTEXTS: "east,west"}), ns("demo"), ns("other"))
    assert namespaces_of(out) == ["other"]
    assert [(r.severity, r.field_path) for r in out.results] == [
        ("warning", 'metadata.annotations["kubed.appscode.com/sync-contexts"]')
    ]
    assert "cross-cluster sync is not supported" in out.results[0].message


@pytest.mark.parametrize(
    ("annotations", "key", "message"),
    [
        ({kubed.SYNC: "app in (a"}, kubed.SYNC, "invalid label selector 'app in (a'"),
        ({kubed.SYNC: "Bad Key=x"}, kubed.SYNC, "invalid label selector"),
        (
            {kubed.SYNC: True},
            kubed.SYNC,
            'must be a string, got bool (quote it in YAML: kubed.appscode.com/sync: "true")',
        ),
        ({kubed.SYNC: "", kubed.SYNC_CONTEXTS: 1}, kubed.SYNC_CONTEXTS, "must be a string, got int"),
    ],
)
def test_bad_values_are_one_line_naming_the_annotation(
    annotations: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(SpecError) as err:
        read(obj(annotations))
    assert err.value.field_path == f'metadata.annotations["{key}"]'
    assert message in err.value.message
    assert "\n" not in err.value.one_line()


COPY_LABELS = {kubed.ORIGIN_NAME: "omni", kubed.ORIGIN_NAMESPACE: "demo", kubed.ORIGIN_CLUSTER: "unicorn"}
COPY_ORIGIN = (
    '{"apiVersion":"v1","kind":"ConfigMap","name":"omni","namespace":"demo","uid":"u","resourceVersion":"1"}'
)


def test_config_syncers_copies_are_its_mirrors_never_sources() -> None:
    copy = obj({kubed.ORIGIN: COPY_ORIGIN}, namespace="other", labels=COPY_LABELS)
    assert kubed.is_foreign_mirror(copy)
    assert kubed.is_foreign_mirror(obj({}, labels=COPY_LABELS))
    assert not kubed.is_foreign_mirror(obj({kubed.SYNC: ""}))
    assert copied_by(copy) == "config-syncer (kubed)"
    # A copy keeps its old `sync` annotation when the target had one: still not a source.
    out = render(obj({kubed.ORIGIN: COPY_ORIGIN, kubed.SYNC: ""}, namespace="other"), ns("third"))
    assert out.mirrors == ()


def test_at_a_mirrors_place_a_copy_is_named_as_config_syncers_and_adoptable() -> None:
    out = render(obj({kubed.SYNC: ""}), ns("other"))
    [desired] = out.mirrors
    copy = obj({kubed.ORIGIN: COPY_ORIGIN}, namespace="other", labels=COPY_LABELS)
    conflict = decide(desired, copy)
    assert conflict.verb == "conflict"
    assert conflict.reason == (
        "is a copy made by config-syncer (kubed), not managed by kubectl-mirror (use --adopt to take it over)"
    )
    adopted = decide(desired, copy, adopt=True)
    assert adopted.verb == "update"
    assert adopted.desired is not None
    assert adopted.desired["metadata"]["annotations"][m.ADOPTED] == "true"
    assert kubed.ORIGIN not in adopted.desired["metadata"]["annotations"]


def test_kubed_markers_are_never_copied_to_mirrors() -> None:
    out = render(obj({kubed.SYNC: "", kubed.SYNC_CONTEXTS: "east", "team": "a"}), ns("other"))
    [mirror] = out.mirrors
    assert mirror["metadata"]["annotations"]["team"] == "a"
    assert not any(k.startswith("kubed.appscode.com/") for k in mirror["metadata"]["annotations"])


def test_our_own_markers_win_over_kubed_on_one_object() -> None:
    both = obj({kubed.SYNC: "", m.TARGETS: "only"}, labels={m.SOURCE_LABEL: "true"})
    assert namespaces_of(render(both, ns("other"), ns("only"))) == ["only"]


def test_common_rules_hold_for_every_namespace_kubed_would_reach() -> None:
    out = render(
        obj({kubed.SYNC: ""}),
        ns("demo"),
        ns("kube-system"),
        ns("team-a"),
        ns("team-b", **{m.REJECT: "true"}),
    )
    # Never the source's own namespace, a protected one only by name, a rejecting one never.
    assert namespaces_of(out) == ["team-a"]
    out = render(obj({kubed.SYNC: ""}), ns("a"), ns("b"), ns("c"), max_targets=2)
    assert out.mirrors == ()
    assert "resolves to 3 target namespaces, more than the limit of 2" in errors_of(out)[0]


def test_dialect_is_annotation_only_and_limited_to_configmaps_and_secrets() -> None:
    assert kubed.KUBED.kinds == ("ConfigMap", "Secret")
    assert kubed.KUBED.source_selector == ""


def test_render_end_to_end(snapshot: SnapshotAssertion) -> None:
    out = render(
        obj({kubed.SYNC: ""}, labels={"app": "web"}),
        obj({kubed.SYNC: "app=kubed"}, kind="Secret", name="registry"),
        obj({kubed.ORIGIN: COPY_ORIGIN}, namespace="demo-1", labels=COPY_LABELS),
        ns("demo"),
        ns("demo-1", app="kubed"),
        ns("demo-2"),
    )
    # Offline, config-syncer's own copy in demo-1 is a mirror: the rendered one takes its place.
    assert [r.one_line() for r in out.results] == []
    assert [(x["kind"], x["metadata"]["namespace"]) for x in out.mirrors] == [
        ("Secret", "demo-1"),
        ("ConfigMap", "demo-1"),
        ("ConfigMap", "demo-2"),
    ]
    assert yaml_stream(out.mirrors) == snapshot
