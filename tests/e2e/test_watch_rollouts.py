"""`kubectl mirror watch` rolls out the workloads that use a mirror when its data changes
(docs/rollouts.md), on both API servers: once per change, only opted-in consumers, never on a
resync or a metadata-only change, with one server-side applied annotation that leaves another
field manager's fields alone; an Event on each workload rolled and a metric by namespace and kind."""

from __future__ import annotations

import socket
import time
import urllib.request
from typing import Any

import pytest

from tests.e2e.live_helpers import data_of, patch_data, source, wait_for
from tests.e2e.test_rollouts import deployment, gitops_apply, managers, read, restarted_for

pytestmark = pytest.mark.e2e

OPTED_IN = {"kubectl-mirror.io/rollout": "true"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rollouts_metric(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("kubectl_mirror_rollouts_total{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.removeprefix("kubectl_mirror_rollouts_total")] = float(value)
    return found


def test_watch_rolls_each_opted_in_consumer_once_per_data_change(
    cluster: Any, start_watch: Any, kubectl: Any
) -> None:
    source(cluster)
    gitops_apply(kubectl, deployment("app", env_from="settings", annotations=OPTED_IN))
    gitops_apply(
        kubectl, deployment("mounted", mount="settings", annotations={"reloader.stakater.com/auto": "true"})
    )
    gitops_apply(kubectl, deployment("silent", env_from="settings"))  # uses it, did not opt in
    gitops_apply(kubectl, deployment("unrelated", env_from="other", annotations=OPTED_IN))
    port = _free_port()
    start_watch("--metrics-addr", f"127.0.0.1:{port}")
    wait_for(lambda: data_of(cluster, kubectl, "team-a") == {"region": "eu"}, what="the mirror")
    time.sleep(1.0)
    before = {n: read(kubectl, n) for n in ("app", "mounted", "silent", "unrelated")}
    assert all(restarted_for(o) is None for o in before.values())  # a new mirror rolls nothing

    patch_data(kubectl, "platform", {"region": "us"})
    wait_for(lambda: restarted_for(read(kubectl, "app")), what="app rolled out")
    wait_for(lambda: restarted_for(read(kubectl, "mounted")), what="the mounted consumer rolled out")
    time.sleep(3.0)  # a resync or two, and any second rollout, would land by now
    app, mounted = read(kubectl, "app"), read(kubectl, "mounted")
    assert app["metadata"]["generation"] == before["app"]["metadata"]["generation"] + 1
    assert mounted["metadata"]["generation"] == before["mounted"]["metadata"]["generation"] + 1
    for name in ("silent", "unrelated"):
        assert (
            read(kubectl, name)["metadata"]["resourceVersion"] == before[name]["metadata"]["resourceVersion"]
        )
    # Our manager owns the one annotation; the GitOps tool keeps every field it applied.
    ours = managers(app)["kubectl-mirror-rollout"]["fieldsV1"]
    assert ours == {
        "f:spec": {"f:template": {"f:metadata": {"f:annotations": {"f:kubectl-mirror.io/restarted-for": {}}}}}
    }
    assert "f:replicas" in managers(app)["gitops"]["fieldsV1"]["f:spec"]
    events = kubectl.json("get", "events", "-n", "team-a", "--field-selector", "reason=RolledOut")["items"]
    rolled = sorted(e["involvedObject"]["name"] for e in events)
    assert rolled == ["app", "mounted"]
    assert all(e["involvedObject"]["uid"] for e in events)
    assert rollouts_metric(port) == {'{namespace="team-a",kind="Deployment"}': 2.0}

    # A label on the source changes its mirrors' metadata, not what pods read: no rollout.
    kubectl("label", "configmap", "settings", "-n", "platform", "tier=gold")
    wait_for(lambda: labels_of(kubectl, "team-a").get("tier") == "gold", what="the label mirrored")
    time.sleep(3.0)
    assert read(kubectl, "app")["metadata"]["generation"] == app["metadata"]["generation"]

    # The GitOps tool applies again: its fields stay its own, ours stays ours, no conflict.
    gitops_apply(kubectl, deployment("app", env_from="settings", annotations=OPTED_IN))
    again = read(kubectl, "app")
    assert restarted_for(again) == restarted_for(app)
    assert again["metadata"]["generation"] == app["metadata"]["generation"]


def labels_of(kubectl: Any, namespace: str) -> dict[str, str]:
    obj = kubectl.json("get", "configmap", "settings", "-n", namespace)
    return obj["metadata"].get("labels") or {}
