"""engine/rollouts.py: every way a pod template uses a ConfigMap or Secret, every opt-in
annotation (ours and Reloader's), and the one annotation each planned rollout writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubectl_mirror.engine import rollouts as r
from kubectl_mirror.engine.model import ObjectKey

NS = "team-a"


def cm_key(name: str, namespace: str = NS) -> ObjectKey:
    return ObjectKey("core", "ConfigMap", namespace, name)


def secret_key(name: str, namespace: str = NS) -> ObjectKey:
    return ObjectKey("core", "Secret", namespace, name)


def workload(
    pod: dict[str, Any] | None = None,
    *,
    annotations: dict[str, str] | None = None,
    template_annotations: dict[str, str] | None = None,
    kind: str = "Deployment",
    api_version: str = "apps/v1",
    name: str = "app",
    namespace: str = NS,
) -> dict[str, Any]:
    template: dict[str, Any] = {"metadata": {}, "spec": pod or {"containers": [{"name": "c", "image": "i"}]}}
    if template_annotations is not None:
        template["metadata"]["annotations"] = template_annotations
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": "7",
            "annotations": annotations or {},
        },
        "spec": {"template": template},
    }


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": "i", **fields}


def changed(key: ObjectKey, digest: str = "sha256:" + "a" * 64, **flags: bool) -> r.ChangedMirror:
    return r.ChangedMirror(key, digest, **flags)


# --- references ----------------------------------------------------------------------------------

CONTAINER_CASES = {
    "env secretKeyRef": (
        {"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}]},
        secret_key("db"),
        "env[P].valueFrom.secretKeyRef",
    ),
    "env configMapKeyRef": (
        {"env": [{"name": "L", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "l"}}}]},
        cm_key("settings"),
        "env[L].valueFrom.configMapKeyRef",
    ),
    "envFrom secretRef": (
        {"envFrom": [{"secretRef": {"name": "db"}}]},
        secret_key("db"),
        "envFrom[0].secretRef",
    ),
    "envFrom configMapRef": (
        {"envFrom": [{"prefix": "X_", "configMapRef": {"name": "settings"}}]},
        cm_key("settings"),
        "envFrom[0].configMapRef",
    ),
}


@pytest.mark.parametrize("field", r.CONTAINER_LISTS)
@pytest.mark.parametrize("case", sorted(CONTAINER_CASES))
def test_container_env_references_are_found_in_every_container_list(field: str, case: str) -> None:
    fields, key, tail = CONTAINER_CASES[case]
    pod = {"containers": [container()], field: [container(**fields)]}
    refs = r.references(workload(pod))
    assert refs == (r.Reference(key, f"spec.template.spec.{field}[c].{tail}"),)


VOLUME_CASES = {
    "secret": ({"secret": {"secretName": "db"}}, secret_key("db"), "secret"),
    "configMap": ({"configMap": {"name": "settings"}}, cm_key("settings"), "configMap"),
    "projected secret": (
        {"projected": {"sources": [{"serviceAccountToken": {"path": "t"}}, {"secret": {"name": "db"}}]}},
        secret_key("db"),
        "projected.sources[1].secret",
    ),
    "projected configMap": (
        {
            "projected": {
                "sources": [{"configMap": {"name": "settings", "items": [{"key": "a", "path": "a"}]}}]
            }
        },
        cm_key("settings"),
        "projected.sources[0].configMap",
    ),
}


@pytest.mark.parametrize("case", sorted(VOLUME_CASES))
def test_volume_references_are_found(case: str) -> None:
    volume, key, tail = VOLUME_CASES[case]
    pod = {"containers": [container()], "volumes": [{"name": "v", **volume}]}
    assert r.references(workload(pod)) == (r.Reference(key, f"spec.template.spec.volumes[v].{tail}"),)


def test_image_pull_secrets_are_references() -> None:
    pod = {"containers": [container()], "imagePullSecrets": [{"name": "registry"}]}
    assert r.references(workload(pod)) == (
        r.Reference(secret_key("registry"), "spec.template.spec.imagePullSecrets[0]"),
    )


def test_references_are_sorted_and_in_the_workload_namespace() -> None:
    pod = {
        "containers": [container(envFrom=[{"secretRef": {"name": "z"}}, {"configMapRef": {"name": "a"}}])],
        "volumes": [{"name": "v", "configMap": {"name": "a"}}],
    }
    refs = r.references(workload(pod, namespace="team-b"))
    assert [ref.mirror for ref in refs] == [
        cm_key("a", "team-b"),
        cm_key("a", "team-b"),
        secret_key("z", "team-b"),
    ]
    assert refs == tuple(sorted(refs))


def test_things_that_are_not_references_are_ignored() -> None:
    pod = {
        "containers": [
            container(
                env=[
                    {"name": "A", "value": "x"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                ]
            ),
            "not a container",
        ],
        "volumes": [
            {"name": "e", "emptyDir": {}},
            {"name": "s", "secret": {}},
            {"name": "c", "configMap": {"name": ""}},
        ],
        "imagePullSecrets": [{}],
    }
    assert r.references(workload(pod)) == ()


def test_a_workload_without_a_pod_template_references_nothing() -> None:
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "x", "namespace": NS},
    }
    rollout["spec"] = {"workloadRef": {"kind": "Deployment", "name": "app"}}
    assert r.references(rollout) == ()
    assert r.pod_spec(rollout) is None


# --- opting in -----------------------------------------------------------------------------------

ENV_DB = {"containers": [container(envFrom=[{"secretRef": {"name": "db"}}])]}
MOUNT_SETTINGS = {"containers": [container()], "volumes": [{"name": "v", "configMap": {"name": "settings"}}]}


def reason(w: dict[str, Any], mirror: r.ChangedMirror) -> str:
    return r.opt_in(w, mirror, r.references(w))


def test_our_annotation_opts_in_for_used_mirrors_only() -> None:
    w = workload(ENV_DB, annotations={r.ROLLOUT: "true"})
    assert reason(w, changed(secret_key("db"))) == r.ROLLOUT
    assert reason(w, changed(secret_key("other"))) == ""
    assert reason(w, changed(cm_key("db"))) == ""


def test_no_annotation_means_no_rollout() -> None:
    assert reason(workload(ENV_DB), changed(secret_key("db"))) == ""
    assert reason(workload(ENV_DB, annotations={r.ROLLOUT: "yes"}), changed(secret_key("db"))) == ""


def test_our_false_opts_out_of_reloader_annotations_too() -> None:
    w = workload(ENV_DB, annotations={r.ROLLOUT: "false", r.RELOADER_AUTO: "true"})
    assert reason(w, changed(secret_key("db"))) == ""


def test_mirrors_in_another_namespace_never_count() -> None:
    w = workload(ENV_DB, annotations={r.ROLLOUT: "true", r.RELOADER_NAMED["Secret"]: "db"})
    assert reason(w, changed(secret_key("db", "team-b"))) == ""


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1", "t"])
def test_reloader_auto_reads_go_booleans_and_needs_a_reference(value: str) -> None:
    w = workload(ENV_DB, annotations={r.RELOADER_AUTO: value})
    assert reason(w, changed(secret_key("db"))) == r.RELOADER_AUTO
    assert reason(w, changed(secret_key("unused"))) == ""
    assert reason(workload(ENV_DB, annotations={r.RELOADER_AUTO: "false"}), changed(secret_key("db"))) == ""


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap"])
def test_reloader_typed_auto_is_for_its_kind_only(kind: str) -> None:
    pod = {"containers": [container(envFrom=[{"secretRef": {"name": "x"}}, {"configMapRef": {"name": "x"}}])]}
    w = workload(pod, annotations={r.RELOADER_TYPED_AUTO[kind]: "true"})
    other = "ConfigMap" if kind == "Secret" else "Secret"
    assert reason(w, changed(ObjectKey("core", kind, NS, "x"))) == r.RELOADER_TYPED_AUTO[kind]
    assert reason(w, changed(ObjectKey("core", other, NS, "x"))) == ""


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap"])
def test_reloader_named_reload_rolls_even_without_a_reference(kind: str) -> None:
    w = workload(annotations={r.RELOADER_NAMED[kind]: "a, db ,c"})
    assert reason(w, changed(ObjectKey("core", kind, NS, "db"))) == r.RELOADER_NAMED[kind]
    assert reason(w, changed(ObjectKey("core", kind, NS, "dbx"))) == ""
    other = "ConfigMap" if kind == "Secret" else "Secret"
    assert reason(w, changed(ObjectKey("core", other, NS, "db"))) == ""


def test_reloader_named_reload_entries_are_whole_name_regexes() -> None:
    w = workload(annotations={r.RELOADER_NAMED["Secret"]: "db-.*,(unclosed"})
    assert reason(w, changed(secret_key("db-main"))) == r.RELOADER_NAMED["Secret"]
    assert reason(w, changed(secret_key("my-db-main"))) == ""
    assert reason(w, changed(secret_key("(unclosed"))) == r.RELOADER_NAMED["Secret"]  # literal fallback


def test_reloader_search_needs_match_on_the_mirror_and_a_reference() -> None:
    w = workload(ENV_DB, annotations={r.RELOADER_SEARCH: "true"})
    assert reason(w, changed(secret_key("db"), matched=True)) == r.RELOADER_SEARCH
    assert reason(w, changed(secret_key("db"))) == ""
    assert reason(w, changed(secret_key("unused"), matched=True)) == ""


def test_reloader_ignore_on_the_mirror_wins_over_everything_reloader() -> None:
    w = workload(ENV_DB, annotations={r.RELOADER_AUTO: "true", r.RELOADER_NAMED["Secret"]: "db"})
    assert reason(w, changed(secret_key("db"), ignored=True)) == ""
    ours = workload(ENV_DB, annotations={r.ROLLOUT: "true"})
    assert reason(ours, changed(secret_key("db"), ignored=True)) == r.ROLLOUT  # ours is not Reloader's


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap"])
def test_reloader_exclude_lists_names_auto_skips(kind: str) -> None:
    pod = {"containers": [container(envFrom=[{"secretRef": {"name": "x"}}, {"configMapRef": {"name": "x"}}])]}
    w = workload(pod, annotations={r.RELOADER_AUTO: "true", r.RELOADER_EXCLUDE[kind]: "y, x"})
    assert reason(w, changed(ObjectKey("core", kind, NS, "x"))) == ""
    other = "ConfigMap" if kind == "Secret" else "Secret"
    assert reason(w, changed(ObjectKey("core", other, NS, "x"))) == r.RELOADER_AUTO


def test_reloader_annotations_on_the_pod_template_count_when_the_workload_has_none() -> None:
    w = workload(ENV_DB, template_annotations={r.RELOADER_AUTO: "true"})
    assert reason(w, changed(secret_key("db"))) == r.RELOADER_AUTO


def test_reloader_annotations_on_the_workload_hide_the_pod_templates() -> None:
    # Reloader reads the template only when none of the deciding annotations is on the workload.
    w = workload(
        ENV_DB,
        annotations={r.RELOADER_SEARCH: "false"},
        template_annotations={r.RELOADER_AUTO: "true"},
    )
    assert reason(w, changed(secret_key("db"))) == ""


def test_a_rollout_without_template_never_opts_in() -> None:
    w = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "x", "namespace": NS, "annotations": {r.RELOADER_NAMED["Secret"]: "db"}},
        "spec": {"workloadRef": {"kind": "Deployment", "name": "app"}},
    }
    assert reason(w, changed(secret_key("db"))) == ""
    assert r.plan_rollouts([w], [changed(secret_key("db"))]) == ()


def test_changed_mirror_reads_reloader_annotations_on_the_mirror() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db",
            "namespace": NS,
            "annotations": {r.RELOADER_MATCH: "true", r.RELOADER_IGNORE: "true"},
        },
        "data": {"p": "eA=="},
    }
    mirror = r.ChangedMirror.of(obj)
    assert (mirror.key, mirror.matched, mirror.ignored) == (secret_key("db"), True, True)


# --- what counts as a change ---------------------------------------------------------------------


def mirror_obj(data: dict[str, str], *, content: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "settings",
            "namespace": NS,
            "labels": labels or {},
            "annotations": {"kubectl-mirror.io/content-hash": content},
        },
        "data": data,
    }


def test_a_data_change_with_a_new_content_hash_is_a_change() -> None:
    before = mirror_obj({"a": "1"}, content="sha256:1")
    after = mirror_obj({"a": "2"}, content="sha256:2")
    found = r.changed_mirror(before, after)
    assert found is not None and found.key == cm_key("settings") and found.digest == r.data_hash(after)


def test_creates_resyncs_and_metadata_only_changes_are_not_changes() -> None:
    after = mirror_obj({"a": "2"}, content="sha256:2")
    assert r.changed_mirror(None, after) is None  # created: its consumers start on it
    assert r.changed_mirror(after, after) is None  # resync
    hand_edit = mirror_obj({"a": "edited"}, content="sha256:2")
    assert r.changed_mirror(hand_edit, after) is None  # same content hash: repaired, not changed
    relabeled = mirror_obj({"a": "2"}, content="sha256:1", labels={"x": "y"})
    assert r.changed_mirror(relabeled, after) is None  # hash moved for a label only


def test_change_of_decides_from_the_hashes_a_cache_keeps() -> None:
    after = mirror_obj({"a": "2"}, content="sha256:2")
    old_data = r.data_hash(mirror_obj({"a": "1"}, content="sha256:1"))
    assert r.change_of(after, content_hash_before="sha256:1", data_hash_before=old_data) is not None
    assert r.change_of(after, content_hash_before="sha256:2", data_hash_before=old_data) is None
    assert r.change_of(after, content_hash_before="sha256:1", data_hash_before=r.data_hash(after)) is None
    # Without the data hash, the content hash decides alone.
    assert r.change_of(after, content_hash_before="sha256:1", data_hash_before=None) is not None


def test_only_configmaps_and_secrets_change_for_rollouts() -> None:
    before = {**mirror_obj({"a": "1"}, content="sha256:1"), "kind": "Thing"}
    after = {**mirror_obj({"a": "2"}, content="sha256:2"), "kind": "Thing"}
    assert r.changed_mirror(before, after) is None


def test_data_hash_ignores_metadata_and_defaults_the_secret_type() -> None:
    a = {"kind": "Secret", "metadata": {"name": "a"}, "data": {"k": "dg=="}}
    b = {
        "kind": "Secret",
        "metadata": {"name": "b", "labels": {"x": "y"}},
        "data": {"k": "dg=="},
        "type": "Opaque",
    }
    assert r.data_hash(a) == r.data_hash(b)
    assert r.data_hash(a) != r.data_hash({**a, "data": {"k": "dw=="}})


# --- planning ------------------------------------------------------------------------------------


def test_one_rollout_per_workload_for_several_changed_mirrors() -> None:
    pod = {
        "containers": [container(envFrom=[{"secretRef": {"name": "db"}}])],
        "volumes": [{"name": "v", "configMap": {"name": "settings"}}],
    }
    w = workload(pod, annotations={r.ROLLOUT: "true"})
    plans = r.plan_rollouts(
        [w],
        [changed(secret_key("db"), "sha256:" + "b" * 64), changed(cm_key("settings"), "sha256:" + "c" * 64)],
    )
    assert len(plans) == 1
    (plan,) = plans
    assert plan.workload == ObjectKey("apps", "Deployment", NS, "app")
    assert [t.mirror for t in plan.triggers] == [cm_key("settings"), secret_key("db")]
    assert plan.value == "configmap/settings=cccccccccccc,secret/db=bbbbbbbbbbbb"
    assert plan.needed and plan.current == ""


def test_unrelated_and_not_opted_in_workloads_are_not_planned() -> None:
    opted = workload(ENV_DB, annotations={r.ROLLOUT: "true"}, name="opted")
    silent = workload(ENV_DB, name="silent")
    unrelated = workload(MOUNT_SETTINGS, annotations={r.ROLLOUT: "true"}, name="unrelated")
    elsewhere = workload(ENV_DB, annotations={r.ROLLOUT: "true"}, name="elsewhere", namespace="team-b")
    plans = r.plan_rollouts([opted, silent, unrelated, elsewhere], [changed(secret_key("db"))])
    assert [p.workload.name for p in plans] == ["opted"]


def test_other_kinds_with_templates_are_not_workloads() -> None:
    job = workload(ENV_DB, annotations={r.ROLLOUT: "true"}, kind="Job", api_version="batch/v1")
    assert r.plan_rollouts([job], [changed(secret_key("db"))]) == ()


@pytest.mark.parametrize(("group", "kind"), r.WORKLOAD_KINDS)
def test_every_workload_kind_is_planned(group: str, kind: str) -> None:
    w = workload(ENV_DB, annotations={r.ROLLOUT: "true"}, kind=kind, api_version=f"{group}/v1")
    (plan,) = r.plan_rollouts([w], [changed(secret_key("db"))])
    assert plan.workload == ObjectKey(group, kind, NS, "app")


def test_a_rerun_for_the_same_content_is_not_needed() -> None:
    w = workload(
        ENV_DB,
        annotations={r.ROLLOUT: "true"},
        template_annotations={r.RESTARTED_FOR: "secret/db=aaaaaaaaaaaa"},
    )
    (plan,) = r.plan_rollouts([w], [changed(secret_key("db"))])
    assert not plan.needed


def test_earlier_entries_are_kept_while_used_and_dropped_when_not() -> None:
    recorded = "configmap/gone=111111111111,secret/db=222222222222,configmap/settings=333333333333"
    pod = {
        "containers": [container(envFrom=[{"secretRef": {"name": "db"}}])],
        "volumes": [{"name": "v", "configMap": {"name": "settings"}}],
    }
    w = workload(pod, annotations={r.ROLLOUT: "true"}, template_annotations={r.RESTARTED_FOR: recorded})
    (plan,) = r.plan_rollouts([w], [changed(secret_key("db"), "sha256:" + "d" * 64)])
    assert plan.value == "configmap/settings=333333333333,secret/db=dddddddddddd"
    assert r.recorded(w) == {
        "configmap/gone": "111111111111",
        "secret/db": "222222222222",
        "configmap/settings": "333333333333",
    }


def test_the_apply_body_holds_our_annotation_and_nothing_else() -> None:
    w = workload(ENV_DB, annotations={r.ROLLOUT: "true"})
    (plan,) = r.plan_rollouts([w], [changed(secret_key("db"))])
    assert plan.body() == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": NS, "resourceVersion": "7"},
        "spec": {"template": {"metadata": {"annotations": {r.RESTARTED_FOR: "secret/db=aaaaaaaaaaaa"}}}},
    }


def test_planning_does_not_mutate_its_input() -> None:
    w = workload(
        ENV_DB, annotations={r.ROLLOUT: "true"}, template_annotations={r.RESTARTED_FOR: "secret/db=1"}
    )
    before = copy.deepcopy(w)
    r.plan_rollouts([w], [changed(secret_key("db"))])
    r.consumers([w], {})
    assert w == before


# --- the annotation's value ----------------------------------------------------------------------

ENTRY_NAMES = st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=60)
ENTRIES = st.dictionaries(
    st.builds(lambda k, n: f"{k}/{n}", st.sampled_from(["configmap", "secret"]), ENTRY_NAMES),
    st.text(alphabet="0123456789abcdef", min_size=12, max_size=12),
    max_size=60,
)


@given(ENTRIES)
def test_annotation_value_is_bounded_sorted_and_read_back(entries: dict[str, str]) -> None:
    value = r.annotation_value(entries)
    assert len(value) <= r.MAX_VALUE
    assert value == r.annotation_value(dict(reversed(list(entries.items()))))
    w = workload(template_annotations={r.RESTARTED_FOR: value})
    back = r.recorded(w)
    assert back.items() <= entries.items()
    assert list(back) == sorted(back)
    if len(",".join(f"{k}={v}" for k, v in entries.items())) <= r.MAX_VALUE:
        assert back == entries


@given(ENTRIES, st.data())
def test_annotation_value_changes_whenever_any_hash_does(
    entries: dict[str, str], data: st.DataObject
) -> None:
    if not entries:
        return
    name = data.draw(st.sampled_from(sorted(entries)))
    other = {**entries, name: "f" * 12 if entries[name] != "f" * 12 else "0" * 12}
    assert r.annotation_value(entries) != r.annotation_value(other)


# --- status --------------------------------------------------------------------------------------


def test_consumers_say_whether_each_workload_runs_the_current_data() -> None:
    live = mirror_obj({"a": "2"}, content="sha256:2")
    short = r.data_hash(live).split(":")[1][:12]
    current = workload(MOUNT_SETTINGS, annotations={r.ROLLOUT: "true"}, name="current")
    current["spec"]["template"]["metadata"]["annotations"] = {r.RESTARTED_FOR: f"configmap/settings={short}"}
    outdated = workload(
        MOUNT_SETTINGS, name="outdated", template_annotations={r.RESTARTED_FOR: "configmap/settings=0"}
    )
    never = workload(MOUNT_SETTINGS, name="never", annotations={r.RELOADER_AUTO: "true"})
    found = r.consumers([never, outdated, current], {cm_key("settings"): live})
    assert [(c.workload.name, c.reason, c.state) for c in found] == [
        ("current", r.ROLLOUT, "current"),
        ("never", r.RELOADER_AUTO, "unknown"),
        ("outdated", "", "outdated"),
    ]
