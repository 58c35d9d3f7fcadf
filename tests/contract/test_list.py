"""list: label and field selectors, limit/continue paging."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import body, configmap, namespace

LABELS = {
    "a": {"app": "web", "tier": "front"},
    "b": {"app": "web", "tier": "back"},
    "c": {"app": "db"},
    "d": {},
}


@pytest.fixture
def core(k8s_client, apiserver):
    for name, labels in LABELS.items():
        apiserver.create(configmap(name, labels=labels))
    return client.CoreV1Api(k8s_client)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", "ab"),
        ("app==web", "ab"),
        ("app!=web", "cd"),
        ("app in (web,db)", "abc"),
        ("app notin (web)", "cd"),
        ("tier", "ab"),
        ("!tier", "cd"),
        ("app=web,tier=back", "b"),
        ("app in (web),!tier", ""),
    ],
)
def test_label_selector(core, selector, expected):
    found = core.list_namespaced_config_map("default", label_selector=selector).items
    assert "".join(i.metadata.name for i in found) == expected


def test_malformed_label_selector_is_400(core):
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", label_selector="app in web")
    assert caught.value.status == 400
    assert body(caught.value)["reason"] == "BadRequest"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=b", "b"),
        ("metadata.name!=b", "acd"),
        ("metadata.namespace=default", "abcd"),
        ("metadata.namespace==other", ""),
    ],
)
def test_field_selector(core, selector, expected):
    found = core.list_namespaced_config_map("default", field_selector=selector).items
    assert "".join(i.metadata.name for i in found) == expected


def test_unsupported_field_selector_is_400(core):
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", field_selector="data.k=v")
    assert caught.value.status == 400
    assert "field label not supported" in body(caught.value)["message"]


def test_secret_type_field_selector(core, apiserver):
    core.create_namespaced_secret(
        "default",
        {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
    )
    core.create_namespaced_secret("default", {"metadata": {"name": "plain"}})
    found = core.list_namespaced_secret("default", field_selector="type=kubernetes.io/tls")
    assert [s.metadata.name for s in found.items] == ["tls"]


def test_list_across_namespaces_is_sorted_by_namespace_then_name(core, apiserver):
    apiserver.create(namespace("alpha"))
    apiserver.create(configmap("z", "alpha", labels={"app": "web"}))
    found = core.list_config_map_for_all_namespaces(label_selector="app=web").items
    assert [(i.metadata.namespace, i.metadata.name) for i in found] == [
        ("alpha", "z"),
        ("default", "a"),
        ("default", "b"),
    ]


def test_limit_and_continue_page_through_everything(core):
    first = core.list_namespaced_config_map("default", limit=3)
    assert [i.metadata.name for i in first.items] == ["a", "b", "c"]
    assert first.metadata.remaining_item_count == 1
    second = core.list_namespaced_config_map("default", limit=3, _continue=first.metadata._continue)
    assert [i.metadata.name for i in second.items] == ["d"]
    assert second.metadata._continue is None
    assert second.metadata.resource_version == first.metadata.resource_version


def test_paging_with_a_selector_has_no_remaining_count(core):
    page = core.list_namespaced_config_map("default", limit=1, label_selector="app=web")
    assert [i.metadata.name for i in page.items] == ["a"]
    assert page.metadata.remaining_item_count is None
    rest = core.list_namespaced_config_map(
        "default", limit=1, label_selector="app=web", _continue=page.metadata._continue
    )
    assert [i.metadata.name for i in rest.items] == ["b"]


def test_continue_token_from_before_compaction_is_410(core, apiserver):
    page = core.list_namespaced_config_map("default", limit=1)
    core.create_namespaced_config_map("default", configmap("e"))
    apiserver.faults.compact()
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", limit=1, _continue=page.metadata._continue)
    assert caught.value.status == 410
    assert body(caught.value)["reason"] == "Expired"


def test_dynamic_client_lists_with_selector(dynamic_client, core):
    cms = dynamic_client.resources.get(api_version="v1", kind="ConfigMap")
    found = cms.get(namespace="default", label_selector="tier")
    assert [i.metadata.name for i in found.items] == ["a", "b"]
