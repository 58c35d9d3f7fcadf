"""`kubectl mirror prune`: every rule, and the objects that must survive it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.live_helpers import cm, get, source

pytestmark = pytest.mark.e2e


@pytest.fixture
def synced(cluster: Any, mirror: Any) -> Any:
    source(cluster)
    assert mirror("sync", "-n", "platform").returncode == 0
    return cluster


def test_prune_lists_without_acting_until_yes(synced: Any, mirror: Any, kubectl: Any) -> None:
    kubectl("delete", "configmap", "settings", "-n", "platform")
    synced.log.clear()
    listed = mirror("prune", "-n", "platform")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [
        "configmap/settings -n team-a would be deleted (its source is gone)",
        "configmap/settings -n team-b would be deleted (its source is gone)",
    ]
    assert synced.log.writes() == []
    acted = mirror("prune", "-n", "platform", "--yes")
    assert acted.returncode == 0, acted.stderr
    assert get(synced, kubectl, "configmap", "team-a", "settings") is None
    deletes = synced.log.filter(verb="delete")
    assert len(deletes) == 2


def test_source_that_lost_its_markers_has_its_mirrors_pruned(synced: Any, mirror: Any, kubectl: Any) -> None:
    kubectl("label", "configmap", "settings", "-n", "platform", "kubectl-mirror.io/source-")
    assert mirror("prune", "-n", "platform", "--yes").returncode == 0
    assert get(synced, kubectl, "configmap", "team-b", "settings") is None


def test_namespace_no_longer_targeted_loses_its_mirror(synced: Any, mirror: Any, kubectl: Any) -> None:
    kubectl(
        "annotate",
        "--overwrite",
        "configmap",
        "settings",
        "-n",
        "platform",
        "kubectl-mirror.io/targets=team-a",
    )
    done = mirror("prune", "-n", "platform", "--yes")
    assert done.stdout.splitlines() == ["configmap/settings -n team-b deleted"]
    assert get(synced, kubectl, "configmap", "team-a", "settings") is not None


def test_orphan_policy_marks_mirrors_stale_instead_of_deleting(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster, annotations={"kubectl-mirror.io/on-source-delete": "orphan"})
    mirror("sync", "-n", "platform")
    kubectl("delete", "configmap", "settings", "-n", "platform")
    done = mirror("prune", "-n", "platform", "--yes")
    assert done.stdout.splitlines() == [
        "configmap/settings -n team-a marked stale",
        "configmap/settings -n team-b marked stale",
    ]
    kept = get(cluster, kubectl, "configmap", "team-a", "settings")
    assert kept["metadata"]["labels"]["kubectl-mirror.io/stale"] == "true"  # type: ignore[index]
    cluster.log.clear()
    assert mirror("prune", "-n", "platform", "--yes").returncode == 0
    assert cluster.log.writes() == []


def test_look_alikes_that_are_not_ours_survive(synced: Any, mirror: Any, kubectl: Any) -> None:
    only_managed_by = cm(
        synced, "x1", "team-a", data={}, labels={"app.kubernetes.io/managed-by": "kubectl-mirror"}
    )
    only_mirror = cm(synced, "x2", "team-a", data={}, labels={"kubectl-mirror.io/mirror": "true"})
    other_tool = cm(
        synced,
        "x3",
        "team-a",
        data={},
        labels={"app.kubernetes.io/managed-by": "Helm", "kubectl-mirror.io/mirror": "true"},
        annotations={
            "kubectl-mirror.io/source-namespace": "platform",
            "kubectl-mirror.io/source-name": "gone",
        },
    )
    kubectl("delete", "configmap", "settings", "-n", "platform")
    assert mirror("prune", "-n", "platform", "--yes").returncode == 0
    for obj in (only_managed_by, only_mirror, other_tool):
        assert get(synced, kubectl, "configmap", "team-a", obj["metadata"]["name"]) is not None


def test_mirror_whose_source_still_selects_it_is_never_pruned(synced: Any, mirror: Any) -> None:
    done = mirror("prune", "-n", "platform", "--yes")
    assert done.returncode == 0
    assert done.stdout == ""
    assert synced.log.count(verb="delete") == 0


def test_a_typo_in_a_marker_never_prunes_its_mirrors(synced: Any, mirror: Any, kubectl: Any) -> None:
    kubectl(
        "annotate",
        "--overwrite",
        "configmap",
        "settings",
        "-n",
        "platform",
        "kubectl-mirror.io/targets=Bad_Name",
    )
    done = mirror("prune", "-n", "platform", "--yes")
    assert done.returncode == 1
    assert "error:" in done.stderr
    assert get(synced, kubectl, "configmap", "team-a", "settings") is not None


def test_prune_is_scoped_to_the_sources_namespace(synced: Any, mirror: Any, kubectl: Any) -> None:
    kubectl("delete", "configmap", "settings", "-n", "platform")
    assert mirror("prune", "-n", "default", "--yes").stdout == ""
    assert get(synced, kubectl, "configmap", "team-a", "settings") is not None


def test_sync_with_prune_does_both(synced: Any, mirror: Any, kubectl: Any) -> None:
    kubectl(
        "annotate",
        "--overwrite",
        "configmap",
        "settings",
        "-n",
        "platform",
        "kubectl-mirror.io/targets=team-a",
    )
    done = mirror("sync", "-n", "platform", "--prune")
    assert "configmap/settings -n team-b deleted" in done.stdout
    assert "deleted 1" in done.stdout
