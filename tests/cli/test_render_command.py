"""`kubectl mirror render` behaviours: formats, passthrough, stdin, output dirs, the CI gate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "basic"


def mirror(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl-mirror", "render", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_json_output_is_a_v1_list() -> None:
    out = json.loads(mirror(str(EXAMPLES), "-o", "json").stdout)
    assert out["kind"] == "List"
    assert len(out["items"]) == 6


def test_all_passes_inputs_through_before_mirrors() -> None:
    docs = list(yaml.safe_load_all(mirror(str(EXAMPLES), "--all").stdout))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("Namespace") == 4
    assert len(docs) == 4 + 3 + 6


def test_stdin_is_read_with_a_dash() -> None:
    text = (EXAMPLES / "namespaces.yaml").read_text() + "---\n" + (EXAMPLES / "sources.yaml").read_text()
    assert mirror("-", stdin=text).stdout == mirror(str(EXAMPLES)).stdout


def test_kind_list_inputs_are_flattened(tmp_path: Path) -> None:
    items = list(yaml.safe_load_all((EXAMPLES / "namespaces.yaml").read_text()))
    items += list(yaml.safe_load_all((EXAMPLES / "sources.yaml").read_text()))
    (tmp_path / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    assert mirror(str(tmp_path / "list.json")).stdout == mirror(str(EXAMPLES)).stdout


def test_input_order_does_not_change_the_bytes(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "sources.yaml").read_text()))
    docs += list(yaml.safe_load_all((EXAMPLES / "namespaces.yaml").read_text()))
    (tmp_path / "reversed.yaml").write_text(yaml.safe_dump_all(list(reversed(docs))))
    assert mirror(str(tmp_path)).stdout == mirror(str(EXAMPLES)).stdout


def test_explain_names_a_reason_per_namespace() -> None:
    text = mirror(str(EXAMPLES), "--explain").stdout
    assert "ConfigMap platform/platform-settings (native markers): 2 mirror(s)" in text
    assert "- sandbox   namespace is labeled kubectl-mirror.io/reject=true" in text


def test_output_dir_writes_files_and_a_kustomization(tmp_path: Path) -> None:
    out = tmp_path / "m"
    proc = mirror(str(EXAMPLES), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "kustomization.yaml" in files
    assert "team-a/secret-registry-credentials.yaml" in files
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(f for f in files if f != "kustomization.yaml")


def test_output_dir_removes_only_files_it_wrote_before(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for f in EXAMPLES.iterdir():
        (src / f.name).write_text(f.read_text())
    out = tmp_path / "m"
    assert mirror(str(src), "--output-dir", str(out)).returncode == 0
    (out / "team-a" / "notes.txt").write_text("mine")
    sources = (src / "sources.yaml").read_text()
    (src / "sources.yaml").write_text(
        sources.replace('kubectl-mirror.io/targets: "team-*"', 'kubectl-mirror.io/targets: "team-b"')
    )
    assert mirror(str(src), "--output-dir", str(out)).returncode == 0
    assert not (out / "team-a" / "secret-registry-credentials.yaml").exists()
    assert (out / "team-b" / "secret-registry-credentials.yaml").exists()
    assert (out / "team-a" / "notes.txt").read_text() == "mine"


def test_check_exits_1_when_out_of_date_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "m"
    missing = mirror(str(EXAMPLES), "--output-dir", str(out), "--check")
    assert missing.returncode == 1
    assert not out.exists()
    assert mirror(str(EXAMPLES), "--output-dir", str(out)).returncode == 0
    up_to_date = mirror(str(EXAMPLES), "--output-dir", str(out), "--check")
    assert up_to_date.returncode == 0, up_to_date.stderr
    (out / "team-b" / "configmap-ca-bundle.yaml").write_text("edited\n")
    stale = mirror(str(EXAMPLES), "--output-dir", str(out), "--check")
    assert stale.returncode == 1
    assert "configmap-ca-bundle.yaml" in stale.stderr


def test_output_dir_is_untouched_on_error(tmp_path: Path) -> None:
    out = tmp_path / "m"
    assert mirror(str(EXAMPLES), "--output-dir", str(out)).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [\n")
    assert mirror(str(EXAMPLES), str(bad), "--output-dir", str(out)).returncode == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_output_dir_refuses_to_overwrite_a_foreign_kustomization(tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "kustomization.yaml").write_text("resources: [mine.yaml]\n")
    proc = mirror(str(EXAMPLES), "--output-dir", str(out))
    assert proc.returncode == 1
    assert "was not written by kubectl-mirror" in proc.stderr
    assert (out / "kustomization.yaml").read_text() == "resources: [mine.yaml]\n"


def test_warnings_go_to_stderr_and_do_not_fail(tmp_path: Path) -> None:
    (tmp_path / "pull.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: copy\n  namespace: a\n  annotations:\n"
        "    reflector.v1.k8s.emberstack.com/reflects: other/missing\n"
    )
    proc = mirror(str(tmp_path))
    assert proc.returncode == 0
    assert proc.stderr.startswith("warning: ")
