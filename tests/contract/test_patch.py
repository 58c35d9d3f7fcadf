"""PATCH in merge, JSON and strategic merge flavours."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import body, configmap, crd

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


@pytest.fixture
def core(k8s_client, apiserver):
    apiserver.create(
        configmap(
            "a", labels={"app": "x", "keep": "1"}, data={"k": "v", "j": "w"}, finalizers=["example.com/a"]
        )
    )
    return client.CoreV1Api(k8s_client)


def test_merge_patch_sets_and_removes_keys(core):
    done = core.patch_namespaced_config_map(
        "a",
        "default",
        {"data": {"k": None, "n": "1"}, "metadata": {"labels": {"app": None}}},
        _content_type=MERGE,
    )
    assert done.data == {"j": "w", "n": "1"}
    assert done.metadata.labels == {"keep": "1"}


def test_merge_patch_replaces_lists_whole(core):
    done = core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"finalizers": ["example.com/b"]}}, _content_type=MERGE
    )
    assert done.metadata.finalizers == ["example.com/b"]


def test_json_patch_operations(core):
    done = core.patch_namespaced_config_map(
        "a",
        "default",
        [
            {"op": "test", "path": "/data/k", "value": "v"},
            {"op": "replace", "path": "/data/k", "value": "v2"},
            {"op": "add", "path": "/metadata/labels/new~1key", "value": "y"},
            {"op": "remove", "path": "/data/j"},
            {"op": "copy", "from": "/data/k", "path": "/data/copy"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/z"},
        ],
        _content_type=JSON_PATCH,
    )
    assert done.data == {"k": "v2", "copy": "v2"}
    assert done.metadata.labels["new/key"] == "y"
    assert done.metadata.finalizers == ["example.com/a", "example.com/z"]


def test_json_patch_failed_test_is_422_and_changes_nothing(core):
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a",
            "default",
            [
                {"op": "replace", "path": "/data/k", "value": "changed"},
                {"op": "test", "path": "/data/j", "value": "nope"},
            ],
            _content_type=JSON_PATCH,
        )
    assert caught.value.status == 422
    assert core.read_namespaced_config_map("a", "default").data["k"] == "v"


def test_strategic_merge_patch_merges_maps(core):
    done = core.patch_namespaced_config_map(
        "a", "default", {"data": {"n": "1", "j": None}}, _content_type=STRATEGIC
    )
    assert done.data == {"k": "v", "n": "1"}


def test_strategic_merge_patch_adds_to_finalizers_instead_of_replacing(core):
    done = core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"finalizers": []}}, _content_type=STRATEGIC
    )
    assert done.metadata.finalizers == ["example.com/a"]  # as on a real server
    done = core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"finalizers": ["example.com/b"]}}, _content_type=STRATEGIC
    )
    assert done.metadata.finalizers == ["example.com/a", "example.com/b"]


def test_strategic_merge_patch_merges_containers_by_name(k8s_client):
    apps = client.AppsV1Api(k8s_client)
    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
                            {"name": "side", "image": "side:1"},
                        ]
                    },
                },
            },
        },
    )
    done = apps.patch_namespaced_deployment(
        "d",
        "default",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]},
                            {"name": "side", "$patch": "delete"},
                        ]
                    }
                }
            }
        },
        _content_type=STRATEGIC,
    )
    containers = done.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("app", "app:2")]
    assert [(e.name, e.value) for e in containers[0].env] == [("A", "1"), ("B", "2")]


def test_strategic_merge_patch_on_custom_resource_is_415(apiserver, k8s_client):
    apiserver.create(crd())
    apiserver.create(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}}
    )
    api = client.CustomObjectsApi(k8s_client)
    with pytest.raises(ApiException) as caught:
        api.patch_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w", {"spec": {"size": 2}}, _content_type=STRATEGIC
        )
    assert caught.value.status == 415
    done = api.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w", {"spec": {"size": 2}}, _content_type=MERGE
    )
    assert done["spec"] == {"size": 2}


def test_patch_carrying_a_stale_resource_version_is_409(core):
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a", "default", {"metadata": {"resourceVersion": "1"}, "data": {"k": "x"}}, _content_type=MERGE
        )
    assert caught.value.status == 409


def test_patch_of_missing_object_is_404(core):
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("zz", "default", {"data": {}}, _content_type=MERGE)
    assert caught.value.status == 404


def test_patch_that_renames_is_400(core):
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("a", "default", {"metadata": {"name": "b"}}, _content_type=MERGE)
    assert caught.value.status == 400
    assert body(caught.value)["reason"] == "BadRequest"


def test_patch_records_an_update_manager(core):
    done = core.patch_namespaced_config_map(
        "a", "default", {"data": {"n": "1"}}, field_manager="mirror", _content_type=MERGE
    )
    entry = next(e for e in done.metadata.managed_fields if e.manager == "mirror")
    assert entry.operation == "Update"
    assert entry.fields_v1 == {"f:data": {"f:n": {}}}
