"""get, create, update, delete: status codes, Status bodies and server-set metadata."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import body, configmap, crd, namespace, raw


@pytest.fixture
def core(k8s_client):
    return client.CoreV1Api(k8s_client)


def test_create_sets_uid_timestamp_and_resource_version(core):
    made = core.create_namespaced_config_map("default", configmap("a"))
    assert len(made.metadata.uid) == 36
    assert made.metadata.creation_timestamp is not None
    assert int(made.metadata.resource_version) > 0
    assert made.metadata.generation is None  # ConfigMaps carry no generation, as in k8s


def test_resource_version_is_one_counter_across_kinds(core, k8s_client):
    a = core.create_namespaced_config_map("default", configmap("a"))
    s = core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    b = core.create_namespaced_config_map("default", configmap("b"))
    rvs = [int(o.metadata.resource_version) for o in (a, s, b)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    listed = core.list_namespaced_config_map("default")
    assert int(listed.metadata.resource_version) >= rvs[-1]


def test_create_existing_name_is_409_already_exists(core):
    core.create_namespaced_config_map("default", configmap("a"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("a"))
    assert caught.value.status == 409
    status = body(caught.value)
    assert status["reason"] == "AlreadyExists"
    assert status["details"] == {"name": "a", "kind": "configmaps"}
    assert status["message"] == 'configmaps "a" already exists'


def test_generate_name_appends_five_random_characters(core):
    made = core.create_namespaced_config_map("default", {"metadata": {"generateName": "mirror-"}, "data": {}})
    assert made.metadata.name.startswith("mirror-") and len(made.metadata.name) == 12


def test_create_in_missing_namespace_is_404_for_the_namespace(core):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("nowhere", configmap("a", "nowhere"))
    assert caught.value.status == 404
    assert body(caught.value)["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_create_in_terminating_namespace_is_403(core, apiserver):
    core.create_namespace(namespace("doomed"))
    core.create_namespaced_config_map("doomed", configmap("held", "doomed", finalizers=["example.com/hold"]))
    core.delete_namespace("doomed")
    assert core.read_namespace("doomed").status.phase == "Terminating"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("doomed", configmap("new", "doomed"))
    assert caught.value.status == 403
    status = body(caught.value)
    assert status["reason"] == "Forbidden"
    assert status["details"]["causes"][0]["reason"] == "NamespaceTerminating"


def test_get_missing_is_404_with_group_in_details(k8s_client):
    with pytest.raises(ApiException) as caught:
        client.AppsV1Api(k8s_client).read_namespaced_deployment("nope", "default")
    assert body(caught.value)["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    assert body(caught.value)["message"] == 'deployments.apps "nope" not found'


def test_update_with_stale_resource_version_is_409_conflict(core):
    first = core.create_namespaced_config_map("default", configmap("a"))
    first.data = {"k": "2"}
    core.replace_namespaced_config_map("a", "default", first)
    first.data = {"k": "3"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("a", "default", first)
    assert caught.value.status == 409
    assert body(caught.value)["reason"] == "Conflict"
    assert "the object has been modified" in body(caught.value)["message"]


def test_update_without_resource_version_is_unconditional_for_configmaps(core):
    core.create_namespaced_config_map("default", configmap("a"))
    done = core.replace_namespaced_config_map("a", "default", configmap("a", data={"k": "2"}))
    assert done.data == {"k": "2"}


def test_update_of_custom_resource_needs_a_resource_version(apiserver, dynamic_client):
    apiserver.create(crd())
    widgets = dynamic_client.resources.get(api_version="example.com/v1", kind="Widget")
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    widgets.create(body=obj, namespace="default")
    with pytest.raises(ApiException) as caught:
        widgets.replace(body=obj, namespace="default")
    assert caught.value.status == 422


def test_update_of_missing_object_is_404(core):
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("a", "default", configmap("a"))
    assert caught.value.status == 404


def test_update_that_changes_nothing_keeps_the_resource_version(core):
    made = core.create_namespaced_config_map("default", configmap("a"))
    again = core.replace_namespaced_config_map("a", "default", made)
    assert again.metadata.resource_version == made.metadata.resource_version


def test_generation_bumps_on_spec_change_only(k8s_client):
    apps = client.AppsV1Api(k8s_client)
    dep = {
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    made = apps.create_namespaced_deployment("default", dep)
    assert made.metadata.generation == 1
    labeled = apps.patch_namespaced_deployment("d", "default", {"metadata": {"labels": {"x": "y"}}})
    assert labeled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("d", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_status_subresource_changes_only_status(apiserver, dynamic_client):
    apiserver.create(crd(status=True))
    widgets = dynamic_client.resources.get(api_version="example.com/v1", kind="Widget")
    widgets.create(
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1},
            "status": {"ignored": True},
        },
        namespace="default",
    )
    got = widgets.get(name="w", namespace="default")
    assert "status" not in got.to_dict()
    patched = widgets.status.patch(
        name="w",
        namespace="default",
        body={"status": {"ready": True}, "spec": {"size": 9}},
        content_type="application/merge-patch+json",
    )
    assert patched.status.ready is True and patched.spec.size == 1
    assert patched.metadata.generation == 1


def test_delete_returns_success_status_and_removes(core):
    made = core.create_namespaced_config_map("default", configmap("a"))
    status = core.delete_namespaced_config_map("a", "default")  # a dict: Status or object
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"] == {"name": "a", "kind": "configmaps", "uid": made.metadata.uid}
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("a", "default")


def test_delete_with_finalizer_marks_and_keeps_until_cleared(core):
    core.create_namespaced_config_map("default", configmap("a", finalizers=["example.com/x"]))
    core.delete_namespaced_config_map("a", "default")
    held = core.read_namespaced_config_map("a", "default")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a",
            "default",
            {"metadata": {"finalizers": ["example.com/x", "example.com/new"]}},
            _content_type="application/merge-patch+json",
        )
    assert caught.value.status == 422
    core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("a", "default")
    assert caught.value.status == 404


def test_delete_with_stale_precondition_is_409(core):
    core.create_namespaced_config_map("default", configmap("a"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_config_map(
            "a",
            "default",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1")),
        )
    assert caught.value.status == 409


def test_deleting_a_namespace_deletes_its_content(core):
    core.create_namespace(namespace("team"))
    for name in ("a", "b"):
        core.create_namespaced_config_map("team", configmap(name, "team"))
    core.create_namespaced_secret("team", {"metadata": {"name": "s"}})
    core.delete_namespace("team")
    assert core.list_namespaced_config_map("team").items == []
    assert core.list_namespaced_secret("team").items == []
    with pytest.raises(ApiException):
        core.read_namespace("team")


def test_namespace_waits_for_finalized_content(core):
    core.create_namespace(namespace("team"))
    core.create_namespaced_config_map("team", configmap("held", "team", finalizers=["x.io/y"]))
    core.delete_namespace("team")
    assert core.read_namespace("team").status.phase == "Terminating"
    core.patch_namespaced_config_map(
        "held", "team", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    with pytest.raises(ApiException) as caught:
        core.read_namespace("team")
    assert caught.value.status == 404


def test_deletecollection_by_label(core):
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map("default", configmap(name, labels={"app": app}))
    core.delete_collection_namespaced_config_map("default", label_selector="app=x")
    assert [i.metadata.name for i in core.list_namespaced_config_map("default").items] == ["c"]


def test_deleting_a_crd_deletes_its_objects(apiserver, k8s_client, dynamic_client):
    apiserver.create(crd())
    apiserver.create(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}}
    )
    client.ApiextensionsV1Api(k8s_client).delete_custom_resource_definition("widgets.example.com")
    assert apiserver.store.count("widgets.example.com") == 0
    code, _, _ = raw(apiserver.url, "GET", "/apis/example.com/v1/namespaces/default/widgets")
    assert code == 404


@pytest.mark.parametrize("verb", ["create", "update", "patch", "delete", "deletecollection"])
def test_dry_run_all_changes_nothing(core, apiserver, verb):
    core.create_namespaced_config_map("default", configmap("a"))
    before = apiserver.store.rv
    apiserver.log.clear()
    if verb == "create":
        made = core.create_namespaced_config_map("default", configmap("b"), dry_run="All")
        assert made.metadata.uid and not made.metadata.resource_version
    elif verb == "update":
        done = core.replace_namespaced_config_map(
            "a", "default", configmap("a", data={"k": "2"}), dry_run="All"
        )
        assert done.data == {"k": "2"}
    elif verb == "patch":
        done = core.patch_namespaced_config_map("a", "default", {"data": {"k": "3"}}, dry_run="All")
        assert done.data == {"k": "3"}
    elif verb == "delete":
        core.delete_namespaced_config_map("a", "default", dry_run="All")
    else:
        core.delete_collection_namespaced_config_map("default", dry_run="All")
    assert apiserver.store.rv == before
    assert core.read_namespaced_config_map("a", "default").data == {"k": "v"}
    assert apiserver.log.writes() == []


def test_list_items_carry_no_kind_like_typed_lists(apiserver, core):
    core.create_namespaced_config_map("default", configmap("a"))
    _, _, listed = raw(apiserver.url, "GET", "/api/v1/namespaces/default/configmaps")
    assert listed["kind"] == "ConfigMapList"
    assert "kind" not in listed["items"][0]


def test_secret_string_data_is_folded_into_data(core):
    made = core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"pw": "hunter2"}}
    )
    assert made.data == {"pw": "aHVudGVyMg=="}
    assert made.type == "Opaque"
    assert made.string_data is None


def test_namespace_defaults_seed_service_account_and_root_ca(apiserver, core):
    apiserver.api.namespace_defaults = True
    core.create_namespace(namespace("fresh"))
    assert [c.metadata.name for c in core.list_namespaced_config_map("fresh").items] == ["kube-root-ca.crt"]
    assert core.read_namespaced_service_account("default", "fresh")


def test_put_creates_a_missing_lease(k8s_client):
    leases = client.CoordinationV1Api(k8s_client)
    lease = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me"}}
    made = leases.replace_namespaced_lease("leader", "default", lease)
    assert made.spec.holder_identity == "me" and made.metadata.uid
    assert leases.read_namespaced_lease("leader", "default").spec.holder_identity == "me"


def test_rbac_names_are_path_segments(k8s_client):
    rbac = client.RbacAuthorizationV1Api(k8s_client)
    made = rbac.create_namespaced_role("default", {"metadata": {"name": "system:Mirror"}, "rules": []})
    assert made.metadata.name == "system:Mirror"
