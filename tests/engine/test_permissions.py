"""engine/permissions.py: what asking for mirrors requires of the requesting user.

The same rules run as CEL in deploy/components/admission/; tests/e2e/test_admission.py checks
that the two agree on a real API server. These pin the reduction itself."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_mirror.engine.permissions import (
    CONTROLLER_USER,
    MAX_TARGETS_PER_CHANGE,
    Check,
    checks,
    exempt,
    over_budget,
    policy_tokens,
    source_tokens,
)

R = "reflector.v1.k8s.emberstack.com/"
P = "replicator.v1.mittwald.de/"
KM = "kubemirror.raczylo.com/"


def obj(kind: str = "ConfigMap", labels: dict[str, str] | None = None, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": "s", "namespace": "src", "labels": labels or {}, "annotations": annotations},
    }


def native(targets: str, **annotations: str) -> dict[str, Any]:
    return obj(
        labels={"kubectl-mirror.io/source": "true"}, **{"kubectl-mirror.io/targets": targets, **annotations}
    )


def tokens(o: dict[str, Any]) -> list[str]:
    return source_tokens(o, kind=o["kind"], namespace="src")


def required(new: dict[str, Any], old: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    found = checks(new, old, group="", resource="configmaps", namespace="src")
    return [(c.verb, c.namespace, c.name) for c in found]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (native("a,b"), ["n:a", "n:b"]),
        (native(" a \tb\nc,,d "), ["n:a", "n:b", "n:c", "n:d"]),
        (native("src,a"), ["n:a"]),  # never mirrored into its own namespace
        (native("team-*"), ["p:native:team-*"]),
        (native("labeled"), ["p:native:labeled"]),  # a keyword, though shaped like a name
        (native("Team_A"), ["p:native:Team_A"]),  # not a valid name: counted as a pattern
        (native("a,b", **{"kubectl-mirror.io/exclude": "b,x-*"}), ["n:a", "x:native:x-*"]),
        (native("", **{"kubectl-mirror.io/target-selector": " env=prod "}), ["p:native-selector:env=prod"]),
        (obj(labels={"kubectl-mirror.io/source": "TRUE"}, **{"kubectl-mirror.io/targets": "a"}), ["n:a"]),
        (obj(labels={"kubectl-mirror.io/source": "false"}, **{"kubectl-mirror.io/targets": "a"}), []),
        (obj(**{"kubectl-mirror.io/targets": "*"}), []),  # no source label: not a source
        (
            obj("Secret", {"mirrorverse.dev/sync-source": "true", "mirrorverse.dev/targets": "a_b"}),
            ["n:a", "n:b"],
        ),
        (obj("Service", {"mirrorverse.dev/sync-source": "true", "mirrorverse.dev/targets": "a"}), []),
        (
            obj(labels={KM + "enabled": "true"}, **{KM + "sync": "true", KM + "target-namespaces": "a,all"}),
            ["n:a", "p:kubemirror:all"],
        ),
        (
            obj(
                labels={KM + "enabled": "true"},
                **{KM + "sync": "true", KM + "target-namespaces": "all-labeled"},
            ),
            ["p:kubemirror:all-labeled"],
        ),
        (
            obj(
                labels={KM + "enabled": "true"},
                **{KM + "sync": "true", KM + "exclude": "true", KM + "target-namespaces": "a"},
            ),
            [],
        ),
        (obj(labels={KM + "enabled": "true"}, **{KM + "target-namespaces": "a"}), []),  # no sync annotation
        (
            obj(**{P + "replicate-to": "a,b[0-9]", P + "replicate-to-matching": "x=y"}),
            ["n:a", "p:replicator:b[0-9]", "p:replicator-selector:x=y"],
        ),
        (obj("Service", **{P + "replicate-to": "a"}), []),  # not one of Replicator's kinds
        (obj(**{"kubed.appscode.com/sync": ""}), ["p:kubed:*"]),  # config-syncer: every namespace
        (obj(**{"kubed.appscode.com/sync": " TRUE "}), ["p:kubed:*"]),
        (obj("Secret", **{"kubed.appscode.com/sync": "app=kubed "}), ["p:kubed:app=kubed"]),
        (obj("Service", **{"kubed.appscode.com/sync": ""}), []),  # not one of config-syncer's kinds
        (obj(**{R + "reflects": " ns/name "}), ["g:ns/name"]),
        (obj(**{P + "replicate-from": "ns/"}), []),  # malformed: the engine refuses it anyway
    ],
)
def test_markers_reduce_to_tokens(source: dict[str, Any], expected: list[str]) -> None:
    assert tokens(source) == expected


def reflector(**annotations: str) -> dict[str, Any]:
    return obj(
        **{R + "reflection-allowed": "true", R + "reflection-auto-enabled": "true"},
        **{R + k: v for k, v in annotations.items()},
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (reflector(), ["p:reflector:*"]),  # empty lists: every namespace
        (reflector(**{"reflection-allowed-namespaces": "a,b"}), ["n:a", "n:b"]),  # only the allowed names
        (reflector(**{"reflection-allowed-namespaces": "a,b", "reflection-auto-namespaces": "b,c"}), ["n:b"]),
        (
            reflector(**{"reflection-allowed-namespaces": "a,b", "reflection-auto-namespaces": "b-.*"}),
            ["n:a", "n:b"],
        ),
        (
            reflector(**{"reflection-allowed-namespaces": "t-.*", "reflection-auto-namespaces": "t-1"}),
            ["n:t-1", "x:reflector:t-.*"],
        ),
        (obj(**{R + "reflection-auto-enabled": "true"}), []),  # not allowed: not a source
    ],
)
def test_reflector_auto_mirrors_go_where_both_lists_allow(
    source: dict[str, Any], expected: list[str]
) -> None:
    assert tokens(source) == expected


def test_a_new_source_needs_create_in_each_target_and_everywhere_for_a_pattern() -> None:
    assert required(native("a,team-*")) == [("create", "a", ""), ("create", "", "")]


def test_removing_targets_or_markers_needs_nothing() -> None:
    assert required(native("a"), old=native("a,b")) == []
    assert required(obj(), old=native("*")) == []
    assert required(native("team-*", **{"kubectl-mirror.io/exclude": "team-x"}), old=native("team-*")) == []


def test_an_update_is_checked_for_what_it_adds() -> None:
    assert required(native("a,b"), old=native("a")) == [("create", "b", "")]
    assert required(native("*"), old=native("team-*")) == [("create", "", "")]


def test_removing_a_narrowing_entry_widens_a_pattern() -> None:
    before = native("*", **{"kubectl-mirror.io/exclude": "kube-*"})
    assert required(native("*"), old=before) == [("create", "", "")]
    named = native("a,b", **{"kubectl-mirror.io/exclude": "b"})
    assert required(native("a,b"), old=named) == [("create", "b", "")]


def test_a_pull_needs_get_on_the_object_it_reads() -> None:
    assert required(obj(**{R + "reflects": "team-b/db"})) == [("get", "team-b", "db")]
    assert required(obj(**{R + "reflects": "team-b/db"}), old=obj(**{R + "reflects": "team-b/db"})) == []


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubectl-mirror.io/v1alpha1",
        "kind": "MirrorPolicy",
        "metadata": {"name": "p"},
        "spec": spec,
    }


def test_a_policy_needs_get_in_its_source_and_create_of_each_kind_in_each_target() -> None:
    found = checks(
        policy(source={"namespace": "src"}, targets=["a", "src"]), None, group="", resource="", namespace=""
    )
    assert sorted(found) == sorted(
        [
            Check("create", "", "configmaps", "a", why="target"),
            Check("create", "", "secrets", "a", why="target"),
            Check("get", "", "configmaps", "src", why="policy source"),
            Check("get", "", "secrets", "src", why="policy source"),
        ]
    )


def test_a_policy_kind_outside_the_table_is_checked_in_every_group() -> None:
    found = checks(
        policy(source={"namespace": "src", "kinds": ["Widget"]}, targets=["a"]),
        None,
        group="",
        resource="",
        namespace="",
    )
    assert {(c.group, c.resource) for c in found} == {("*", "widgets")}


def test_a_changed_target_selector_needs_create_everywhere() -> None:
    before = policy(
        source={"namespace": "src", "kinds": ["ConfigMap"]}, targetSelector={"matchLabels": {"a": "b"}}
    )
    after = policy(
        source={"namespace": "src", "kinds": ["ConfigMap"]}, targetSelector={"matchLabels": {"a": "c"}}
    )
    assert checks(after, before, group="", resource="", namespace="") == [
        Check("create", "", "configmaps", "", why="pattern targetSelector")
    ]
    assert checks(before, before, group="", resource="", namespace="") == []


def test_policy_tokens_carry_the_kind() -> None:
    assert policy_tokens(
        policy(source={"namespace": "src", "kinds": ["Secret"]}, targets=["a", "b-*"], exclude=["c-*"])
    ) == [
        "n:Secret:a",
        "p:Secret:b-*",
        "x:Secret:c-*",
        "s:Secret:src",
    ]


def policy_needs(new: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return sorted(c.describe() for c in checks(new, old, group="", resource="", namespace=""))


def cm_policy(*, namespace: str = "src", targets: list[str] | None = None, **source: Any) -> dict[str, Any]:
    """A MirrorPolicy of ConfigMaps from `namespace` into t1 and t3 (or `targets`)."""
    body = {"namespace": namespace, "kinds": ["ConfigMap"], **source}
    return policy(source=body, targets=["t1", "t3"] if targets is None else targets)


EVERY_TARGET_AND_THE_READ = ["create configmaps in t1", "create configmaps in t3", "get configmaps in src"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (cm_policy(namespace="other"), cm_policy()),
        (cm_policy(names=["public-*"]), cm_policy(names=["*"])),
        (cm_policy(names=["a"]), cm_policy()),  # every name now
        (cm_policy(), cm_policy(names=["a"])),
        (cm_policy(names=["a", "b"]), cm_policy(names=["b", "a"])),  # compared as written, as CEL does
        (
            cm_policy(selector={"matchLabels": {"app": "a"}}),
            cm_policy(selector={"matchLabels": {"app": "b"}}),
        ),
        (cm_policy(selector={"matchLabels": {"app": "a"}}), cm_policy()),
        (cm_policy(), cm_policy(selector={})),
    ],
    ids=[
        "namespace",
        "names",
        "names-removed",
        "names-added",
        "names-reordered",
        "selector",
        "selector-removed",
        "selector-added-empty",
    ],
)
def test_a_policy_that_copies_something_else_is_checked_as_new(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Someone who may edit a MirrorPolicy but not write its targets must not make the controller
    write something else there (nor read more of its source): every target and the read again."""
    assert policy_needs(after, before) == EVERY_TARGET_AND_THE_READ


def test_a_policy_that_copies_the_same_is_checked_for_what_it_adds() -> None:
    selector = {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]}
    same = cm_policy(names=["a", "b"], selector=selector)
    reordered_map = cm_policy(names=["a", "b"], selector=dict(reversed(selector.items())))
    assert policy_needs(same, same) == []
    assert policy_needs(reordered_map, same) == []  # a map's order is not a change
    assert policy_needs(cm_policy(names=["a", "b"], selector=selector, targets=["t1"]), same) == []
    assert policy_needs(cm_policy(targets=["t1", "t3", "t4"]), cm_policy()) == ["create configmaps in t4"]
    # No namespace written and none before is the same source: nothing is asked twice.
    assert policy_needs(cm_policy(namespace=""), cm_policy(namespace="")) == []


def test_a_policy_retargeted_at_another_source_rechecks_its_patterns() -> None:
    before = cm_policy(namespace="other", targets=["t*"])
    assert policy_needs(cm_policy(targets=["t*"]), before) == [
        "create configmaps in every namespace",
        "get configmaps in src",
    ]
    with_selector = {"targetSelector": {"matchLabels": {"env": "prod"}}}
    old = policy(source={"namespace": "src", "names": ["a"]}, targets=[], **with_selector)
    new = policy(source={"namespace": "src", "names": ["b"]}, targets=[], **with_selector)
    assert policy_needs(new, old) == [
        "create configmaps in every namespace",
        "create secrets in every namespace",
        "get configmaps in src",
        "get secrets in src",
    ]


def test_a_kind_added_to_a_policy_is_checked_in_every_target_and_a_kind_removed_needs_nothing() -> None:
    both = policy(source={"namespace": "src", "kinds": ["ConfigMap", "Secret"]}, targets=["t1", "t3"])
    assert policy_needs(both, cm_policy()) == [
        "create secrets in t1",
        "create secrets in t3",
        "get secrets in src",
    ]
    assert policy_needs(cm_policy(), both) == []


def test_a_policy_source_change_counts_every_pair_against_the_bound() -> None:
    """Adding in steps cannot split a change of source: the message says what to do instead."""
    targets = [f"n{i}" for i in range(13)]

    def judge(new: dict[str, Any], old: dict[str, Any] | None) -> str:
        return over_budget(new, old, group="", resource="", namespace="", everywhere=lambda g, r: False)

    assert judge(cm_policy(targets=targets), cm_policy(targets=targets[:12])) == ""  # one pair added
    refused = judge(cm_policy(targets=targets, names=["x"]), cm_policy(targets=targets))
    assert "adds 13 kind and target pairs" in refused
    assert "make it with fewer targets" in refused
    assert "fewer" not in judge(cm_policy(targets=targets), None)
    kinds = [f"K{i}" for i in range(7)]
    many = policy(source={"namespace": "src", "kinds": kinds}, targets=[])
    renamed = policy(source={"namespace": "src", "kinds": kinds, "names": ["x"]}, targets=[])
    assert judge(renamed, many).startswith("this change adds 7 kinds to copy")
    assert "make it with fewer kinds" in judge(renamed, many)


def writing(targets: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    """cm_policy() with these spec fields (transform, strategy, transformStrict, onSourceDelete)."""
    base = cm_policy(targets=targets)
    return base | {"spec": {**base["spec"], **spec}}


NOTE = [{"path": "data.note", "value": "a"}]
WITHHELD = [{"path": "data.password", "delete": True}]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (writing(), writing(transform=NOTE)),
        (writing(transform=NOTE), writing(transform=[{"path": "data.note", "value": "b"}])),
        (writing(transform=WITHHELD), writing()),  # the key it withheld is written now
        (writing(transform=NOTE + WITHHELD), writing(transform=WITHHELD + NOTE)),  # rules apply in order
        (
            writing(transform=[{"path": "data.note", "template": "{{ x }}", "namespacePattern": "t1"}]),
            writing(transform=[{"path": "data.note", "template": "{{ x }}", "namespacePattern": "t*"}]),
        ),
        (
            writing(transform="- {path: data.note, value: a}"),
            writing(transform="[{path: data.note, value: a}]"),
        ),
        (writing(), writing(transform=[])),  # compared as written, as CEL does
        (
            writing(transform=[{"path": "data.n", "value": 1}]),
            writing(transform=[{"path": "data.n", "value": True}]),
        ),
        (writing(), writing(strategy="merge")),
        (writing(strategy="merge"), writing()),  # the CRD's default: replace
        (writing(), writing(transformStrict=True)),
    ],
    ids=[
        "transform-added",
        "transform-value",
        "transform-removed",
        "transform-rules-reordered",
        "transform-per-namespace-rule",
        "transform-text-reformatted",
        "transform-added-empty",
        "transform-number-to-boolean",
        "strategy",
        "strategy-back-to-default",
        "transform-strict",
    ],
)
def test_a_policy_that_writes_something_else_is_checked_as_new(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Someone who may edit a MirrorPolicy but not write its targets must not have the controller
    write data of their choosing there, nor drop a rule that withheld a key of the source: every
    target and the read again."""
    assert policy_needs(after, before) == EVERY_TARGET_AND_THE_READ


def test_a_policy_that_writes_the_same_is_checked_for_what_it_adds() -> None:
    rule = {"path": "data.note", "value": 1, "namespacePattern": "t1"}
    same = writing(transform=[rule], strategy="merge", transformStrict=True)
    reordered = writing(transform=[dict(reversed(rule.items()))], strategy="merge", transformStrict=True)
    assert policy_needs(reordered, same) == []  # a map's order is not a change
    as_float = writing(transform=[rule | {"value": 1.0}], strategy="merge", transformStrict=True)
    assert policy_needs(as_float, same) == []  # numbers by value, as CEL compares them
    # The CRD's defaults, written out or left out, are the same policy.
    assert policy_needs(writing(strategy="replace", transformStrict=False), writing()) == []
    assert policy_needs(writing(), writing(strategy="replace", transformStrict=False)) == []
    assert policy_needs(writing(transform=None), writing()) == []  # the server drops a null
    # onSourceDelete writes nothing: it decides whether our own mirrors go with their source.
    assert policy_needs(writing(onSourceDelete="orphan"), writing()) == []
    assert policy_needs(writing(targets=["t1", "t3", "t4"], transform=NOTE), writing(transform=NOTE)) == [
        "create configmaps in t4"
    ]


def test_a_policy_that_writes_something_else_rechecks_its_patterns() -> None:
    assert policy_needs(writing(targets=["t*"], transform=NOTE), writing(targets=["t*"])) == [
        "create configmaps in every namespace",
        "get configmaps in src",
    ]


def test_a_policy_write_change_counts_every_pair_against_the_bound() -> None:
    targets = [f"n{i}" for i in range(13)]

    def judge(new: dict[str, Any], old: dict[str, Any] | None, everywhere: bool = False) -> str:
        return over_budget(new, old, group="", resource="", namespace="", everywhere=lambda g, r: everywhere)

    refused = judge(writing(targets, transform=NOTE), writing(targets))
    assert refused == (
        "this change adds 13 kind and target pairs; the admission policy checks at most 12 per change"
        " for a user who may not create those kinds in every namespace: add them in steps (this change"
        " alters what it writes, which checks every target again: make it with fewer targets, then add"
        " the others)"
    )
    assert judge(writing(targets, transform=NOTE), writing(targets), everywhere=True) == ""
    assert judge(writing(targets, onSourceDelete="orphan"), writing(targets)) == ""
    # Copying something else and writing something else at once: the first reason is given.
    both = writing(targets, transform=NOTE)
    both["spec"]["source"] = {**both["spec"]["source"], "names": ["x"]}
    assert "makes it copy something else" in judge(both, writing(targets))


def test_more_added_targets_than_one_request_can_check_is_refused_unless_allowed_everywhere() -> None:
    many = ",".join(f"n{i}" for i in range(MAX_TARGETS_PER_CHANGE + 1))
    fewer = ",".join(f"n{i}" for i in range(MAX_TARGETS_PER_CHANGE))

    def judge(new: dict[str, Any], old: dict[str, Any] | None, everywhere: bool) -> str:
        return over_budget(
            new, old, group="", resource="configmaps", namespace="src", everywhere=lambda g, r: everywhere
        )

    assert "adds 21 target namespaces" in judge(native(many), None, False)
    assert judge(native(many), None, True) == ""
    assert judge(native(fewer), None, False) == ""
    assert judge(native(many), native(fewer), False) == ""  # in steps


def configmapsync(source: str = "src", name: str = "cfg", destination: str = "t1") -> dict[str, Any]:
    return {
        "apiVersion": "apps.kapendra.com/v1",
        "kind": "ConfigMapSync",
        "metadata": {"name": "sync", "namespace": "team"},
        "spec": {"sourceNamespace": source, "configMapName": name, "destinationNamespace": destination},
    }


def configmirror(
    targets: list[str], *, source: str = "src", selector: Any = None, **database: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "sourceNamespace": source,
        "targetNamespaces": targets,
        "selector": {"matchLabels": {"app": "web"}} if selector is None else selector,
    }
    if database:
        spec["database"] = {"enabled": True, "secretRef": database}
    return {
        "apiVersion": "mirror.configmirror.io/v1alpha1",
        "kind": "ConfigMirror",
        "metadata": {"name": "mirror", "namespace": "team"},
        "spec": spec,
    }


def needs(new: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    found = checks(new, old, group=new["apiVersion"].split("/")[0], resource="", namespace="team")
    return [c.describe() for c in found]


def test_a_configmapsync_needs_get_on_its_configmap_and_create_in_its_destination() -> None:
    assert needs(configmapsync()) == ["create configmaps in t1", "get configmaps src/cfg"]


def test_a_configmapsync_into_its_source_namespace_needs_only_the_read() -> None:
    assert needs(configmapsync(destination="src")) == ["get configmaps src/cfg"]


def test_a_configmapsync_update_is_checked_for_what_it_adds() -> None:
    assert needs(configmapsync(), old=configmapsync()) == []
    assert needs(configmapsync(destination="t2"), old=configmapsync()) == ["create configmaps in t2"]


def test_a_configmapsync_that_copies_another_configmap_is_checked_as_new() -> None:
    """Its destination would receive something nobody allowed it to: checked again."""
    expected = ["create configmaps in t1", "get configmaps src/other"]
    assert needs(configmapsync(name="other"), old=configmapsync()) == expected
    assert needs(configmapsync(source="team"), old=configmapsync()) == [
        "create configmaps in t1",
        "get configmaps team/cfg",
    ]


def test_a_configmirror_needs_list_in_its_source_and_create_in_each_target() -> None:
    """`list`, not `get` of one name: the selector picks ConfigMaps by label, names unknown when
    the ConfigMirror is written and ConfigMaps created later, and `list` reveals exactly those."""
    assert needs(configmirror(["t1", "src", "t2"])) == [
        "create configmaps in t1",
        "create configmaps in t2",
        "list configmaps in src",
    ]


def test_a_configmirror_target_that_is_not_a_namespace_name_is_checked_as_written() -> None:
    assert needs(configmirror(["Team_A"])) == ["create configmaps in Team_A", "list configmaps in src"]


def test_a_configmirror_update_adding_a_target_needs_create_there_only() -> None:
    assert needs(configmirror(["t1", "t3"]), old=configmirror(["t1"])) == ["create configmaps in t3"]


def test_removing_configmirror_targets_needs_nothing() -> None:
    assert needs(configmirror(["t1"]), old=configmirror(["t1", "t3"])) == []


def test_a_configmirror_with_another_selector_or_source_is_checked_as_new() -> None:
    every = configmirror(["t1", "t2"], selector={})
    assert needs(every, old=configmirror(["t1", "t2"])) == [
        "create configmaps in t1",
        "create configmaps in t2",
        "list configmaps in src",
    ]
    assert needs(configmirror(["t1"], source="other"), old=configmirror(["t1"])) == [
        "create configmaps in t1",
        "list configmaps in other",
    ]


def test_a_configmirror_database_needs_get_on_its_secret() -> None:
    assert needs(configmirror(["t1"], name="db"))[-1] == "get secrets team/db"  # its own namespace
    assert needs(configmirror(["t1"], name="db", namespace="vault"))[-1] == "get secrets vault/db"
    assert needs(configmirror(["t1"], name="db"), old=configmirror(["t1"], name="db")) == []
    assert needs(configmirror(["t1"], name="db2"), old=configmirror(["t1"], name="db")) == [
        "get secrets team/db2"
    ]
    assert needs(configmirror(["t1"]), old=configmirror(["t1"], name="db")) == []  # removed


def test_a_configmirror_adding_more_targets_than_one_request_can_check_is_refused() -> None:
    many = [f"n{i}" for i in range(MAX_TARGETS_PER_CHANGE + 1)]

    def judge(new: dict[str, Any], old: dict[str, Any] | None, everywhere: bool) -> str:
        return over_budget(
            new, old, group="", resource="configmirrors", namespace="team", everywhere=lambda g, r: everywhere
        )

    assert "adds 21 target namespaces" in judge(configmirror(many), None, False)
    assert judge(configmirror(many), None, True) == ""
    assert judge(configmirror(many), configmirror(many[:-1]), False) == ""  # in steps
    assert judge(configmapsync(), None, False) == ""


def test_the_controller_is_exempt_from_every_policy() -> None:
    """Every policy has the not-the-controller condition (MirrorPolicies' exempts nothing the
    controller does: it may change only their status, which the policy does not match)."""
    assert exempt(configmapsync(), CONTROLLER_USER)
    assert exempt(configmirror(["t1"]), CONTROLLER_USER)
    assert exempt(native("t1"), CONTROLLER_USER)
    assert exempt(policy(source={"namespace": "src"}, targets=["a"]), CONTROLLER_USER)
    assert not exempt(configmirror(["t1"]), "alice")
    assert not exempt(policy(source={"namespace": "src"}, targets=["a"]), "alice")
