"""Bad input, through the real CLI: one line naming the object and the field, exit 1, no
traceback, nothing on stdout; and the KRM function reports the same error as a result."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kubectl_mirror.krm import run_bytes

NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"


def src(
    annotations: str = '    kubectl-mirror.io/targets: "team-a"\n',
    *,
    kind: str = "ConfigMap",
    api: str = "v1",
    body: str = "data:\n  k: v\n",
    namespace: str = "platform",
    labels: str = "",
) -> str:
    return (
        f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: s\n  namespace: {namespace}\n"
        f'  labels:\n    kubectl-mirror.io/source: "true"\n{labels}  annotations:\n{annotations}{body}'
    )


def transform(rules: str, strict: bool = True) -> str:
    indented = "".join(f"      {line}\n" for line in rules.splitlines())
    out = '    kubectl-mirror.io/targets: "team-a"\n'
    out += f"    kubectl-mirror.io/transform: |\n{indented}"
    if strict:
        out += '    kubectl-mirror.io/transform-strict: "true"\n'
    return out


def policy(spec: str) -> str:
    return "apiVersion: kubectl-mirror.io/v1alpha1\nkind: MirrorPolicy\nmetadata:\n  name: p\nspec:\n" + spec


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expected: str  # a part of the one-line message
    args: tuple[str, ...] = ()
    krm: bool = True  # the same input makes sense as ResourceList items


CASES = [
    Case("malformed-yaml", "kind: [unclosed\n", "invalid YAML", krm=False),
    Case("tab-indentation", "metadata:\n\tname: x\n", "invalid YAML", krm=False),
    Case("scalar-document", "just a string\n", "document 0 is a str, not an object", krm=False),
    Case("missing-apiversion", "kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion: is required"),
    Case("missing-kind", "apiVersion: v1\nmetadata: {name: a}\n", "kind: is required"),
    Case(
        "metadata-not-mapping",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n",
        "metadata: is required and must be a mapping",
    ),
    Case(
        "missing-name",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: a}\n",
        "metadata.name: is required",
    ),
    Case(
        "labels-not-mapping",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: [x]}\n",
        "metadata.labels: must be a mapping",
    ),
    Case(
        "namespace-not-string",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: 3}\n",
        "metadata.namespace: must be a string",
    ),
    Case(
        "list-items-not-list",
        "apiVersion: v1\nkind: List\nitems: 3\n",
        "items: must be a list",
        krm=False,
    ),
    Case(
        "targets-not-string",
        src("    kubectl-mirror.io/targets: 3\n"),
        'annotations["kubectl-mirror.io/targets"]: must be a string',
    ),
    Case(
        "no-targets",
        src("    other: x\n"),
        "source has no kubectl-mirror.io/targets or kubectl-mirror.io/target-selector annotation",
    ),
    Case(
        "unknown-strategy",
        src('    kubectl-mirror.io/targets: "a"\n    kubectl-mirror.io/strategy: sometimes\n'),
        "unknown value 'sometimes'",
    ),
    Case(
        "unknown-on-source-delete",
        src('    kubectl-mirror.io/targets: "a"\n    kubectl-mirror.io/on-source-delete: keep\n'),
        "unknown value 'keep'",
    ),
    Case(
        "bad-transform-strict",
        src('    kubectl-mirror.io/targets: "a"\n    kubectl-mirror.io/transform-strict: "maybe"\n'),
        'must be "true" or "false"',
    ),
    Case("invalid-glob", src('    kubectl-mirror.io/targets: "team-[a"\n'), "invalid glob 'team-[a'"),
    Case(
        "invalid-namespace-name",
        src('    kubectl-mirror.io/targets: "Team_A"\n'),
        "'Team_A' is not a valid namespace name",
    ),
    Case(
        "namespace-name-too-long",
        src(f'    kubectl-mirror.io/targets: "{"a" * 64}"\n'),
        "is not a valid namespace name",
    ),
    Case(
        "invalid-exclude",
        src('    kubectl-mirror.io/targets: "*"\n    kubectl-mirror.io/exclude: "x["\n'),
        "invalid glob",
    ),
    Case(
        "unbalanced-selector",
        src('    kubectl-mirror.io/target-selector: "env in (prod"\n'),
        "invalid label selector",
    ),
    Case(
        "bad-selector-key",
        src('    kubectl-mirror.io/target-selector: "bad key=1"\n'),
        "invalid label selector",
    ),
    Case(
        "source-without-namespace",
        src(namespace='""'),
        "metadata.namespace: a source must have a namespace",
    ),
    Case(
        "too-many-targets",
        src('    kubectl-mirror.io/targets: "*"\n')
        + "---\n"
        + "---\n".join(NS.format(name=f"n{i}") for i in range(3)),
        "resolves to 3 target namespaces, more than the limit of 2",
        ("--max-targets", "2"),
    ),
    Case(
        "cluster-scoped-kind",
        src(kind="ClusterRole", api="rbac.authorization.k8s.io/v1", body="rules: []\n"),
        "ClusterRole is cluster-scoped",
    ),
    Case(
        "denied-kind-role",
        src(kind="Role", api="rbac.authorization.k8s.io/v1", body="rules: []\n"),
        "Role is not mirrored by default (add --allow-kinds Role",
    ),
    Case("denied-kind-pod", src(kind="Pod", body="spec: {}\n"), "Pod is not mirrored by default"),
    Case(
        "service-account-token",
        src(kind="Secret", body="type: kubernetes.io/service-account-token\n"),
        "type: Secrets of type kubernetes.io/service-account-token",
    ),
    Case(
        "string-data-not-mapping",
        src(kind="Secret", body="stringData: [a]\n"),
        "stringData: must be a mapping",
    ),
    Case("transform-not-a-list", src(transform("just text")), "kubectl-mirror.io/transform"),
    Case("transform-rule-without-path", src(transform("- value: x")), "path"),
    Case(
        "transform-two-operations",
        src(transform("- path: data.k\n  value: x\n  delete: true")),
        "exactly one",
    ),
    Case("transform-bad-path", src(transform("- path: data[\n  value: x")), "path"),
    Case(
        "transform-template-syntax",
        src(transform("- path: data.k\n  template: '{{ x '")),
        "template",
    ),
    Case(
        "transform-bad-namespace-pattern",
        src(transform("- path: data.k\n  value: x\n  namespacePattern: '[a'")),
        "namespacePattern",
    ),
    Case(
        "transform-too-many-rules",
        src(transform("\n".join(f"- path: data.k{i}\n  value: x" for i in range(51)))),
        "50",
    ),
    Case(
        "transform-oversized",
        src(transform("- path: data.k\n  value: '" + "x" * 11000 + "'")),
        "10240",
    ),
    Case(
        "sandbox-escape-class",
        src(transform("- path: data.k\n  template: \"{{ ''.__class__.__mro__ }}\"")),
        "unsafe",
    ),
    Case(
        "sandbox-escape-globals",
        src(transform("- path: data.k\n  template: '{{ range.__globals__ }}'")),
        "unsafe",
    ),
    Case(
        "runaway-template",
        src(
            transform(
                "- path: data.k\n  template: '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'"
            )
        ),
        "budget",
    ),
    Case(
        "undefined-variable-strict",
        src(transform("- path: data.k\n  template: '{{ nothing.here }}'")),
        "undefined",
    ),
    Case("merge-into-non-map", src(transform("- path: data.k\n  merge: {a: b}")), "merge"),
    Case("policy-missing-source", policy("  targets: [a]\n"), "spec.source: is required"),
    Case(
        "policy-unknown-strategy",
        policy("  source: {namespace: c}\n  targets: [a]\n  strategy: x\n"),
        "spec.strategy: unknown value 'x'",
    ),
    Case(
        "policy-bad-selector",
        policy(
            "  source: {namespace: c, selector: {matchExpressions: [{key: a, operator: Bad}]}}\n  targets: [a]\n"
        ),
        "spec.source.selector: invalid label selector",
    ),
    Case(
        "option-bad-namespace",
        src(),
        "'Bad_NS' is not a valid namespace name",
        ("--namespaces", "Bad_NS"),
        krm=False,
    ),
    Case("option-bad-drop-glob", src(), "invalid glob '[x'", ("--drop-metadata", "[x"), krm=False),
    Case("option-bad-output", src(), "unknown output format 'xml'", ("-o", "xml"), krm=False),
]


def test_the_suite_has_at_least_forty_distinct_cases() -> None:
    assert len({c.name for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_line_and_exit_1(case: Case, tmp_path: Path) -> None:
    file = tmp_path / "in.yaml"
    file.write_text(case.text)
    proc = subprocess.run(
        ["kubectl-mirror", "render", str(file), *case.args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert case.expected in lines[0]


KRM_CASES = [c for c in CASES if c.krm]


@pytest.mark.parametrize("case", KRM_CASES, ids=[c.name for c in KRM_CASES])
def test_krm_function_reports_the_same_error_as_a_result(case: Case, tmp_path: Path) -> None:
    items = [d for d in yaml.safe_load_all(case.text) if d is not None]
    doc = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if case.args:
        doc["functionConfig"] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "function-input"},
            "data": {case.args[0].lstrip("-"): case.args[1]},
        }
    out, code = run_bytes(yaml.safe_dump(doc).encode())
    assert code == 1
    errors = [r for r in yaml.safe_load(out)["results"] if r["severity"] == "error"]
    assert len(errors) == 1
    field = errors[0].get("field", {}).get("path")
    line = f"{field}: {errors[0]['message']}" if field else errors[0]["message"]
    assert case.expected in line
    file = tmp_path / "in.yaml"
    file.write_text(case.text)
    cli = subprocess.run(
        ["kubectl-mirror", "render", str(file), *case.args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.stderr.strip().endswith(line)


@pytest.mark.parametrize("bad", ["certificate-authority", "client-certificate"])
def test_an_unusable_certificate_in_the_kubeconfig_is_one_line_naming_the_kubeconfig(
    bad: str, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cluster = {"server": "https://127.0.0.1:1"}
    user: dict[str, str] = {"token": "t"}
    if bad == "certificate-authority":
        cluster["certificate-authority"] = str(garbage)
    else:
        user = {"client-certificate": str(garbage), "client-key": str(garbage)}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        ["kubectl-mirror", "status", "-A", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: --kubeconfig: cannot use the cluster's certificate authority")
