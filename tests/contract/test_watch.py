"""watch: replay from a resourceVersion, live events, selectors, bookmarks, timeouts, 410."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from .helpers import configmap, wait_for


@pytest.fixture
def core(k8s_client):
    return client.CoreV1Api(k8s_client)


def events(core, *, count=None, seconds=1, namespace="default", **kw):
    """Watch events as (type, name, rv); stops after `count` of them or `seconds`."""
    w = watch.Watch()
    out = []
    for ev in w.stream(core.list_namespaced_config_map, namespace, timeout_seconds=seconds, **kw):
        obj = ev["object"]
        if ev["type"] == "BOOKMARK":  # the typed client hands bookmarks over as dicts
            out.append(("BOOKMARK", None, obj["metadata"]["resourceVersion"]))
        else:
            out.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
        if count is not None and len(out) >= count:
            w.stop()
    return out


def test_replay_from_resource_version_yields_added_modified_deleted(core):
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("a"))
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    core.delete_namespaced_config_map("a", "default")
    seen = events(core, count=3, resource_version=start)
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    rvs = [int(rv) for _, _, rv in seen]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_watch_without_resource_version_starts_with_current_objects(core, apiserver):
    apiserver.create(configmap("a"))
    apiserver.create(configmap("b"))
    assert [(t, n) for t, n, _ in events(core, count=2)] == [("ADDED", "a"), ("ADDED", "b")]


def test_live_events_arrive_while_watching(core, k8s_client):
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    got = []
    w = watch.Watch()

    def consume():
        for ev in w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
        ):
            got.append((ev["type"], ev["object"].metadata.name))
            if len(got) == 2:
                w.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.2)
    core.create_namespaced_config_map("default", configmap("live"))
    core.delete_namespaced_config_map("live", "default")
    thread.join(10)
    assert got == [("ADDED", "live"), ("DELETED", "live")]


def test_label_selector_watch_sees_objects_enter_and_leave(core):
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("a", labels={"app": "x"}))
    core.create_namespaced_config_map("default", configmap("other"))
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": "y"}}})
    core.patch_namespaced_config_map("other", "default", {"metadata": {"labels": {"app": "x"}}})
    seen = events(core, count=3, resource_version=rv, label_selector="app=x")
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "other")]


def test_field_selector_watch(core):
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    for name in ("a", "b"):
        core.create_namespaced_config_map("default", configmap(name))
    seen = events(core, resource_version=rv, field_selector="metadata.name=b")
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "b")]


def test_watch_all_namespaces(core, apiserver):
    apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n2"}})
    rv = str(apiserver.store.rv)
    apiserver.create(configmap("x", "n2"))
    apiserver.create(configmap("y"))
    w = watch.Watch()
    seen = [
        (e["object"].metadata.namespace, e["object"].metadata.name)
        for e in w.stream(core.list_config_map_for_all_namespaces, resource_version=rv, timeout_seconds=1)
    ]
    assert seen == [("n2", "x"), ("default", "y")]


def test_bookmarks_carry_the_current_resource_version(core, apiserver):
    core.create_namespaced_config_map("default", configmap("a"))
    rv = apiserver.store.rv
    seen = events(core, count=2, resource_version=str(rv), allow_watch_bookmarks=True)
    bookmarks = [r for t, _, r in seen if t == "BOOKMARK"]
    assert bookmarks and all(int(b) == rv for b in bookmarks)


def test_send_initial_events_ends_with_annotated_bookmark(apiserver):
    apiserver.create(configmap("a"))
    lines = _raw_watch(
        apiserver,
        "sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    )
    assert [e["type"] for e in lines[:2]] == ["ADDED", "BOOKMARK"]
    annotations = lines[1]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}


def test_timeout_seconds_ends_the_stream(core):
    started = time.monotonic()
    events(core, seconds=1)
    assert 0.9 <= time.monotonic() - started < 2.5


def test_watch_from_compacted_resource_version_is_410(core, apiserver):
    old = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("a"))
    apiserver.faults.compact()
    with pytest.raises(ApiException) as caught:
        events(core, resource_version=old)
    assert caught.value.status == 410


def test_410_arrives_as_an_error_event_in_a_200_stream(apiserver):
    apiserver.create(configmap("a"))
    apiserver.faults.compact()
    lines = _raw_watch(apiserver, "resourceVersion=1&timeoutSeconds=1")
    assert len(lines) == 1 and lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version: 1")


def test_history_is_bounded_like_etcd_compaction(apiserver):
    apiserver.store.hub.max_events = 50
    try:
        start = apiserver.store.rv
        for n in range(60):
            apiserver.create(configmap(f"c{n}"))
        lines = _raw_watch(apiserver, f"resourceVersion={start}&timeoutSeconds=1")
        assert lines[0]["object"]["code"] == 410
    finally:
        apiserver.store.hub.max_events = 100_000


def test_close_watches_ends_open_streams(core, apiserver):
    done = threading.Event()

    def consume():
        events(core, seconds=30)
        done.set()

    thread = threading.Thread(target=consume)
    thread.start()
    wait_for(lambda: apiserver.store.hub.open_count("configmaps") == 1)
    assert apiserver.faults.close_watches("configmaps") == 1
    thread.join(5)
    assert done.is_set()


def test_dynamic_client_watch(dynamic_client, apiserver):
    cms = dynamic_client.resources.get(api_version="v1", kind="ConfigMap")
    rv = str(apiserver.store.rv)
    apiserver.create(configmap("a", labels={"m": "1"}))
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in dynamic_client.watch(
            cms, namespace="default", label_selector="m=1", resource_version=rv, timeout=1
        )
    ]
    assert seen == [("ADDED", "a")]


def test_watch_is_logged_with_verb_watch(core, apiserver):
    events(core, count=1, allow_watch_bookmarks=True)
    assert apiserver.log.count(verb="watch", resource="configmaps") == 1


def _raw_watch(apiserver, query):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", apiserver.port, timeout=10)
    try:
        conn.request("GET", f"/api/v1/namespaces/default/configmaps?watch=true&{query}")
        resp = conn.getresponse()
        assert resp.status == 200
        return [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    finally:
        conn.close()
