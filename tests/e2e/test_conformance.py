"""One decision, every front door: the conformance table.

Each scenario puts one mirror's place into a known state; `sync`, `status`, `prune` and `watch`
must all take the same decision about it (`reconcile.decide` is the only place the rules live).
The world holds every scenario at once, each with its own source and target namespace, and runs
on both servers (tests/e2e/conftest.py).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import need
from tests.e2e.live_helpers import Watcher, cm, ns, wait_for

pytestmark = pytest.mark.e2e

SRC, OTHER = "conf-src", "conf-other"

# scenario -> the decision for its mirror (what `sync` would do; `status`, `prune` and `watch`
# must agree). "keep" and "unchanged" write nothing.
TABLE = {
    "absent": "create",
    "equal": "unchanged",
    "drifted": "update",
    "notours": "conflict",
    "adopt": "conflict",  # "update" with `sync --adopt`, the only door that adopts
    "sectype": "recreate",
    "immutable": "recreate",
    "gone": "delete",
    "unmarked": "delete",
    "typo": "keep",
    "untargeted": "delete",
    "outofscope": "keep",
    "orphan": "mark-stale",
}
SYNC_WORD = {
    "create": "created",
    "update": "configured",
    "recreate": "recreated",
    "delete": "deleted",
    "mark-stale": "marked stale",
}
STATUS_STATE = {
    "create": "missing",
    "update": "drifted",
    "recreate": "drifted",
    "conflict": "conflict",
    "unchanged": "in-sync",
    "delete": "stale",
    "mark-stale": "stale",
}
B64 = base64.b64encode(b"value").decode()


def _target(scenario: str) -> str:
    return f"c-{scenario}"


def _source(
    cluster: Any, scenario: str, *, namespace: str = SRC, kind: str = "ConfigMap", **extra: Any
) -> Any:
    annotations = {"kubectl-mirror.io/targets": _target(scenario), **extra.pop("annotations", {})}
    data = extra.pop("data", {"k": B64 if kind == "Secret" else "v"})
    labels = {"kubectl-mirror.io/source": "true", "conformance": scenario}
    return cm(
        cluster, scenario, namespace, data=data, labels=labels, annotations=annotations, kind=kind, **extra
    )


@pytest.fixture
def world(apiserver: Any, mirror: Any, kubectl: Any) -> dict[str, Any]:
    """Every scenario set up; returns each mirror place's object before any front door ran."""
    for name in (SRC, OTHER, *(_target(s) for s in TABLE)):
        ns(apiserver, name)
    cm(apiserver, "notours", _target("notours"), data={"theirs": "1"})
    cm(apiserver, "adopt", _target("adopt"), data={"theirs": "1"})
    for scenario in ("equal", "drifted", "gone", "unmarked", "typo", "notours", "adopt"):
        _source(apiserver, scenario)
    _source(apiserver, "untargeted", annotations={"kubectl-mirror.io/targets": "c-untargeted,c-equal"})
    _source(apiserver, "sectype", kind="Secret", type="Opaque")
    _source(apiserver, "immutable", immutable=True)
    _source(apiserver, "orphan", annotations={"kubectl-mirror.io/on-source-delete": "orphan"})
    _source(apiserver, "outofscope", namespace=OTHER)
    assert mirror("sync", "-A").returncode == 1  # the two conflicts
    # Now each scenario's change since that sync.
    _source(apiserver, "absent")
    patch = json.dumps({"data": {"k": "edited"}})
    kubectl("patch", "configmap", "drifted", "-n", _target("drifted"), "--type", "merge", "-p", patch)
    kubectl("delete", "secret", "sectype", "-n", SRC)
    _source(apiserver, "sectype", kind="Secret", type="example.com/token")
    kubectl("delete", "configmap", "immutable", "-n", SRC)
    _source(apiserver, "immutable", immutable=True, data={"k": "v2"})
    for scenario, namespace in (("gone", SRC), ("orphan", SRC), ("outofscope", OTHER)):
        kubectl("delete", "configmap", scenario, "-n", namespace)
    kubectl("label", "configmap", "unmarked", "-n", SRC, "kubectl-mirror.io/source-")
    kubectl("annotate", "--overwrite", "configmap", "typo", "-n", SRC, "kubectl-mirror.io/targets=Bad_Name")
    kubectl(
        "annotate", "--overwrite", "configmap", "untargeted", "-n", SRC, "kubectl-mirror.io/targets=c-equal"
    )
    return {s: _live(kubectl, s) for s in TABLE}


def _live(kubectl: Any, scenario: str) -> dict[str, Any] | None:
    kind = "secret" if scenario == "sectype" else "configmap"
    done = kubectl("get", kind, scenario, "-n", _target(scenario), "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _scenario(namespace: str) -> str:
    return namespace.removeprefix("c-")


def test_sync_status_prune_and_watch_take_the_same_decision_in_every_scenario(
    world: dict[str, Any],
    apiserver: Any,
    mirror: Any,
    kubectl: Any,
    kubeconfig: Path,
    e2e_env: dict[str, str],
    tmp_path: Path,
) -> None:
    scope = ("-n", SRC)
    # sync, as a client dry run: one line per write, one stderr line per conflict.
    done = mirror("sync", *scope, "--prune", "--dry-run=client")
    assert done.returncode == 1  # the conflicts and the typo
    sync: dict[str, str] = {}
    for line in done.stdout.splitlines():
        found = re.fullmatch(r"\S+/(\S+) -n (\S+) (.+) \(dry run\)", line)
        if found:
            sync[_scenario(found[2])] = next(v for v, w in SYNC_WORD.items() if w == found[3])
    for line in done.stderr.splitlines():
        found = re.match(r"conflict: \S+ (\S+)/", line)
        if found:
            sync[_scenario(found[1])] = "conflict"
    assert "error: ConfigMap conf-src/typo" in done.stderr
    assert sync == {s: v for s, v in TABLE.items() if v not in ("unchanged", "keep")}

    adopted = mirror("sync", *scope, "-l", "conformance=adopt", "--adopt", "--dry-run=client")
    assert adopted.stdout.splitlines()[0] == "configmap/adopt -n c-adopt configured (dry run)"

    # status: one state per mirror; the failed source shows with its reason.
    report = json.loads(mirror("status", *scope, "-o", "json").stdout)["items"]
    status = {_scenario(m["namespace"]): m["state"] for row in report for m in row["mirrors"]}
    expected = {s: STATUS_STATE[v] for s, v in TABLE.items() if v in STATUS_STATE}
    assert {s: status.get(s) for s in expected} == expected
    assert "typo" not in status and "outofscope" not in status
    assert "Bad_Name" in next(r for r in report if r["source"] == f"{SRC}/typo")["error"]

    # prune: what it would delete or mark stale, nothing else.
    listed = mirror("prune", *scope).stdout.splitlines()
    prune = {_scenario(line.split()[2]): line.split(" would be ")[1].split(" (")[0] for line in listed}
    assert prune == {s: SYNC_WORD[v] for s, v in TABLE.items() if v in ("delete", "mark-stale")}

    # watch: it acts; each place ends as the decision says.
    argv = [
        need("kubectl"),
        "mirror",
        "watch",
        "--kubeconfig",
        str(kubeconfig),
        *scope,
        "--resync-period",
        "1",
    ]
    watcher = Watcher(argv, e2e_env, tmp_path / "watch.log")
    quiet = ("unchanged", "keep", "conflict")
    try:
        for scenario, verb in TABLE.items():
            if verb not in quiet:
                wait_for(
                    _effect(kubectl, scenario, verb, world[scenario]), timeout=30, what=f"{scenario}: {verb}"
                )
        time.sleep(2.0)  # two more resyncs, then what must not be written was not written
        untouched = {s: _effect(kubectl, s, v, world[s])() for s, v in TABLE.items() if v in quiet}
        assert untouched == dict.fromkeys(untouched, True)
    finally:
        watcher.stop()


def _effect(kubectl: Any, scenario: str, verb: str, before: dict[str, Any] | None) -> Callable[[], bool]:
    def check() -> bool:
        now = _live(kubectl, scenario)
        if verb == "delete":
            return now is None
        if now is None:
            return False
        labels = now["metadata"].get("labels") or {}
        if verb == "create":
            return labels.get("kubectl-mirror.io/mirror") == "true"
        if verb == "mark-stale":
            return labels.get("kubectl-mirror.io/stale") == "true"
        assert before is not None
        if verb in ("unchanged", "keep", "conflict"):
            return bool(now["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"])
        if verb == "update":
            return bool(now["data"] == {"k": "v"})
        assert verb == "recreate"
        return bool(now["metadata"]["uid"] != before["metadata"]["uid"])

    return check
