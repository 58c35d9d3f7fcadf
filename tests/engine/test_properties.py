"""Properties over generated inputs: order independence, KRM idempotence, no leaked markers."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.plan import Item, render_all
from kubectl_mirror.io.emit import yaml_stream
from kubectl_mirror.krm import run_bytes
from tests.helpers import opts

NAMES = st.sampled_from(["a", "b", "team-a", "team-b", "dev", "prod-1", "kube-system"])
TARGET_ENTRY = st.one_of(NAMES, st.sampled_from(["*", "team-*", "labeled", "prod-?", "[a-d]*"]))
CONTROL_KEYS = [
    "kubectl-mirror.io/strategy",
    "mirrorverse.dev/targets",
    "kubemirror.raczylo.com/sync",
    "reflector.v1.k8s.emberstack.com/reflection-allowed",
    "replicator.v1.mittwald.de/replicate-to",
    "argocd.argoproj.io/tracking-id",
    "meta.helm.sh/release-name",
    "kubectl.kubernetes.io/last-applied-configuration",
]
USER_KEYS = ["team.example.com/owner", "reloader.stakater.com/match", "note"]
VALUES = st.text(alphabet="abcxyz019-", min_size=1, max_size=8)


@st.composite
def source(draw: st.DrawFn, index: int) -> dict[str, Any]:
    annotations = {
        "kubectl-mirror.io/targets": ",".join(draw(st.lists(TARGET_ENTRY, min_size=1, max_size=3))),
    }
    for key in draw(st.lists(st.sampled_from(CONTROL_KEYS + USER_KEYS), max_size=4, unique=True)):
        annotations.setdefault(key, draw(VALUES))
    labels = {"kubectl-mirror.io/source": "true"}
    if draw(st.booleans()):
        labels["app.kubernetes.io/instance"] = draw(VALUES)
    data = draw(st.dictionaries(st.sampled_from(["x", "y", "z.conf", "w"]), VALUES, max_size=3))
    return {
        "apiVersion": "v1",
        "kind": draw(st.sampled_from(["ConfigMap", "Secret"])),
        "metadata": {
            "name": f"s{index}",
            "namespace": draw(NAMES),
            "labels": labels,
            "annotations": annotations,
        },
        "data": data,
    }


@st.composite
def inputs(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=5))
    objs = [draw(source(i)) for i in range(count)]
    for name in draw(st.lists(NAMES, unique=True, max_size=7)):
        labels = {"kubectl-mirror.io/accept": "true"} if draw(st.booleans()) else {}
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    return objs


def _render(objs: list[dict[str, Any]]) -> str:
    outcome = render_all([Item(o) for o in objs], opts())
    return yaml_stream(outcome.mirrors) + "".join(r.one_line() for r in outcome.results)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(inputs(), st.randoms(use_true_random=False))
def test_shuffled_input_gives_the_same_bytes(objs: list[dict[str, Any]], rnd: Any) -> None:
    shuffled = list(objs)
    rnd.shuffle(shuffled)
    assert _render(shuffled) == _render(objs)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(inputs())
def test_no_control_marker_ever_appears_on_a_mirror(objs: list[dict[str, Any]]) -> None:
    outcome = render_all([Item(o) for o in objs], opts())
    ours = {
        m.MIRROR_LABEL,
        m.SOURCE_HASH_LABEL,
        m.SOURCE_GROUP,
        m.SOURCE_KIND,
        m.SOURCE_NAMESPACE,
        m.SOURCE_NAME,
        m.SOURCE_UID,
        m.SOURCE_POLICY,
        m.CONTENT_HASH,
        m.STRATEGY,
        m.ON_SOURCE_DELETE,
    }
    for mirror in outcome.mirrors:
        meta = mirror["metadata"]
        for key in [*meta.get("labels", {}), *meta.get("annotations", {})]:
            foreign = key.startswith(m.CONTROL_PREFIXES) or key in CONTROL_KEYS[5:]
            assert not foreign or key in ours, key
            assert key != "app.kubernetes.io/instance"
        assert meta["labels"][m.MANAGED_BY] == m.MANAGER


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(inputs())
def test_krm_function_run_twice_equals_run_once(objs: list[dict[str, Any]]) -> None:
    doc = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": objs}
    once, code = run_bytes(yaml.safe_dump(doc).encode())
    twice, code_again = run_bytes(once)
    assert code == code_again
    if code == 0:
        assert twice == once
