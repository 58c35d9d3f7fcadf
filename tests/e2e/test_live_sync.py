"""`kubectl mirror sync|status|diff` through kubectl's plugin dispatch, against the project's
API server (tests/apiserver). Assertions read the server's store and request log."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import need, run
from tests.e2e.live_helpers import cm, get, ns, patch_data, source

pytestmark = pytest.mark.e2e


def test_first_sync_creates_and_second_makes_zero_writes(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    first = mirror("sync", "-n", "platform")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "configmap/settings -n team-a created",
        "configmap/settings -n team-b created",
        "created 2, updated 0, unchanged 0, conflicts 0",
    ]
    assert get(cluster, kubectl, "configmap", "team-a", "settings")["data"] == {"region": "eu"}  # type: ignore[index]
    cluster.log.clear()
    second = mirror("sync", "-n", "platform")
    assert second.returncode == 0
    assert second.stdout.strip() == "created 0, updated 0, unchanged 2, conflicts 0"
    assert cluster.log.writes() == []


def test_sync_lists_per_kind_never_per_namespace(cluster: Any, mirror: Any) -> None:
    for i in range(5):
        ns(cluster, f"team-{i}")
    source(cluster)
    cluster.log.clear()
    assert mirror("sync", "-n", "platform").returncode == 0
    namespaced_lists = [
        r for r in cluster.log.filter(verb="list") if r.namespace and r.namespace != "platform"
    ]
    assert namespaced_lists == []
    assert len(cluster.log.writes()) == 7


def test_changed_source_updates_exactly_its_mirrors(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    source(cluster, "other", targets="team-a")
    mirror("sync", "-n", "platform")
    patch_data(kubectl, "platform", {"region": "us"})
    cluster.log.clear()
    done = mirror("sync", "-n", "platform", "-o", "name")
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["configmap/settings", "configmap/settings"]
    assert sorted((w.namespace, w.name) for w in cluster.log.writes()) == [
        ("team-a", "settings"),
        ("team-b", "settings"),
    ]
    assert get(cluster, kubectl, "configmap", "team-b", "settings")["data"] == {"region": "us"}  # type: ignore[index]


def test_unmanaged_object_is_a_conflict_and_is_left_alone(cluster: Any, mirror: Any, kubectl: Any) -> None:
    theirs = cm(cluster, "settings", "team-a", data={"mine": "yes"})
    source(cluster)
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 1
    assert (
        "conflict: ConfigMap team-a/settings: exists and is not managed by kubectl-mirror (use --adopt)"
        in done.stderr
    )
    assert "created 1, updated 0, unchanged 0, conflicts 1" in done.stdout
    after = get(cluster, kubectl, "configmap", "team-a", "settings")
    assert after["data"] == {"mine": "yes"}  # type: ignore[index]
    assert after["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]  # type: ignore[index]


def test_adopt_takes_over_and_records_it(cluster: Any, mirror: Any, kubectl: Any) -> None:
    cm(cluster, "settings", "team-a", data={"mine": "yes"})
    source(cluster)
    done = mirror("sync", "-n", "platform", "--adopt")
    assert done.returncode == 0, done.stderr
    after = get(cluster, kubectl, "configmap", "team-a", "settings")
    assert after["data"] == {"region": "eu"}  # type: ignore[index]
    assert after["metadata"]["annotations"]["kubectl-mirror.io/adopted"] == "true"  # type: ignore[index]
    assert mirror("sync", "-n", "platform").stdout.strip() == "created 0, updated 0, unchanged 2, conflicts 0"


def test_secret_type_change_recreates_the_mirror(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster, kind="Secret", data={"k": base64.b64encode(b"v").decode()}, type="Opaque")
    mirror("sync", "-n", "platform")
    kubectl("delete", "secret", "settings", "-n", "platform")
    source(cluster, kind="Secret", data={"token": base64.b64encode(b"v").decode()}, type="example.com/token")
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 0, done.stderr
    assert "secret/settings -n team-a recreated" in done.stdout
    assert get(cluster, kubectl, "secret", "team-a", "settings")["type"] == "example.com/token"  # type: ignore[index]


def test_immutable_mirror_is_recreated_when_its_source_changes(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster, immutable=True)
    assert mirror("sync", "-n", "platform").returncode == 0
    kubectl("delete", "configmap", "settings", "-n", "platform")
    source(cluster, immutable=True, data={"region": "us"})
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 0, done.stderr
    assert "configmap/settings -n team-b recreated" in done.stdout
    assert get(cluster, kubectl, "configmap", "team-b", "settings")["data"] == {"region": "us"}  # type: ignore[index]


def test_replace_strategy_removes_keys_others_added(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    mirror("sync", "-n", "platform")
    patch_data(kubectl, "team-a", {"extra": "x"})
    assert mirror("sync", "-n", "platform").returncode == 0
    assert get(cluster, kubectl, "configmap", "team-a", "settings")["data"] == {"region": "eu"}  # type: ignore[index]


def test_merge_strategy_keeps_keys_others_added_and_source_keys_win(
    cluster: Any, mirror: Any, kubectl: Any
) -> None:
    source(cluster, annotations={"kubectl-mirror.io/strategy": "merge"})
    mirror("sync", "-n", "platform")
    patch = '{"data":{"extra":"x","region":"moon"},"metadata":{"labels":{"team":"a"}}}'
    kubectl("patch", "configmap", "settings", "-n", "team-a", "--type", "merge", "-p", patch)
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 0, done.stderr
    after = get(cluster, kubectl, "configmap", "team-a", "settings")
    assert after["data"] == {"extra": "x", "region": "eu"}  # type: ignore[index]
    assert after["metadata"]["labels"]["team"] == "a"  # type: ignore[index]
    patch_writes = [r for r in cluster.log.writes() if r.namespace == "team-a" and r.verb == "patch"]
    assert patch_writes[-1].content_type.startswith("application/apply-patch")
    assert patch_writes[-1].field_manager == "kubectl-mirror"
    assert mirror("sync", "-n", "platform").stdout.strip() == "created 0, updated 0, unchanged 2, conflicts 0"


def test_client_dry_run_sends_no_writes(cluster: Any, mirror: Any) -> None:
    source(cluster)
    cluster.log.clear()
    done = mirror("sync", "-n", "platform", "--dry-run=client")
    assert done.returncode == 0
    assert "configmap/settings -n team-a created (dry run)" in done.stdout
    assert [r for r in cluster.log.records if r.verb in ("create", "update", "patch", "delete")] == []


def test_server_dry_run_asks_the_server_and_changes_nothing(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    cluster.log.clear()
    done = mirror("sync", "-n", "platform", "--dry-run=server")
    assert done.returncode == 0, done.stderr
    creates = cluster.log.filter(verb="create")
    assert len(creates) == 2 and all(r.dry_run for r in creates)
    assert cluster.log.writes() == []
    assert get(cluster, kubectl, "configmap", "team-a", "settings") is None


def test_status_table_counts_and_exit_code(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    mirror("sync", "-n", "platform")
    assert mirror("status", "-n", "platform", "--exit-code").returncode == 0
    kubectl("delete", "configmap", "settings", "-n", "team-b")
    patch_data(kubectl, "team-a", {"region": "x"})
    done = mirror("status", "-n", "platform", "--exit-code")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "SOURCE              KIND        TARGETS   IN-SYNC   DRIFTED   MISSING   CONFLICT   STALE",
        "platform/settings   ConfigMap   2         0         1         1         0          0",
    ]
    wide = mirror("status", "-n", "platform", "-o", "wide").stdout
    assert "team-a      settings   drifted   data.region" in wide
    machine = json.loads(mirror("status", "-n", "platform", "-o", "json").stdout)
    assert machine["items"][0]["drifted"] == 1


def test_secret_values_are_masked_in_diff_and_status(cluster: Any, mirror: Any, kubectl: Any) -> None:
    secret = base64.b64encode(b"hunter2").decode()
    source(cluster, kind="Secret", data={"password": secret}, type="Opaque")
    mirror("sync", "-n", "platform")
    other = base64.b64encode(b"s3cr3t-changed").decode()
    kubectl(
        "patch",
        "secret",
        "settings",
        "-n",
        "team-a",
        "--type",
        "merge",
        "-p",
        json.dumps({"data": {"password": other}}),
    )
    for args in (
        ("diff",),
        ("status", "-o", "wide"),
        ("status", "-o", "yaml"),
        ("status", "-o", "json"),
        ("sync", "--diff", "--dry-run=client"),
    ):
        done = mirror(*args, "-n", "platform")
        assert secret not in done.stdout + done.stderr, args
        assert other not in done.stdout + done.stderr, args
    masked = mirror("diff", "-n", "platform")
    assert masked.returncode == 1
    assert "+  password: <redacted, changed>" in masked.stdout
    shown = mirror("diff", "-n", "platform", "--show-secrets")
    assert f"+  password: {secret}" in shown.stdout


def test_status_describes_each_change_of_a_drifted_mirror(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster, data={"region": "eu", "tier": "gold"})
    mirror("sync", "-n", "platform")
    patch = {"data": {"region": "x", "tier": None, "extra": "1"}, "metadata": {"labels": {"team": "a"}}}
    kubectl("patch", "configmap", "settings", "-n", "team-a", "--type", "merge", "-p", json.dumps(patch))
    wide = mirror("status", "-n", "platform", "-o", "wide").stdout
    row = next(line for line in wide.splitlines() if "team-a" in line)
    assert row.split("drifted", 1)[1].strip() == (
        "data.extra added, data.region changed, data.tier removed, metadata.labels.team added"
    )
    machine = json.loads(mirror("status", "-n", "platform", "-o", "json").stdout)
    drifted = next(m for m in machine["items"][0]["mirrors"] if m["namespace"] == "team-a")
    assert drifted["changes"] == [
        {"path": "data.extra", "kind": "added", "live": "1"},
        {"path": "data.region", "kind": "changed", "desired": "eu", "live": "x"},
        {"path": "data.tier", "kind": "removed", "desired": "gold"},
        {"path": "metadata.labels.team", "kind": "added", "live": "a"},
    ]
    in_sync = next(m for m in machine["items"][0]["mirrors"] if m["namespace"] == "team-b")
    assert "changes" not in in_sync


def test_diff_exits_0_when_in_sync(cluster: Any, mirror: Any) -> None:
    source(cluster)
    mirror("sync", "-n", "platform")
    done = mirror("diff", "-n", "platform")
    assert (done.returncode, done.stdout) == (0, "")


def test_all_namespaces_and_selector_scope_the_sources(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster, "a", labels={"tier": "gold"})
    source(cluster, "b")
    done = mirror("sync", "-A", "-l", "tier=gold")
    assert done.returncode == 0, done.stderr
    assert get(cluster, kubectl, "configmap", "team-a", "a") is not None
    assert get(cluster, kubectl, "configmap", "team-a", "b") is None
    assert mirror("sync", "-n", "default").stdout.strip() == "created 0, updated 0, unchanged 0, conflicts 0"


def test_new_namespace_gets_mirrors_on_next_sync(cluster: Any, mirror: Any, kubectl: Any) -> None:
    source(cluster)
    mirror("sync", "-n", "platform")
    ns(cluster, "team-new")
    done = mirror("sync", "-n", "platform")
    assert done.stdout.splitlines()[0] == "configmap/settings -n team-new created"


def test_bad_marker_is_one_line_and_exit_1(cluster: Any, mirror: Any) -> None:
    source(cluster, targets="Bad_Name")
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 1
    assert (
        "error: ConfigMap platform/settings: metadata.annotations[\"kubectl-mirror.io/targets\"]: 'Bad_Name'"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_unreachable_cluster_is_one_line(e2e_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    done = run(
        [need("kubectl"), "mirror", "status", "--kubeconfig", str(config), "--request-timeout", "1s"], e2e_env
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("error: GET /api/v1:")


def test_kubeconfig_env_with_several_files_and_the_context_namespace(
    cluster: Any, kubeconfig: Path, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    """KUBECONFIG may list files that do not exist; the context's namespace is the default -n."""
    text = kubeconfig.read_text().replace("namespace: default", "namespace: platform")
    (tmp_path / "real").write_text(text)
    env = {**e2e_env, "KUBECONFIG": f"{tmp_path / 'missing'}:{tmp_path / 'real'}"}
    source(cluster)
    done = run([need("kubectl"), "mirror", "sync"], env)
    assert done.returncode == 0, done.stderr
    assert "created 2" in done.stdout


def test_sync_output_yaml_masks_secrets_unless_asked(cluster: Any, mirror: Any) -> None:
    value = base64.b64encode(b"topsecret").decode()
    source(cluster, kind="Secret", data={"k": value}, type="Opaque")
    done = mirror("sync", "-n", "platform", "--dry-run=client", "-o", "yaml")
    assert done.returncode == 0
    assert value not in done.stdout
    assert "k: <redacted>" in done.stdout
    assert "created 2, updated 0" in done.stderr
    shown = mirror("sync", "-n", "platform", "--dry-run=client", "-o", "json", "--show-secrets")
    assert [i["data"]["k"] for i in json.loads(shown.stdout)["items"]] == [value, value]


@pytest.mark.fake_only  # the 403 is injected
def test_kinds_rbac_forbids_are_skipped_with_a_warning(cluster: Any, mirror: Any) -> None:
    cluster.faults.fail(403, verb="list", resource="services", times=None)
    source(cluster)
    done = mirror("sync", "-n", "platform")
    assert done.returncode == 0, done.stderr
    assert "warning: not allowed to read services" in done.stderr
    assert "created 2" in done.stdout
