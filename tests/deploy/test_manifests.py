"""The in-cluster deployment under deploy/: valid for kubectl, faithful to the official schemas,
locked down, minimal in its rights, and in step with the CRD, the image and the CLI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver.fixtures import Kubectl
from tests.apiserver.resources import ResourceType
from tests.apiserver.server import ApiServer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMESPACE = "kubectl-mirror-system"
IMAGE = "ghcr.io/kubectl-mirror/kubectl-mirror:v0.1.0"
EDIT = ["get", "list", "watch", "create", "update", "patch", "delete"]


def manifests() -> list[Path]:
    return sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def objects() -> list[dict[str, Any]]:
    return [doc for path in manifests() for doc in yaml.safe_load_all(path.read_text()) if doc]


def one(kind: str) -> dict[str, Any]:
    [found] = [o for o in objects() if o["kind"] == kind]
    return found


def container() -> dict[str, Any]:
    [c] = one("Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(c)


# -- the set of files ------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_once() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifests())
    assert len(set(kustomization["resources"])) == len(kustomization["resources"])


def test_deploy_holds_the_expected_objects() -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects())
    assert kinds == [
        ("ClusterRole", "kubectl-mirror"),
        ("ClusterRoleBinding", "kubectl-mirror"),
        ("CustomResourceDefinition", "mirrorpolicies.kubectl-mirror.io"),
        ("Deployment", "kubectl-mirror"),
        ("Namespace", NAMESPACE),
        ("Role", "kubectl-mirror-leader-election"),
        ("RoleBinding", "kubectl-mirror-leader-election"),
        ("Service", "kubectl-mirror-metrics"),
        ("ServiceAccount", "kubectl-mirror"),
    ]


def test_the_crd_is_a_byte_for_byte_copy_of_the_packaged_one() -> None:
    packaged = ROOT / "kubectl_mirror" / "crds" / "mirrorpolicy.yaml"
    assert (DEPLOY / "crd-mirrorpolicy.yaml").read_bytes() == packaged.read_bytes(), (
        "deploy/crd-mirrorpolicy.yaml drifted: cp kubectl_mirror/crds/mirrorpolicy.yaml deploy/crd-mirrorpolicy.yaml"
    )


def test_every_namespaced_object_lives_in_the_controller_namespace() -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    for obj in objects():
        expected = None if obj["kind"] in cluster_scoped else NAMESPACE
        assert obj["metadata"].get("namespace") == expected, obj["kind"]


# -- schema ----------------------------------------------------------------------------------


def round_trip(obj: dict[str, Any]) -> Any:
    """The object through the official client's generated model and back. A field the model
    does not know is dropped on the way in, so any difference is a field outside the schema."""
    from kubernetes.client import ApiClient

    client = ApiClient()
    try:
        version = obj["apiVersion"].rpartition("/")[2]
        model = client._ApiClient__deserialize(obj, f"{version.capitalize()}{obj['kind']}")
        return client.sanitize_for_serialization(model)
    finally:
        client.close()


@pytest.mark.parametrize("obj", objects(), ids=lambda o: o["kind"])
def test_every_object_fits_the_official_schema(obj: dict[str, Any]) -> None:
    assert round_trip(obj) == obj


def test_the_schema_check_notices_an_unknown_or_misplaced_field() -> None:
    deployment = one("Deployment")
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    assert round_trip(typo) != typo
    pod = deployment["spec"]["template"]["spec"]
    misplaced = {**pod, "readOnlyRootFilesystem": True}  # belongs in a container's securityContext
    wrong = {**deployment, "spec": {**deployment["spec"], "template": {"spec": misplaced}}}
    assert round_trip(wrong) != wrong


# -- the Deployment --------------------------------------------------------------------------


def test_two_replicas_run_the_controller_with_leader_election() -> None:
    deployment = one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    c = container()
    assert c["image"] == IMAGE
    assert c["args"] == [
        "watch",
        "-A",
        "--leader-elect",
        "--metrics-addr",
        ":8080",
        "--health-addr",
        ":8081",
        "--log-format",
        "json",
    ]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"POD_NAMESPACE": "metadata.namespace", "POD_NAME": "metadata.name"}
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"]


def test_the_controller_runs_locked_down() -> None:
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container()["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in sc
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    assert all("hostPath" not in v for v in pod.get("volumes", []))


def test_probes_hit_the_health_endpoints_and_ports_match_the_flags() -> None:
    c = container()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    args = c["args"]
    assert args[args.index("--metrics-addr") + 1] == f":{ports['metrics']}"
    assert args[args.index("--health-addr") + 1] == f":{ports['health']}"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    service = one("Service")
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == "metrics"
    assert (
        service["spec"]["selector"].items()
        <= one("Deployment")["spec"]["template"]["metadata"]["labels"].items()
    )


def test_resources_are_requested_and_memory_is_capped() -> None:
    assert container()["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "256Mi"},
    }


def test_every_flag_in_the_deployment_exists_on_the_watch_command() -> None:
    done = subprocess.run(
        ["kubectl-mirror", "watch", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for arg in container()["args"][1:]:
        if arg.startswith("-"):
            assert re.search(rf"(^|[\s,]){re.escape(arg)}\b", done.stdout), f"watch has no {arg}"


# -- RBAC ------------------------------------------------------------------------------------


def test_the_cluster_role_grants_no_wildcards_and_nothing_on_rbac() -> None:
    for rule in one("ClusterRole")["rules"]:
        assert "*" not in rule["verbs"], rule
        assert "*" not in rule.get("resources", []), rule
        assert "*" not in rule.get("apiGroups", []), rule
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"], rule
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"]), rule
        assert "nonResourceURLs" not in rule, rule


def test_the_cluster_role_is_exactly_the_documented_minimum() -> None:
    rules = {
        (group, resource): sorted(rule["verbs"])
        for rule in one("ClusterRole")["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert rules == {
        ("", "namespaces"): ["get", "list", "watch"],
        ("", "configmaps"): sorted(EDIT),
        ("", "secrets"): sorted(EDIT),
        ("", "events"): ["create", "patch"],
        ("kubectl-mirror.io", "mirrorpolicies"): ["get", "list", "watch"],
        ("kubectl-mirror.io", "mirrorpolicies/status"): ["patch", "update"],
        # Other tools' policies: read and watched, `update` for the finalizer, and their status.
        ("apps.kapendra.com", "configmapsyncs"): ["get", "list", "patch", "watch"],
        ("apps.kapendra.com", "configmapsyncs/status"): ["patch"],
        ("mirror.configmirror.io", "configmirrors"): ["get", "list", "patch", "watch"],
        ("mirror.configmirror.io", "configmirrors/status"): ["patch"],
        ("apiextensions.k8s.io", "customresourcedefinitions"): ["get", "list", "watch"],
        # Rollouts: workloads read, and patched on one pod-template annotation (server-side apply).
        ("apps", "deployments"): ["get", "list", "patch", "watch"],
        ("apps", "statefulsets"): ["get", "list", "patch", "watch"],
        ("apps", "daemonsets"): ["get", "list", "patch", "watch"],
        ("argoproj.io", "rollouts"): ["get", "list", "patch", "watch"],
    }


def test_every_cluster_role_rule_says_why_it_is_there() -> None:
    """Each rule is preceded by a comment, or follows a rule of the same API group whose comment
    speaks for both (the file is read by people granting these rights)."""
    lines = (DEPLOY / "clusterrole.yaml").read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("  - apiGroups:")]
    assert len(starts) == len(one("ClusterRole")["rules"])
    for before, i in zip([None, *starts], starts, strict=False):
        explained = lines[i - 1].strip().startswith("#")
        same_group = before is not None and lines[before] == lines[i]
        assert explained or same_group, f"no comment above: {lines[i]}"


def test_the_policy_kinds_the_engine_reads_have_their_rights() -> None:
    from kubectl_mirror.engine.policies import POLICY_KINDS

    granted = {
        (g, r) for rule in one("ClusterRole")["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    for kind in POLICY_KINDS:
        plural = {"MirrorPolicy": "mirrorpolicies"}.get(kind.kind, kind.kind.lower() + "s")
        assert {(kind.group, plural), (kind.group, f"{plural}/status")} <= granted, kind.kind


def test_lease_rights_are_confined_to_the_controller_namespace() -> None:
    role = one("Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]
    assert not any("leases" in r["resources"] for r in one("ClusterRole")["rules"])


@pytest.mark.parametrize(
    ("binding", "role"), [("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")]
)
def test_bindings_give_the_roles_to_the_service_account(binding: str, role: str) -> None:
    b = one(binding)
    assert b["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": role,
        "name": one(role)["metadata"]["name"],
    }
    sa = one("ServiceAccount")["metadata"]
    assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]


# -- the image -------------------------------------------------------------------------------


def dockerfile() -> list[list[str]]:
    """Instructions as [INSTRUCTION, rest], continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [line.split(None, 1) for line in lines if line and not line.startswith("#")]


def test_the_image_runs_the_cli_as_the_deployments_non_root_user() -> None:
    steps = dockerfile()
    froms = [rest for op, rest in steps if op == "FROM"]
    assert all(f.split()[0] == "python:3.12-slim" for f in froms)
    # the package itself, with the extra a ConfigMirror's spec.database needs
    assert any(
        op == "RUN" and "pip install" in rest and rest.rstrip().endswith(' ".[postgres]"')
        for op, rest in steps
    )
    [user] = [rest for op, rest in steps if op == "USER"]
    assert user.split(":")[0] == str(container()["securityContext"]["runAsUser"])
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    assert ["ENTRYPOINT", '["kubectl-mirror"]'] in final
    assert ["CMD", '["watch", "-A"]'] in final


# -- kubectl ---------------------------------------------------------------------------------


def serve_cluster_rbac(apiserver: ApiServer) -> None:
    """The fake API server serves Role and RoleBinding but not their cluster-wide forms; add
    them (reset() removes them again) so kubectl can map every kind in deploy/."""
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        apiserver.registry.add_custom(
            ResourceType(
                group="rbac.authorization.k8s.io",
                versions=("v1",),
                kind=kind,
                plural=kind.lower() + "s",
                singular=kind.lower(),
                namespaced=False,
                name_rule="segment",
            )
        )


EXPECTED_LINES = [
    f"namespace/{NAMESPACE}",
    "customresourcedefinition.apiextensions.k8s.io/mirrorpolicies.kubectl-mirror.io",
    "serviceaccount/kubectl-mirror",
    "role.rbac.authorization.k8s.io/kubectl-mirror-leader-election",
    "clusterrole.rbac.authorization.k8s.io/kubectl-mirror",
    "rolebinding.rbac.authorization.k8s.io/kubectl-mirror-leader-election",
    "clusterrolebinding.rbac.authorization.k8s.io/kubectl-mirror",
    "service/kubectl-mirror-metrics",
    "deployment.apps/kubectl-mirror",
]


@pytest.mark.e2e
def test_kubectl_apply_dry_run_client_accepts_deploy(apiserver: ApiServer, kubectl: Kubectl) -> None:
    serve_cluster_rbac(apiserver)
    done = kubectl("apply", "--dry-run=client", "-k", str(DEPLOY))
    assert done.stdout.splitlines() == [f"{line} created (dry run)" for line in EXPECTED_LINES]
    assert apiserver.log.writes() == []


@pytest.mark.e2e
def test_kubectl_apply_installs_deploy_and_reapplies_unchanged(
    apiserver: ApiServer, kubectl: Kubectl
) -> None:
    serve_cluster_rbac(apiserver)
    first = kubectl("apply", "-k", str(DEPLOY))
    assert first.stdout.splitlines() == [f"{line} created" for line in EXPECTED_LINES]
    stored = apiserver.store.get("deployments.apps", NAMESPACE, "kubectl-mirror")
    assert stored is not None and stored["spec"]["replicas"] == 2
    # The CRD is served at once, so MirrorPolicies can be created right after.
    assert kubectl("get", "mirrorpolicies").returncode == 0
    again = kubectl("apply", "-k", str(DEPLOY))
    assert again.stdout.splitlines() == [f"{line} unchanged" for line in EXPECTED_LINES]


# -- deploy/compat: other tools' CRDs ----------------------------------------------------------

COMPAT = DEPLOY / "compat"
COMPAT_CRDS = {
    "configmapsyncs.apps.kapendra.com": ("ConfigMapSync", "v1", "configmapsync"),
    "configmirrors.mirror.configmirror.io": ("ConfigMirror", "v1alpha1", "configmirror"),
}


def compat_crds() -> list[dict[str, Any]]:
    paths = sorted(p for p in COMPAT.glob("*.yaml") if p.name != "kustomization.yaml")
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_compat_kustomization_lists_every_manifest_once() -> None:
    kustomization = yaml.safe_load((COMPAT / "kustomization.yaml").read_text())
    files = sorted(p.name for p in COMPAT.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    assert len(set(kustomization["resources"])) == len(kustomization["resources"])
    assert "compat" not in yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"], (
        "deploy/ must not install other tools' CRDs over theirs"
    )


def test_compat_holds_exactly_the_two_crds() -> None:
    crds = compat_crds()
    assert sorted(c["metadata"]["name"] for c in crds) == sorted(COMPAT_CRDS)
    for crd in crds:
        kind, version, _ = COMPAT_CRDS[crd["metadata"]["name"]]
        spec = crd["spec"]
        assert crd["kind"] == "CustomResourceDefinition"
        assert spec["scope"] == "Namespaced"
        assert spec["names"]["kind"] == kind
        assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
        assert "cm" not in spec["names"].get("shortNames", []), "cm is ConfigMap's short name"
        [served] = spec["versions"]
        assert served["name"] == version and served["served"] and served["storage"]
        assert served["subresources"] == {"status": {}}


@pytest.mark.parametrize("crd", compat_crds(), ids=lambda c: c["spec"]["names"]["kind"])
def test_compat_crds_fit_the_official_schema(crd: dict[str, Any]) -> None:
    assert round_trip(crd) == crd


def _structural_problems(schema: dict[str, Any], path: str) -> list[str]:
    """What the API server's structural-schema rule would refuse: a node without a type (unless
    it preserves unknown fields), or an object whose fields are neither listed nor typed."""
    problems = []
    if "type" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path}: no type")
    for name, sub in (schema.get("properties") or {}).items():
        problems += _structural_problems(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        problems += _structural_problems(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += _structural_problems(schema["additionalProperties"], f"{path}{{}}")
    for name in schema.get("required", []):
        if name not in (schema.get("properties") or {}):
            problems.append(f"{path}: requires {name}, which it does not declare")
    return problems


def test_the_structural_check_notices_an_untyped_field_or_a_missing_required_one() -> None:
    schema = {"type": "object", "required": ["b"], "properties": {"a": {"items": {"type": "string"}}}}
    assert _structural_problems(schema, "") == [".a: no type", ": requires b, which it does not declare"]


@pytest.mark.parametrize("crd", compat_crds(), ids=lambda c: c["spec"]["names"]["kind"])
def test_compat_crd_schemas_are_structural(crd: dict[str, Any]) -> None:
    [version] = crd["spec"]["versions"]
    assert _structural_problems(version["schema"]["openAPIV3Schema"], "") == []


@pytest.mark.parametrize("crd", compat_crds(), ids=lambda c: c["spec"]["names"]["kind"])
def test_compat_crd_spec_fields_are_the_ones_the_engine_reads(crd: dict[str, Any]) -> None:
    """A field the CRD keeps and the engine refuses (or the reverse) would break every resource."""
    import importlib

    _, _, module = COMPAT_CRDS[crd["metadata"]["name"]]
    reader = importlib.import_module(f"kubectl_mirror.engine.dialects.{module}")
    [version] = crd["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["properties"]) == set(reader._FIELDS)
    assert crd["spec"]["group"] == reader.GROUP and version["name"] == reader.VERSION
    assert crd["spec"]["names"]["plural"] == reader.PLURAL


COMPAT_LINES = [
    "customresourcedefinition.apiextensions.k8s.io/configmapsyncs.apps.kapendra.com",
    "customresourcedefinition.apiextensions.k8s.io/configmirrors.mirror.configmirror.io",
]


@pytest.mark.e2e
def test_kubectl_apply_installs_compat_and_serves_both_kinds(apiserver: ApiServer, kubectl: Kubectl) -> None:
    first = kubectl("apply", "-k", str(COMPAT))
    assert first.stdout.splitlines() == [f"{line} created" for line in COMPAT_LINES]
    assert kubectl("get", "configmapsyncs", "-A").returncode == 0
    assert kubectl("get", "configmirrors", "-A").returncode == 0
    again = kubectl("apply", "-k", str(COMPAT))
    assert again.stdout.splitlines() == [f"{line} unchanged" for line in COMPAT_LINES]
