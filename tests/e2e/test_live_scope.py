"""Bugs first seen on a real kube-apiserver: scope, conflicts, adoption and exit codes.

Each test runs on both servers (tests/e2e/conftest.py); each failed on the real one before its fix.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import ROOT, need
from tests.e2e.live_helpers import Watcher, cm, data_of, get, ns, wait_for

pytestmark = pytest.mark.e2e

TEAMS = ("t-1", "t-2", "t-3")


def _publisher(cluster: Any, namespace: str, name: str, targets: str = "t-*") -> dict[str, Any]:
    return cm(
        cluster,
        name,
        namespace,
        data={"from": namespace},
        labels={"kubectl-mirror.io/source": "true"},
        annotations={"kubectl-mirror.io/targets": targets},
    )


@pytest.fixture
def two_teams(apiserver: Any, mirror: Any) -> Any:
    """Sources in pa-src and pb-src, each mirrored into t-1..t-3 by a cluster-wide sync."""
    for name in ("pa-src", "pb-src", *TEAMS):
        ns(apiserver, name)
    _publisher(apiserver, "pa-src", "a")
    _publisher(apiserver, "pb-src", "b")
    _publisher(apiserver, "pb-src", "typo")
    done = mirror("sync", "-A")
    assert done.returncode == 0, done.stderr
    return apiserver


def _scoped_watch(kubeconfig: Path, e2e_env: dict[str, str], log: Path, *scope: str) -> Watcher:
    argv = [need("kubectl"), "mirror", "watch", "--kubeconfig", str(kubeconfig), "--resync-period", "1"]
    return Watcher([*argv, *scope], e2e_env, log)


@pytest.mark.parametrize(
    "scope", [("-n", "pa-src"), ("-A", "--source-namespaces", "pa-*")], ids=["namespace", "source-namespaces"]
)
def test_scoped_watch_leaves_mirrors_of_out_of_scope_sources_alone(
    two_teams: Any, kubectl: Any, kubeconfig: Path, e2e_env: dict[str, str], tmp_path: Path, scope: Any
) -> None:
    # An out-of-scope source whose marker became a typo: still never a reason to delete.
    kubectl(
        "annotate", "--overwrite", "configmap", "typo", "-n", "pb-src", "kubectl-mirror.io/targets=Bad_Name"
    )
    watcher = _scoped_watch(kubeconfig, e2e_env, tmp_path / "watch.log", *scope)
    try:
        kubectl("patch", "configmap", "a", "-n", "pa-src", "--type", "merge", "-p", '{"data":{"from":"new"}}')
        for team in TEAMS:
            wait_for(
                lambda t=team: data_of(two_teams, kubectl, t, "a") == {"from": "new"}, what=f"a in {team}"
            )
        time.sleep(3.0)  # three resyncs
        for team in TEAMS:
            assert data_of(two_teams, kubectl, team, "b") == {"from": "pb-src"}, team
            assert data_of(two_teams, kubectl, team, "typo") == {"from": "pb-src"}, team
    finally:
        watcher.stop()
    assert "deleted" not in watcher.output()


def test_adopting_a_secret_of_another_type_recreates_it(cluster: Any, mirror: Any, kubectl: Any) -> None:
    value = base64.b64encode(b"v").decode()
    cm(cluster, "creds", "team-a", kind="Secret", data={"old": value}, type="example.com/legacy")
    cm(
        cluster,
        "creds",
        "platform",
        kind="Secret",
        data={"token": value},
        type="Opaque",
        labels={"kubectl-mirror.io/source": "true"},
        annotations={"kubectl-mirror.io/targets": "team-a"},
    )
    done = mirror("sync", "-n", "platform", "--adopt")
    assert done.returncode == 0, done.stderr
    assert "secret/creds -n team-a recreated" in done.stdout
    after = get(cluster, kubectl, "secret", "team-a", "creds")
    assert after is not None
    assert after["type"] == "Opaque"
    assert after["data"] == {"token": value}
    assert after["metadata"]["annotations"]["kubectl-mirror.io/adopted"] == "true"
    again = mirror("sync", "-n", "platform")
    assert again.stdout.strip() == "created 0, updated 0, unchanged 1, conflicts 0"


@pytest.mark.parametrize("scope", [("-n", "platform"), ("-A",)], ids=["namespace", "all"])
def test_an_object_that_is_not_ours_is_one_conflict_in_every_scope(
    cluster: Any, mirror: Any, kubectl: Any, scope: tuple[str, ...]
) -> None:
    theirs = cm(cluster, "db", "team-a", kind="Secret", data={"mine": base64.b64encode(b"s3cret").decode()})
    cm(
        cluster,
        "db",
        "platform",
        kind="Secret",
        data={"url": base64.b64encode(b"postgres://x").decode()},
        labels={"kubectl-mirror.io/source": "true"},
        annotations={"kubectl-mirror.io/targets": "team-*"},
    )
    done = mirror("sync", *scope)
    assert done.returncode == 1
    assert (
        "conflict: Secret team-a/db: exists and is not managed by kubectl-mirror (use --adopt)" in done.stderr
    )
    assert "error:" not in done.stderr
    assert "created 1, updated 0, unchanged 0, conflicts 1" in done.stdout
    after = get(cluster, kubectl, "secret", "team-a", "db")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]
    rows = json.loads(mirror("status", *scope, "-o", "json").stdout)["items"]
    assert [(r["source"], r["in-sync"], r["conflict"]) for r in rows] == [("platform/db", 1, 1)]
    # The conflict blocks nothing else: the source's orphan in another namespace is pruned.
    ns(cluster, "team-c")
    assert mirror("sync", *scope).returncode == 1  # still the conflict
    kubectl(
        "annotate", "--overwrite", "secret", "db", "-n", "platform", "kubectl-mirror.io/targets=team-a,team-c"
    )
    pruned = mirror("prune", *scope, "--yes")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.splitlines() == ["secret/db -n team-b deleted"]
    assert get(cluster, kubectl, "secret", "team-a", "db") is not None


def test_status_and_prune_exit_1_on_any_error_and_status_lists_the_failed_source(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    _publisher(cluster, "platform", "good", targets="team-a")
    _publisher(cluster, "platform", "broken", targets="Bad_Name")
    assert mirror("sync", "-n", "platform").returncode == 1
    status = mirror("status", "-n", "platform")
    assert status.returncode == 1
    assert "error: ConfigMap platform/broken" in status.stderr
    table = status.stdout.splitlines()
    assert table[0].split()[-1] == "REASON"
    broken = next(line for line in table if line.startswith("platform/broken"))
    assert "Bad_Name" in broken
    assert any(line.startswith("platform/good ") for line in table)
    machine = json.loads(mirror("status", "-n", "platform", "-o", "json").stdout)
    reasons = {r["source"]: r.get("error", "") for r in machine["items"]}
    assert "Bad_Name" in reasons["platform/broken"]
    assert reasons["platform/good"] == ""
    pruned = mirror("prune", "-n", "platform", "--yes")
    assert pruned.returncode == 1
    assert "error: ConfigMap platform/broken" in pruned.stderr
    listed = mirror("prune", "-n", "platform")
    assert listed.returncode == 1


def test_a_source_update_does_not_wait_for_a_backlog_of_other_sources(
    apiserver: Any, kubectl: Any, kubeconfig: Path, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    targets = [f"t-{i:02d}" for i in range(25)]
    for name in ("platform", *targets):
        ns(apiserver, name)
    _publisher(apiserver, "platform", "quick", targets="t-00,t-01,t-02")
    for i in range(4):
        _publisher(apiserver, "platform", f"big-{i}")
    # One worker, few requests per second: four sources' 100 creates make a backlog of 10 s.
    args = ("-n", "platform", "--workers", "1", "--qps", "10", "--burst", "1")
    watcher = _scoped_watch(kubeconfig, e2e_env, tmp_path / "watch.log", *args)

    def mirrors() -> list[dict[str, Any]]:
        listed = kubectl.json("get", "configmaps", "-A", "-l", "kubectl-mirror.io/mirror=true")
        return list(listed["items"])

    try:
        wait_for(lambda: any(m["metadata"]["name"].startswith("big-") for m in mirrors()), what="backlog")
        kubectl(
            "patch",
            "configmap",
            "quick",
            "-n",
            "platform",
            "--type",
            "merge",
            "-p",
            '{"data":{"from":"new"}}',
        )

        def quick_done() -> list[dict[str, Any]] | None:
            now = mirrors()
            quick = [m for m in now if m["metadata"]["name"] == "quick" and m["data"] == {"from": "new"}]
            return now if len(quick) == 3 else None

        seen = wait_for(quick_done, timeout=60, what="the update of quick")
        big = [m for m in seen if m["metadata"]["name"].startswith("big-")]
        assert len(big) < 100, "the update waited until the whole backlog was written"
        wait_for(
            lambda: len([m for m in mirrors() if m["metadata"]["name"].startswith("big-")]) == 100,
            timeout=60,
            what="the backlog",
        )
    finally:
        watcher.stop()


def test_a_quiet_watch_resumes_from_its_last_version_instead_of_relisting(
    cluster: Any, kubectl: Any, kubeconfig: Path, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    _publisher(cluster, "platform", "settings", targets="team-a")
    # A stall timeout far below the real server's bookmark cadence (about 60 s): every quiet
    # watch is cut again and again, and each cut must resume, never list again.
    args = ("-A", "--watch-stall-timeout", "2", "--resync-period", "3600")
    watcher = _scoped_watch(kubeconfig, e2e_env, tmp_path / "watch.log", *args)
    try:
        wait_for(lambda: data_of(cluster, kubectl, "team-a", "settings"), what="the first mirror")
        time.sleep(1.0)
        cluster.log.clear()
        time.sleep(8.0)
        lists = cluster.log.filter(verb="list")
        assert [(r.resource, r.namespace) for r in lists] == []
        kubectl(
            "patch",
            "configmap",
            "settings",
            "-n",
            "platform",
            "--type",
            "merge",
            "-p",
            '{"data":{"from":"new"}}',
        )
        wait_for(lambda: data_of(cluster, kubectl, "team-a", "settings") == {"from": "new"}, what="update")
    finally:
        watcher.stop()


def test_a_scoped_watch_neither_applies_nor_reports_a_policy_of_another_scope(
    apiserver: Any, kubectl: Any, kubeconfig: Path, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    apiserver.create(yaml.safe_load((ROOT / "kubectl_mirror" / "crds" / "mirrorpolicy.yaml").read_text()))
    for name in ("pa-src", "pb-src", "t-1"):
        ns(apiserver, name)
    cm(apiserver, "ca", "pb-src", data={"ca.crt": "x"})
    _publisher(apiserver, "pa-src", "a", targets="t-1")
    watcher = _scoped_watch(kubeconfig, e2e_env, tmp_path / "watch.log", "-n", "pa-src")
    try:
        wait_for(lambda: data_of(apiserver, kubectl, "t-1", "a"), what="the in-scope mirror")
        apiserver.create(
            {
                "apiVersion": "kubectl-mirror.io/v1alpha1",
                "kind": "MirrorPolicy",
                "metadata": {"name": "team-b-ca"},
                "spec": {"source": {"namespace": "pb-src", "names": ["ca"]}, "targets": ["t-1"]},
            }
        )
        time.sleep(3.0)  # three resyncs
        assert data_of(apiserver, kubectl, "t-1", "ca") is None
        assert "status" not in kubectl.json("get", "mirrorpolicy", "team-b-ca")
    finally:
        watcher.stop()
