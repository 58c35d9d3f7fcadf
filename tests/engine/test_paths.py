from __future__ import annotations

import copy
from typing import Any

import pytest

from kubectl_mirror.engine.paths import (
    MISSING,
    PathError,
    delete_path,
    format_path,
    get_path,
    parse_path,
    set_path,
)
from kubectl_mirror.errors import TransformError


@pytest.mark.parametrize(
    ("text", "segs"),
    [
        ("data.LOG_LEVEL", ("data", "LOG_LEVEL")),
        (
            "spec.template.spec.containers[0].image",
            ("spec", "template", "spec", "containers", 0, "image"),
        ),
        ('data["app.properties"]', ("data", "app.properties")),
        ("data['app.properties']", ("data", "app.properties")),
        (
            'metadata.labels["app.kubernetes.io/name"]',
            ("metadata", "labels", "app.kubernetes.io/name"),
        ),
        (
            "metadata.annotations.namespace-specific",
            ("metadata", "annotations", "namespace-specific"),
        ),
        ("spec.containers[0].env[12].value", ("spec", "containers", 0, "env", 12, "value")),
        ("items[0][1]", ("items", 0, 1)),
        ('["kind"]', ("kind",)),
        (r'data["say \"hi\""]', ("data", 'say "hi"')),
        ("data.0", ("data", "0")),
    ],
)
def test_parse_path_splits_keys_indexes_and_quoted_keys(text: str, segs: tuple[Any, ...]) -> None:
    assert parse_path(text) == segs


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "path is empty"),
        ("data..key", "expected a key at position 5"),
        ("data.", "found end of path"),
        (".data", "expected a key at position 0"),
        ("items[0", "unclosed '['"),
        ("items[x]", "list index must be a non-negative integer, not 'x'"),
        ("items[-1]", "list index must be a non-negative integer"),
        ('data["key', "unclosed quote"),
        ('data["key"', "expected ']'"),
        ('data["a\\n"]', "bad escape"),
        ("data key", "expected '.' or '['"),
        ("items[0]x", "expected '.' or '['"),
    ],
)
def test_parse_path_rejects_bad_syntax_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(PathError) as info:
        parse_path(text)
    assert fragment in info.value.message
    assert isinstance(info.value, TransformError)


@pytest.mark.parametrize(
    "text",
    [
        "data.LOG_LEVEL",
        'data["app.properties"]',
        "spec.containers[3].image",
        'metadata.annotations["kubectl-mirror.io/transform"]',
        r'data["quote\"and\\backslash"]',
        'data["with space"]',
    ],
)
def test_format_path_round_trips_through_parse_path(text: str) -> None:
    segs = parse_path(text)
    assert parse_path(format_path(segs)) == segs


def test_format_path_quotes_only_keys_that_need_it() -> None:
    assert format_path(("data", "app.properties", "x", 0)) == 'data["app.properties"].x[0]'


OBJ: dict[str, Any] = {
    "metadata": {"name": "app", "labels": {"a": "1"}},
    "spec": {"containers": [{"name": "c0", "image": "old"}, {"name": "c1"}]},
    "data": None,
}


def test_get_path_reads_nested_maps_and_lists() -> None:
    assert get_path(OBJ, ("spec", "containers", 1, "name")) == "c1"


def test_get_path_returns_default_for_missing_keys_and_indexes() -> None:
    assert get_path(OBJ, ("metadata", "annotations"), default=None) is None
    assert get_path(OBJ, ("spec", "containers", 5), default=MISSING) is MISSING


def test_get_path_without_default_names_the_missing_field() -> None:
    with pytest.raises(PathError, match=r"metadata\.annotations does not exist"):
        get_path(OBJ, ("metadata", "annotations", "x"))


def test_get_path_reports_type_mismatch() -> None:
    with pytest.raises(PathError, match=r"spec\.containers is a list, not a mapping"):
        get_path(OBJ, ("spec", "containers", "name"))


def test_set_path_copies_containers_on_the_path_and_never_mutates_the_input() -> None:
    before = copy.deepcopy(OBJ)
    out = set_path(OBJ, ("spec", "containers", 0, "image"), "new")
    assert before == OBJ
    assert out["spec"]["containers"][0]["image"] == "new"
    assert out["spec"]["containers"][1] is OBJ["spec"]["containers"][1]  # untouched parts shared
    assert out["metadata"] is OBJ["metadata"]


def test_set_path_creates_missing_mappings() -> None:
    out = set_path(OBJ, ("metadata", "annotations", "team"), "blue")
    assert out["metadata"]["annotations"] == {"team": "blue"}
    assert "annotations" not in OBJ["metadata"]


def test_set_path_refuses_out_of_range_index() -> None:
    with pytest.raises(PathError, match=r"spec\.containers\[7\] is out of range \(the list has 2 items\)"):
        set_path(OBJ, ("spec", "containers", 7, "image"), "x")


def test_set_path_refuses_to_invent_a_list() -> None:
    with pytest.raises(PathError, match="cannot create a list"):
        set_path(OBJ, ("spec", "volumes", 0, "name"), "x")


def test_set_path_through_a_scalar_is_an_error() -> None:
    with pytest.raises(PathError, match=r"metadata\.name is a str, not a mapping"):
        set_path(OBJ, ("metadata", "name", "x"), "y")


def test_delete_path_removes_keys_and_list_items_without_mutating() -> None:
    before = copy.deepcopy(OBJ)
    out = delete_path(OBJ, ("metadata", "labels", "a"))
    assert out["metadata"]["labels"] == {}
    out = delete_path(OBJ, ("spec", "containers", 0))
    assert out["spec"]["containers"] == [{"name": "c1"}]
    assert before == OBJ


def test_delete_path_of_a_missing_field_returns_the_input_unchanged() -> None:
    assert delete_path(OBJ, ("metadata", "annotations", "x")) is OBJ
    assert delete_path(OBJ, ("data", "key")) is OBJ  # data: null has nothing to delete


def test_delete_path_of_the_whole_object_is_refused() -> None:
    with pytest.raises(PathError, match="cannot delete the whole object"):
        delete_path(OBJ, ())
