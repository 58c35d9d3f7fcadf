from kubernetes import client


def test_typed_client_round_trip(k8s_client):
    core = client.CoreV1Api(k8s_client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}, "data": {"k": "v"}})
    got = core.read_namespaced_config_map("a", "default")
    assert got.data == {"k": "v"}
    items = core.list_namespaced_config_map("default").items
    assert [i.metadata.name for i in items] == ["a"]
