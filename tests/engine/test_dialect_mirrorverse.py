from __future__ import annotations

from typing import Any

import pytest

from kubectl_mirror.engine.dialects import mirrorverse as mv
from kubectl_mirror.engine.model import MirrorSpec, Target
from kubectl_mirror.errors import Ref, SpecError
from tests.helpers import ns, opts, render


def cm(labels: dict[str, Any], *, name: str = "app-config", namespace: str = "platform") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"key": "value"},
    }


def read(obj: dict[str, Any]) -> MirrorSpec | None:
    return mv.read_source(obj, Ref.of(obj), opts())


SOURCE = {mv.SYNC_SOURCE: "true", mv.TARGETS: "staging_prod"}


def test_object_without_the_sync_source_label_is_not_a_source() -> None:
    assert read(cm({mv.TARGETS: "staging"})) is None
    assert read(cm({mv.SYNC_SOURCE: "false", mv.TARGETS: "staging"})) is None


def test_targets_and_exclude_are_underscore_separated_names() -> None:
    spec = read(cm({**SOURCE, mv.EXCLUDE: "prod"}))
    assert spec is not None
    assert spec.targets == (Target("name", "staging"), Target("name", "prod"))
    assert spec.exclude == (Target("name", "prod"),)


def test_strategy_defaults_to_patch_which_is_our_merge() -> None:
    spec = read(cm(SOURCE))
    assert spec is not None and spec.strategy == "merge"


@pytest.mark.parametrize(
    ("word", "ours"), [("replace", "replace"), ("override", "replace"), ("patch", "merge")]
)
def test_strategy_words_map_to_ours(word: str, ours: str) -> None:
    spec = read(cm({**SOURCE, mv.STRATEGY: word}))
    assert spec is not None and spec.strategy == ours


def test_without_cleanup_mirrors_are_orphaned_and_marked_stale() -> None:
    spec = read(cm(SOURCE))
    assert spec is not None
    assert spec.on_source_delete == "orphan"
    assert spec.extra_stale_label == mv.STALE


def test_cleanup_true_deletes_mirrors_with_their_source() -> None:
    spec = read(cm({**SOURCE, mv.CLEANUP: "true"}))
    assert spec is not None
    assert spec.on_source_delete == "delete"
    assert spec.extra_stale_label == ""


def test_mirrors_carry_the_replica_labels_mirrorverse_users_read() -> None:
    spec = read(cm(SOURCE))
    assert spec is not None
    assert spec.extra_labels == (
        (mv.SYNC_REPLICA, "true"),
        (mv.SYNC_SOURCE_REF, "app-config.platform"),
    )


def test_source_ref_longer_than_a_label_value_is_left_out() -> None:
    spec = read(cm(SOURCE, name="x" * 60))
    assert spec is not None
    assert spec.extra_labels == ((mv.SYNC_REPLICA, "true"),)


@pytest.mark.parametrize(
    ("labels", "key"),
    [
        ({mv.SYNC_SOURCE: "true"}, mv.TARGETS),
        ({mv.SYNC_SOURCE: "true", mv.TARGETS: ""}, mv.TARGETS),
        ({**SOURCE, mv.TARGETS: "Staging"}, mv.TARGETS),
        ({**SOURCE, mv.TARGETS: "app.prod"}, mv.TARGETS),
        ({**SOURCE, mv.EXCLUDE: "dev-"}, mv.EXCLUDE),
        ({**SOURCE, mv.STRATEGY: "merge"}, mv.STRATEGY),
        ({**SOURCE, mv.CLEANUP: "yes"}, mv.CLEANUP),
        ({**SOURCE, mv.TARGETS: 1}, mv.TARGETS),
    ],
)
def test_bad_values_are_errors_naming_the_label(labels: dict[str, Any], key: str) -> None:
    with pytest.raises(SpecError) as err:
        read(cm(labels))
    assert err.value.field_path == f'metadata.labels["{key}"]'


def test_replicas_are_foreign_mirrors_never_sources() -> None:
    assert mv.is_foreign_mirror(cm({mv.SYNC_REPLICA: "true", **SOURCE}))
    assert not mv.is_foreign_mirror(cm(SOURCE))


def test_dialect_is_limited_to_secrets_and_configmaps() -> None:
    assert mv.MIRRORVERSE.kinds == ("Secret", "ConfigMap")
    assert mv.MIRRORVERSE.source_selector == "mirrorverse.dev/sync-source=true"


def test_render_end_to_end(snapshot: Any) -> None:
    source = cm({**SOURCE, mv.TARGETS: "staging_prod_dev", mv.EXCLUDE: "dev", "app": "web"})
    replica = cm({mv.SYNC_REPLICA: "true", mv.SYNC_SOURCE: "true", mv.TARGETS: "qa"}, namespace="qa")
    outcome = render(source, replica, ns("platform"), ns("staging"), ns("prod"), ns("dev"), ns("qa"))
    assert [r.one_line() for r in outcome.results] == []
    assert [m["metadata"]["namespace"] for m in outcome.mirrors] == ["prod", "staging"]
    assert outcome.mirrors == snapshot
