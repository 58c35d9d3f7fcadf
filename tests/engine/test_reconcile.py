"""reconcile.decide: the one place the rules of sync, status, prune and watch live."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubectl_mirror.engine.model import EngineOptions, ObjectKey
from kubectl_mirror.engine.plan import Item, render_all
from kubectl_mirror.engine.reconcile import decide, decide_cached, key_of

OURS = {"app.kubernetes.io/managed-by": "kubectl-mirror", "kubectl-mirror.io/mirror": "true"}


def _desired(kind: str = "ConfigMap", **extra: Any) -> dict[str, Any]:
    annotations = {"kubectl-mirror.io/targets": "team-a", **extra.pop("annotations", {})}
    source = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": "settings",
            "namespace": "platform",
            "labels": {"kubectl-mirror.io/source": "true"},
            "annotations": annotations,
        },
        "data": extra.pop("data", {"k": "dg=="}),
        **extra,
    }
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("platform", "team-a")
    ]
    outcome = render_all([Item(o, "") for o in (*namespaces, source)], EngineOptions(live=True))
    assert not outcome.results
    return outcome.mirrors[0]


def _live(desired: dict[str, Any], **changes: Any) -> dict[str, Any]:
    live = copy.deepcopy(desired)
    live["metadata"].update(resourceVersion="7", uid="u-1", creationTimestamp="2026-01-01T00:00:00Z")
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = live
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return live


def test_absent_is_created() -> None:
    assert decide(_desired(), None).verb == "create"


def test_equal_is_unchanged_whatever_the_server_added() -> None:
    desired = _desired()
    assert decide(desired, _live(desired)).verb == "unchanged"


def test_drifted_is_updated_with_the_paths_that_differ() -> None:
    desired = _desired()
    action = decide(desired, _live(desired, data={"k": "edited"}))
    assert (action.verb, action.paths) == ("update", ("data.k",))


def test_an_object_that_is_not_ours_is_a_conflict_unless_adopted() -> None:
    desired = _desired()
    theirs = _live(desired, metadata__labels={})
    assert decide(desired, theirs).verb == "conflict"
    adopted = decide(desired, theirs, adopt=True)
    assert adopted.verb == "update"
    assert adopted.desired is not None
    assert adopted.desired["metadata"]["annotations"]["kubectl-mirror.io/adopted"] == "true"


def test_adopting_a_secret_of_another_type_recreates_it() -> None:
    desired = _desired("Secret", type="Opaque")
    theirs = _live(desired, metadata__labels={}, type="example.com/legacy")
    action = decide(desired, theirs, adopt=True)
    assert action.verb == "recreate"
    assert action.reason.startswith("adopted; Secret type changes")


@pytest.mark.parametrize(
    ("desired", "change"),
    [
        (_desired("Secret", type="example.com/token"), {"type": "Opaque"}),
        (_desired(immutable=True, data={"k": "v2"}), {"data": {"k": "v1"}}),
    ],
    ids=["secret-type", "immutable"],
)
def test_what_the_server_will_not_update_is_recreated(
    desired: dict[str, Any], change: dict[str, Any]
) -> None:
    assert decide(desired, _live(desired, **change)).verb == "recreate"


@pytest.mark.parametrize(
    ("source", "orphan", "verb"),
    [
        ("gone", False, "delete"),
        ("gone", True, "mark-stale"),
        ("unmarked", True, "delete"),  # the orphan policy is about a deleted source only
        ("untargeted", True, "delete"),
        ("failed", False, "keep"),  # a typo in a marker never deletes anything
        ("out-of-scope", False, "keep"),
        ("renders", False, "keep"),
    ],
)
def test_a_mirror_nothing_renders_is_decided_by_what_became_of_its_source(
    source: Any, orphan: bool, verb: str
) -> None:
    annotations = {"kubectl-mirror.io/on-source-delete": "orphan"} if orphan else {}
    live = _live(_desired(annotations=annotations))
    assert decide(None, live, source=source).verb == verb


def test_a_stale_orphan_is_kept_and_what_is_not_ours_is_never_touched() -> None:
    live = _live(_desired(annotations={"kubectl-mirror.io/on-source-delete": "orphan"}))
    live["metadata"]["labels"]["kubectl-mirror.io/stale"] = "true"
    assert decide(None, live, source="gone").verb == "keep"
    theirs = _live(_desired(), metadata__labels={})
    assert all(decide(None, theirs, source=s).verb == "keep" for s in ("gone", "unmarked", "untargeted"))


@pytest.mark.parametrize(
    ("desired", "change", "reads"),
    [
        (_desired(), {"data": {"k": "edited"}}, False),
        (_desired("Secret", type="example.com/token"), {"type": "Opaque"}, True),
        (_desired("Secret", type="Opaque"), {"data": {"k": "eA=="}}, False),
        (_desired(immutable=True, data={"k": "v2"}), {"data": {"k": "v1"}}, True),
        (_desired(annotations={"kubectl-mirror.io/strategy": "merge"}), {"data": {"k": "v", "x": "1"}}, True),
        (_desired(), {"metadata__annotations__kubectl-mirror.io/adopted": "true"}, True),
    ],
    ids=["drifted", "secret-type", "secret-data", "immutable", "merge", "adopted"],
)
def test_the_cached_decision_is_decide_or_says_it_must_read(
    desired: dict[str, Any], change: dict[str, Any], reads: bool
) -> None:
    live = _live(desired, **change)
    cached = decide_cached(
        desired,
        resource_version="7",
        secret_type=str(live.get("type", "Opaque")),
        immutable=live.get("immutable") is True,
        adopted=live["metadata"]["annotations"].get("kubectl-mirror.io/adopted") == "true",
    )
    assert (cached is None) == reads
    if cached is not None:
        assert cached.verb == decide(desired, live).verb
        assert cached.live == {"metadata": {"resourceVersion": "7"}}


def test_the_key_holds_the_api_group() -> None:
    a = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"namespace": "n", "name": "g"},
    }
    b = {**a, "apiVersion": "example.com/v1"}
    assert key_of(a) != key_of(b)
    assert key_of(a) == ObjectKey("gateway.networking.k8s.io", "Gateway", "n", "g")
    assert key_of({**a, "apiVersion": "v1", "kind": "ConfigMap"}).describe() == "ConfigMap n/g"
