"""describe_drift: what differs in a drifted mirror, in reconcile's spelling, with Secrets masked."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from kubectl_mirror.engine import drift as drift_module
from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.drift import Change, describe_drift
from kubectl_mirror.engine.reconcile import drift
from tests.helpers import ns, render, source

SERVER_META = {
    "uid": "5f1c",
    "resourceVersion": "4711",
    "generation": 2,
    "creationTimestamp": "2026-01-01T00:00:00Z",
    "managedFields": [{"manager": "someone", "operation": "Update"}],
}


def mirror(*, kind: str = "ConfigMap", strategy: str = "replace", **body: Any) -> dict[str, Any]:
    """A desired mirror as render makes it."""
    api_version = "example.com/v1" if kind == "Widget" else "v1"
    src = source(
        kind=kind,
        api_version=api_version,
        annotations={m.STRATEGY: strategy},
        body=body or {"data": {"region": "eu"}},
    )
    (out,) = render(src, ns("apps")).mirrors
    return out


def live_of(
    desired: dict[str, Any], edit: Callable[[dict[str, Any]], None] = lambda _: None
) -> dict[str, Any]:
    """The mirror as the API server returns it (server fields, status), then `edit`ed."""
    live = copy.deepcopy(desired)
    live["metadata"].update(copy.deepcopy(SERVER_META))
    live["status"] = {"observed": True}
    edit(live)
    return live


def dicts(changes: tuple[Change, ...]) -> list[dict[str, Any]]:
    return [c.as_dict() for c in changes]


def test_a_changed_value_shows_both_sides() -> None:
    desired = mirror(data={"region": "eu", "tier": "gold"})
    live = live_of(desired, lambda o: o["data"].update(region="us"))
    assert dicts(describe_drift(desired, live)) == [
        {"path": "data.region", "kind": "changed", "desired": "eu", "live": "us"}
    ]


def test_a_key_only_in_live_is_added_and_a_key_missing_from_live_is_removed() -> None:
    desired = mirror(data={"region": "eu", "log.level": "info"})

    def edit(o: dict[str, Any]) -> None:
        del o["data"]["log.level"]
        o["data"]["extra"] = "x"

    assert dicts(describe_drift(desired, live_of(desired, edit))) == [
        {"path": "data.extra", "kind": "added", "live": "x"},
        {"path": 'data["log.level"]', "kind": "removed", "desired": "info"},
    ]


def test_a_type_change_is_reported_where_the_type_changed() -> None:
    desired = mirror(kind="Widget", spec={"replicas": "3", "ports": {"http": 80}})

    def edit(o: dict[str, Any]) -> None:
        o["spec"]["replicas"] = 3
        o["spec"]["ports"] = [80]

    assert dicts(describe_drift(desired, live_of(desired, edit))) == [
        {"path": "spec.ports", "kind": "type-changed", "desired": {"http": 80}, "live": [80]},
        {"path": "spec.replicas", "kind": "type-changed", "desired": "3", "live": 3},
    ]


def test_list_items_added_and_removed_carry_their_index() -> None:
    desired = mirror(kind="Widget", spec={"items": ["a", "b", "c"]})
    grown = live_of(desired, lambda o: o["spec"].update(items=["a", "b", "x", "c"]))
    shrunk = live_of(desired, lambda o: o["spec"].update(items=["a", "c"]))
    assert dicts(describe_drift(desired, grown)) == [
        {"path": "spec.items[2]", "kind": "item-added", "live": "x"}
    ]
    assert dicts(describe_drift(desired, shrunk)) == [
        {"path": "spec.items[1]", "kind": "item-removed", "desired": "b"}
    ]


def test_changes_are_sorted_by_path_with_indexes_in_numeric_order() -> None:
    desired = mirror(kind="Widget", spec={"items": [{"n": i} for i in range(12)]})

    def edit(o: dict[str, Any]) -> None:
        o["spec"]["items"][10]["n"] = -10
        o["spec"]["items"][2]["n"] = -2

    assert [c.path for c in describe_drift(desired, live_of(desired, edit))] == [
        "spec.items[2].n",
        "spec.items[10].n",
    ]


def test_merge_strategy_ignores_keys_others_added_but_reports_its_own_keys() -> None:
    desired = mirror(strategy="merge", data={"region": "eu", "tier": "gold"})

    def edit(o: dict[str, Any]) -> None:
        o["data"].update(region="us", added="by someone")
        del o["data"]["tier"]
        o["metadata"]["labels"]["team"] = "payments"
        o["metadata"]["annotations"]["example.com/note"] = "hi"

    assert dicts(describe_drift(desired, live_of(desired, edit))) == [
        {"path": "data.region", "kind": "changed", "desired": "eu", "live": "us"},
        {"path": "data.tier", "kind": "removed", "desired": "gold"},
    ]


def test_merge_strategy_reports_a_key_added_inside_a_list_item_because_lists_compare_whole() -> None:
    desired = mirror(kind="Widget", strategy="merge", spec={"items": [{"name": "a"}]})
    live = live_of(desired, lambda o: o["spec"]["items"][0].update(extra=1))
    assert drift(desired, live) == ["spec.items"]
    assert dicts(describe_drift(desired, live)) == [
        {"path": "spec.items[0].extra", "kind": "added", "live": 1}
    ]


def test_label_and_annotation_drift_is_reported_under_metadata() -> None:
    desired = mirror()

    def edit(o: dict[str, Any]) -> None:
        o["metadata"]["labels"]["team"] = "payments"
        o["metadata"]["annotations"][m.ON_SOURCE_DELETE] = "orphan"

    assert dicts(describe_drift(desired, live_of(desired, edit))) == [
        {
            "path": 'metadata.annotations["kubectl-mirror.io/on-source-delete"]',
            "kind": "changed",
            "desired": "delete",
            "live": "orphan",
        },
        {"path": "metadata.labels.team", "kind": "added", "live": "payments"},
    ]


def test_equal_objects_give_no_changes() -> None:
    desired = mirror(data={"region": "eu"})
    assert describe_drift(desired, live_of(desired)) == ()


def test_server_fields_are_never_reported() -> None:
    desired = mirror(data={"region": "eu"})

    def edit(o: dict[str, Any]) -> None:
        o["metadata"].update(resourceVersion="9999", uid="other", managedFields=[{"manager": "x"}])
        o["status"] = {"phase": "Changed"}
        o["data"]["region"] = "us"

    assert [c.path for c in describe_drift(desired, live_of(desired, edit))] == ["data.region"]


def test_values_equal_to_reconcile_are_not_drift() -> None:
    desired = mirror(kind="Widget", spec={"n": 1, "flag": True, "other": "a"})

    def edit(o: dict[str, Any]) -> None:
        o["spec"].update(n=1.0, flag=1, other="b")

    assert [c.path for c in describe_drift(desired, live_of(desired, edit))] == ["spec.other"]


SECRET = "hunter2"
SECRET_B64 = base64.b64encode(SECRET.encode()).decode()


def _leaks(changes: tuple[Change, ...]) -> list[str]:
    dumped = json.dumps(dicts(changes)) + repr(changes)
    return [value for value in (SECRET, SECRET_B64, "c2VjcmV0") if value in dumped]


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda o: o["data"].update(password=base64.b64encode(b"other").decode()), id="changed"),
        pytest.param(lambda o: o["data"].update(added=SECRET_B64), id="added"),
        pytest.param(lambda o: o["data"].pop("password"), id="removed"),
        pytest.param(lambda o: o["data"].update(password=12345), id="type-changed"),
        pytest.param(lambda o: o["data"].update(password=[SECRET_B64]), id="type-changed-to-list"),
        pytest.param(lambda o: o.pop("data"), id="whole-data-removed"),
        pytest.param(lambda o: o.update(data=[SECRET_B64]), id="whole-data-to-list"),
        pytest.param(lambda o: o.update(stringData={"token": SECRET}), id="string-data"),
        pytest.param(
            lambda o: o["metadata"]["annotations"].update(
                {"kubectl.kubernetes.io/last-applied-configuration": json.dumps({"data": {"p": SECRET_B64}})}
            ),
            id="last-applied-annotation",
        ),
    ],
)
def test_secret_values_are_masked_in_every_kind_of_change(edit: Callable[[dict[str, Any]], None]) -> None:
    desired = mirror(kind="Secret", type="Opaque", data={"password": SECRET_B64, "other": "c2VjcmV0"})
    live = live_of(desired, edit)
    changes = describe_drift(desired, live)
    assert changes, "the edit must be drift for this test to mean anything"
    assert _leaks(changes) == []


def test_masked_secret_changes_keep_their_paths_and_kinds() -> None:
    desired = mirror(kind="Secret", type="Opaque", data={"password": SECRET_B64})

    def edit(o: dict[str, Any]) -> None:
        o["data"] = {"password": 1, "token": SECRET_B64}

    assert dicts(describe_drift(desired, live_of(desired, edit))) == [
        {"path": "data.password", "kind": "type-changed", "desired": "<redacted>", "live": "<redacted>"},
        {"path": "data.token", "kind": "added", "live": "<redacted>"},
    ]


def test_a_very_large_diff_is_capped_with_a_truncated_marker() -> None:
    desired = mirror(data={f"k{i:04}": "old" for i in range(500)})
    live = live_of(desired, lambda o: o.update(data={k: "new" for k in o["data"]}))
    changes = describe_drift(desired, live)
    assert len(changes) == drift_module.MAX_CHANGES + 1
    assert changes[-1].as_dict() == {"path": "...", "kind": "truncated"}
    assert [c.path for c in changes[:2]] == ["data.k0000", "data.k0001"]


def test_the_work_budget_ends_the_description_with_the_truncated_marker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(drift_module, "MAX_VISITS", 50)
    desired = mirror(data={f"k{i:04}": "old" for i in range(500)})
    live = live_of(desired, lambda o: o.update(data={k: "new" for k in o["data"]}))
    changes = describe_drift(desired, live)
    assert changes[-1].kind == "truncated"
    assert 0 < len(changes) - 1 < 50


def test_only_the_part_that_differs_counts_against_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drift_module, "MAX_VISITS", 50)
    desired = mirror(data={f"k{i:04}": "old" for i in range(5000)})
    live = live_of(desired, lambda o: o["data"].update(k4999="new"))
    assert [c.as_dict() for c in describe_drift(desired, live)] == [
        {"path": "data.k4999", "kind": "changed", "desired": "old", "live": "new"}
    ]


def test_long_lists_of_repeated_values_are_compared_index_by_index_in_bounded_time() -> None:
    # difflib pairing, deepdiff's default for lists of scalars, takes minutes on this list.
    desired = mirror(kind="Widget", spec={"bits": [i % 2 for i in range(5000)]})
    live = live_of(desired, lambda o: o["spec"].update(bits=[(i // 2) % 2 for i in range(5000)]))
    started = time.perf_counter()
    changes = describe_drift(desired, live)
    assert time.perf_counter() - started < 5
    assert changes[0].as_dict() == {"path": "spec.bits[1]", "kind": "changed", "desired": 1, "live": 0}
    assert changes[-1].kind == "truncated"


def test_the_same_input_gives_the_same_output() -> None:
    desired = mirror(kind="Widget", spec={"items": ["a", "b"], "map": {"x": 1, "y": 2}, "z": "q"})

    def edit(o: dict[str, Any]) -> None:
        o["spec"] = {"items": ["b", "c"], "map": {"y": 3, "w": 0}, "extra": True}

    live = live_of(desired, edit)
    assert describe_drift(desired, live) == describe_drift(copy.deepcopy(desired), copy.deepcopy(live))


def test_the_output_does_not_depend_on_string_hash_randomisation() -> None:
    code = (
        "import json; from tests.engine.test_drift import _hash_case; "
        "from kubectl_mirror.engine.drift import describe_drift; "
        "print(json.dumps([c.as_dict() for c in describe_drift(*_hash_case())]))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def _hash_case() -> tuple[dict[str, Any], dict[str, Any]]:
    desired = mirror(kind="Widget", spec={f"key{i}": [i, {"v": i}] for i in range(30)})
    live = live_of(desired, lambda o: o.update(spec={f"key{i}": [i, {"w": -i}, i] for i in range(5, 35)}))
    return desired, live


def test_changes_are_copies_not_views_of_the_inputs() -> None:
    desired = mirror(kind="Widget", spec={"map": {"a": 1}})
    live = live_of(desired, lambda o: o["spec"].update(map=[1]))
    (change,) = describe_drift(desired, live)
    desired["spec"]["map"]["a"] = 2
    live["spec"]["map"].append(2)
    assert (change.desired, change.live) == ({"a": 1}, [1])


def test_as_dict_is_json_and_keeps_null_apart_from_absent() -> None:
    desired = mirror(kind="Widget", spec={"a": None})
    live = live_of(desired, lambda o: o["spec"].update(a="set", b=None))
    out = dicts(describe_drift(desired, live))
    assert json.loads(json.dumps(out)) == [
        {"path": "spec.a", "kind": "type-changed", "desired": None, "live": "set"},
        {"path": "spec.b", "kind": "added", "live": None},
    ]


def _agreement_cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    def case(name: str, desired: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> Any:
        return pytest.param(desired, live_of(desired, edit), id=name)

    def rewrite(o: dict[str, Any]) -> None:
        o["spec"] = {"items": [{"name": "a", "x": 2}, "tail"], "map": {"q": [1]}, "new": {}}
        o["metadata"]["labels"]["team"] = "x"

    def reshape(o: dict[str, Any]) -> None:
        o["data"] = {"region": {"nested": "eu"}, "other": "1", "more": "2", "evenmore": "3"}

    return [
        case(
            "replace-rewrite",
            mirror(kind="Widget", spec={"items": [{"name": "a"}], "map": {"q": 1}}),
            rewrite,
        ),
        case(
            "merge-rewrite", mirror(kind="Widget", strategy="merge", spec={"items": [], "map": {}}), rewrite
        ),
        case("replace-reshape", mirror(data={"region": "eu"}), reshape),
        case("merge-reshape", mirror(strategy="merge", data={"region": "eu"}), reshape),
        case("body-gone", mirror(data={"region": "eu"}), lambda o: o.pop("data")),
        case(
            "secret",
            mirror(kind="Secret", data={"p": SECRET_B64}),
            lambda o: o["data"].update(p="eA==", q=""),
        ),
    ]


@pytest.mark.parametrize(("desired", "live"), _agreement_cases())
def test_describe_drift_and_reconcile_agree_on_what_differs(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    """Every described path lies at or under a path reconcile reports (lists and leaves are one
    path to reconcile), and every reconcile path is described."""
    paths = drift(desired, live)
    described = [c.path for c in describe_drift(desired, live)]
    assert paths and described

    def under(path: str, parent: str) -> bool:
        return path == parent or path.startswith((parent + ".", parent + "["))

    assert [p for p in described if not any(under(p, q) for q in paths)] == []
    assert [q for q in paths if not any(under(p, q) for p in described)] == []


def test_importing_the_module_does_not_import_deepdiff() -> None:
    code = "import sys, kubectl_mirror.engine.drift; print('deepdiff' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
