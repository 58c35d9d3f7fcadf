"""render --output-dir: a namespace, kind or name never becomes a path before it is checked.

Every hostile name fails the whole run with one `error:` line and exit 1, and the tree around
--output-dir (the output directory included) is byte for byte what it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_mirror.errors import InputError
from kubectl_mirror.io import outdir
from tests.io.tree import mirror, namespace, one_error_line, snapshot, source, write_inputs

HOSTILE_NAMESPACES = [
    "../../escaped",
    "/tmp/absolute",
    "a/b",
    "..",
    ".",
    "team\nx",
    "team\\x",
    "team\u0000x",
    "team\u2028x",
    "Team-A",
    "t" * 64,
    "",
]

HOSTILE_NAMES = [
    "../../../evil",
    "/etc/evil",
    "a/b",
    "..",
    ".",
    "x\ny",
    "x\\y",
    "x\u0000y",
    "x\ry",
    "x\u0085y",
    "Upper",
    "x" * 254,
]


def _q(text: str) -> str:
    return json.dumps(text)  # a YAML double-quoted scalar


def _run_and_check_untouched(tmp_path: Path, inputs: str, *extra: str) -> str:
    write_inputs(tmp_path / "in" / "inputs.yaml", inputs)
    out = tmp_path / "work" / "out"
    out.mkdir(parents=True)
    before = snapshot(tmp_path)
    proc = mirror(str(tmp_path / "in"), "--output-dir", str(out), *extra)
    line = one_error_line(proc)
    assert snapshot(tmp_path) == before
    return line


@pytest.mark.parametrize("bad", HOSTILE_NAMESPACES, ids=repr)
def test_a_namespace_that_is_not_a_dns_label_writes_nothing_anywhere(tmp_path: Path, bad: str) -> None:
    inputs = namespace(_q(bad)) + "---\n" + namespace("team-a") + "---\n" + source(targets='"*"')
    _run_and_check_untouched(tmp_path, inputs)


@pytest.mark.parametrize("bad", HOSTILE_NAMES, ids=repr)
def test_a_configmap_name_that_is_not_a_dns_subdomain_writes_nothing_anywhere(
    tmp_path: Path, bad: str
) -> None:
    _run_and_check_untouched(tmp_path, namespace("team-a") + "---\n" + source(name=_q(bad)))


@pytest.mark.parametrize(
    "bad", ["..", ".", "a/b", "../x", "x\\y", "x\ny", "x\ty", "a b", "x" * 254], ids=repr
)
def test_a_custom_kind_name_with_separators_or_controls_writes_nothing(tmp_path: Path, bad: str) -> None:
    widget = source(name=_q(bad)).replace(
        "apiVersion: v1\nkind: ConfigMap", "apiVersion: example.com/v1\nkind: Widget"
    )
    _run_and_check_untouched(tmp_path, namespace("team-a") + "---\n" + widget)


@pytest.mark.parametrize("kind", ["Wid/../../get", "Wid\\get", "Wid\nget", "..", "1Widget"], ids=repr)
def test_a_kind_that_cannot_name_a_file_writes_nothing(tmp_path: Path, kind: str) -> None:
    widget = source().replace(
        "apiVersion: v1\nkind: ConfigMap", f"apiVersion: example.com/v1\nkind: {_q(kind)}"
    )
    _run_and_check_untouched(tmp_path, namespace("team-a") + "---\n" + widget)


def test_a_pull_object_in_a_hostile_namespace_writes_nothing(tmp_path: Path) -> None:
    pulled = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: src\n  namespace: platform\n  annotations:\n"
        '    reflector.v1.k8s.emberstack.com/reflection-allowed: "true"\ndata:\n  k: c2VjcmV0LXZhbHVl\n'
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: copy\n  namespace: ../../pulled\n"
        "  annotations:\n    reflector.v1.k8s.emberstack.com/reflects: platform/src\n"
    )
    line = _run_and_check_untouched(tmp_path, pulled)
    assert "c2VjcmV0LXZhbHVl" not in line and "secret-value" not in line


def test_the_error_names_the_field_and_the_source_on_one_line(tmp_path: Path) -> None:
    inputs = namespace(_q("../../x\ny")) + "---\n" + source(targets='"*"')
    line = _run_and_check_untouched(tmp_path, inputs)
    # The engine may refuse the namespace first; either way the field is named, on one line.
    assert "metadata.name" in line or "metadata.namespace" in line


def test_a_good_run_after_a_refused_one_still_writes(tmp_path: Path) -> None:
    _run_and_check_untouched(tmp_path, namespace("team-a") + "---\n" + source(name=_q("a/b")))
    write_inputs(tmp_path / "in" / "inputs.yaml", namespace("team-a") + "---\n" + source())
    proc = mirror(str(tmp_path / "in"), "--output-dir", str(tmp_path / "work" / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "work" / "out" / "team-a" / "configmap-settings.yaml").is_file()


# The same checks at the point where a name becomes a path, whatever the engine let through.


def _mirror_obj(namespace: str, name: str, kind: str = "ConfigMap") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubectl-mirror", "kubectl-mirror.io/mirror": "true"},
        },
        "data": {"k": "v"},
    }


@pytest.mark.parametrize("bad", HOSTILE_NAMESPACES, ids=repr)
def test_outdir_plan_refuses_a_hostile_namespace_naming_the_field(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InputError) as caught:
        outdir.plan(tmp_path, [_mirror_obj(bad, "ok")])
    assert caught.value.field_path == "metadata.namespace"
    assert "\n" not in caught.value.one_line()


@pytest.mark.parametrize("bad", HOSTILE_NAMES, ids=repr)
def test_outdir_plan_refuses_a_hostile_name_naming_the_field(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InputError) as caught:
        outdir.plan(tmp_path, [_mirror_obj("team-a", bad)])
    assert caught.value.field_path == "metadata.name"
    assert "\n" not in caught.value.one_line() and "\u0085" not in caught.value.one_line()


def test_role_names_with_colons_and_capitals_are_written_and_listed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    planned = outdir.plan(out, [_mirror_obj("team-a", "system:Edit", kind="Role")])
    outdir.apply(out, planned)
    assert (out / "team-a" / "role-system:Edit.yaml").is_file()
    assert '- "team-a/role-system:Edit.yaml"\n' in (out / "kustomization.yaml").read_text()


def test_one_kind_and_name_in_two_groups_get_a_file_each_named_with_the_group(tmp_path: Path) -> None:
    out = tmp_path / "out"
    istio = {**_mirror_obj("team-a", "web", kind="Gateway"), "apiVersion": "networking.istio.io/v1"}
    gateway_api = {
        **_mirror_obj("team-a", "web", kind="Gateway"),
        "apiVersion": "gateway.networking.k8s.io/v1",
    }
    outdir.apply(out, outdir.plan(out, [istio, gateway_api]))
    assert sorted(p.name for p in (out / "team-a").iterdir()) == [
        "gateway.gateway.networking.k8s.io-web.yaml",
        "gateway.networking.istio.io-web.yaml",
    ]
    # One group left: its file takes the plain name again, and both qualified ones (ours) go.
    outdir.apply(out, outdir.plan(out, [istio]))
    assert sorted(p.name for p in (out / "team-a").iterdir()) == ["gateway-web.yaml"]


def test_two_mirrors_of_one_group_for_one_file_are_an_error_not_an_overwrite(tmp_path: Path) -> None:
    one = _mirror_obj("team-a", "x", kind="Widget")
    other = {**_mirror_obj("team-a", "x", kind="Widget"), "apiVersion": "v2"}
    with pytest.raises(InputError, match=r"would be written to team-a/widget-x\.yaml"):
        outdir.plan(tmp_path, [one, other])


def test_a_kustomization_file_among_the_inputs_is_not_a_source(tmp_path: Path) -> None:
    write_inputs(tmp_path / "in" / "kustomization.yaml", "resources:\n- inputs.yaml\n")
    write_inputs(tmp_path / "in" / "inputs.yaml", namespace("team-a") + "---\n" + source())
    proc = mirror(str(tmp_path / "in"), "--output-dir", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "team-a" / "configmap-settings.yaml").is_file()


def test_a_kind_and_name_too_long_for_one_file_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at most 255"):
        outdir.plan(tmp_path, [_mirror_obj("team-a", "x" * 253, kind="W" * 60)])
