"""The validation a real server does that mirroring runs into, with real Status bodies."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import body, configmap

MERGE = "application/merge-patch+json"


@pytest.fixture
def core(k8s_client):
    return client.CoreV1Api(k8s_client)


def invalid(call):
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 422
    status = body(caught.value)
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    return status


def test_secret_type_is_immutable(core):
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "type": "Opaque"})
    status = invalid(
        lambda: core.patch_namespaced_secret(
            "s", "default", {"type": "example.com/other"}, _content_type=MERGE
        )
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "type",
            "message": 'Invalid value: "example.com/other": field is immutable',
        }
    ]
    assert status["message"].startswith('Secret "s" is invalid: type:')


def test_immutable_configmap_data_cannot_change(core):
    core.create_namespaced_config_map("default", {**configmap("a"), "immutable": True})
    status = invalid(
        lambda: core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}}, _content_type=MERGE)
    )
    assert status["details"]["causes"][0]["field"] == "data"
    labeled = core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"labels": {"ok": "1"}}}, _content_type=MERGE
    )
    assert labeled.metadata.labels == {"ok": "1"}  # metadata may still change
    invalid(
        lambda: core.patch_namespaced_config_map("a", "default", {"immutable": False}, _content_type=MERGE)
    )


def test_immutable_secret_data_cannot_change(core):
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "immutable": True, "data": {"k": "dg=="}}
    )
    invalid(
        lambda: core.patch_namespaced_secret("s", "default", {"data": {"k": "dw=="}}, _content_type=MERGE)
    )


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "a" * 254, "dot."])
def test_configmap_names_must_be_dns_subdomains(core, name):
    status = invalid(lambda: core.create_namespaced_config_map("default", configmap(name)))
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_namespace_names_must_be_dns_labels(core):
    status = invalid(lambda: core.create_namespace({"metadata": {"name": "a.b"}}))
    assert "RFC 1123 label" in status["message"]


def test_label_values_are_at_most_63_characters(core):
    status = invalid(
        lambda: core.create_namespaced_config_map("default", configmap("a", labels={"k": "v" * 64}))
    )
    assert status["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "field": "metadata.labels",
        "message": f'Invalid value: "{"v" * 64}": must be no more than 63 characters',
    }


def test_label_keys_must_be_qualified_names(core):
    invalid(lambda: core.create_namespaced_config_map("default", configmap("a", labels={"bad key": "v"})))


def test_configmap_over_1_mib_is_rejected(core):
    big = "x" * (1024 * 1024)
    status = invalid(lambda: core.create_namespaced_config_map("default", configmap("a", data={"big": big})))
    assert status["details"]["causes"][0]["reason"] == "FieldValueTooLong"


def test_configmap_keys_must_be_config_keys(core):
    status = invalid(
        lambda: core.create_namespaced_config_map("default", configmap("a", data={"bad/key": "v"}))
    )
    assert status["details"]["causes"][0]["field"] == "data[bad/key]"


def test_tls_secret_needs_its_keys(core):
    invalid(
        lambda: core.create_namespaced_secret(
            "default", {"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {}}
        )
    )


def test_secret_data_must_be_base64(apiserver):
    from .helpers import raw

    code, _, status = raw(
        apiserver.url,
        "POST",
        "/api/v1/namespaces/default/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"}},
    )
    assert code == 400 and status["reason"] == "BadRequest"


def test_create_with_resource_version_is_400(core):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("a", resourceVersion="5"))
    assert caught.value.status == 400


def test_body_namespace_must_match_the_url(core, apiserver):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("a", "kube-system"))
    assert caught.value.status == 400


def test_request_bodies_over_3_mib_are_413(apiserver):
    from .helpers import raw

    code, _, status = raw(
        apiserver.url,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}",
    )
    assert code == 413 and status["reason"] == "RequestEntityTooLarge"
