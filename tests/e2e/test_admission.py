"""The admission policies of deploy/components/admission on the real API server, and
`kubectl mirror can-i` giving the same answer for every case.

One table: users who may write in some namespaces only create, update and retarget sources of
every dialect, pull requests, MirrorPolicies, ConfigMapSyncs and ConfigMirrors (CRDs from
deploy/compat/), through the real `kubectl` impersonating them (`--as`, `--as-group`). Each case is first put to `kubectl mirror can-i -f` as that user, then
sent to the API server; both must agree with the table. Real server only: the fake one has no
admission policies (docs/testing.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import ROOT, need, run
from tests.e2e.live_helpers import Watcher

CONTROLLER = "system:serviceaccount:kubectl-mirror-system:kubectl-mirror"
MANY = tuple(f"n{i:02}" for i in range(21))  # dave may create in each
NAMESPACES = ("src", "t1", "t2", "t3", "readable", *MANY)
RW = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _role(name: str, namespace: str, verbs: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": verbs}],
    }


def _binding(role: str, namespace: str | None, subject: str, *, group: bool = False) -> dict[str, Any]:
    kind = "Group" if group else "User"
    meta: dict[str, Any] = {"name": f"{role}-{subject}"}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role" if namespace else "ClusterRole",
            "name": role,
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": subject}],
    }


# alice: owns `src`, may create in t1 and t2, read in `readable`, read the ConfigMap t2/cfg by
#   name only, author policies (MirrorPolicies, ConfigMapSyncs, ConfigMirrors).
# bob: owns `src`, may create ConfigMaps (not Secrets) in every namespace, author policies.
# carol: owns `src`, authors ConfigMapSyncs and ConfigMirrors there; the group team-t3 may create
#   in t3.
# dave: owns `src`, may create in the 21 namespaces of MANY (the policy checks 20 per change).
RBAC: list[dict[str, Any]] = [
    _role("owner", "src", RW),
    *(_role("writer", ns, ["create"]) for ns in ("t1", "t2", "t3", *MANY)),
    *(_binding("writer", ns, "dave") for ns in MANY),
    _role("reader", "readable", ["get", "list"]),
    *(_binding("owner", "src", user) for user in ("alice", "bob", "carol", "dave")),
    _binding("writer", "t1", "alice"),
    _binding("writer", "t2", "alice"),
    _binding("reader", "readable", "alice"),
    _binding("writer", "t3", "team-t3", group=True),
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "configmap-creator"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}],
    },
    _binding("configmap-creator", None, "bob"),
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "cfg-reader", "namespace": "t2"},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": ["cfg"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    },
    _binding("cfg-reader", "t2", "alice"),
    _binding("kubectl-mirror-policy-author", None, "alice"),
    _binding("kubectl-mirror-policy-author", None, "bob"),
    # carol authors ConfigMapSyncs and ConfigMirrors in `src` only: the ClusterRole, bound there.
    _binding("kubectl-mirror-policy-author", None, "carol")
    | {
        "kind": "RoleBinding",
        "metadata": {"name": "kubectl-mirror-policy-author-carol", "namespace": "src"},
    },
    _binding("kubectl-mirror-policy-author", None, "dave"),
]


def obj(
    kind: str = "ConfigMap",
    *,
    name: str = "s",
    namespace: str = "src",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "data": data or {"k": "djE=" if kind == "Secret" else "v1"},
    }


def native(targets: str = "", kind: str = "ConfigMap", **annotations: str) -> dict[str, Any]:
    ann = {"kubectl-mirror.io/targets": targets} if targets else {}
    ann.update({f"kubectl-mirror.io/{k.replace('_', '-')}": v for k, v in annotations.items()})
    return obj(kind, labels={"kubectl-mirror.io/source": "true"}, annotations=ann)


def policy(
    targets: list[str],
    *,
    source: str = "src",
    kinds: list[str] | None = None,
    names: list[str] | None = None,
    selector: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"source": {"namespace": source}, "targets": targets, **spec}
    for key, value in (("kinds", kinds), ("names", names), ("selector", selector)):
        if value is not None:
            body["source"][key] = value
    return {
        "apiVersion": "kubectl-mirror.io/v1alpha1",
        "kind": "MirrorPolicy",
        "metadata": {"name": "p", "labels": labels or {}},
        "spec": body,
    }


def configmapsync(
    destination: str, *, source: str = "src", name: str = "cfg", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "apps.kapendra.com/v1",
        "kind": "ConfigMapSync",
        "metadata": {"name": "sync", "namespace": "src", "labels": labels or {}},
        "spec": {"sourceNamespace": source, "destinationNamespace": destination, "configMapName": name},
    }


def configmirror(
    targets: list[str],
    *,
    source: str = "src",
    selector: dict[str, Any] | None = None,
    secret: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "sourceNamespace": source,
        "targetNamespaces": targets,
        "selector": {"matchLabels": {"app": "web"}} if selector is None else selector,
    }
    if secret is not None:
        spec["database"] = {"enabled": True, "secretRef": secret}
    return {
        "apiVersion": "mirror.configmirror.io/v1alpha1",
        "kind": "ConfigMirror",
        "metadata": {"name": "mirror", "namespace": "src"},
        "spec": spec,
    }


SELECTOR = {
    "matchLabels": {"app": "web"},
    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
}
NOTE = [{"path": "data.note", "value": "mirrored"}]
WITHHELD = [{"path": "data.password", "delete": True}]  # a key of the source no target receives
RULE = {"path": "data.note", "template": "{{ target.namespace }}", "namespacePattern": "t*"}
R = "reflector.v1.k8s.emberstack.com/"
P = "replicator.v1.mittwald.de/"
KM = "kubemirror.raczylo.com/"
K = "kubed.appscode.com/"


def reflector(**annotations: str) -> dict[str, Any]:
    ann = {R + "reflection-allowed": "true", R + "reflection-auto-enabled": "true"}
    ann.update({R + k.replace("_", "-"): v for k, v in annotations.items()})
    return obj("Secret", annotations=ann)


def kubemirror(targets: str) -> dict[str, Any]:
    return obj(
        labels={KM + "enabled": "true"}, annotations={KM + "sync": "true", KM + "target-namespaces": targets}
    )


def with_data(o: dict[str, Any], **data: str) -> dict[str, Any]:
    return {**o, "data": data}


@dataclass(frozen=True)
class Case:
    id: str
    after: dict[str, Any]
    allowed: bool
    user: str = "alice"
    groups: tuple[str, ...] = ()
    before: dict[str, Any] | None = None  # created by the admin first: the case is an update
    says: tuple[str, ...] = field(default=())  # what a denial's message must name
    # What the server's message alone must name (can-i's rows name what is missing, not why).
    server_says: tuple[str, ...] = field(default=())


CASES = [
    # kubectl-mirror's own markers
    Case("native-explicit-targets", native("t1,t2"), True),
    Case("native-one-target-not-allowed", native("t1, t3"), False, says=("create", "configmaps", "t3")),
    Case("native-whitespace-separated", native("t1 t2\nt3"), False, says=("create", "t3")),
    Case("native-own-namespace-needs-nothing", native("src t1"), True),
    Case("native-glob", native("t*"), False, says=("create", "every namespace")),
    Case("native-all", native("*"), False, says=("create", "every namespace")),
    Case("native-labeled", native("labeled"), False, says=("create", "every namespace")),
    Case("native-selector", native(target_selector="env=prod"), False, says=("create", "every namespace")),
    Case("native-excluded-name-needs-nothing", native("t1,t3", exclude="t3"), True),
    Case("native-glob-by-cluster-wide-creator", native("t*"), True, user="bob"),
    Case(
        "native-secret-glob-by-configmap-creator",
        native("t*", kind="Secret"),
        False,
        user="bob",
        says=("secrets",),
    ),
    Case("native-group-grants-target", native("t3"), True, user="carol", groups=("team-t3",)),
    Case("native-without-the-group", native("t3"), False, user="carol", says=("t3",)),
    Case("targets-without-source-label", obj(annotations={"kubectl-mirror.io/targets": "*"}), True),
    # how much one change may ask (one authorizer check costs 350,000 of 10,000,000)
    Case("twenty-targets-by-tenant", native(",".join(MANY[:20])), True, user="dave"),
    Case(
        "twenty-one-targets-by-tenant", native(",".join(MANY)), False, user="dave", says=("21", "at most 20")
    ),
    Case(
        "twenty-one-targets-in-two-steps",
        native(",".join(MANY)),
        True,
        user="dave",
        before=native(",".join(MANY[:20])),
    ),
    Case(
        "many-targets-by-cluster-wide-creator", native(",".join(f"x{i}" for i in range(40))), True, user="bob"
    ),
    # updates: only what the change adds is checked
    Case("retarget-adds-namespace", native("t1,t3"), False, before=native("t1"), says=("create", "t3")),
    Case("retarget-removes-namespace", native("t1"), True, before=native("t1,t3")),
    Case(
        "remove-source-label", obj(annotations={"kubectl-mirror.io/targets": "t*"}), True, before=native("t*")
    ),
    Case(
        "remove-exclude-readds-namespace",
        native("t1,t3"),
        False,
        before=native("t1,t3", exclude="t3"),
        says=("t3",),
    ),
    Case("edit-data-of-pattern-source", with_data(native("t*"), k="v2"), True, before=native("t*")),
    Case("widen-pattern", native("*"), False, before=native("t*"), says=("create", "every namespace")),
    Case(
        "remove-pattern-exclude",
        native("*"),
        False,
        before=native("*", exclude="t*"),
        says=("create", "every namespace"),
    ),
    # Mirrorverse
    Case(
        "mirrorverse-names",
        obj("Secret", labels={"mirrorverse.dev/sync-source": "true", "mirrorverse.dev/targets": "t1_t2"}),
        True,
    ),
    Case(
        "mirrorverse-name-not-allowed",
        obj("Secret", labels={"mirrorverse.dev/sync-source": "true", "mirrorverse.dev/targets": "t1_t3"}),
        False,
        says=("secrets", "t3"),
    ),
    # KubeMirror
    Case("kubemirror-names", kubemirror("t1,t2"), True),
    Case("kubemirror-all", kubemirror("all"), False, says=("create", "every namespace")),
    Case("kubemirror-all-labeled", kubemirror("all-labeled"), False, says=("create", "every namespace")),
    Case("kubemirror-glob-by-cluster-wide-creator", kubemirror("t?"), True, user="bob"),
    Case(
        "kubemirror-retarget-adds", kubemirror("t1,t3"), False, before=kubemirror("t1"), says=("create", "t3")
    ),
    Case("kubemirror-retarget-removes", kubemirror("t1"), True, before=kubemirror("t1,t3")),
    # Reflector: auto mirrors go where both lists allow
    Case("reflector-allowed-names", reflector(reflection_allowed_namespaces="t1,t2"), True),
    Case(
        "reflector-allowed-name-not-allowed",
        reflector(reflection_allowed_namespaces="t1,t3"),
        False,
        says=("t3",),
    ),
    Case("reflector-every-namespace", reflector(), False, says=("create", "every namespace")),
    Case(
        "reflector-auto-name-within-regex",
        reflector(reflection_auto_namespaces="t1", reflection_allowed_namespaces="t[0-9]"),
        True,
    ),
    Case(
        "reflector-auto-regex",
        reflector(reflection_auto_namespaces="t[0-9]"),
        False,
        says=("create", "every namespace"),
    ),
    Case("reflector-pull-readable", obj(annotations={R + "reflects": "readable/db"}), True),
    Case(
        "reflector-pull-unreadable", obj(annotations={R + "reflects": "t3/db"}), False, says=("get", "t3/db")
    ),
    Case(
        "reflector-pull-create-only", obj(annotations={R + "reflects": "t1/db"}), False, says=("get", "t1/db")
    ),
    # Replicator
    Case("replicator-names", obj("Secret", annotations={P + "replicate-to": "t1,t2"}), True),
    Case(
        "replicator-regex",
        obj("Secret", annotations={P + "replicate-to": "t[0-9]"}),
        False,
        says=("create", "every namespace"),
    ),
    Case(
        "replicator-matching",
        obj(annotations={P + "replicate-to-matching": "env=prod"}),
        False,
        says=("create", "every namespace"),
    ),
    Case(
        "replicator-retarget-adds",
        obj("Secret", annotations={P + "replicate-to": "t1,t3"}),
        False,
        before=obj("Secret", annotations={P + "replicate-to": "t1"}),
        says=("create", "secrets", "t3"),
    ),
    Case(
        "reflector-allowed-list-widened",
        reflector(reflection_allowed_namespaces="t1,t3"),
        False,
        before=reflector(reflection_allowed_namespaces="t1"),
        says=("create", "t3"),
    ),
    Case(
        "reflector-allowed-list-narrowed",
        reflector(reflection_allowed_namespaces="t1"),
        True,
        before=reflector(reflection_allowed_namespaces="t1,t3"),
    ),
    Case(
        "mirrorverse-retarget-removes",
        obj("Secret", labels={"mirrorverse.dev/sync-source": "true", "mirrorverse.dev/targets": "t1"}),
        True,
        before=obj(
            "Secret", labels={"mirrorverse.dev/sync-source": "true", "mirrorverse.dev/targets": "t1_t3"}
        ),
    ),
    Case("replicator-pull-readable", obj("Secret", annotations={P + "replicate-from": "readable/db"}), True),
    Case(
        "replicator-pull-unreadable",
        obj("Secret", annotations={P + "replicate-from": "t3/db"}),
        False,
        says=("get", "t3/db"),
    ),
    Case(
        "replicator-pull-removed",
        obj("Secret"),
        True,
        before=obj("Secret", annotations={P + "replicate-from": "t3/db"}),
    ),
    # config-syncer (kubed): a namespace selector or every namespace, always a pattern
    Case(
        "kubed-every-namespace", obj(annotations={K + "sync": ""}), False, says=("create", "every namespace")
    ),
    Case(
        "kubed-selector",
        obj("Secret", annotations={K + "sync": "app=kubed"}),
        False,
        says=("create", "secrets", "every namespace"),
    ),
    Case("kubed-by-cluster-wide-creator", obj(annotations={K + "sync": "true"}), True, user="bob"),
    Case(
        "kubed-widen-selector",
        obj(annotations={K + "sync": ""}),
        False,
        user="alice",
        before=obj(annotations={K + "sync": "app=kubed"}),
        says=("every namespace",),
    ),
    Case("kubed-removed", obj(), True, before=obj(annotations={K + "sync": ""})),
    # MirrorPolicy
    Case("policy-explicit-targets", policy(["t1", "t2"]), True),
    Case("policy-target-not-allowed", policy(["t1", "t3"]), False, says=("create", "t3")),
    Case("policy-pattern", policy(["t*"]), False, says=("create", "every namespace")),
    Case(
        "policy-target-selector",
        policy([], targetSelector={"matchLabels": {"env": "prod"}}),
        False,
        says=("create", "every namespace"),
    ),
    Case(
        "policy-unreadable-source",
        policy(["t1"], source="t1", kinds=["ConfigMap"]),
        False,
        says=("get", "t1"),
    ),
    Case("policy-readable-source", policy(["t1"], source="readable", kinds=["ConfigMap"]), True),
    Case(
        "policy-adds-kind",
        policy(["t1"], kinds=["ConfigMap", "Deployment"]),
        False,
        before=policy(["t1"], kinds=["ConfigMap"]),
        says=("deployments",),
    ),
    Case("policy-removes-target", policy(["t1"]), True, before=policy(["t1", "t3"])),
    Case(
        "policy-five-kinds-twenty-targets-by-admin",
        policy(list(MANY[:20]), kinds=["ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment"]),
        True,
        user="",
    ),
    Case(
        "policy-thirteen-targets-by-tenant",
        policy(list(MANY[:13]), kinds=["ConfigMap"]),
        False,
        user="dave",
        says=("13", "at most 12"),
    ),
    # A MirrorPolicy that copies something else (source namespace, names, selector) is checked as
    # a new one: alice may edit the admin's policy, but not make it write into t3 what nobody
    # allowed there, nor read more of a namespace she may not read.
    Case(
        "policy-other-source-rechecks-targets",
        policy(["t1", "t3"], source="readable", kinds=["ConfigMap"]),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"]),
        says=("create", "t3"),
    ),
    Case(
        "policy-other-names-rechecks-targets",
        policy(["t1", "t3"], kinds=["ConfigMap"], names=["*"]),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], names=["public-*"]),
        says=("create", "t3"),
    ),
    Case(
        "policy-other-selector-rechecks-targets",
        policy(["t1", "t3"], kinds=["ConfigMap"], selector={"matchLabels": {"app": "b"}}),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], selector={"matchLabels": {"app": "a"}}),
        says=("create", "t3"),
    ),
    Case(
        "policy-selector-removed-rechecks-targets",
        policy(["t1", "t3"], kinds=["ConfigMap"]),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], selector=SELECTOR),
        says=("create", "t3"),
    ),
    Case(
        "policy-other-source-rechecks-pattern",
        policy(["t*"], source="readable", kinds=["ConfigMap"]),
        False,
        before=policy(["t*"], kinds=["ConfigMap"]),
        says=("create", "every namespace"),
    ),
    Case(
        "policy-other-names-rechecks-the-read",  # t1: alice may create there, not read
        policy(["t2"], source="t1", kinds=["ConfigMap"], names=["*"]),
        False,
        before=policy(["t2"], source="t1", kinds=["ConfigMap"], names=["public"]),
        says=("get", "t1"),
    ),
    Case(
        "policy-other-source-allowed-targets",
        policy(["t1", "t2"], source="readable", kinds=["ConfigMap"], names=["a"]),
        True,
        before=policy(["t1", "t2"], kinds=["ConfigMap"]),
    ),
    Case(
        "policy-other-source-pattern-by-cluster-wide-creator",
        policy(["t*"], kinds=["ConfigMap"], names=["b"]),
        True,
        user="bob",
        before=policy(["t*"], kinds=["ConfigMap"], names=["a"]),
    ),
    Case(
        "policy-same-source-keeps-targets",  # same namespace, names and selector (map order aside)
        policy(["t1", "t3"], kinds=["ConfigMap"], names=["a"], selector=SELECTOR, labels={"team": "a"}),
        True,
        before=policy(
            ["t1", "t3"], kinds=["ConfigMap"], names=["a"], selector=dict(reversed(SELECTOR.items()))
        ),
    ),
    Case(
        "policy-adds-kind-checks-every-target",
        policy(["t1", "t3"], kinds=["ConfigMap", "Secret"]),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"]),
        says=("create", "secrets", "t3"),
    ),
    Case("policy-removes-kind", policy(["t1", "t3"], kinds=["ConfigMap"]), True, before=policy(["t1", "t3"])),
    Case(
        "policy-other-names-thirteen-targets-by-tenant",  # steps cannot split a change of source
        policy(list(MANY[:13]), kinds=["ConfigMap"], names=["x"]),
        False,
        user="dave",
        before=policy(list(MANY[:13]), kinds=["ConfigMap"]),
        says=("13", "at most 12", "fewer targets"),
    ),
    Case(
        "policy-thirteenth-target-in-a-step-by-tenant",
        policy(list(MANY[:13]), kinds=["ConfigMap"]),
        True,
        user="dave",
        before=policy(list(MANY[:12]), kinds=["ConfigMap"]),
    ),
    # A MirrorPolicy that writes something else of what it copies (transform, transformStrict,
    # strategy) is checked as a new one too: alice may not make the controller write data of her
    # choosing into t3, nor drop a rule that withheld a key of a source she may not read.
    Case(
        "policy-transform-changed-rechecks-targets",
        policy(["t1", "t3"], kinds=["ConfigMap"], transform=[{"path": "data.note", "value": "mine"}]),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], transform=NOTE),
        says=("create", "t3"),
        server_says=("alters what the MirrorPolicy writes",),
    ),
    Case(
        "policy-transform-added-rechecks-targets",
        policy(["t1", "t3"], kinds=["ConfigMap"], transform=NOTE),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"]),
        says=("create", "t3"),
        server_says=("alters what the MirrorPolicy writes",),
    ),
    Case(
        "policy-transform-removed-rechecks-targets",  # data.password would be written
        policy(["t1", "t3"], kinds=["ConfigMap"]),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], transform=WITHHELD),
        says=("create", "t3"),
    ),
    Case(
        "policy-transform-rules-reordered-rechecks-targets",  # rules apply in order
        policy(["t1", "t3"], kinds=["ConfigMap"], transform=WITHHELD + NOTE),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], transform=NOTE + WITHHELD),
        says=("create", "t3"),
    ),
    Case(
        "policy-strategy-changed-rechecks-targets",
        policy(["t1", "t3"], kinds=["ConfigMap"], strategy="merge"),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"]),
        says=("create", "t3"),
        server_says=("alters what the MirrorPolicy writes",),
    ),
    Case(
        "policy-transform-strict-changed-rechecks-targets",
        policy(["t1", "t3"], kinds=["ConfigMap"], transformStrict=True),
        False,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], transformStrict=False),
        says=("create", "t3"),
    ),
    Case(
        "policy-transform-removed-rechecks-the-read",  # t1: alice may create there, not read
        policy(["t2"], source="t1", kinds=["ConfigMap"]),
        False,
        before=policy(["t2"], source="t1", kinds=["ConfigMap"], transform=WITHHELD),
        says=("get", "t1"),
        server_says=("alters what the MirrorPolicy writes",),
    ),
    Case(
        "policy-transform-changed-rechecks-pattern",
        policy(["t*"], kinds=["ConfigMap"], transform=NOTE),
        False,
        before=policy(["t*"], kinds=["ConfigMap"]),
        says=("create", "every namespace"),
    ),
    Case(
        "policy-transform-changed-by-target-writer",
        policy(["t1", "t2"], kinds=["ConfigMap"], transform=NOTE, strategy="merge"),
        True,
        before=policy(["t1", "t2"], kinds=["ConfigMap"], transform=WITHHELD),
    ),
    Case(
        "policy-transform-changed-pattern-by-cluster-wide-creator",
        policy(["t*"], kinds=["ConfigMap"], transform=NOTE),
        True,
        user="bob",
        before=policy(["t*"], kinds=["ConfigMap"], transform=WITHHELD),
    ),
    Case(
        "policy-same-transform-keeps-targets",  # keys in another order; defaults written out
        policy(
            ["t1", "t3"],
            kinds=["ConfigMap"],
            transform=[dict(reversed(RULE.items()))],
            strategy="replace",
            transformStrict=False,
        ),
        True,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], transform=[RULE]),
    ),
    Case(
        "policy-on-source-delete-changed-keeps-targets",  # writes nothing
        policy(["t1", "t3"], kinds=["ConfigMap"], transform=NOTE, onSourceDelete="orphan"),
        True,
        before=policy(["t1", "t3"], kinds=["ConfigMap"], transform=NOTE),
    ),
    Case(
        "policy-transform-changed-thirteen-targets-by-tenant",  # steps cannot split it either
        policy(list(MANY[:13]), kinds=["ConfigMap"], transform=NOTE),
        False,
        user="dave",
        before=policy(list(MANY[:13]), kinds=["ConfigMap"]),
        says=("13", "at most 12", "alters what it writes", "fewer targets"),
    ),
    # ConfigMapSync: get on the ConfigMap it copies, create in its destination
    Case("configmapsync-allowed", configmapsync("t1"), True),
    Case(
        "configmapsync-destination-not-allowed",
        configmapsync("t3"),
        False,
        says=("create", "configmaps", "t3"),
    ),
    Case("configmapsync-source-unreadable", configmapsync("t2", source="t1"), False, says=("get", "t1/cfg")),
    Case("configmapsync-source-readable-by-name", configmapsync("t1", source="t2"), True),
    Case(
        "configmapsync-other-name-unreadable",
        configmapsync("t1", source="t2", name="other"),
        False,
        says=("get", "t2/other"),
    ),
    Case("configmapsync-into-its-source-namespace", configmapsync("src"), True),
    Case(
        "configmapsync-group-grants-destination", configmapsync("t3"), True, user="carol", groups=("team-t3",)
    ),
    Case(
        "configmapsync-update-adds-destination",
        configmapsync("t3"),
        False,
        before=configmapsync("t1"),
        says=("create", "t3"),
    ),
    Case(
        "configmapsync-update-keeps-destination",
        configmapsync("t3", labels={"team": "a"}),
        True,
        before=configmapsync("t3"),
    ),
    Case(
        "configmapsync-other-configmap-rechecks-destination",
        configmapsync("t3", name="other"),
        False,
        before=configmapsync("t3"),
        says=("create", "t3"),
    ),
    # ConfigMirror: list where it selects, create in each target, get on its database Secret
    Case("configmirror-allowed", configmirror(["t1", "t2", "src"]), True),
    Case("configmirror-target-not-allowed", configmirror(["t1", "t3"]), False, says=("create", "t3")),
    Case("configmirror-source-readable", configmirror(["t1"], source="readable"), True),
    Case("configmirror-source-create-only", configmirror(["t2"], source="t1"), False, says=("list", "t1")),
    Case(
        "configmirror-source-one-name-readable",  # get on t2/cfg is not list in t2
        configmirror(["t1"], source="t2"),
        False,
        says=("list", "t2"),
    ),
    Case(
        "configmirror-update-adds-target",
        configmirror(["t1", "t3"]),
        False,
        before=configmirror(["t1"]),
        says=("create", "t3"),
    ),
    Case("configmirror-update-removes-target", configmirror(["t1"]), True, before=configmirror(["t1", "t3"])),
    Case(
        "configmirror-other-selector-rechecks-targets",
        configmirror(["t1", "t3"], selector={}),
        False,
        before=configmirror(["t1", "t3"]),
        says=("create", "t3"),
    ),
    Case("configmirror-secret-in-own-namespace", configmirror(["t1"], secret={"name": "db"}), True),
    Case(
        "configmirror-secret-readable",
        configmirror(["t1"], secret={"name": "db", "namespace": "readable"}),
        True,
    ),
    Case(
        "configmirror-secret-unreadable",
        configmirror(["t1"], secret={"name": "db", "namespace": "t3"}),
        False,
        says=("get", "secrets", "t3/db"),
    ),
    Case(
        "configmirror-secret-kept",
        configmirror(["t1"], secret={"name": "db", "namespace": "t3"}),
        True,
        before=configmirror(["t1"], secret={"name": "db", "namespace": "t3"}),
    ),
    Case(
        "configmirror-same-selector-reordered-targets",  # a selector compared field by field
        configmirror(["t3", "t1"], selector=SELECTOR),
        True,
        before=configmirror(["t1", "t3"], selector=SELECTOR),
    ),
    Case(  # the most authorizer checks one change may cost: 20 targets, everywhere, list, the Secret
        "configmirror-twenty-targets-and-a-secret-by-tenant",
        configmirror(list(MANY[:20]), secret={"name": "db"}),
        True,
        user="dave",
    ),
    Case(
        "configmirror-twenty-one-targets-by-tenant",
        configmirror(list(MANY)),
        False,
        user="dave",
        says=("21", "at most 20"),
    ),
    Case(
        "configmirror-many-targets-by-cluster-wide-creator",
        configmirror([f"x{i}" for i in range(40)]),
        True,
        user="bob",
    ),
]


@pytest.fixture(scope="module")
def cluster(
    real_apiserver_session: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The real server with deploy/ and the admission component applied, the namespaces and
    the users' RBAC; reset afterwards so the rest of the session starts clean."""
    server = real_apiserver_session
    server.reset()
    home = tmp_path_factory.mktemp("admission")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    env.pop("KUBECONFIG", None)
    kubectl = need("kubectl")
    config = str(server.plane.kubeconfig)
    for crd in sorted((ROOT / "deploy" / "compat").glob("crd-*.yaml")):
        server.create(yaml.safe_load(crd.read_text()))
    done = run([kubectl, "--kubeconfig", config, "apply", "-k", str(ROOT / "examples" / "admission")], env)
    assert done.returncode == 0, done.stderr
    for name in NAMESPACES:
        server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for item in RBAC:
        server.create(item)
    context = {"kubectl": kubectl, "kubeconfig": config, "env": env, "server": server, "home": home}
    _wait_until_enforced(context)
    try:
        yield context
    finally:
        _wait_until_listable(context)
        server.reset()


def _kubectl(
    ctx: dict[str, Any], *args: str, stdin: str | None = None, user: str = "", groups: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    who = [f"--as={user}"] if user else []
    who += [f"--as-group={g}" for g in groups]
    return run([ctx["kubectl"], "--kubeconfig", ctx["kubeconfig"], *who, *args], ctx["env"], stdin=stdin)


def _wait_until_enforced(ctx: dict[str, Any], timeout: float = 30.0) -> None:
    """A new policy takes a moment to reach the admission plugin: probe until it denies."""
    probe = yaml.safe_dump(native("t3") | {"metadata": {**native("t3")["metadata"], "name": "probe"}})
    deadline = time.monotonic() + timeout
    while True:
        done = _kubectl(ctx, "create", "--dry-run=server", "-f", "-", stdin=probe, user="alice")
        if done.returncode != 0 and "kubectl-mirror" in done.stderr:
            return
        assert time.monotonic() < deadline, (
            f"the admission policy is not enforced: {done.stdout}{done.stderr}"
        )
        time.sleep(0.2)


def _wait_until_listable(ctx: dict[str, Any], timeout: float = 30.0) -> None:
    """A custom resource's storage answers 429 "(re)initializing" for a while after its CRD is
    created; reset() lists every custom resource, so on a short run it must wait for them."""
    deadline = time.monotonic() + timeout
    kinds = ",".join(
        [
            "mirrorpolicies.kubectl-mirror.io",
            "configmapsyncs.apps.kapendra.com",
            "configmirrors.mirror.configmirror.io",
        ]
    )
    while _kubectl(ctx, "get", kinds, "-A").returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.2)


def _delete(ctx: dict[str, Any], o: dict[str, Any]) -> None:
    meta = o["metadata"]
    where = ["-n", meta["namespace"]] if "namespace" in meta else []
    group = o["apiVersion"].rpartition("/")[0]
    kind = o["kind"].lower() + (f".{group}" if group else "")
    _kubectl(ctx, "delete", kind, meta["name"], *where, "--ignore-not-found", "--wait=false")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_admission_and_can_i_agree_with_the_table(
    cluster: dict[str, Any], case: Case, tmp_path: Path
) -> None:
    _agree(cluster, case, tmp_path)


def _agree(ctx: dict[str, Any], case: Case, tmp_path: Path) -> None:
    """`can-i -f` as the case's user, then the request itself as that user: both as the table says."""
    _delete(ctx, case.after)
    try:
        if case.before is not None:
            done = _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(case.before))
            assert done.returncode == 0, done.stderr
        manifest = tmp_path / "after.yaml"
        manifest.write_text(yaml.safe_dump(case.after, sort_keys=False))  # maps in the case's order
        who = [f"--as={case.user}"] if case.user else []
        who += [f"--as-group={g}" for g in case.groups]
        can = run(
            [ctx["kubectl"], "mirror", "can-i", "-f", str(manifest), "--kubeconfig", ctx["kubeconfig"], *who],
            ctx["env"],
        )
        assert "Traceback" not in can.stderr
        assert can.returncode == (0 if case.allowed else 1), can.stdout + can.stderr
        verb = "replace" if case.before is not None else "create"
        done = _kubectl(ctx, verb, "-f", str(manifest), user=case.user, groups=case.groups)
        if case.allowed:
            assert done.returncode == 0, done.stderr
        else:
            assert done.returncode != 0
            assert "ValidatingAdmissionPolicy" in done.stderr and "kubectl-mirror" in done.stderr, done.stderr
            for word in case.says:
                assert word in done.stderr, done.stderr
                assert word in can.stdout, can.stdout
            for word in case.server_says:
                assert word in done.stderr, done.stderr
    finally:
        _delete(ctx, case.after)


def _can_i_rows_of_src(ctx: dict[str, Any], *who: str) -> dict[tuple[str, str], dict[str, Any]]:
    """`kubectl mirror can-i -n src -o json` as `who`, which must find something denied: its
    rows by (source, target)."""
    argv = [ctx["kubectl"], "mirror", "can-i", "-n", "src", "-o", "json", "--kubeconfig", ctx["kubeconfig"]]
    done = run([*argv, *who], ctx["env"])
    assert done.returncode == 1, done.stderr
    return {(r["source"], r["target"]): r for r in json.loads(done.stdout)}


def test_can_i_reads_sources_already_in_the_cluster(cluster: dict[str, Any]) -> None:
    ctx = cluster
    source = native("t1,t3") | {"metadata": {**native("t1,t3")["metadata"], "name": "existing"}}
    assert _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(source)).returncode == 0
    try:
        rows = _can_i_rows_of_src(ctx, "--as=alice")
        assert rows[("ConfigMap src/existing", "t1")]["allowed"] is True
        assert rows[("ConfigMap src/existing", "t3")]["allowed"] is False
        assert rows[("ConfigMap src/existing", "t3")]["missing"] == "create configmaps in t3"
    finally:
        _delete(ctx, source)


def test_can_i_reads_configmirrors_already_in_the_cluster(cluster: dict[str, Any]) -> None:
    ctx = cluster
    existing = configmirror(["t1", "t3"], secret={"name": "db", "namespace": "t3"})
    assert _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(existing)).returncode == 0
    try:
        rows = _can_i_rows_of_src(ctx, "--as=alice")
        assert rows[("ConfigMirror src/mirror", "t1")]["allowed"] is True
        assert rows[("ConfigMirror src/mirror", "from src")]["allowed"] is True
        assert rows[("ConfigMirror src/mirror", "t3")]["missing"] == "create configmaps in t3"
        assert rows[("ConfigMirror src/mirror", "from t3/db")]["missing"] == "get secrets t3/db"
    finally:
        _delete(ctx, existing)


def test_the_controller_is_not_denied(cluster: dict[str, Any], tmp_path: Path) -> None:
    """sync and watch, as the controller's service account of deploy/, create mirrors into
    namespaces no tenant may write and fill a pull request there."""
    ctx = cluster
    token = _kubectl(ctx, "create", "token", "kubectl-mirror", "-n", "kubectl-mirror-system")
    assert token.returncode == 0, token.stderr
    plane = ctx["server"].plane
    config = tmp_path / "controller.kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "real",
                        "cluster": {"server": plane.url, "certificate-authority": str(plane.certs.ca.cert)},
                    }
                ],
                "users": [{"name": "controller", "user": {"token": token.stdout.strip()}}],
                "contexts": [{"name": "real", "context": {"cluster": "real", "user": "controller"}}],
                "current-context": "real",
            }
        )
    )
    allowed = {R + "reflection-allowed": "true", R + "reflection-allowed-namespaces": "t3"}
    pulled = obj(name="pulled", annotations=allowed, data={"k": "from-src"})
    request = obj(name="pulled", namespace="t3", annotations={R + "reflects": "src/pulled"}, data={})
    first = native("t1,t3") | {"metadata": {**native("t1,t3")["metadata"], "name": "first"}}
    for item in (pulled, request, first):  # as the admin, who may
        assert _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(item)).returncode == 0
    mirror = [ctx["kubectl"], "mirror"]
    done = run([*mirror, "sync", "-A", "--kubeconfig", str(config)], ctx["env"])
    assert done.returncode == 0, done.stdout + done.stderr
    for ns in ("t1", "t3"):
        assert _kubectl(ctx, "get", "configmap", "first", "-n", ns).returncode == 0
    filled = json.loads(_kubectl(ctx, "get", "configmap", "pulled", "-n", "t3", "-o", "json").stdout)
    assert filled["data"] == {"k": "from-src"}

    watcher = Watcher(
        [*mirror, "watch", "-A", "--kubeconfig", str(config)], ctx["env"], tmp_path / "watch.log"
    )
    try:
        second = native("t2,t3") | {"metadata": {**native("t2,t3")["metadata"], "name": "second"}}
        assert _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(second)).returncode == 0
        deadline = time.monotonic() + 60
        while _kubectl(ctx, "get", "configmap", "second", "-n", "t3").returncode != 0:
            assert watcher.proc.poll() is None, watcher.output()
            assert time.monotonic() < deadline, watcher.output()
            time.sleep(0.2)
        assert "denied" not in watcher.output()
    finally:
        watcher.stop()
        for item in (pulled, request, first):
            _delete(ctx, item)
        for ns in ("src", "t1", "t2", "t3"):
            _kubectl(ctx, "delete", "configmap", "first", "second", "-n", ns, "--ignore-not-found")


def _random_markers(rng: Any) -> dict[str, Any]:
    """An object with a random mix of every dialect's markers, entries from a small alphabet
    of names the users may or may not write to, keywords, patterns and separators."""
    entries = [
        "t1",
        "t2",
        "t3",
        "src",
        "n05",
        "t*",
        "*",
        "labeled",
        "all",
        "all-labeled",
        "t[0-9]",
        "T1",
        "readable",
    ]
    seps = [",", ", ", " ", "\n", "\t", ",,"]

    def some(alphabet: list[str] = entries) -> str:
        picked = rng.sample(alphabet, rng.randint(0, 3))
        return "".join(e + rng.choice(seps) for e in picked).strip(rng.choice(["", " ", ","]))

    kind = rng.choice(["ConfigMap", "Secret"])
    labels: dict[str, str] = {}
    ann: dict[str, str] = {}
    if rng.random() < 0.5:
        labels["kubectl-mirror.io/source"] = rng.choice(["true", "True", "false"])
        ann["kubectl-mirror.io/targets"] = some()
        if rng.random() < 0.3:
            ann["kubectl-mirror.io/exclude"] = some()
        if rng.random() < 0.2:
            ann["kubectl-mirror.io/target-selector"] = "env=prod"
    if rng.random() < 0.2:
        labels["mirrorverse.dev/sync-source"] = "true"
        labels["mirrorverse.dev/targets"] = "_".join(rng.sample(["t1", "t2", "t3", "src"], rng.randint(1, 3)))
    if rng.random() < 0.2:
        labels[KM + "enabled"] = "true"
        ann[KM + "sync"] = rng.choice(["true", "false"])
        ann[KM + "target-namespaces"] = some()
    if rng.random() < 0.3:
        ann[R + "reflection-allowed"] = "true"
        ann[R + "reflection-auto-enabled"] = rng.choice(["true", "false"])
        for key in ("reflection-allowed-namespaces", "reflection-auto-namespaces"):
            if rng.random() < 0.6:
                ann[R + key] = some(["t1", "t2", "t3", "t[0-9]", "src"])
        if rng.random() < 0.2:
            ann[R + "reflection-auto-namespaces-selector"] = "env=prod"
    if rng.random() < 0.2:
        ann[P + "replicate-to"] = some(["t1", "t2", "t3", "t[0-9]"])
    if rng.random() < 0.15:
        ann[R + "reflects"] = rng.choice(["readable/db", "t3/db", "t1/db", "bad"])
    if rng.random() < 0.15:
        ann[P + "replicate-from"] = rng.choice(["readable/db", "t3/db"])
    if rng.random() < 0.15:
        ann[K + "sync"] = rng.choice(["", "true", "app=kubed", " env in (a,b) "])
    o = obj(kind, name="random", labels=labels, annotations=ann)
    return o


@pytest.mark.parametrize("seed", range(4))
def test_can_i_agrees_with_the_policy_on_random_markers(
    cluster: dict[str, Any], seed: int, tmp_path: Path
) -> None:
    """The CEL and engine/permissions.py are two spellings of one rule: on random mixes of
    every dialect's markers, creates and updates, both give the same yes or no."""
    import random

    from kubectl_mirror.engine.permissions import checks, over_budget
    from kubectl_mirror.io.cluster import ClusterOptions, connect
    from kubectl_mirror.live.access import Reviewer

    ctx = cluster
    rng = random.Random(seed)
    disagree = []
    for round_ in range(15):
        user = rng.choice(["alice", "bob", "dave"])
        new = _random_markers(rng)
        old = _random_markers(rng) | {"kind": new["kind"]} if rng.random() < 0.4 else None
        _delete(ctx, new)
        if old is not None:
            old["data"] = new["data"]
            done = _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(old))
            assert done.returncode == 0, done.stderr
        verb = "replace" if old is not None else "create"
        sent = _kubectl(ctx, verb, "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(new), user=user)
        assert sent.returncode == 0 or "kubectl-mirror" in sent.stderr, sent.stderr
        cluster_as = connect(ClusterOptions(kubeconfig=ctx["kubeconfig"], impersonate=user))
        reviewer = Reviewer(cluster_as)
        resource = "configmaps" if new["kind"] == "ConfigMap" else "secrets"
        needs = checks(new, old, group="", resource=resource, namespace="src")
        allowed = all(reviewer.allowed(c) for c in needs) and not over_budget(
            new, old, group="", resource=resource, namespace="src", everywhere=reviewer.everywhere
        )
        if allowed != (sent.returncode == 0):
            disagree.append((round_, user, new["metadata"], old and old["metadata"], sent.stderr.strip()))
        _delete(ctx, new)
    assert not disagree, disagree


def test_can_i_reports_unusable_input_in_one_line(cluster: dict[str, Any], tmp_path: Path) -> None:
    ctx = cluster
    unknown = tmp_path / "widget.yaml"
    unknown.write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: src}\n---\n"
        + yaml.safe_dump(native("t1"))
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: ConfigMap\nmetadata: {name: [\n")
    base = [ctx["kubectl"], "mirror", "can-i", "--kubeconfig", ctx["kubeconfig"], "--as=alice"]
    done = run([*base, "-f", str(unknown)], ctx["env"])
    assert done.returncode == 1
    assert "ConfigMap src/s   t1       yes" in done.stdout  # the other objects are still judged
    assert done.stderr.splitlines() == [
        f"error: {unknown}: Widget src/w: kind: the server does not serve Widget in example.com/v1"
    ]
    done = run([*base, "-f", str(broken)], ctx["env"])
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {broken}:")
    groups_only = [ctx["kubectl"], "mirror", "can-i", "--kubeconfig", ctx["kubeconfig"], "--as-group=x", "-A"]
    done = run(groups_only, ctx["env"])
    assert done.returncode == 1
    assert done.stderr == "error: --as-group: impersonating groups needs a user to impersonate as well\n"


def _random_other_tools(rng: Any, kind: str) -> dict[str, Any]:
    """A ConfigMapSync or ConfigMirror with fields from a small alphabet of namespaces the users
    may or may not read and write."""
    sources = ["src", "readable", "t1", "t2"]
    if kind == "ConfigMapSync":
        destination = rng.choice(["t1", "t2", "t3", "src", "readable", "n05"])
        return configmapsync(destination, source=rng.choice(sources), name=rng.choice(["cfg", "other"]))
    targets = rng.sample(["t1", "t2", "t3", "src", "readable", "n05"], rng.randint(1, 3))
    selector = rng.choice([None, {}, {"matchLabels": {"app": "api"}}])
    secret = rng.choice(
        [None, {"name": "db"}, {"name": "db", "namespace": rng.choice(["readable", "t3", "src"])}]
    )
    return configmirror(targets, source=rng.choice(sources), selector=selector, secret=secret)


@pytest.mark.parametrize("seed", range(2))
def test_can_i_agrees_with_the_policy_on_random_other_tools_resources(
    cluster: dict[str, Any], seed: int
) -> None:
    """other-tools-policy.yaml and engine/permissions.py on random ConfigMapSyncs and
    ConfigMirrors, created and changed in any field: both give the same yes or no."""
    import random

    from kubectl_mirror.engine.permissions import checks, over_budget
    from kubectl_mirror.io.cluster import ClusterOptions, connect
    from kubectl_mirror.live.access import Reviewer

    ctx = cluster
    rng = random.Random(seed)
    disagree = []
    for round_ in range(15):
        user = rng.choice(["alice", "bob", "dave"])
        kind = rng.choice(["ConfigMapSync", "ConfigMirror"])
        new = _random_other_tools(rng, kind)
        old = _random_other_tools(rng, kind) if rng.random() < 0.5 else None
        _delete(ctx, new)
        if old is not None:
            done = _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(old))
            assert done.returncode == 0, done.stderr
        verb = "replace" if old is not None else "create"
        sent = _kubectl(ctx, verb, "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(new), user=user)
        assert sent.returncode == 0 or "kubectl-mirror" in sent.stderr, sent.stderr
        reviewer = Reviewer(connect(ClusterOptions(kubeconfig=ctx["kubeconfig"], impersonate=user)))
        group = new["apiVersion"].split("/")[0]
        needs = checks(new, old, group=group, resource=kind.lower() + "s", namespace="src")
        allowed = all(reviewer.allowed(c) for c in needs) and not over_budget(
            new,
            old,
            group=group,
            resource=kind.lower() + "s",
            namespace="src",
            everywhere=reviewer.everywhere,
        )
        if allowed != (sent.returncode == 0):
            disagree.append((round_, user, new["spec"], old and old["spec"], sent.stderr.strip()))
        _delete(ctx, new)
    assert not disagree, disagree


def _random_policy(rng: Any) -> dict[str, Any]:
    """A MirrorPolicy with every field from a small alphabet: namespaces the users may or may not
    read and write, patterns, kinds, names, selectors, transforms, strategies."""
    targets = rng.sample(["t1", "t2", "t3", "src", "readable", "n05", "t*", "labeled"], rng.randint(0, 3))
    if rng.random() < 0.1:
        targets = list(MANY[:13])
    spec: dict[str, Any] = {}
    if rng.random() < 0.15:
        spec["targetSelector"] = {"matchLabels": {"env": "prod"}}
    if rng.random() < 0.2:
        spec["exclude"] = rng.sample(["t3", "t*", "n05"], 1)
    if rng.random() < 0.5:
        spec["transform"] = rng.choice(
            [NOTE, WITHHELD, NOTE + WITHHELD, WITHHELD + NOTE, [RULE], [dict(reversed(RULE.items()))], []]
        )
    for key, values in (
        ("strategy", ["replace", "merge"]),
        ("transformStrict", [True, False]),
        ("onSourceDelete", ["delete", "orphan"]),
    ):
        if rng.random() < 0.3:
            spec[key] = rng.choice(values)
    return policy(
        targets,
        source=rng.choice(["src", "src", "readable", "t1"]),
        kinds=rng.choice(
            [None, ["ConfigMap"], ["Secret"], ["ConfigMap", "Secret"], ["ConfigMap", "Deployment"]]
        ),
        names=rng.choice([None, ["a"], ["a", "b"], ["*"]]),
        selector=rng.choice([None, None, {"matchLabels": {"app": "a"}}]),
        **spec,
    )


def _edited(rng: Any, before: dict[str, Any]) -> dict[str, Any]:
    """`before` with one field of its spec replaced by a random policy's (or left out), so that
    updates often keep what the policy copies and writes, and sometimes change one thing."""
    other = _random_policy(rng)["spec"]
    spec = dict(before["spec"])
    key = rng.choice(["targets", "transform", "strategy", "transformStrict", "onSourceDelete", "exclude"])
    if key in other:
        spec[key] = other[key]
    else:
        spec.pop(key, None)
    return before | {"spec": spec}


@pytest.mark.parametrize("seed", range(3))
def test_can_i_agrees_with_the_policy_on_random_mirror_policies(cluster: dict[str, Any], seed: int) -> None:
    """policies-policy.yaml and engine/permissions.py on random MirrorPolicies, created and
    changed in any field (often in one only): both give the same yes or no. The old policy is
    read back from the server, defaults filled in, as can-i reads it."""
    import random

    from kubectl_mirror.engine.permissions import checks, over_budget
    from kubectl_mirror.io.cluster import ClusterOptions, connect
    from kubectl_mirror.live.access import Reviewer

    ctx = cluster
    rng = random.Random(seed)
    reviewers: dict[str, Reviewer] = {}
    disagree = []
    for round_ in range(15):
        user = rng.choice(["alice", "bob", "dave"])
        before = _random_policy(rng) if rng.random() < 0.6 else None
        new = _edited(rng, before) if before is not None and rng.random() < 0.7 else _random_policy(rng)
        _delete(ctx, new)
        old = None
        if before is not None:
            done = _kubectl(ctx, "create", "-o", "json", "-f", "-", stdin=yaml.safe_dump(before))
            assert done.returncode == 0, done.stderr
            old = json.loads(done.stdout)
        verb = "replace" if old is not None else "create"
        sent = _kubectl(
            ctx, verb, "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(new, sort_keys=False), user=user
        )
        assert sent.returncode == 0 or "kubectl-mirror" in sent.stderr, sent.stderr
        if user not in reviewers:
            reviewers[user] = Reviewer(
                connect(ClusterOptions(kubeconfig=ctx["kubeconfig"], impersonate=user))
            )
        reviewer = reviewers[user]
        where = {"group": "kubectl-mirror.io", "resource": "mirrorpolicies", "namespace": ""}
        needs = checks(new, old, **where)
        allowed = all(reviewer.allowed(c) for c in needs) and not over_budget(
            new, old, **where, everywhere=reviewer.everywhere
        )
        if allowed != (sent.returncode == 0):
            disagree.append((round_, user, new["spec"], old and old["spec"], sent.stderr.strip()))
        _delete(ctx, new)
    assert not disagree, disagree


def _wait_for_rights(ctx: dict[str, Any], user: str, *, may: bool, timeout: float = 30.0) -> None:
    """RBAC changes reach the authorizer a moment later: wait until `user` may (not) create
    ConfigMaps in t3."""
    deadline = time.monotonic() + timeout
    while True:
        done = _kubectl(ctx, "auth", "can-i", "create", "configmaps", "-n", "t3", f"--as={user}")
        if (done.stdout.strip() == "yes") == may:
            return
        assert time.monotonic() < deadline, done.stdout + done.stderr
        time.sleep(0.2)


def test_the_controller_is_exempt_from_every_policy(cluster: dict[str, Any], tmp_path: Path) -> None:
    """With the controller's rights narrowed to updating ConfigMapSyncs, ConfigMirrors and (a
    right deploy/ does not give it) MirrorPolicies, its wide ClusterRole no longer passing every
    check, its changes go through unchecked, as each policy's not-the-controller condition says,
    and can-i, as the controller, says so too."""
    ctx = cluster
    binding = ROOT / "deploy" / "clusterrolebinding.yaml"
    narrow: list[dict[str, Any]] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "narrow-controller"},
            "rules": [
                {
                    "apiGroups": ["apps.kapendra.com", "mirror.configmirror.io", "kubectl-mirror.io"],
                    "resources": ["configmapsyncs", "configmirrors", "mirrorpolicies"],
                    "verbs": ["get", "list", "update"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "narrow-controller"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "narrow-controller",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "kubectl-mirror", "namespace": "kubectl-mirror-system"}
            ],
        },
    ]
    cases = [
        Case(
            "controller-configmapsync",
            configmapsync("t3", source="t1", name="other"),
            True,
            user=CONTROLLER,
            before=configmapsync("t1"),
        ),
        Case(
            "controller-configmirror",
            configmirror(["t1", "t3"], source="t1", secret={"name": "db", "namespace": "t3"}),
            True,
            user=CONTROLLER,
            before=configmirror(["t1"]),
        ),
        Case(
            "controller-mirrorpolicy",
            policy(["t1", "t3"], source="t1", kinds=["ConfigMap"]),
            True,
            user=CONTROLLER,
            before=policy(["t1"], kinds=["ConfigMap"]),
        ),
    ]
    assert _kubectl(ctx, "delete", "-f", str(binding)).returncode == 0
    try:
        for item in narrow:
            assert _kubectl(ctx, "create", "-f", "-", stdin=yaml.safe_dump(item)).returncode == 0
        _wait_for_rights(ctx, CONTROLLER, may=False)
        for case in cases:
            _agree(ctx, case, tmp_path)
            denied = Case(case.id + "-as-alice", case.after, False, before=case.before, says=("t3",))
            _agree(ctx, denied, tmp_path)  # the same change, by anyone else
    finally:
        for item in narrow:
            _kubectl(ctx, "delete", item["kind"].lower(), item["metadata"]["name"], "--ignore-not-found")
        assert _kubectl(ctx, "apply", "-f", str(binding)).returncode == 0
        _wait_for_rights(ctx, CONTROLLER, may=True)
