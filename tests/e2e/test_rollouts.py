"""`kubectl mirror sync --rollout` (and `diff`, `status -o wide`) on both API servers: workloads
that opted in are rolled once per change of their mirrors' data, by one server-side applied
pod-template annotation; nothing else is touched. On the real server no pod runs (no scheduler,
no kubelet): the Deployment's template annotation, generation and managedFields tell."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.e2e.live_helpers import patch_data, source

pytestmark = pytest.mark.e2e

RESTARTED_FOR = "kubectl-mirror.io/restarted-for"
GITOPS = "gitops"


def deployment(
    name: str,
    *,
    env_from: str = "",
    mount: str = "",
    annotations: dict[str, str] | None = None,
    template_annotations: dict[str, str] | None = None,
    namespace: str = "team-a",
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "registry.example/app:1"}
    if env_from:
        container["env"] = [
            {"name": "REGION", "valueFrom": {"configMapKeyRef": {"name": env_from, "key": "region"}}}
        ]
    pod: dict[str, Any] = {"containers": [container]}
    if mount:
        container["volumeMounts"] = [{"name": "config", "mountPath": "/etc/app"}]
        pod["volumes"] = [{"name": "config", "configMap": {"name": mount}}]
    template_meta: dict[str, Any] = {"labels": {"app": name}}
    if template_annotations:
        template_meta["annotations"] = template_annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": template_meta, "spec": pod},
        },
    }


def gitops_apply(kubectl: Any, obj: dict[str, Any]) -> None:
    """What a GitOps tool does: server-side apply under its own field manager."""
    kubectl("apply", "--server-side", "--field-manager", GITOPS, "-f", "-", input=json.dumps(obj))


def read(kubectl: Any, name: str, namespace: str = "team-a") -> dict[str, Any]:
    done = kubectl("get", "deployment", name, "-n", namespace, "-o", "json", "--show-managed-fields")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def restarted_for(obj: dict[str, Any]) -> str | None:
    annotations = obj["spec"]["template"]["metadata"].get("annotations") or {}
    return annotations.get(RESTARTED_FOR)  # type: ignore[no-any-return]


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields") or []}


def synced(mirror: Any, *args: str) -> Any:
    done = mirror("sync", "-n", "platform", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_env_consumer_is_rolled_once_per_change_and_others_are_untouched(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster)
    gitops_apply(
        kubectl, deployment("app", env_from="settings", annotations={"kubectl-mirror.io/rollout": "true"})
    )
    gitops_apply(kubectl, deployment("silent", env_from="settings"))  # uses it, did not opt in
    gitops_apply(
        kubectl, deployment("unrelated", env_from="other", annotations={"kubectl-mirror.io/rollout": "true"})
    )
    first = synced(mirror, "--rollout")
    assert "rolled out 0" in first.stdout  # a new mirror rolls nothing: its consumers start on it
    before = {name: read(kubectl, name) for name in ("app", "silent", "unrelated")}

    patch_data(kubectl, "platform", {"region": "us"})
    done = synced(mirror, "--rollout")
    assert "deployment.apps/app -n team-a restarted" in done.stdout.splitlines()
    assert "rolled out 1" in done.stdout
    app = read(kubectl, "app")
    value = restarted_for(app)
    assert (
        value is not None
        and value.startswith("configmap/settings=")
        and len(value) == len("configmap/settings=") + 12
    )
    assert app["metadata"]["generation"] == before["app"]["metadata"]["generation"] + 1
    for name in ("silent", "unrelated"):
        assert (
            read(kubectl, name)["metadata"]["resourceVersion"] == before[name]["metadata"]["resourceVersion"]
        )

    again = synced(mirror, "--rollout")  # nothing changed since: no second rollout
    assert "rolled out 0" in again.stdout
    assert read(kubectl, "app")["metadata"]["generation"] == app["metadata"]["generation"]

    patch_data(kubectl, "platform", {"region": "ap"})
    synced(mirror, "--rollout")
    third = read(kubectl, "app")
    assert restarted_for(third) not in (None, value)
    assert third["metadata"]["generation"] == app["metadata"]["generation"] + 1


def test_mounted_consumer_is_rolled_when_opted_in_with_reloaders_annotation(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster)
    gitops_apply(
        kubectl, deployment("mounted", mount="settings", annotations={"reloader.stakater.com/auto": "true"})
    )
    gitops_apply(kubectl, deployment("mounted-silent", mount="settings"))
    synced(mirror)
    silent = read(kubectl, "mounted-silent")
    patch_data(kubectl, "platform", {"region": "us"})
    done = synced(mirror, "--rollout")
    assert "deployment.apps/mounted -n team-a restarted" in done.stdout
    assert restarted_for(read(kubectl, "mounted")) is not None
    after = read(kubectl, "mounted-silent")
    assert after["metadata"]["resourceVersion"] == silent["metadata"]["resourceVersion"]


def test_no_rollout_on_resync_or_metadata_only_change(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    gitops_apply(
        kubectl, deployment("app", env_from="settings", annotations={"kubectl-mirror.io/rollout": "true"})
    )
    synced(mirror)
    before = read(kubectl, "app")
    cluster.log.clear()
    assert "rolled out 0" in synced(mirror, "--rollout").stdout  # resync
    kubectl("label", "configmap", "settings", "-n", "platform", "team=payments")
    relabeled = synced(mirror, "--rollout")
    assert "configmap/settings -n team-a configured" in relabeled.stdout  # the mirror got the label
    assert "rolled out 0" in relabeled.stdout
    assert read(kubectl, "app")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert cluster.log.writes("deployments") == []


def test_rollout_owns_only_its_annotation_and_keeps_the_other_managers_fields(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster)
    manifest = deployment(
        "app",
        env_from="settings",
        annotations={"kubectl-mirror.io/rollout": "true"},
        template_annotations={"team.example/owner": "payments"},
    )
    gitops_apply(kubectl, manifest)
    synced(mirror)
    patch_data(kubectl, "platform", {"region": "us"})
    synced(mirror, "--rollout")
    app = read(kubectl, "app")
    template = app["spec"]["template"]
    assert template["metadata"]["annotations"]["team.example/owner"] == "payments"
    assert template["spec"]["containers"][0]["image"] == "registry.example/app:1"
    owners = managers(app)
    ours = owners["kubectl-mirror-rollout"]
    assert ours["operation"] == "Apply"
    assert ours["fieldsV1"] == {
        "f:spec": {"f:template": {"f:metadata": {"f:annotations": {f"f:{RESTARTED_FOR}": {}}}}}
    }
    assert "f:containers" in json.dumps(owners[GITOPS]["fieldsV1"])
    # The GitOps tool applies its manifest again (without our annotation): ours stays.
    gitops_apply(kubectl, manifest)
    assert restarted_for(read(kubectl, "app")) == restarted_for(app)


def test_annotation_owned_by_another_manager_is_a_conflict_and_left_alone(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster)
    gitops_apply(
        kubectl,
        deployment(
            "app",
            env_from="settings",
            annotations={"kubectl-mirror.io/rollout": "true"},
            template_annotations={RESTARTED_FOR: "pinned"},
        ),
    )
    synced(mirror)
    patch_data(kubectl, "platform", {"region": "us"})
    done = mirror("sync", "-n", "platform", "--rollout")
    assert done.returncode == 1
    assert "error: Deployment.apps team-a/app: another field manager owns the annotation" in done.stderr
    assert restarted_for(read(kubectl, "app")) == "pinned"


def test_dry_runs_roll_nothing(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    gitops_apply(
        kubectl, deployment("app", env_from="settings", annotations={"kubectl-mirror.io/rollout": "true"})
    )
    synced(mirror)
    patch_data(kubectl, "platform", {"region": "us"})
    before = read(kubectl, "app")
    for mode in ("client", "server"):
        done = synced(mirror, "--rollout", f"--dry-run={mode}")
        assert "deployment.apps/app -n team-a restarted (" in done.stdout
    assert read(kubectl, "app")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def secret_consumer(name: str, secret: str, **kwargs: Any) -> dict[str, Any]:
    obj = deployment(name, **kwargs)
    obj["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": secret}}]
    return obj


def test_diff_shows_pending_rollouts_with_hashes_only(cluster: Any, mirror: Any, kubectl: Any) -> None:
    token = base64.b64encode(b"first-token-value").decode()
    source(cluster, "token", kind="Secret", data={"token": token})
    gitops_apply(kubectl, secret_consumer("app", "token", annotations={"kubectl-mirror.io/rollout": "true"}))
    synced(mirror)
    assert mirror("diff", "-n", "platform").returncode == 0
    changed = base64.b64encode(b"second-token-value").decode()
    kubectl(
        "patch",
        "secret",
        "token",
        "-n",
        "platform",
        "--type",
        "merge",
        "-p",
        json.dumps({"data": {"token": changed}}),
    )
    done = mirror("diff", "-n", "platform")
    assert done.returncode == 1, done.stderr
    assert "+++ rollout/Deployment.apps/team-a/app" in done.stdout
    assert f"+        {RESTARTED_FOR}: secret/token=" in done.stdout
    for secret in (token, changed, "first-token-value", "second-token-value"):
        assert secret not in done.stdout
    synced(mirror, "--rollout")
    after = mirror("diff", "-n", "platform")
    assert (after.returncode, after.stdout) == (0, "")


def test_status_wide_shows_the_workloads_of_each_mirror_and_whether_they_run_its_data(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster, targets="team-a")
    gitops_apply(
        kubectl, deployment("app", env_from="settings", annotations={"kubectl-mirror.io/rollout": "true"})
    )
    gitops_apply(kubectl, deployment("silent", mount="settings"))

    def workloads() -> str:
        done = mirror("status", "-n", "platform", "-o", "wide")
        assert done.returncode == 0, done.stderr
        header, row = done.stdout.splitlines()
        assert header.split()[-1] == "WORKLOADS"
        return row.split("   ")[-1].strip()

    synced(mirror)
    assert workloads() == "deployment/app=unknown, deployment/silent=unknown (not opted in)"
    patch_data(kubectl, "platform", {"region": "us"})
    synced(mirror, "--rollout")
    assert workloads() == "deployment/app=current, deployment/silent=unknown (not opted in)"
    patch_data(kubectl, "platform", {"region": "ap"})
    synced(mirror)  # without --rollout: the workload now runs older data
    assert workloads() == "deployment/app=outdated, deployment/silent=unknown (not opted in)"


ROLLOUT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "rollouts.argoproj.io"},
    "spec": {
        "group": "argoproj.io",
        "scope": "Namespaced",
        "names": {"kind": "Rollout", "plural": "rollouts", "singular": "rollout", "listKind": "RolloutList"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
                "subresources": {"status": {}},
            }
        ],
    },
}


def test_argo_rollouts_are_rolled_when_served_and_never_without_a_template(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    cluster.create(ROLLOUT_CRD)
    source(cluster)
    rollout = deployment("canary", env_from="settings", annotations={"reloader.stakater.com/auto": "true"})
    rollout["apiVersion"] = "argoproj.io/v1alpha1"
    rollout["kind"] = "Rollout"
    gitops_apply(kubectl, rollout)
    by_ref = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "by-ref",
            "namespace": "team-a",
            "annotations": {"configmap.reloader.stakater.com/reload": "settings"},
        },
        "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "canary"}},
    }
    gitops_apply(kubectl, by_ref)
    synced(mirror)
    patch_data(kubectl, "platform", {"region": "us"})
    done = synced(mirror, "--rollout")
    assert "rollout.argoproj.io/canary -n team-a restarted" in done.stdout
    assert "by-ref" not in done.stdout
    canary = json.loads(kubectl("get", "rollouts.argoproj.io", "canary", "-n", "team-a", "-o", "json").stdout)
    assert restarted_for(canary) is not None
    untouched = json.loads(
        kubectl("get", "rollouts.argoproj.io", "by-ref", "-n", "team-a", "-o", "json").stdout
    )
    assert "template" not in untouched["spec"]


@pytest.mark.fake_only
def test_a_stale_workload_is_read_again_and_rolled_once(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    gitops_apply(
        kubectl, deployment("app", env_from="settings", annotations={"kubectl-mirror.io/rollout": "true"})
    )
    synced(mirror)
    patch_data(kubectl, "platform", {"region": "us"})
    generation = read(kubectl, "app")["metadata"]["generation"]
    stale = cluster.faults.fail(409, verb="patch", resource="deployments", times=1)
    cluster.log.clear()
    done = synced(mirror, "--rollout")
    assert stale.hits == 1
    assert "rolled out 1" in done.stdout
    assert [r.verb for r in cluster.log.filter(resource="deployments") if r.verb in ("get", "patch")] == [
        "patch",
        "get",
        "patch",
    ]
    assert {r.field_manager for r in cluster.log.writes("deployments")} == {"kubectl-mirror-rollout"}
    assert read(kubectl, "app")["metadata"]["generation"] == generation + 1
