"""Test hooks: injected failures and latency, closing watches, and the request log."""

from __future__ import annotations

import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import body, configmap, raw


@pytest.fixture
def core(k8s_client):
    return client.CoreV1Api(k8s_client)


def test_fail_next_n_matching_requests_then_recover(core, apiserver):
    rule = apiserver.faults.fail(500, verb="create", resource="configmaps", times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_config_map("default", configmap("a"))
        assert caught.value.status == 500
        assert body(caught.value)["reason"] == "InternalError"
    assert core.create_namespaced_config_map("default", configmap("a")).metadata.name == "a"
    assert rule.hits == 2 and rule.times == 0


def test_failed_requests_do_not_take_effect(core, apiserver):
    apiserver.faults.fail(503, verb="create")
    with pytest.raises(ApiException):
        core.create_namespaced_config_map("default", configmap("a"))
    assert apiserver.store.get("configmaps", "default", "a") is None


def test_fail_after_applies_the_write_but_reports_an_error(core, apiserver):
    apiserver.faults.fail(504, verb="create", after=True)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", configmap("a"))
    assert caught.value.status == 504
    assert apiserver.store.get("configmaps", "default", "a") is not None


def test_429_carries_retry_after(apiserver):
    apiserver.faults.fail(429, verb="list", retry_after=7)
    code, headers, status = raw(apiserver.url, "GET", "/api/v1/namespaces/default/configmaps")
    assert code == 429
    assert headers["Retry-After"] == "7"
    assert status["reason"] == "TooManyRequests"
    assert status["details"] == {"retryAfterSeconds": 7}


def test_python_client_retries_429_after_the_given_delay(core, apiserver):
    """urllib3 honours Retry-After on 429/503 by itself: callers never see one 429."""
    apiserver.faults.fail(429, verb="list", retry_after=1)
    started = time.monotonic()
    core.list_namespaced_config_map("default")
    assert time.monotonic() - started >= 1
    assert [r.status for r in apiserver.log.filter(verb="list")] == [429, 200]


def test_injected_409_is_a_conflict(core, apiserver):
    core.create_namespaced_config_map("default", configmap("a"))
    apiserver.faults.fail(409, verb="patch", name="a")
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    assert body(caught.value)["reason"] == "Conflict"


def test_rules_only_match_their_resource_and_namespace(core, apiserver):
    apiserver.faults.fail(500, resource="secrets", times=None)
    apiserver.faults.fail(500, namespace="kube-system", times=None)
    core.create_namespaced_config_map("default", configmap("a"))
    with pytest.raises(ApiException):
        core.list_namespaced_secret("default")
    with pytest.raises(ApiException):
        core.list_namespaced_config_map("kube-system")


def test_latency_is_added(core, apiserver):
    apiserver.faults.delay(0.3, verb="get", times=1)
    core.create_namespaced_config_map("default", configmap("a"))
    started = time.monotonic()
    core.read_namespaced_config_map("a", "default")
    assert time.monotonic() - started >= 0.3


def test_request_log_counts_by_verb_and_resource(core, apiserver):
    core.create_namespaced_config_map("default", configmap("a"))
    core.read_namespaced_config_map("a", "default")
    core.list_namespaced_config_map("default")
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}}, dry_run="All")
    counts = apiserver.log.counts()
    assert counts[("create", "configmaps")] == 1
    assert counts[("get", "configmaps")] == 1
    assert counts[("list", "configmaps")] == 1
    assert [r.verb for r in apiserver.log.writes()] == ["create"]  # dry runs are not writes
    record = apiserver.log.filter(verb="create")[0]
    assert (record.namespace, record.status, record.path) == (
        "default",
        201,
        "/api/v1/namespaces/default/configmaps",
    )


def test_a_second_identical_sync_makes_zero_writes(core, apiserver):
    """The kind of assertion later features make: idempotent apply costs reads only."""

    def sync():
        core.patch_namespaced_config_map(
            "m",
            "default",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"k": "v"}},
            field_manager="kubectl-mirror",
            force=True,
            _content_type="application/apply-patch+yaml",
        )

    sync()
    rv = apiserver.store.rv
    apiserver.log.clear()
    sync()
    assert apiserver.store.rv == rv  # the server made no write...
    assert apiserver.log.count(verb="patch") == 1  # ...though the client did send one


def test_reset_gives_a_fresh_cluster(core, apiserver):
    core.create_namespaced_config_map("default", configmap("a"))
    apiserver.faults.fail(500, times=None, verb="get")
    rv = apiserver.store.rv
    apiserver.reset()
    assert core.list_namespaced_config_map("default").items == []
    assert [n.metadata.name for n in core.list_namespace().items] == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]
    assert apiserver.store.rv > rv  # never reused
    assert apiserver.log.count(verb="list") == 2
