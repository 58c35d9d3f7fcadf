from __future__ import annotations

import pytest

from kubectl_mirror.engine.selectors import SelectorError, parse_selector, selector_from_struct


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("env=prod", {"env": "prod"}, True),
        ("env==prod", {"env": "prod"}, True),
        ("env!=prod", {"env": "prod"}, False),
        ("env!=prod", {}, True),
        ("env in (prod,staging)", {"env": "staging"}, True),
        ("env notin (prod,staging)", {"env": "dev"}, True),
        ("env notin (prod)", {}, True),
        ("env", {"env": ""}, True),
        ("!legacy", {"legacy": "x"}, False),
        ("env in (prod, staging),!legacy", {"env": "prod"}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_string_selector_matches_like_the_api_server(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    assert parse_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    "text", ["env in (prod", "env in ()", "=x", "env=a b", "Bad Key=1", "a,,b", f"k={'x' * 64}"]
)
def test_invalid_selector_text_is_rejected(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)


def test_structured_selector_combines_labels_and_expressions() -> None:
    sel = selector_from_struct(
        {
            "matchLabels": {"team": "a"},
            "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}],
        }
    )
    assert sel.matches({"team": "a", "env": "prod"})
    assert not sel.matches({"team": "a", "env": "dev"})
    assert sel.text == "team=a,env!=dev"


@pytest.mark.parametrize(
    "data",
    [
        {"matchExpressions": [{"key": "a", "operator": "Bogus"}]},
        {"matchExpressions": [{"key": "a", "operator": "In"}]},
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        {"matchLabels": ["a"]},
        {"other": {}},
    ],
)
def test_invalid_structured_selector_is_rejected(data: object) -> None:
    with pytest.raises(SelectorError):
        selector_from_struct(data)
