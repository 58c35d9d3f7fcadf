"""How the KRM function reads and writes its ResourceList: unchanged items come out as written,
unusual items pass through, unreadable ones are never mirrored, and no Secret value reaches a
result. Bombs are in tests/io/test_yaml_bombs.py (child processes under a memory limit)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from kubectl_mirror.krm import run_bytes

SECRET = "hunter2-Sup3r-s3cret"
SECRET_B64 = base64.b64encode(SECRET.encode()).decode()
HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
NAMESPACE = "- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: team-a\n"


def source(
    body: str = "  data:\n    region: eu\n", *, kind: str = "ConfigMap", name: str = "settings"
) -> str:
    return (
        f"- apiVersion: v1\n  kind: {kind}\n  metadata:\n    name: {name}\n    namespace: platform\n"
        "    labels:\n      kubectl-mirror.io/source: 'true'\n"
        "    annotations:\n      kubectl-mirror.io/targets: team-a\n"
        f"      internal.config.kubernetes.io/path: {name}.yaml\n{body}"
    )


def run(text: str) -> tuple[dict[str, Any], int, str]:
    out, code = run_bytes(text.encode())
    # ruamel, unlike PyYAML, reads recursive structures (items pass through with theirs).
    reader = YAML(typ="safe", pure=True)
    reader.allow_duplicate_keys = True
    return reader.load(out), code, out.decode()


def messages(doc: dict[str, Any]) -> list[str]:
    return [r["message"] for r in doc.get("results") or []]


def test_unchanged_items_are_copied_byte_for_byte() -> None:
    item = (
        "-   apiVersion: v1   # wide indentation, kept\n"
        "    kind: ConfigMap\n"
        "    metadata: {name: other, namespace: team-a}\n"
        "    data:\n"
        "      # a comment inside\n"
        '      quoted: "x"   # trailing\n'
        "      single: 'y'\n"
        "      anchored: &v hello\n"
        "      again: *v\n"
        "      block: |\n"
        "        line 1\n\n"
        "        line 3\n"
        "# between items\n"
    )
    text = HEAD + "items:\n" + NAMESPACE + item + source()
    _, code, out = run(text)
    assert code == 0
    assert NAMESPACE + item + source() in out


def test_running_on_its_own_output_changes_nothing() -> None:
    once, _ = run_bytes((HEAD + "items:\n" + NAMESPACE + source()).encode())
    twice, code = run_bytes(once)
    assert code == 0
    assert twice == once


def test_a_json_resource_list_is_read_and_its_items_copied() -> None:
    items = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
        yaml.safe_load(source()[2:].replace("\n  ", "\n")),
    ]
    text = json.dumps({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items})
    doc, code, out = run(text)
    assert code == 0
    assert out.count("- {") == 2  # the input items, still as written
    assert [i["metadata"]["namespace"] for i in doc["items"][1:]] == ["platform", "team-a"]


def test_an_item_with_a_recursive_alias_passes_through_as_written() -> None:
    other = "- apiVersion: v1  # keep me\n  kind: ConfigMap\n  metadata: {name: o, namespace: team-a}\n  spec: &a {self: *a}\n"
    _, code, out = run(HEAD + "items:\n" + NAMESPACE + other + source())
    assert code == 0
    assert other in out
    assert "kubectl-mirror.io/mirror: 'true'" in out  # the source was still mirrored


@pytest.mark.parametrize(
    "body",
    ["  data: &d {region: *d}\n", "  data:\n    region: eu\n    region: us\n"],
    ids=["recursive-alias", "duplicate-key"],
)
def test_a_source_that_cannot_be_read_is_not_mirrored(body: str) -> None:
    doc, code, _ = run(HEAD + "items:\n" + NAMESPACE + source(body))
    assert code == 1
    assert len(doc["items"]) == 2  # nothing added
    (message,) = messages(doc)
    assert message.startswith("cannot be mirrored: ResourceList line ")
    assert doc["results"][0]["file"] == {"path": "settings.yaml"}


def test_an_unreadable_item_whose_text_is_not_self_contained_is_an_error() -> None:
    other = "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: o, namespace: team-a}\n  spec: &a {self: *a, n: *n}\n"
    anchored = "- &n {apiVersion: v1, kind: Namespace, metadata: {name: team-b}}\n"
    doc, code, _ = run(HEAD + "items:\n" + anchored + other)
    assert code == 1
    assert "items[1] cannot be passed through: recursive alias" in messages(doc)[0]


def test_an_item_using_an_anchor_of_another_item_is_written_from_its_data() -> None:
    first = "- apiVersion: v1\n  kind: Namespace\n  metadata: &m\n    name: team-a\n"
    second = "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: o, namespace: team-a}\n  data: *m\n"
    doc, code, out = run(HEAD + "items:\n" + first + second)
    assert code == 0
    assert first in out
    assert doc["items"][1]["data"] == {"name": "team-a"}


def test_unusual_values_in_a_source_are_mirrored_as_the_text_written() -> None:
    body = (
        "  data:\n    when: 2024-01-01T00:00:00Z\n    day: 2024-01-01\n    n: '1e5'\n    o: '0o17'\n"
        "  binaryData:\n    blob: !!binary aGVsbG8=\n"
    )
    out, code = run_bytes((HEAD + "items:\n" + NAMESPACE + source(body)).encode())
    assert code == 0
    mirror = yaml.safe_load(out)["items"][2]
    assert mirror["data"] == {"when": "2024-01-01T00:00:00Z", "day": "2024-01-01", "n": "1e5", "o": "0o17"}
    assert mirror["binaryData"] == {"blob": "aGVsbG8="}
    # kpt and kustomize read YAML 1.2, where a plain 1e5 or 0o17 is a number: quoted.
    assert "    n: '1e5'\n    o: '0o17'\n" in out.decode()


UNREADABLE_SECRETS = {
    "duplicate-key-in-stringData": f"  type: Opaque\n  stringData:\n    password: {SECRET}\n    password: {SECRET}-2\n",
    "syntax-error-on-the-value-line": f"  type: Opaque\n  data:\n    password: {SECRET_B64}\n    broken: [{SECRET}\n",
    "unknown-escape-in-the-value": f'  type: Opaque\n  stringData:\n    password: "{SECRET}\\q"\n',
    "control-character-in-the-value": f"  type: Opaque\n  stringData:\n    password: {SECRET}\x07\n",
}


@pytest.mark.parametrize("body", UNREADABLE_SECRETS.values(), ids=UNREADABLE_SECRETS.keys())
def test_no_secret_value_reaches_a_result(body: str) -> None:
    doc, code, _ = run(HEAD + "items:\n" + NAMESPACE + source(body, kind="Secret"))
    assert code == 1
    found = " ".join(messages(doc))
    assert "line" in found
    assert SECRET not in json.dumps(doc["results"])
    assert SECRET_B64 not in json.dumps(doc["results"])


def test_input_that_is_not_utf8_is_one_error_result() -> None:
    out, code = run_bytes(HEAD.encode() + b"items:\n- a: \xff\n")
    assert code == 1
    (result,) = yaml.safe_load(out)["results"]
    assert result["message"] == "cannot read ResourceList: not UTF-8 (byte 67)"


def test_the_legacy_plugin_reads_unusual_values_as_text_and_quotes_yaml_1_2_numbers() -> None:
    from kubectl_mirror.krm import run_legacy_plugin

    body = "  data:\n    day: 2024-01-01\n    n: '1e5'\n"
    stream = (NAMESPACE + source(body)).replace("\n  ", "\n").replace("- apiVersion", "---\napiVersion")
    out, results = run_legacy_plugin("", stream)
    assert [r for r in results if r.severity == "error"] == []
    days = [d["data"]["day"] for d in yaml.safe_load_all(out) if d["kind"] == "ConfigMap"]
    assert days == ["2024-01-01"] * 2
    assert out.count("  n: '1e5'\n") == 2
