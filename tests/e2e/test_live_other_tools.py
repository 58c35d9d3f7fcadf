"""`kubectl mirror sync|status|prune` on the resources of the tools users migrate from, unchanged:
ConfigMapSync and ConfigMirror resources (CRDs from deploy/compat/, applied here as a cluster
without the old operators would) and config-syncer's (kubed) annotations. Both servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.live_helpers import cm, data_of, get, ns, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "deploy" / "compat"
STATUS_HEAD = "SOURCE                  KIND        TARGETS   IN-SYNC   DRIFTED   MISSING   CONFLICT   STALE"


@pytest.fixture
def world(apiserver: Any) -> Any:
    for path in sorted(COMPAT.glob("crd-*.yaml")):
        apiserver.create(yaml.safe_load(path.read_text()))
    for name in ("production", "staging", "qa", "ops"):
        ns(apiserver, name)
    return apiserver


def configmapsync(
    apiserver: Any, name: str, destination: str, *, configmap: str = "app-config", namespace: str = "default"
) -> Any:
    return apiserver.create(
        {
            "apiVersion": "apps.kapendra.com/v1",
            "kind": "ConfigMapSync",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "sourceNamespace": "production",
                "destinationNamespace": destination,
                "configMapName": configmap,
            },
        }
    )


def configmirror(apiserver: Any, targets: list[str], **spec: Any) -> Any:
    return apiserver.create(
        {
            "apiVersion": "mirror.configmirror.io/v1alpha1",
            "kind": "ConfigMirror",
            "metadata": {"name": "app-config-mirror", "namespace": "ops"},
            "spec": {
                "sourceNamespace": "production",
                "targetNamespaces": targets,
                "selector": {"matchLabels": {"replicate": "true"}},
                **spec,
            },
        }
    )


def policy_of(apiserver: Any, kubectl: Any, namespace: str, name: str = "app-config") -> str | None:
    found = get(apiserver, kubectl, "configmap", namespace, name)
    return None if found is None else found["metadata"]["annotations"].get("kubectl-mirror.io/policy")


# -- ConfigMapSync ---------------------------------------------------------------------------


def test_configmapsyncs_are_synced_each_mirror_naming_its_own(world: Any, mirror: Any, kubectl: Any) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-staging", "staging")
    configmapsync(world, "to-qa", "qa")
    first = mirror("sync", "-n", "production")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "configmap/app-config -n qa created",
        "configmap/app-config -n staging created",
        "created 2, updated 0, unchanged 0, conflicts 0",
    ]
    assert policy_of(world, kubectl, "qa") == "ConfigMapSync default/to-qa"
    assert policy_of(world, kubectl, "staging") == "ConfigMapSync default/to-staging"
    world.log.clear()
    again = mirror("sync", "-n", "production")
    assert again.stdout.strip() == "created 0, updated 0, unchanged 2, conflicts 0"
    assert world.log.writes() == []
    status = mirror("status", "-n", "production", "--exit-code")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == [
        STATUS_HEAD,
        "production/app-config   ConfigMap   2         2         0         0         0          0",
    ]


def test_deleting_a_configmapsync_prunes_its_mirror_only(world: Any, mirror: Any, kubectl: Any) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-staging", "staging")
    configmapsync(world, "to-qa", "qa")
    assert mirror("sync", "-n", "production").returncode == 0
    kubectl("delete", "configmapsync", "to-qa", "-n", "default")
    done = mirror("prune", "-n", "production", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["configmap/app-config -n qa deleted"]
    assert get(world, kubectl, "configmap", "qa", "app-config") is None
    assert get(world, kubectl, "configmap", "staging", "app-config") is not None


def test_a_configmapsync_being_deleted_is_neither_synced_nor_protected(
    world: Any, mirror: Any, kubectl: Any
) -> None:
    """Its finalizer (another controller's here, which holds it) is removing what it made: sync
    does not write its mirror again, and prune removes it."""
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-staging", "staging")
    configmapsync(world, "to-qa", "qa")
    assert mirror("sync", "-n", "production").returncode == 0
    hold = '{"metadata":{"finalizers":["example.com/hold"]}}'
    kubectl("patch", "configmapsync", "to-qa", "-n", "default", "--type", "merge", "-p", hold)
    kubectl("delete", "configmapsync", "to-qa", "-n", "default", "--wait=false")
    done = mirror("sync", "-n", "production", "--prune")
    assert done.returncode == 0, done.stderr
    assert "configmap/app-config -n qa deleted" in done.stdout.splitlines()
    assert get(world, kubectl, "configmap", "qa", "app-config") is None
    again = mirror("sync", "-n", "production")
    assert again.returncode == 0 and get(world, kubectl, "configmap", "qa", "app-config") is None
    assert get(world, kubectl, "configmap", "staging", "app-config") is not None
    kubectl(
        "patch",
        "configmapsync",
        "to-qa",
        "-n",
        "default",
        "--type",
        "merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
    )


def test_a_deleted_source_leaves_its_mirror_marked_stale_as_the_operator_left_it(
    world: Any, mirror: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-staging", "staging")
    assert mirror("sync", "-n", "production").returncode == 0
    kubectl("delete", "configmap", "app-config", "-n", "production")
    done = mirror("prune", "-n", "production", "--yes")
    assert done.stdout.splitlines() == ["configmap/app-config -n staging marked stale"]
    kept = get(world, kubectl, "configmap", "staging", "app-config")
    assert kept is not None and kept["metadata"]["labels"]["kubectl-mirror.io/stale"] == "true"


def test_the_operators_destination_is_its_copy_to_adopt(world: Any, mirror: Any, kubectl: Any) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    theirs = cm(
        world,
        "app-config",
        "staging",
        data={"url": "postgres://old"},
        labels={
            "configmapsync.apps.kapendra.com/managed-by": "configmapsync-controller",
            "configmapsync.apps.kapendra.com/sync-name": "to-staging",
            "configmapsync.apps.kapendra.com/sync-namespace": "default",
        },
    )
    configmapsync(world, "to-staging", "staging")
    refused = mirror("sync", "-n", "production")
    assert refused.returncode == 1
    assert (
        "conflict: ConfigMap staging/app-config: is a copy made by ConfigMapSync, not managed by "
        "kubectl-mirror (use --adopt to take it over)"
    ) in refused.stderr
    unchanged = get(world, kubectl, "configmap", "staging", "app-config")
    assert unchanged["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]  # type: ignore[index]
    adopted = mirror("sync", "-n", "production", "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    after = get(world, kubectl, "configmap", "staging", "app-config")
    assert after["data"] == {"url": "postgres://db"}  # type: ignore[index]
    assert after["metadata"]["annotations"]["kubectl-mirror.io/adopted"] == "true"  # type: ignore[index]


def test_a_bad_configmapsync_is_one_error_keeps_its_mirror_and_stops_no_other(
    world: Any, mirror: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"url": "postgres://db"})
    configmapsync(world, "to-staging", "staging")
    configmapsync(world, "to-qa", "qa")
    assert mirror("sync", "-n", "production").returncode == 0
    patch = '{"spec":{"destinationNamespace":"Staging_NS"}}'
    kubectl("patch", "configmapsync", "to-staging", "-n", "default", "--type", "merge", "-p", patch)
    done = mirror("sync", "-n", "production", "--prune")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: ConfigMapSync default/to-staging: spec.destinationNamespace: 'Staging_NS' is not a valid "
        "namespace name (lowercase letters, digits and '-', at most 63)"
    ]
    assert done.stdout.splitlines() == ["created 0, updated 0, unchanged 1, conflicts 0"]
    # A typo in a policy never deletes its mirror, as a typo in a marker never does.
    assert get(world, kubectl, "configmap", "staging", "app-config") is not None


# -- ConfigMirror ----------------------------------------------------------------------------


def test_configmirror_is_synced_and_its_database_left_for_later(
    world: Any, mirror: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"a": "1"}, labels={"replicate": "true"})
    cm(world, "flags", "production", data={"b": "2"}, labels={"replicate": "true"})
    cm(world, "private", "production", data={"c": "3"})
    configmirror(world, ["staging", "qa"], database={"enabled": True, "secretRef": {"name": "rds"}})
    done = mirror("sync", "-n", "production")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "created 4, updated 0, unchanged 0, conflicts 0"
    assert policy_of(world, kubectl, "qa", "flags") == "ConfigMirror ops/app-config-mirror"
    assert get(world, kubectl, "configmap", "qa", "private") is None
    status = json.loads(mirror("status", "-n", "production", "-o", "json").stdout)
    assert sorted((i["source"], i["in-sync"]) for i in status["items"]) == [
        ("production/app-config", 2),
        ("production/flags", 2),
    ]


def test_configmirror_prunes_what_it_no_longer_selects_or_targets(
    world: Any, mirror: Any, kubectl: Any
) -> None:
    cm(world, "app-config", "production", data={"a": "1"}, labels={"replicate": "true"})
    cm(world, "flags", "production", data={"b": "2"}, labels={"replicate": "true"})
    configmirror(world, ["staging", "qa"])
    assert mirror("sync", "-n", "production").returncode == 0
    kubectl("label", "configmap", "flags", "-n", "production", "replicate-")
    patch = '{"spec":{"targetNamespaces":["staging"]}}'
    kubectl("patch", "configmirror", "app-config-mirror", "-n", "ops", "--type", "merge", "-p", patch)
    done = mirror("prune", "-n", "production", "--yes")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [
        "configmap/app-config -n qa deleted",
        "configmap/flags -n qa deleted",
        "configmap/flags -n staging deleted",
    ]
    assert get(world, kubectl, "configmap", "staging", "app-config") is not None
    kubectl("delete", "configmirror", "app-config-mirror", "-n", "ops")
    assert mirror("prune", "-n", "production", "--yes").stdout.splitlines() == [
        "configmap/app-config -n staging deleted"
    ]


# -- config-syncer (kubed) -------------------------------------------------------------------


def test_kubed_sources_are_synced_and_sync_contexts_is_a_warning(
    world: Any, mirror: Any, kubectl: Any
) -> None:
    ns(world, "labelled", app="kubed")
    cm(
        world,
        "omni",
        "production",
        data={"you": "rock"},
        annotations={"kubed.appscode.com/sync": "app=kubed", "kubed.appscode.com/sync-contexts": "east"},
    )
    done = mirror("sync", "-n", "production")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "configmap/omni -n labelled created",
        "created 1, updated 0, unchanged 0, conflicts 0",
    ]
    assert done.stderr.splitlines() == [
        'warning: ConfigMap production/omni: metadata.annotations["kubed.appscode.com/sync-contexts"]: '
        "cross-cluster sync is not supported: the contexts are ignored and only this cluster's namespaces "
        "get mirrors"
    ]
    made = get(world, kubectl, "configmap", "labelled", "omni")
    assert made is not None
    assert made["metadata"]["labels"]["kubed.appscode.com/origin.name"] == "omni"
    assert made["metadata"]["labels"]["kubed.appscode.com/origin.namespace"] == "production"
    assert not any(k.startswith("kubed.appscode.com/") for k in made["metadata"]["annotations"])
    assert mirror("status", "-n", "production", "--exit-code").returncode == 0


def test_config_syncers_copies_are_adopted_and_the_rest_of_the_cluster_untouched(
    world: Any, mirror: Any, kubectl: Any
) -> None:
    cm(world, "omni", "production", data={"you": "rock"}, annotations={"kubed.appscode.com/sync": ""})
    origin = '{"apiVersion":"v1","kind":"ConfigMap","name":"omni","namespace":"production"}'
    cm(
        world,
        "omni",
        "staging",
        data={"you": "rock"},
        labels={
            "kubed.appscode.com/origin.name": "omni",
            "kubed.appscode.com/origin.namespace": "production",
            "kubed.appscode.com/origin.cluster": "unicorn",
        },
        annotations={"kubed.appscode.com/origin": origin},
    )
    refused = mirror("sync", "-n", "production")
    assert refused.returncode == 1
    assert (
        "conflict: ConfigMap staging/omni: is a copy made by config-syncer (kubed), not managed by "
        "kubectl-mirror (use --adopt to take it over)"
    ) in refused.stderr
    adopted = mirror("sync", "-n", "production", "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    after = get(world, kubectl, "configmap", "staging", "omni")
    assert after is not None
    assert "kubed.appscode.com/origin" not in after["metadata"]["annotations"]
    assert "kubed.appscode.com/origin.cluster" not in after["metadata"]["labels"]
    # Protected namespaces are reached only by name: `sync: ""` does not reach kube-system.
    assert get(world, kubectl, "configmap", "kube-system", "omni") is None
    assert get(world, kubectl, "configmap", "default", "omni") is not None


def test_removing_the_kubed_annotation_prunes_the_mirrors(world: Any, mirror: Any, kubectl: Any) -> None:
    cm(world, "omni", "production", data={"you": "rock"}, annotations={"kubed.appscode.com/sync": ""})
    assert mirror("sync", "-n", "production").returncode == 0
    assert get(world, kubectl, "configmap", "qa", "omni") is not None
    kubectl("annotate", "configmap", "omni", "-n", "production", "kubed.appscode.com/sync-")
    done = mirror("prune", "-n", "production", "--yes")
    assert done.returncode == 0, done.stderr
    assert "configmap/omni -n qa deleted" in done.stdout.splitlines()
    assert get(world, kubectl, "configmap", "qa", "omni") is None


def test_the_controller_already_mirrors_kubed_sources(world: Any, kubectl: Any, start_watch: Any) -> None:
    """config-syncer's annotation is a marker dialect, so `watch` reads it through the same engine
    (its policies, ConfigMapSync and ConfigMirror, are the controller's part still to come)."""
    watcher = start_watch()
    try:
        cm(world, "omni", "production", data={"you": "rock"}, annotations={"kubed.appscode.com/sync": ""})
        wait_for(lambda: data_of(world, kubectl, "qa", "omni") == {"you": "rock"}, what="the kubed mirror")
    finally:
        watcher.stop()
