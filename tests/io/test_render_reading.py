"""How `render` reads its files: every unreadable file is named, unusual but valid YAML renders,
and no Secret value reaches stdout or stderr when a file cannot be read."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubectl_mirror.errors import InputError
from kubectl_mirror.io.documents import read_inputs

BIN = Path(sys.executable).parent
SECRET = "hunter2-Sup3r-s3cret"
SECRET_B64 = base64.b64encode(SECRET.encode()).decode()
NAMESPACES = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"


def source(body: str, *, kind: str = "ConfigMap") -> str:
    return (
        f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: settings\n  namespace: platform\n"
        "  labels:\n    kubectl-mirror.io/source: 'true'\n"
        f"  annotations:\n    kubectl-mirror.io/targets: team-a\n{body}"
    )


def render(tmp_path: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    for name, text in {"ns.yaml": NAMESPACES, **files}.items():
        (tmp_path / name).write_text(text)
    argv = [str(BIN / "kubectl-mirror"), "render", str(tmp_path), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_every_unreadable_file_is_named_and_nothing_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: [unclosed\n")
    (tmp_path / "b.yaml").write_text("a: 1\na: 2\n")
    (tmp_path / "c.yaml").write_text(NAMESPACES)
    (tmp_path / "d.yaml").write_text("x: &x [*x]\n")
    with pytest.raises(InputError) as caught:
        read_inputs([str(tmp_path), str(tmp_path / "missing.yaml")])
    assert caught.value.ref.file == str(tmp_path / "a.yaml")
    assert caught.value.message == (
        "line 2, column 1: invalid YAML: did not find expected ',' or ']' (and 3 more unreadable files: "
        f"{tmp_path / 'b.yaml'}, {tmp_path / 'd.yaml'}, {tmp_path / 'missing.yaml'})"
    )


def test_invalid_utf8_on_stdin_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a: \xff\n")))
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_inputs(["-"])


def test_unquoted_timestamps_and_binary_values_are_mirrored_as_the_text_written(tmp_path: Path) -> None:
    body = "data:\n  when: 2024-01-01T00:00:00Z\n  day: 2024-01-01\nbinaryData:\n  blob: !!binary aGVsbG8=\n"
    proc = render(tmp_path, {"src.yaml": source(body)})
    assert proc.returncode == 0, proc.stderr
    (mirror,) = yaml.safe_load_all(proc.stdout)
    assert mirror["data"] == {"when": "2024-01-01T00:00:00Z", "day": "2024-01-01"}
    assert mirror["binaryData"] == {"blob": "aGVsbG8="}


def test_unknown_tags_are_ignored(tmp_path: Path) -> None:
    proc = render(tmp_path, {"src.yaml": source("data:\n  region: !vault secret/x\n")})
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["data"] == {"region": "secret/x"}


def test_a_recursive_alias_fails_the_run_naming_file_line_and_column(tmp_path: Path) -> None:
    proc = render(tmp_path, {"src.yaml": source("data:\n  region: eu\nspec: &a [*a]\n")})
    assert proc.returncode == 1
    assert proc.stderr == (
        f"error: {tmp_path / 'src.yaml'}: line 12, column 11: recursive alias (a node that contains itself)\n"
    )


UNREADABLE_SECRETS = {
    "duplicate-key-in-stringData": f"type: Opaque\nstringData:\n  password: {SECRET}\n  password: {SECRET}-2\n",
    "syntax-error-on-the-value-line": f"type: Opaque\ndata:\n  password: {SECRET_B64}\n  broken: [{SECRET}\n",
    "unknown-escape-in-the-value": f'type: Opaque\nstringData:\n  password: "{SECRET}\\q"\n',
    "tab-before-the-value": f"type: Opaque\nstringData:\n\tpassword: {SECRET}\n",
    "complex-key-beside-the-value": f"type: Opaque\nstringData:\n  password: {SECRET}\n  ? [a]\n  : b\n",
}


@pytest.mark.parametrize("body", UNREADABLE_SECRETS.values(), ids=UNREADABLE_SECRETS.keys())
def test_an_unreadable_secret_fails_with_a_line_and_never_its_value(tmp_path: Path, body: str) -> None:
    proc = render(tmp_path, {"secret.yaml": source(body, kind="Secret")}, "--all")
    assert proc.returncode == 1
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"error: {tmp_path / 'secret.yaml'}: line ")
    assert SECRET not in proc.stderr
    assert SECRET_B64 not in proc.stderr
