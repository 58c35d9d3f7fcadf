"""The real kubectl against the fake server: get, apply, label, patch, delete, get -w."""

from __future__ import annotations

import json
import queue
import threading

import pytest
import yaml

from .helpers import configmap, crd

pytestmark = pytest.mark.e2e

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  labels: {team: a}
data:
  k: v
"""


def test_get_prints_columns_and_json(kubectl, apiserver):
    apiserver.create(configmap("a", labels={"team": "a"}, data={"x": "1", "y": "2"}))
    lines = kubectl("get", "configmaps").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert lines[1].split()[:2] == ["a", "2"]
    got = kubectl.json("get", "cm", "a")
    assert got["kind"] == "ConfigMap" and got["data"] == {"x": "1", "y": "2"}
    listed = kubectl.json("get", "cm", "-l", "team=a", "-A")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    assert "NotFound" in kubectl("get", "cm", "nope", check=False).stderr


def test_client_side_apply_creates_then_patches(kubectl, apiserver):
    assert "configmap/app created" in kubectl("apply", "-f", "-", input=CM).stdout
    changed = CM.replace("k: v", "k: w").replace("labels: {team: a}", "labels: {}")
    assert "configured" in kubectl("apply", "-f", "-", input=changed).stdout
    stored = apiserver.store.get("configmaps", "default", "app")
    assert stored["data"] == {"k": "w"}
    assert "labels" not in stored["metadata"] or stored["metadata"]["labels"] == {}
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    assert apiserver.log.filter(verb="patch")[0].content_type == ("application/strategic-merge-patch+json")
    assert "unchanged" in kubectl("apply", "-f", "-", input=changed).stdout


def test_server_side_apply_conflicts_and_force(kubectl, apiserver):
    out = kubectl("apply", "--server-side", "-f", "-", input=CM).stdout
    assert "serverside-applied" in out
    stored = apiserver.store.get("configmaps", "default", "app")
    assert stored["metadata"]["managedFields"][0]["manager"] == "kubectl"
    other = CM.replace("k: v", "k: theirs")
    failed = kubectl(
        "apply", "--server-side", "--field-manager", "other", "-f", "-", input=other, check=False
    )
    assert failed.returncode != 0
    assert 'conflict with "kubectl"' in failed.stderr and ".data.k" in failed.stderr
    kubectl("apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-", input=other)
    assert apiserver.store.get("configmaps", "default", "app")["data"] == {"k": "theirs"}


def test_apply_custom_resource(kubectl, apiserver):
    kubectl("apply", "-f", "-", input=yaml.safe_dump(crd()))
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": "S"},
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(widget))
    widget["spec"]["size"] = "M"
    kubectl("apply", "-f", "-", input=yaml.safe_dump(widget))
    assert kubectl.json("get", "widgets", "w")["spec"] == {"size": "M"}
    # client-side apply of a custom resource falls back to a JSON merge patch
    assert apiserver.log.filter(verb="patch", resource="widgets")[0].content_type == (
        "application/merge-patch+json"
    )


def test_label_adds_overwrites_and_removes(kubectl, apiserver):
    apiserver.create(configmap("a", labels={"team": "a"}))
    kubectl("label", "cm", "a", "tier=web")
    assert kubectl("label", "cm", "a", "tier=db", check=False).returncode != 0
    kubectl("label", "cm", "a", "tier=db", "--overwrite")
    kubectl("label", "cm", "a", "team-")
    assert apiserver.store.get("configmaps", "default", "a")["metadata"]["labels"] == {"tier": "db"}


@pytest.mark.parametrize(
    ("kind", "patch", "expected"),
    [
        ("strategic", '{"data":{"n":"1"}}', {"k": "v", "n": "1"}),
        ("merge", '{"data":{"k":null}}', {}),
        ("json", '[{"op":"replace","path":"/data/k","value":"j"}]', {"k": "j"}),
    ],
)
def test_patch_types(kubectl, apiserver, kind, patch, expected):
    apiserver.create(configmap("a"))
    kubectl("patch", "cm", "a", "--type", kind, "-p", patch)
    assert apiserver.store.get("configmaps", "default", "a").get("data", {}) == expected


def test_delete_and_namespace_cascade(kubectl, apiserver):
    apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}})
    apiserver.create(configmap("a", "gone"))
    apiserver.create(configmap("b"))
    assert 'configmap "b" deleted' in kubectl("delete", "cm", "b").stdout
    kubectl("delete", "namespace", "gone")
    assert apiserver.store.get("namespaces", "", "gone") is None
    assert apiserver.store.count("configmaps", "gone") == 0
    assert "NotFound" in kubectl("delete", "cm", "b", check=False).stderr


def test_delete_by_selector(kubectl, apiserver):
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        apiserver.create(configmap(name, labels={"team": team}))
    kubectl("delete", "cm", "-l", "team=x")
    assert [o["metadata"]["name"] for o in apiserver.store.dump("configmaps")] == ["c"]


def test_delete_of_finalized_object_without_waiting(kubectl, apiserver):
    apiserver.create(configmap("a", finalizers=["example.com/hold"]))
    kubectl("delete", "cm", "a", "--wait=false")
    assert apiserver.store.get("configmaps", "default", "a")["metadata"]["deletionTimestamp"]


def test_get_watch_prints_events(kubectl, apiserver):
    apiserver.create(configmap("first"))
    proc = kubectl.popen("get", "cm", "-w", "--output-watch-events", "-o", "json")
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout])
    reader.start()
    try:
        decoder = json.JSONDecoder()
        buffer = ""

        def next_event():
            nonlocal buffer
            while True:
                try:
                    event, end = decoder.raw_decode(buffer.lstrip())
                    buffer = buffer.lstrip()[end:]
                    return event
                except ValueError:
                    buffer += lines.get(timeout=10)

        assert next_event()["object"]["metadata"]["name"] == "first"
        apiserver.create(configmap("second"))
        event = next_event()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "second")
        apiserver.api.delete(_call(apiserver, "second"), None)
        event = next_event()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("DELETED", "second")
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(10)
        proc.stdout.close()
        proc.stderr.close()


def test_get_watch_with_table_output(kubectl, apiserver):
    proc = kubectl.popen("get", "cm", "-w")
    try:
        apiserver.create(configmap("shown"))
        header = proc.stdout.readline().split()
        row = proc.stdout.readline().split()
        assert header == ["NAME", "DATA", "AGE"]
        assert row[:2] == ["shown", "1"]
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def _call(apiserver, name):
    from tests.apiserver.api import Call

    rt = apiserver.registry.lookup("", "v1", "configmaps")
    return Call(rt, "v1", "default", name)


def test_typed_create_commands_send_protobuf_and_work(kubectl, apiserver):
    kubectl("create", "namespace", "team")
    kubectl("create", "configmap", "c", "-n", "team", "--from-literal=x=1")
    kubectl("create", "secret", "generic", "s", "-n", "team", "--from-literal=pw=hunter2")
    kubectl("create", "serviceaccount", "bot", "-n", "team")
    assert apiserver.log.filter(verb="create")[0].content_type == ("application/vnd.kubernetes.protobuf")
    assert apiserver.store.get("configmaps", "team", "c")["data"] == {"x": "1"}
    secret = apiserver.store.get("secrets", "team", "s")
    assert (secret["type"], secret["data"]) == ("Opaque", {"pw": "aHVudGVyMg=="})
    assert apiserver.store.get("serviceaccounts", "team", "bot") is not None
    refused = kubectl("create", "deployment", "web", "--image=nginx", check=False)
    assert "decodes protobuf bodies only for" in refused.stderr
