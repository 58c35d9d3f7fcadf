"""Discovery: /version, /api, /apis and resource lists, as kubectl and DynamicClient use them."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from .helpers import crd, raw

BUILTINS = [
    ("v1", "Namespace", False),
    ("v1", "ConfigMap", True),
    ("v1", "Secret", True),
    ("v1", "Service", True),
    ("v1", "ServiceAccount", True),
    ("v1", "Pod", True),
    ("v1", "Event", True),
    ("coordination.k8s.io/v1", "Lease", True),
    ("rbac.authorization.k8s.io/v1", "Role", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", True),
    ("apps/v1", "Deployment", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", False),
]


def test_version_reports_a_1_32_server(k8s_client):
    info = client.VersionApi(k8s_client).get_code()
    assert (info.major, info.minor) == ("1", "32")
    assert info.git_version.startswith("v1.32")


def test_api_groups_list_every_builtin_group(k8s_client):
    groups = client.ApisApi(k8s_client).get_api_versions().groups
    names = {g.name for g in groups}
    assert {"apps", "coordination.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io"} <= names
    assert all(g.preferred_version.group_version.startswith(g.name) for g in groups)
    assert client.CoreApi(k8s_client).get_api_versions().versions == ["v1"]


def test_core_resource_list_has_flags_verbs_and_short_names(k8s_client):
    resources = {r.name: r for r in client.CoreV1Api(k8s_client).get_api_resources().resources}
    cm = resources["configmaps"]
    assert (cm.kind, cm.namespaced, cm.short_names) == ("ConfigMap", True, ["cm"])
    assert set(cm.verbs) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert resources["namespaces"].namespaced is False
    assert "deletecollection" not in resources["namespaces"].verbs
    assert "pods/status" in resources


@pytest.mark.parametrize(("api_version", "kind", "namespaced"), BUILTINS)
def test_dynamic_client_discovers_builtin_kind(dynamic_client, api_version, kind, namespaced):
    resource = dynamic_client.resources.get(api_version=api_version, kind=kind)
    assert resource.namespaced is namespaced


def test_crd_kind_is_served_once_created_and_gone_once_deleted(k8s_client, tmp_path):
    ext = client.ApiextensionsV1Api(k8s_client)
    ext.create_custom_resource_definition(crd())
    dc = DynamicClient(k8s_client, cache_file=str(tmp_path / "c1.json"))
    widgets = dc.resources.get(api_version="example.com/v1", kind="Widget")
    assert widgets.short_names == ["wd"]
    widgets.create(
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1},
        },
        namespace="default",
    )
    assert widgets.get(name="w", namespace="default").spec.size == 1

    ext.delete_custom_resource_definition("widgets.example.com")
    dc = DynamicClient(k8s_client, cache_file=str(tmp_path / "c2.json"))
    with pytest.raises(ResourceNotFoundError):
        dc.resources.get(api_version="example.com/v1", kind="Widget")
    groups = {g.name for g in client.ApisApi(k8s_client).get_api_versions().groups}
    assert "example.com" not in groups


def test_crd_status_says_established(k8s_client):
    created = client.ApiextensionsV1Api(k8s_client).create_custom_resource_definition(crd())
    conditions = {c.type: c.status for c in created.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert created.status.accepted_names.kind == "Widget"


def test_crd_with_wrong_name_is_invalid(k8s_client):
    bad = crd()
    bad["metadata"]["name"] = "widgets"
    with pytest.raises(client.ApiException) as caught:
        client.ApiextensionsV1Api(k8s_client).create_custom_resource_definition(bad)
    assert caught.value.status == 422


def test_unknown_path_is_a_404_status(apiserver):
    code, _, status = raw(apiserver.url, "GET", "/apis/nope.example.com/v1")
    assert code == 404
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    code, _, _ = raw(apiserver.url, "GET", "/api/v1/namespaces/default/nothings")
    assert code == 404


def test_openapi_v3_index_advertises_field_validation(apiserver):
    code, _, index = raw(apiserver.url, "GET", "/openapi/v3")
    assert code == 200
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    code, _, doc = raw(apiserver.url, "GET", url)
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}} in patch["parameters"]


@pytest.mark.e2e
def test_kubectl_api_resources_lists_builtins_and_crds(kubectl, apiserver):
    apiserver.create(crd())
    out = kubectl("api-resources").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["configmaps"][1:] == ["cm", "v1", "true", "ConfigMap"]
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["widgets"][1:] == ["wd", "example.com/v1", "true", "Widget"]
    assert rows["leases"][1:] == ["coordination.k8s.io/v1", "true", "Lease"]


@pytest.mark.e2e
def test_kubectl_get_by_short_name_and_custom_columns(kubectl, apiserver):
    apiserver.create(crd())
    apiserver.create(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {"size": "L"},
        }
    )
    out = kubectl("get", "wd").stdout.splitlines()
    assert out[0].split() == ["NAME", "SIZE", "AGE"]
    assert out[1].split()[:2] == ["w", "L"]
    assert "kube-system" in kubectl("get", "ns").stdout
