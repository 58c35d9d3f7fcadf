"""kubectl-mirror-fn replaces or drops only the items it generated itself: our ownership labels,
`kubectl-mirror.io/generated-by: kubectl-mirror-fn`, and exactly the `mirrors/` path it gives that
object. Anything else carrying our labels is a user's file and passes through untouched; a mirror
that would land on one is an error result, not an overwrite. Kustomization files `kpt fn source`
passes in (no apiVersion needed) pass through untouched. Generated paths come from checked names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_mirror.errors import InputError
from kubectl_mirror.krm import mirror_path

ROOT = Path(__file__).resolve().parents[2]
OWNED = {"app.kubernetes.io/managed-by": "kubectl-mirror", "kubectl-mirror.io/mirror": "true"}


def fn(items: list[dict[str, Any]], namespaces: str = "team-a,team-b") -> tuple[dict[str, Any], int, str]:
    """The real `kubectl-mirror-fn` on a ResourceList (JSON is YAML): output, exit code, stderr."""
    doc = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "function-input"},
            "data": {"namespaces": namespaces},
        },
    }
    proc = subprocess.run(
        ["kubectl-mirror-fn"], input=json.dumps(doc), capture_output=True, text=True, check=False
    )
    assert "Traceback" not in proc.stderr
    return yaml.safe_load(proc.stdout), proc.returncode, proc.stderr


def at(path: str, obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as kpt passes it in from the file `path`."""
    meta = obj["metadata"]
    meta["annotations"] = {
        **meta.get("annotations", {}),
        "internal.config.kubernetes.io/path": path,
        "internal.config.kubernetes.io/index": "0",
        "config.kubernetes.io/path": path,
        "config.kubernetes.io/index": "0",
    }
    return obj


def source(name: str = "settings", data: str = "value") -> dict[str, Any]:
    return at(
        f"{name}.yaml",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": "platform",
                "labels": {"kubectl-mirror.io/source": "true"},
                "annotations": {"kubectl-mirror.io/targets": "team-*"},
            },
            "data": {"key": data},
        },
    )


def owned(
    path: str, *, name: str = "mine", namespace: str = "team-a", generated: bool = False
) -> dict[str, Any]:
    annotations = {"kubectl-mirror.io/generated-by": "kubectl-mirror-fn"} if generated else {}
    return at(
        path,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(OWNED),
                "annotations": annotations,
            },
            "data": {"mine": "keep me"},
        },
    )


def paths(doc: dict[str, Any]) -> list[str]:
    return [i["metadata"]["annotations"]["internal.config.kubernetes.io/path"] for i in doc["items"]]


def test_a_users_file_with_our_labels_elsewhere_in_the_package_passes_through() -> None:
    mine = owned("other/mine.yaml")
    doc, code, _ = fn([source(), mine])
    assert code == 0
    assert doc["items"][1] == mine
    assert paths(doc) == [
        "settings.yaml",
        "other/mine.yaml",
        "mirrors/team-a/configmap_settings.yaml",
        "mirrors/team-b/configmap_settings.yaml",
    ]


def test_generated_mirrors_carry_the_generator_marker() -> None:
    doc, code, _ = fn([source()])
    assert code == 0
    for mirror in doc["items"][1:]:
        assert mirror["metadata"]["annotations"]["kubectl-mirror.io/generated-by"] == "kubectl-mirror-fn"


def test_the_functions_own_earlier_output_is_replaced_and_dropped() -> None:
    first, _, _ = fn([source(data="one")])
    again, code, _ = fn([source(data="two"), *first["items"][1:]], namespaces="team-a")
    assert code == 0
    assert [i["data"]["key"] for i in again["items"]] == ["two", "two"]
    assert paths(again)[1:] == ["mirrors/team-a/configmap_settings.yaml"]


@pytest.mark.parametrize(
    "item",
    [
        owned("other/configmap_mine.yaml", generated=True),  # marker, but not at its generated path
        owned("mirrors/team-a/configmap_mine.yaml"),  # its generated path, but no marker
        owned("mirrors/team-a/configmap_other.yaml", generated=True),  # a path not its own
        owned("mirrors/team-a/../team-a/configmap_mine.yaml", generated=True),
        owned("/mirrors/team-a/configmap_mine.yaml", generated=True),
    ],
    ids=["marker-elsewhere", "path-no-marker", "wrong-name", "dotdot", "absolute"],
)
def test_an_item_not_proven_generated_survives_when_nothing_replaces_it(item: dict[str, Any]) -> None:
    doc, code, _ = fn([source(), item])
    assert code == 0
    assert item in doc["items"]


def test_the_marker_without_our_ownership_labels_proves_nothing() -> None:
    item = owned("mirrors/team-a/configmap_mine.yaml", generated=True)
    del item["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    doc, code, _ = fn([source(), item])
    assert code == 0
    assert item in doc["items"]


def test_disagreeing_path_annotations_prove_nothing() -> None:
    item = owned("mirrors/team-a/configmap_mine.yaml", generated=True)
    item["metadata"]["annotations"]["config.kubernetes.io/path"] = "other/mine.yaml"
    doc, code, _ = fn([source(), item])
    assert code == 0
    assert item in doc["items"]


@pytest.mark.parametrize("path", ["other/x.yaml", "mirrors/team-a/configmap_settings.yaml"])
def test_a_mirror_that_would_replace_a_users_item_is_an_error_result_not_an_overwrite(path: str) -> None:
    mine = owned(path, name="settings")
    items = [source(), mine]
    doc, code, stderr = fn(items)
    assert code == 1
    assert doc["items"] == items
    (result,) = doc["results"]
    assert result["severity"] == "error"
    assert "did not generate" in result["message"]
    assert result["resourceRef"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "settings",
        "namespace": "team-a",
    }
    assert stderr.count("\n") == 1


def test_a_mirror_whose_file_a_users_item_already_holds_is_an_error_result() -> None:
    squatter = at(
        "mirrors/team-a/configmap_settings.yaml",
        {"apiVersion": "v1", "kind": "Note", "metadata": {"name": "n"}},
    )
    items = [source(), squatter]
    doc, code, _ = fn(items)
    assert code == 1
    assert doc["items"] == items
    assert "already holds an item this function did not generate" in doc["results"][0]["message"]


@pytest.mark.parametrize(
    "kustomization",
    [
        {"resources": ["settings.yaml"]},
        {"kind": "Kustomization", "resources": ["settings.yaml"]},
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["a.yaml"]},
        {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component"},
    ],
    ids=["bare", "kind-only", "full", "component"],
)
def test_a_kustomization_file_passes_through_untouched(kustomization: dict[str, Any]) -> None:
    item = at("kustomization.yaml", {**kustomization, "metadata": {}})
    doc, code, _ = fn([source(), item])
    assert code == 0, doc.get("results")
    assert doc["items"][1] == item
    assert len(doc["items"]) == 4


@pytest.mark.parametrize("bad", ["../../escaped", "/abs", "a\\b", "x\ny", "Team-A", "t" * 64])
def test_a_hostile_target_namespace_is_an_error_and_changes_no_item(bad: str) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": bad}}
    secret = at(
        "s.yaml",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "creds",
                "namespace": "platform",
                "labels": {"kubectl-mirror.io/source": "true"},
                "annotations": {"kubectl-mirror.io/targets": "*"},
            },
            "data": {"token": "c3VwZXItc2VjcmV0"},
        },
    )
    items = [ns, secret]
    doc, code, stderr = fn(items, namespaces="")
    assert code == 1
    assert doc["items"] == items
    assert "c3VwZXItc2VjcmV0" not in json.dumps(doc["results"]) + stderr


def _obj(kind: str, namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"namespace": namespace, "name": name}}


@pytest.mark.parametrize(
    ("kind", "namespace", "name", "field"),
    [
        ("ConfigMap", "../x", "ok", "metadata.namespace"),
        ("ConfigMap", "team-a", "../../x", "metadata.name"),
        ("ConfigMap", "team-a", "a/b", "metadata.name"),
        ("Widget", "team-a", "..", "metadata.name"),
        ("Widget", "team-a", "a\\b", "metadata.name"),
        ("Widget", "team-a", "a\x00b", "metadata.name"),
        ("Wid/get", "team-a", "ok", "kind"),
    ],
)
def test_mirror_path_refuses_names_that_are_not_plain(
    kind: str, namespace: str, name: str, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        mirror_path(_obj(kind, namespace, name))
    assert caught.value.field_path == field


def test_mirror_path_keeps_its_shape_for_good_names() -> None:
    assert (
        mirror_path(_obj("ConfigMap", "team-a", "app.settings"))
        == "mirrors/team-a/configmap_app.settings.yaml"
    )
    assert mirror_path(_obj("Role", "team-a", "system:Edit")) == "mirrors/team-a/role_system:Edit.yaml"


def test_one_kind_and_name_in_two_groups_get_a_file_each_and_a_second_run_keeps_them() -> None:
    def gateway(api_version: str) -> dict[str, Any]:
        obj = source(name="web")
        obj["apiVersion"], obj["kind"] = api_version, "Gateway"
        obj["metadata"]["annotations"]["internal.config.kubernetes.io/path"] = f"{api_version[:5]}.yaml"
        obj["metadata"]["annotations"]["config.kubernetes.io/path"] = f"{api_version[:5]}.yaml"
        del obj["data"]
        return obj

    items = [gateway("networking.istio.io/v1"), gateway("gateway.networking.k8s.io/v1")]
    once, code, _ = fn(items, namespaces="team-a")
    assert code == 0, once.get("results")
    assert paths(once)[2:] == [
        "mirrors/team-a/gateway.gateway.networking.k8s.io_web.yaml",
        "mirrors/team-a/gateway.networking.istio.io_web.yaml",
    ]
    twice, code, _ = fn(once["items"], namespaces="team-a")
    assert code == 0
    assert twice["items"] == once["items"]


# Through the real kpt: a package where someone else's files carry our labels.


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    return env


@pytest.mark.e2e
def test_kpt_fn_render_leaves_users_files_with_our_labels_and_a_bare_kustomization_alone(
    tmp_path: Path,
) -> None:
    kpt = shutil.which("kpt")
    if kpt is None:
        pytest.skip("kpt is not installed")
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "krm-function" / "examples" / "kpt", pkg)
    (pkg / "kustomization.yaml").write_text("resources:\n- settings.yaml\n")
    (pkg / "other").mkdir()
    mine = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n  namespace: team-a\n  labels:\n"
        '    kubectl-mirror.io/mirror: "true"\n    app.kubernetes.io/managed-by: kubectl-mirror\n'
        "data:\n  mine: keep me\n"
    )
    (pkg / "other" / "mine.yaml").write_text(mine)
    env = _env(tmp_path)
    for _ in range(2):
        proc = subprocess.run(
            [kpt, "fn", "render", str(pkg), "--allow-exec"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
    assert (pkg / "other" / "mine.yaml").read_text() == mine
    assert (pkg / "kustomization.yaml").read_text() == "resources:\n- settings.yaml\n"
    assert sorted(str(p.relative_to(pkg)) for p in (pkg / "mirrors").rglob("*.yaml")) == [
        "mirrors/team-a/configmap_shared-settings.yaml",
        "mirrors/team-b/configmap_shared-settings.yaml",
    ]
    (pkg / "settings.yaml").unlink()
    proc = subprocess.run(
        [kpt, "fn", "render", str(pkg), "--allow-exec"], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert not list(pkg.rglob("mirrors/**/*.yaml"))
    assert (pkg / "other" / "mine.yaml").read_text() == mine
