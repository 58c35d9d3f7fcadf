"""Server-side apply: field ownership per manager, conflicts, force, removal of dropped fields."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import body, crd, raw

APPLY = "application/apply-patch+yaml"


def cm(data, labels=None, name="a"):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


@pytest.fixture
def core(k8s_client):
    return client.CoreV1Api(k8s_client)


def apply(core, obj, manager, force=None, **kw):
    return core.patch_namespaced_config_map(
        obj["metadata"]["name"], "default", obj, field_manager=manager, force=force, _content_type=APPLY, **kw
    )


def owners(obj):
    return {e.manager: (e.operation, e.fields_v1) for e in obj.metadata.managed_fields}


def test_apply_creates_and_records_apply_ownership(core):
    made = apply(core, cm({"k": "v"}, {"app": "x"}), "mirror")
    assert made.data == {"k": "v"}
    assert owners(made) == {
        "mirror": ("Apply", {"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
    }


def test_apply_twice_with_same_config_writes_nothing(core, apiserver):
    first = apply(core, cm({"k": "v"}), "mirror")
    again = apply(core, cm({"k": "v"}), "mirror")
    assert again.metadata.resource_version == first.metadata.resource_version


def test_apply_conflicts_with_another_manager_field(core):
    apply(core, cm({"k": "v"}), "alice")
    with pytest.raises(ApiException) as caught:
        apply(core, cm({"k": "other"}), "bob")
    assert caught.value.status == 409
    status = body(caught.value)
    assert status["reason"] == "Conflict"
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice" using v1', "field": ".data.k"}
    ]
    assert status["message"].startswith("Apply failed with 1 conflict")


def test_apply_with_same_value_shares_ownership(core):
    apply(core, cm({"k": "v"}), "alice")
    shared = apply(core, cm({"k": "v"}), "bob")
    assert set(owners(shared)) == {"alice", "bob"}
    dropped = apply(core, cm({}), "alice")  # bob still owns k: it stays
    assert dropped.data == {"k": "v"}


def test_force_takes_ownership(core):
    apply(core, cm({"k": "v", "j": "1"}), "alice")
    taken = apply(core, cm({"k": "mine"}), "bob", force=True)
    assert taken.data == {"k": "mine", "j": "1"}
    assert owners(taken)["alice"][1] == {"f:data": {"f:j": {}}}
    assert owners(taken)["bob"][1] == {"f:data": {"f:k": {}}}


def test_fields_no_longer_applied_are_removed(core):
    apply(core, cm({"k": "v", "j": "1"}, {"app": "x", "old": "y"}), "mirror")
    done = apply(core, cm({"k": "v"}, {"app": "x"}), "mirror")
    assert done.data == {"k": "v"}
    assert done.metadata.labels == {"app": "x"}


def test_fields_set_by_an_update_survive_an_apply_that_omits_them(core):
    apply(core, cm({"k": "v"}), "mirror")
    core.patch_namespaced_config_map(
        "a",
        "default",
        {"data": {"extra": "1"}},
        field_manager="kubectl-edit",
        _content_type="application/merge-patch+json",
    )
    done = apply(core, cm({"k": "v2"}), "mirror")
    assert done.data == {"k": "v2", "extra": "1"}


def test_update_manager_changing_applied_field_makes_apply_conflict(core):
    apply(core, cm({"k": "v"}), "mirror")
    core.patch_namespaced_config_map(
        "a",
        "default",
        {"data": {"k": "hand-edit"}},
        field_manager="kubectl-edit",
        _content_type="application/merge-patch+json",
    )
    with pytest.raises(ApiException) as caught:
        apply(core, cm({"k": "v"}), "mirror")
    assert body(caught.value)["details"]["causes"][0]["message"] == ('conflict with "kubectl-edit" using v1')
    assert apply(core, cm({"k": "v"}), "mirror", force=True).data == {"k": "v"}


def test_apply_without_field_manager_is_422(apiserver):
    code, _, status = raw(
        apiserver.url,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a",
        yaml.safe_dump(cm({"k": "v"})).encode(),
        content_type=APPLY,
    )
    assert code == 422
    assert status["details"]["causes"][0]["field"] == "fieldManager"


def test_apply_body_needs_kind_and_api_version(apiserver):
    code, _, _ = raw(
        apiserver.url,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/a?fieldManager=m",
        b"metadata: {name: a}\ndata: {k: v}\n",
        content_type=APPLY,
    )
    assert code == 400


def test_apply_dry_run_changes_nothing(core, apiserver):
    made = apply(core, cm({"k": "v"}, name="dry"), "mirror", dry_run="All")
    assert made.data == {"k": "v"}
    assert apiserver.store.get("configmaps", "default", "dry") is None


def test_apply_custom_resource_with_dynamic_client(apiserver, dynamic_client):
    apiserver.create(crd())
    widgets = dynamic_client.resources.get(api_version="example.com/v1", kind="Widget")
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "color": "red"},
    }
    widgets.server_side_apply(body=obj, namespace="default", field_manager="mirror")
    obj["spec"] = {"size": 2}
    done = widgets.server_side_apply(body=obj, namespace="default", field_manager="mirror")
    assert done.spec.to_dict() == {"size": 2}
    assert done.metadata.generation == 2


def test_managed_fields_can_be_reset_with_an_empty_entry(core):
    apply(core, cm({"k": "v"}), "mirror")
    done = core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"managedFields": [{}]}}, _content_type="application/merge-patch+json"
    )
    assert done.metadata.managed_fields is None
