"""render --all copies unchanged input documents out as they were read (comments included) where
that text reads back as the object, and dumps them as before otherwise: whatever the loader
normalizes (anchors, aliases, merge keys, tags, scalars YAML 1.1 and 1.2 read apart, CRLF,
directives, flow or indented roots) is dumped. Either way the stream reads back as the objects
the old path (dump everything) wrote, under YAML 1.2 (our loader) and 1.1 (PyYAML)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_mirror.io.documents import TextItem, read_inputs
from kubectl_mirror.io.emit import write_yaml_stream
from kubectl_mirror.io.yamlload import AliasBudget, YamlError, iter_documents, load_all

BIN = Path(sys.executable).parent
HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: platform\n"

# Documents whose text is written out as read.
COPIED = {
    "plain.yaml": (
        "# Settings every team reads.\n"
        + HEAD.format(name="plain")
        + "  labels:\n    app: web  # why it is here\n"
        "data:\n  replicas: 3\n  ratio: 0.5\n  enabled: true\n  empty:\n  none: ~\n"
        "  quoted: 'yes'\n  day: \"2024-01-01\"\n  octal: '017'\n  app.conf: |\n    a = 1\n    b = 2\n"
        "  folded: >\n    one\n    two\n  list:\n  - a\n  -   b\n"
    ),
    "keep-chomping.yaml": HEAD.format(name="keep")
    + "data:\n  tail: |+\n    x\n\n\n---\n"
    + HEAD.format(name="after-keep"),
    "explicit.yaml": "--- # first\n"
    + HEAD.format(name="explicit")
    + "---\n\n# lead\n"
    + HEAD.format(name="second")
    + "...\n---\n"
    + HEAD.format(name="after-end-marker"),
    "non-ascii.yaml": HEAD.format(name="non-ascii") + "data:\n  greeting: héllo wörld 😀\n",
    "bom.yaml": "\ufeff" + HEAD.format(name="bom"),
    "quoted-key.yaml": HEAD.format(name="quoted-key") + "data:\n  '1': one\n  \"on\": two\n",
    # Files are read with universal newlines: the loader (and so the copy) sees LF only.
    "crlf.yaml": (HEAD.format(name="crlf") + "data:\n  a: b\n").replace("\n", "\r\n"),
}

# Documents the loader changed on reading, or whose text other readers would read differently.
DUMPED = {
    "merge-key.yaml": HEAD.format(name="merge") + "base: &b {x: 1}\ndata:\n  <<: *b\n  y: '2'\n",
    "anchor-only.yaml": HEAD.format(name="anchor") + "data: &d\n  x: '1'\n",
    "alias.yaml": HEAD.format(name="alias") + "data:\n  a: &v one\n  b: *v\n",
    "binary-tag.yaml": HEAD.format(name="binary") + "binaryData:\n  blob: !!binary aGVsbG8=\n",
    "custom-tag.yaml": HEAD.format(name="custom") + "data:\n  region: !vault secret/x\n",
    "str-tag.yaml": HEAD.format(name="str-tag") + "data:\n  n: !!str 1\n",
    "non-specific-tag.yaml": HEAD.format(name="bang") + "data:\n  n: ! 12\n",
    "timestamp.yaml": HEAD.format(name="timestamp") + "data:\n  when: 2024-01-01T00:00:00Z\n",
    "date.yaml": HEAD.format(name="date") + "data:\n  day: 2024-01-01\n",
    "yes.yaml": HEAD.format(name="yes") + "data:\n  flag: yes\n",
    "on.yaml": HEAD.format(name="on") + "data:\n  flag: on\n",
    "octal.yaml": HEAD.format(name="octal") + "spec:\n  mode: 017\n",
    "exponent.yaml": HEAD.format(name="exponent") + "data:\n  n: 1e5\n",
    "octal-1-2.yaml": HEAD.format(name="octal-12") + "data:\n  n: 0o17\n",
    "underscore.yaml": HEAD.format(name="underscore") + "spec:\n  n: 1_000\n",
    "sexagesimal.yaml": HEAD.format(name="sexagesimal") + "data:\n  t: 1:30\n",
    "int-key.yaml": HEAD.format(name="int-key") + "data:\n  1: one\n",
    "bool-key.yaml": HEAD.format(name="bool-key") + "data:\n  on: one\n",
    "null-key.yaml": HEAD.format(name="null-key") + "data:\n  null: one\n",
    "line-separator.yaml": HEAD.format(name="ls") + 'data:\n  a: "x\u2028y"\n',
    "yaml-directive.yaml": "%YAML 1.1\n---\n" + HEAD.format(name="directive"),
    "flow-root.yaml": '--- {apiVersion: v1, kind: ConfigMap, metadata: {name: flow, namespace: platform}}\n',
    "tagged-root.yaml": "--- !!map\n" + HEAD.format(name="tagged-root"),
    "indented-root.yaml": "---\n" + "".join("  " + line + "\n" for line in HEAD.format(name="indented").splitlines()),
    "no-final-newline.yaml": HEAD.format(name="no-newline") + "data:\n  a: |\n    x",
    "json.json": json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json", "namespace": "platform"}}),
    "list.yaml": "apiVersion: v1\nkind: List\nitems:\n- " + HEAD.format(name="in-list").replace("\n", "\n  ").rstrip() + "\n",
    "keep-chomping-anchored.yaml": HEAD.format(name="keep-anchored") + "data:\n  tail: &t |+\n    x\n\n",
}  # fmt: skip


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8", newline="")
    return root


def streams(root: Path) -> tuple[str, str]:
    """(new stream: texts copied where kept, old stream: every object dumped) of every input."""
    items = read_inputs([str(root)], keep_text=True)
    objs = [item.obj for item in items]
    new, old = io.StringIO(), io.StringIO()
    write_yaml_stream(objs, new, texts=[item.text if isinstance(item, TextItem) else None for item in items])
    write_yaml_stream(objs, old)
    return new.getvalue(), old.getvalue()


def read_both(text: str) -> tuple[list[Any], list[Any]]:
    """The documents of a stream as YAML 1.2 (our loader) and YAML 1.1 (PyYAML) read them."""
    return load_all(text, budget=AliasBudget()), list(yaml.safe_load_all(text))


@pytest.mark.parametrize("name", COPIED)
def test_a_document_that_reads_back_alike_is_written_as_read(tmp_path: Path, name: str) -> None:
    items = read_inputs([str(write(tmp_path, {name: COPIED[name]}))], keep_text=True)
    texts = [item.text for item in items if isinstance(item, TextItem)]
    assert len(texts) == len(items)
    new, _ = streams(tmp_path)
    for text in texts:
        assert f"---\n{text}" in new
    assert "\ufeff" not in new
    assert "\r" not in new


@pytest.mark.parametrize(
    "text",
    ["a: 1\r\nb: 2\r\n", "a: 1\rb: 2\r", "a: 'x\x85y'\n", "a: 'x\u2028y'\n", "a: 'x\ufeffy'\n"],
    ids=["crlf", "cr", "nel", "line-separator", "inner-bom"],
)
def test_a_text_with_line_breaks_the_parser_normalizes_is_not_kept(text: str) -> None:
    # stdin is decoded without newline translation: these reach the loader as written.
    (doc,) = iter_documents(text, budget=AliasBudget(), copy=True)
    assert doc.text is None


def test_comments_inside_a_copied_document_stay(tmp_path: Path) -> None:
    new, old = streams(write(tmp_path, {"plain.yaml": COPIED["plain.yaml"]}))
    assert new == "---\n" + COPIED["plain.yaml"]
    assert "# why it is here" not in old


@pytest.mark.parametrize("name", DUMPED)
def test_a_document_the_loader_normalized_is_dumped_as_before(tmp_path: Path, name: str) -> None:
    items = read_inputs([str(write(tmp_path, {name: DUMPED[name]}))], keep_text=True)
    assert items
    assert not [item for item in items if isinstance(item, TextItem)]
    new, old = streams(tmp_path)
    assert new == old


def test_a_varied_corpus_reads_back_as_the_old_dump_under_yaml_1_1_and_1_2(tmp_path: Path) -> None:
    # One file per case, and the same cases as one multi-document stream (copied and dumped
    # documents interleaved, so a dumped run ends right before a copied document).
    # (A directive, a byte-order mark or CRLF only belongs at the start of a file.)
    files = {**COPIED, **DUMPED}
    joined = "".join(
        "---\n" + text.rstrip("\n").replace("\r\n", "\n").replace("%YAML 1.1\n", "").lstrip("\ufeff") + "\n"
        for name, text in files.items()
        if name.endswith(".yaml")
    )
    write(tmp_path, {**files, "all-in-one.yaml": joined})
    new, old = streams(tmp_path)
    assert new != old  # something was copied
    new_12, new_11 = read_both(new)
    old_12, old_11 = read_both(old)
    assert new_12 == old_12
    assert new_11 == old_11
    assert new_11 == new_12  # and both versions read it alike


@pytest.mark.parametrize("name", [*COPIED, *DUMPED])
def test_the_pure_parser_keeps_the_same_texts(name: str) -> None:
    text = {**COPIED, **DUMPED}[name].lstrip("\ufeff")

    def texts(pure: bool) -> list[str | None]:
        return [d.text for d in iter_documents(text, budget=AliasBudget(), copy=True, pure=pure)]

    assert texts(pure=True) == texts(pure=False)


PLAIN = st.text(alphabet="0123456789.-+_:eExXoObBtTrRuUfFaAlLsSyYnN~<= ", min_size=1, max_size=10)


@settings(max_examples=400, deadline=None)
@given(key=PLAIN, value=PLAIN)
def test_a_kept_text_reads_as_the_loader_read_it_under_yaml_1_1(key: str, value: str) -> None:
    text = f"{key}: {value}\nk: v\n"
    try:
        (doc,) = iter_documents(text, budget=AliasBudget(), copy=True)
    except (YamlError, ValueError):
        return  # not YAML (`a: b: c`) or more than one document: nothing to copy
    if doc.text is not None:
        assert yaml.load(doc.text, Loader=yaml.SafeLoader) == doc.value
        assert yaml.load(doc.text, Loader=yaml.CSafeLoader) == doc.value


# --- through the command ---------------------------------------------------------------------

PACKAGE = {
    "namespaces.yaml": "# targets\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: platform\n---\n"
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
    "source.yaml": "# the source\n" + HEAD.format(name="shared")
    + "  labels:\n    kubectl-mirror.io/source: 'true'\n  annotations:\n    kubectl-mirror.io/targets: team-a\n"
    "data:\n  a: '1'\n",
    "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: platform\n"
    "type: Opaque\ndata:\n  password: aHVudGVyMg==  # not a real one\n",
}  # fmt: skip


def render_all(root: Path, *args: str) -> str:
    argv = [str(BIN / "kubectl-mirror"), "render", str(root), "--all", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_render_all_reads_back_as_its_json_output_and_is_the_same_on_every_run(tmp_path: Path) -> None:
    files = {**PACKAGE, **COPIED, **DUMPED}
    root = write(tmp_path / "in", files)
    first = render_all(root)
    assert render_all(root) == first
    objects = json.loads(render_all(root, "-o", "json"))["items"]
    as_12, as_11 = read_both(first)
    assert as_12 == objects
    assert as_11 == objects
    assert "# the source\n" in first
    assert "password: aHVudGVyMg==  # not a real one\n" in first
