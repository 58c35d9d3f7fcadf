"""Hostile and careless inputs for the offline front doors, by class.

Each case is a package of files as someone else might push them to a repository. The runner
(test_hostile.py) puts it through `kubectl-mirror render --output-dir` and through
`kubectl-mirror-fn`, each in a child process under a memory and a time limit, and holds the
invariants every case must keep; `expect` adds what this case in particular must give.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

Expect = Literal["ok", "error", "any"]
SECRET = "hunter2-Sup3r-s3cret"  # appears in Secrets below; must never reach an error or a result
SECRET_B64 = base64.b64encode(SECRET.encode()).decode()
VICTIM = "victim.yaml"  # a file beside the output directory that nothing may touch


@dataclass(frozen=True)
class Case:
    name: str
    group: int  # the class of the issue (1-10)
    files: dict[str, str]  # package-relative path -> text
    expect: Expect = "any"
    # Pre-existing content of the output directory: relative path -> text, or "->target" for a
    # symlink to `target` (relative to the sandbox).
    out: dict[str, str] = field(default_factory=dict)
    krm: bool = True  # also through the KRM function
    render_args: tuple[str, ...] = ()
    says: str = ""  # a substring the error output must hold (when expect == "error")


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's): any character survives."""
    return json.dumps(text)


def ns(name: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {q(name)}\n"


def source(
    name: str = "settings",
    namespace: str = "platform",
    *,
    targets: str = "team-*",
    kind: str = "ConfigMap",
    extra_annotations: str = "",
    labels: str = '    kubectl-mirror.io/source: "true"\n',
    body: str = "data:\n  region: eu\n",
    api_version: str = "v1",
) -> str:
    return (
        f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: {q(name)}\n  namespace: {q(namespace)}\n"
        f"  labels:\n{labels}"
        f"  annotations:\n    kubectl-mirror.io/targets: {q(targets)}\n{extra_annotations}"
        f"{body}"
    )


def secret(
    name: str = "creds", *, extra_annotations: str = "", body: str = "", targets: str = "team-*"
) -> str:
    return source(
        name,
        kind="Secret",
        targets=targets,
        extra_annotations=extra_annotations,
        body=body or f"type: Opaque\ndata:\n  password: {SECRET_B64}\n",
    )


def kubemirror(template: str, *, kind: str = "ConfigMap") -> str:
    """A KubeMirror-dialect source whose one transform rule is a Go template."""
    body = f"type: Opaque\ndata:\n  password: {SECRET_B64}\n" if kind == "Secret" else "data:\n  region: eu\n"
    rules = json.dumps(
        {"rules": [{"path": "data.password" if kind == "Secret" else "data.x", "template": template}]}
    )
    return (
        f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: km\n  namespace: platform\n"
        "  labels:\n    kubemirror.raczylo.com/enabled: 'true'\n"
        "  annotations:\n    kubemirror.raczylo.com/sync: 'true'\n"
        "    kubemirror.raczylo.com/target-namespaces: team-a\n"
        f"    kubemirror.raczylo.com/transform: {q(rules)}\n{body}"
    )


def transform(rules: str) -> str:
    """A transform annotation holding `rules` (YAML text, indented into a block scalar)."""
    return "    kubectl-mirror.io/transform: |\n" + "".join(f"      {line}\n" for line in rules.splitlines())


BASE = {"namespaces.yaml": "---\n".join(ns(n) for n in ("platform", "team-a", "team-b"))}


def pkg(**files: str) -> dict[str, str]:
    return {**BASE, **{k.replace("__", "/").replace("_yaml", ".yaml"): v for k, v in files.items()}}


def _laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        refs = ", ".join(f"*a{i - 1}" for _ in range(width))
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines)


def _merge_bomb(levels: int = 16) -> str:
    lines = ["m0: &m0 {k0: v, k1: v}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], x{i}a: *m{i - 1}, x{i}b: *m{i - 1}}}")
    return "\n".join(lines)


def cases() -> Iterator[Case]:
    yield from _paths()
    yield from _parsing()
    yield from _backtracking()
    yield from _budgets()
    yield from _secrets()
    yield from _unusual()
    yield from _krm_ownership()
    yield from _kind_rules()
    yield from _groups()
    yield from _smaller()


# 1. Writing and deleting outside --output-dir ------------------------------------------------


def _paths() -> Iterator[Case]:
    for i, bad in enumerate(
        [
            "../../x",
            "../escape",
            "/tmp/absolute",
            "a/b",
            "..",
            ".",
            "team\\..\\x",
            "team-a\n- ../../victim.yaml",
            "team-a\n- https://example.com/remote.yaml",
            "x" * 300,
            "team-\u202ea",
            "team-a\x00b",
        ]
    ):
        files = {"namespaces.yaml": ns("platform") + "---\n" + ns(bad), "src.yaml": source(targets="*")}
        yield Case(f"namespace-name-{i}", 1, files, expect="any")
    for i, bad in enumerate(["../../x", "a/../../b", "/abs", "..", "a\nb: c", "x" * 300, "..\\x"]):
        files = pkg(src_yaml=source(name=bad))
        yield Case(f"object-name-{i}", 1, files, expect="error" if bad != "x" * 300 else "any")
    header = "# Generated by kubectl-mirror render --output-dir. Do not edit: re-run it instead.\n"
    for i, listed in enumerate(
        ["../victim.yaml", "/etc/hostname", "team-a/../../victim.yaml", "..", "team-a"]
    ):
        kust = (
            header
            + f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {listed}\n"
        )
        yield Case(
            f"kustomization-lists-{i}", 1, pkg(src_yaml=source()), out={"kustomization.yaml": kust}, krm=False
        )
    yield Case(
        "symlink-file-in-output",
        1,
        pkg(src_yaml=source()),
        out={"team-a/configmap-settings.yaml": f"->{VICTIM}"},
        krm=False,
    )
    yield Case("symlink-dir-in-output", 1, pkg(src_yaml=source()), out={"team-a": "->elsewhere"}, krm=False)
    yield Case(
        "our-looking-file-outside-listing",
        1,
        pkg(src_yaml=source()),
        out={"team-b/configmap-other.yaml": "metadata:\n  labels:\n    kubectl-mirror.io/mirror: 'true'\n"},
        krm=False,
    )


# 2. Unbounded parsing -----------------------------------------------------------------------


def _parsing() -> Iterator[Case]:
    laughs = _laughs()
    yield Case(
        "billion-laughs-in-data",
        2,
        pkg(src_yaml=source(body="data:\n  region: eu\nx:\n  " + laughs.replace("\n", "\n  ") + "\n")),
    )
    yield Case("billion-laughs-document", 2, pkg(bomb_yaml=laughs + "\n"))
    yield Case(
        "billion-laughs-in-transform",
        2,
        pkg(
            src_yaml=source(
                extra_annotations=transform("- path: data.x\n  value:\n    " + laughs.replace("\n", "\n    "))
            )
        ),
    )
    yield Case("merge-key-bomb", 2, pkg(bomb_yaml=_merge_bomb() + "\n"))
    yield Case(
        "merge-key-bomb-in-transform",
        2,
        pkg(
            src_yaml=source(
                extra_annotations=transform(
                    "- path: data.x\n  value:\n    " + _merge_bomb().replace("\n", "\n    ")
                )
            )
        ),
    )
    passthrough = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: team-a\ndata:\n  "
        + laughs.replace("\n", "\n  ")
        + "\n"
    )
    yield Case("billion-laughs-in-passthrough-item", 2, pkg(src_yaml=source(), other_yaml=passthrough))
    yield Case(
        "huge-flow-sequence",
        2,
        pkg(src_yaml=source(body="data:\n  region: eu\nspec: [" + ", ".join(["1"] * 200_000) + "]\n")),
    )


# 3. Catastrophic backtracking ---------------------------------------------------------------


def _backtracking() -> Iterator[Case]:
    long = "a" * 60
    spaces = pkg(
        many_yaml="---\n".join(ns(n) for n in (long, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"))
    )
    yield Case(
        "glob-stars", 3, {**spaces, "src.yaml": source(targets="*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")}
    )
    yield Case(
        "exclude-glob-stars",
        3,
        {
            **spaces,
            "src.yaml": source(
                targets="*",
                extra_annotations="    kubectl-mirror.io/exclude: '*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c'\n",
            ),
        },
    )
    yield Case(
        "glob-classes",
        3,
        {**spaces, "src.yaml": source(targets="*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*b")},
    )
    reflector = "reflector.v1.k8s.emberstack.com"
    for i, regex in enumerate(["(a+)+b", "(a|aa)+b", "(a*)*b", "(.*a){20}b", "a{1000000}"]):
        annotations = (
            f"    {reflector}/reflection-allowed: 'true'\n    {reflector}/reflection-auto-enabled: 'true'\n"
            f"    {reflector}/reflection-auto-namespaces: {regex!r}\n"
        )
        obj = source(labels="    {}\n", extra_annotations=annotations).replace(
            "    kubectl-mirror.io/targets: 'team-*'\n", ""
        )
        yield Case(f"reflector-regex-{i}", 3, {**spaces, "src.yaml": obj})
    replicator = "replicator.v1.mittwald.de"
    for i, regex in enumerate(["(a+)+b", "([a-z]+)*$b"]):
        obj = source(
            labels="    {}\n", extra_annotations=f"    {replicator}/replicate-to: {regex!r}\n"
        ).replace("    kubectl-mirror.io/targets: 'team-*'\n", "")
        yield Case(f"replicator-regex-{i}", 3, {**spaces, "src.yaml": obj})


# 4. Template budgets ------------------------------------------------------------------------


def _budgets() -> Iterator[Case]:
    slow = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
    rules = "".join(f"- path: data.k{i}\n  template: {slow!r}\n" for i in range(50))
    many = "---\n".join(ns(f"team-{i}") for i in range(10))
    yield Case(
        "fifty-slow-rules-ten-targets",
        4,
        {**pkg(src_yaml=source(extra_annotations=transform(rules))), "more.yaml": many},
    )
    yield Case(
        "slow-rules-many-sources",
        4,
        {
            **pkg(
                **{f"s{i}_yaml": source(name=f"s{i}", extra_annotations=transform(rules)) for i in range(5)}
            ),
            "more.yaml": many,
        },
    )
    yield Case(
        "huge-template-output",
        4,
        pkg(
            src_yaml=source(
                extra_annotations=transform("- path: data.x\n  template: \"{{ 'x' * 100000000 }}\"\n")
            )
        ),
    )


# 5. Secret values in errors -----------------------------------------------------------------


def _secrets() -> Iterator[Case]:
    yield Case(
        "template-attribute-of-secret-value",
        5,
        pkg(
            src_yaml=secret(
                extra_annotations=transform("- path: data.password\n  template: '{{ value.nope }}'\n")
            )
        ),
    )
    yield Case(
        "template-secret-value-as-attribute",
        5,
        pkg(
            src_yaml=secret(
                extra_annotations=transform("- path: data.password\n  template: '{{ target[value] }}'\n")
            )
        ),
    )
    yield Case(
        "template-secret-in-int-filter",
        5,
        pkg(
            src_yaml=secret(
                extra_annotations=transform("- path: data.password\n  template: '{{ value + 1 }}'\n")
            )
        ),
    )
    yield Case(
        "strict-template-error-on-secret",
        5,
        pkg(
            src_yaml=secret(
                extra_annotations=transform("- path: data.password\n  template: '{{ value.nope }}'\n")
                + "    kubectl-mirror.io/transform-strict: 'true'\n"
            )
        ),
        expect="error",
    )
    yield Case("go-template-on-secret", 5, pkg(src_yaml=kubemirror("{{ .Labels.nope.more }}", kind="Secret")))
    dup = f"type: Opaque\nstringData:\n  password: {SECRET}\n  password: {SECRET}-2\n"
    yield Case("duplicate-key-in-stringdata", 5, pkg(src_yaml=secret(body=dup)), expect="error")
    bad_yaml = secret(body=f"type: Opaque\ndata:\n  password: {SECRET_B64}\n  broken: [{SECRET}\n")
    yield Case("yaml-syntax-error-on-secret-line", 5, pkg(src_yaml=bad_yaml), expect="error")
    yield Case(
        "bad-base64-secret", 5, pkg(src_yaml=secret(body=f"type: Opaque\ndata:\n  password: {SECRET}!!\n"))
    )
    yield Case(
        "secret-value-in-targets-typo", 5, pkg(src_yaml=secret(targets=f"Bad_{SECRET}")), expect="error"
    )


# 6. Valid or unusual YAML -------------------------------------------------------------------


def _unusual() -> Iterator[Case]:
    yield Case(
        "unquoted-timestamp",
        6,
        pkg(src_yaml=source(body="data:\n  when: 2024-01-01T00:00:00Z\n  day: 2024-01-01\n")),
        expect="ok",
    )
    yield Case(
        "binary-value", 6, pkg(src_yaml=source(body="binaryData:\n  blob: !!binary aGVsbG8=\n")), expect="ok"
    )
    deep = "x: " + "[" * 300 + "]" * 300 + "\n"
    yield Case("deep-300", 6, pkg(src_yaml=source(body="data:\n  region: eu\n" + deep)))
    deeper = "x: " + "[" * 20000 + "]" * 20000 + "\n"
    yield Case("deep-20000", 6, pkg(src_yaml=source(body="data:\n  region: eu\n" + deeper)))
    yield Case("recursive-alias", 6, pkg(src_yaml=source(body="data:\n  region: eu\nspec: &a [*a]\n")))
    yield Case(
        "recursive-alias-in-passthrough",
        6,
        pkg(
            src_yaml=source(),
            other_yaml="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\n  namespace: team-a\nspec: &a {self: *a}\n",
        ),
    )
    long_expr = "{{ " + " + ".join(["1"] * 5000) + " }}"
    yield Case(
        "long-jinja-expression",
        6,
        pkg(src_yaml=source(extra_annotations=transform(f"- path: data.x\n  template: {long_expr!r}\n"))),
    )
    nested_expr = "{{ " + "(" * 500 + "1" + ")" * 500 + " }}"
    yield Case(
        "nested-jinja-expression",
        6,
        pkg(src_yaml=source(extra_annotations=transform(f"- path: data.x\n  template: {nested_expr!r}\n"))),
    )
    yield Case("go-template-huge-number", 6, pkg(src_yaml=kubemirror("{{ " + "9" * 5000 + " }}")))
    yield Case(
        "go-template-deep-parens", 6, pkg(src_yaml=kubemirror("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}"))
    )
    yield Case(
        "huge-int-value",
        6,
        pkg(src_yaml=source(body="data:\n  region: eu\nspec:\n  n: " + "9" * 5000 + "\n")),
    )
    yield Case(
        "nan-and-inf", 6, pkg(src_yaml=source(body="data:\n  region: eu\nspec:\n  a: .nan\n  b: -.inf\n"))
    )
    yield Case("unknown-tag", 6, pkg(src_yaml=source(body="data:\n  region: !vault secret/x\n")))
    yield Case(
        "python-tag",
        6,
        pkg(src_yaml=source(body="data:\n  region: !!python/object/apply:os.system ['touch pwned']\n")),
    )
    yield Case("non-string-keys", 6, pkg(src_yaml=source(body="data:\n  1: one\n  true: yes\n  null: x\n")))
    yield Case("complex-key", 6, pkg(src_yaml=source(body="data:\n  ? [a, b]\n  : v\n")))
    yield Case("duplicate-top-level-keys", 6, pkg(src_yaml=source(body="data:\n  a: 1\ndata:\n  b: 2\n")))
    yield Case("not-a-mapping", 6, pkg(list_yaml="- just\n- a list\n", scalar_yaml="hello\n"))
    yield Case(
        "kind-list-of-junk", 6, pkg(list_yaml="apiVersion: v1\nkind: List\nitems: [1, null, {kind: X}]\n")
    )
    yield Case("invalid-utf8", 6, pkg(src_yaml=source(body="data:\n  region: \udcff\n")))
    yield Case("bom-and-crlf", 6, pkg(src_yaml="\ufeff" + source().replace("\n", "\r\n")), expect="ok")
    yield Case("tab-indentation", 6, pkg(src_yaml=source().replace("  name", "\tname")), expect="error")
    yield Case("thousand-documents", 6, pkg(many_yaml="---\n" * 1000 + source()), expect="ok")
    yield Case("huge-scalar", 6, pkg(src_yaml=source(body="data:\n  region: " + "x" * 3_000_000 + "\n")))


# 7. The KRM function deletes only what it wrote ----------------------------------------------


def _krm_ownership() -> Iterator[Case]:
    users_own = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n  namespace: team-a\n  labels:\n"
        "    kubectl-mirror.io/mirror: 'true'\n    app.kubernetes.io/managed-by: kubectl-mirror\ndata:\n  keep: me\n"
    )
    yield Case(
        "user-file-with-our-labels", 7, pkg(src_yaml=source(), elsewhere__mine_yaml=users_own), expect="ok"
    )
    yield Case(
        "user-file-in-mirrors-dir",
        7,
        pkg(src_yaml=source(), mirrors__team_a__configmap_mine_yaml=users_own),
        expect="ok",
    )
    yield Case(
        "kustomization-without-apiversion",
        7,
        pkg(src_yaml=source(), kustomization_yaml="resources:\n- src.yaml\n"),
        expect="ok",
    )


# 8. Kind rules cannot be bypassed by transforms ----------------------------------------------


def _kind_rules() -> Iterator[Case]:
    sa_token = transform("- path: type\n  value: kubernetes.io/service-account-token\n")
    yield Case("transform-to-sa-token", 8, pkg(src_yaml=secret(extra_annotations=sa_token)), expect="error")
    for field_path, value in (
        ("kind", "Pod"),
        ("apiVersion", "v2"),
        ("metadata.name", "other"),
        ("metadata.namespace", "kube-system"),
    ):
        rule = transform(f"- path: {field_path}\n  value: {value}\n")
        yield Case(
            f"transform-sets-{field_path.replace('.', '-')}",
            8,
            pkg(src_yaml=source(extra_annotations=rule)),
            expect="error",
        )
    yield Case(
        "transform-merge-into-metadata-name",
        8,
        pkg(src_yaml=source(extra_annotations=transform("- path: metadata\n  merge: {name: other}\n"))),
        expect="error",
    )
    yield Case(
        "sa-token-source",
        8,
        pkg(src_yaml=secret(body="type: kubernetes.io/service-account-token\ndata: {}\n")),
        expect="error",
    )


# 9. Keys with the API group -----------------------------------------------------------------


def _groups() -> Iterator[Case]:
    a = source(name="web", kind="Gateway", api_version="gateway.networking.k8s.io/v1", body="spec: {}\n")
    b = source(name="web", kind="Gateway", api_version="networking.istio.io/v1", body="spec: {}\n")
    yield Case("same-kind-and-name-in-two-groups", 9, pkg(a_yaml=a, b_yaml=b), expect="ok")


# 10. Smaller ones ---------------------------------------------------------------------------


def _smaller() -> Iterator[Case]:
    unquoted = source(labels="    kubectl-mirror.io/source: true\n")
    yield Case(
        "unquoted-true-source-label",
        10,
        pkg(src_yaml=unquoted),
        expect="error",
        says="kubectl-mirror.io/source",
    )
    crd = (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n"
        "spec:\n  group: example.com\n  scope: Cluster\n  names: {kind: Widget, plural: widgets}\n"
        "  versions: [{name: v1, served: true, storage: true}]\n"
    )
    widget = source(name="w", kind="Widget", api_version="example.com/v1", body="spec: {}\n")
    yield Case("cluster-scoped-crd-kind", 10, pkg(crd_yaml=crd, w_yaml=widget), expect="error")
    for i, bad in enumerate(
        ["Team-A", "team\x1b[31mred", "team a", "team\ttab", "-team", "team-" + "a" * 70]
    ):
        yield Case(
            f"invalid-namespace-{i}",
            10,
            {"namespaces.yaml": ns("platform") + "---\n" + ns(bad), "src.yaml": source(targets="*")},
        )
    yield Case("invalid-explicit-target", 10, pkg(src_yaml=source(targets="team-a,\x1b[2J")), expect="error")
    yield Case(
        "explain-with-hostile-namespace",
        10,
        {
            "namespaces.yaml": ns("platform") + "---\n" + ns("x\nFORGED: line"),
            "src.yaml": source(targets="*"),
        },
        render_args=("--explain",),
    )
