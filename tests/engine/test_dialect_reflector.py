from __future__ import annotations

from typing import Any

import pytest

from kubectl_mirror.engine.dialects import reflector as rf
from kubectl_mirror.engine.model import MirrorSpec, NamespaceInfo, PullRef, Target
from kubectl_mirror.engine.targets import resolve_targets
from kubectl_mirror.errors import Ref, SpecError
from tests.helpers import ns, opts, render


def secret(annotations: dict[str, Any], *, name: str = "tls", namespace: str = "platform") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "type": "Opaque",
        "data": {"key": "dmFsdWU="},
    }


def read(obj: dict[str, Any]) -> MirrorSpec | None:
    return rf.read_source(obj, Ref.of(obj), opts())


AUTO = {rf.ALLOWED: "true", rf.AUTO_ENABLED: "true"}
UNIVERSE = ("platform", "team-a", "team-b", "tools", "kube-system")


def chosen(spec: MirrorSpec, labels: dict[str, dict[str, str]] | None = None) -> tuple[str, ...]:
    labels = labels or {}
    universe = {n: NamespaceInfo(n, tuple(sorted(labels.get(n, {}).items()))) for n in UNIVERSE}
    names, _ = resolve_targets(
        spec, source_namespace="platform", universe=universe, options=opts(), ref=Ref()
    )
    return names


def test_reflection_allowed_alone_is_not_a_push_source() -> None:
    assert read(secret({rf.ALLOWED: "true"})) is None


def test_auto_enabled_without_reflection_allowed_is_not_a_source() -> None:
    assert read(secret({rf.AUTO_ENABLED: "true"})) is None


def test_auto_mirrors_without_lists_go_everywhere_but_protected_and_own_namespaces() -> None:
    spec = read(secret(AUTO))
    assert spec is not None
    assert spec.targets == (Target("all"),)
    assert chosen(spec) == ("team-a", "team-b", "tools")


def test_auto_namespaces_are_names_or_whole_name_regexes() -> None:
    spec = read(secret({**AUTO, rf.AUTO_NAMESPACES: "tools,team-[a-z]"}))
    assert spec is not None
    assert spec.targets == (Target("name", "tools"), Target("regex", "team-[a-z]"))
    assert chosen(spec) == ("team-a", "team-b", "tools")
    partial = read(secret({**AUTO, rf.AUTO_NAMESPACES: "te.m"}))  # a prefix of team-a
    assert partial is not None and chosen(partial) == ()


def test_auto_mirrors_only_go_where_reflection_is_also_allowed() -> None:
    spec = read(secret({**AUTO, rf.AUTO_NAMESPACES: "team-.*,tools", rf.ALLOWED_NAMESPACES: "team-a,tool.*"}))
    assert spec is not None
    assert chosen(spec) == ("team-a", "tools")


def test_allowed_namespaces_alone_bound_the_auto_mirrors() -> None:
    spec = read(secret({**AUTO, rf.ALLOWED_NAMESPACES: "team-b"}))
    assert spec is not None
    assert chosen(spec) == ("team-b",)


def test_namespace_selectors_select_by_namespace_labels() -> None:
    spec = read(secret({**AUTO, rf.AUTO_SELECTOR: "team", rf.ALLOWED_SELECTOR: "env in (dev,test)"}))
    assert spec is not None
    labels = {
        "team-a": {"team": "a", "env": "dev"},
        "team-b": {"team": "b"},
        "tools": {"env": "dev"},
    }
    assert chosen(spec, labels) == ("team-a",)


def test_allowed_list_and_allowed_selector_together_are_refused_for_auto_mirrors() -> None:
    with pytest.raises(SpecError) as err:
        read(secret({**AUTO, rf.ALLOWED_NAMESPACES: "team-a", rf.ALLOWED_SELECTOR: "env=dev"}))
    assert err.value.field_path == f'metadata.annotations["{rf.ALLOWED_SELECTOR}"]'


@pytest.mark.parametrize(
    ("annotations", "key"),
    [
        ({**AUTO, rf.AUTO_NAMESPACES: "team-("}, rf.AUTO_NAMESPACES),
        ({**AUTO, rf.ALLOWED_NAMESPACES: "(?i)team"}, rf.ALLOWED_NAMESPACES),
        ({**AUTO, rf.AUTO_SELECTOR: "env in (dev"}, rf.AUTO_SELECTOR),
        ({**AUTO, rf.AUTO_NAMESPACES: True}, rf.AUTO_NAMESPACES),
    ],
)
def test_bad_values_are_errors_naming_the_annotation(annotations: dict[str, Any], key: str) -> None:
    with pytest.raises(SpecError) as err:
        read(secret(annotations))
    assert err.value.field_path == f'metadata.annotations["{key}"]'


def test_reflects_is_read_as_a_pull() -> None:
    obj = secret({rf.REFLECTS: " platform/tls "}, name="copy", namespace="team-a")
    assert rf.read_pull(obj, Ref.of(obj)) == PullRef("reflector", "platform", "tls")
    assert rf.read_pull(secret({}), Ref()) is None


@pytest.mark.parametrize("value", ["platform", "/tls", "platform/", "Platform/tls", "a/b/c"])
def test_malformed_reflects_is_an_error_naming_the_annotation(value: str) -> None:
    obj = secret({rf.REFLECTS: value}, namespace="team-a")
    with pytest.raises(SpecError) as err:
        rf.read_pull(obj, Ref.of(obj))
    assert err.value.field_path == f'metadata.annotations["{rf.REFLECTS}"]'


def test_pull_needs_reflection_allowed() -> None:
    assert not rf.allows_pull(secret({}), "team-a")
    assert not rf.allows_pull(secret({rf.ALLOWED: "false"}), "team-a")


def test_empty_or_missing_allowed_namespaces_allow_every_pull() -> None:
    assert rf.allows_pull(secret({rf.ALLOWED: "true"}), "team-a")
    assert rf.allows_pull(secret({rf.ALLOWED: "True", rf.ALLOWED_NAMESPACES: ""}), "team-a")


def test_allowed_namespaces_match_whole_names_only() -> None:
    source = secret({rf.ALLOWED: "true", rf.ALLOWED_NAMESPACES: "tools, team-[0-9]*"})
    assert rf.allows_pull(source, "tools")
    assert rf.allows_pull(source, "team-")
    assert not rf.allows_pull(source, "team-a")
    assert not rf.allows_pull(source, "tools-2")


def test_pull_allowed_only_by_a_selector_is_refused_since_labels_are_unknown_here() -> None:
    assert not rf.allows_pull(secret({rf.ALLOWED: "true", rf.ALLOWED_SELECTOR: "env=dev"}), "x")


def test_broken_allowed_regex_fails_closed() -> None:
    assert not rf.allows_pull(secret({rf.ALLOWED: "true", rf.ALLOWED_NAMESPACES: "team-("}), "team-")


@pytest.mark.parametrize("key", [rf.REFLECTS, rf.AUTO_REFLECTS, rf.REFLECTED_VERSION, rf.REFLECTED_AT])
def test_copies_reflector_made_or_fills_are_foreign_mirrors(key: str) -> None:
    assert rf.is_foreign_mirror(secret({key: ""}))


def test_a_reflector_source_is_not_a_foreign_mirror() -> None:
    assert not rf.is_foreign_mirror(secret(AUTO))


def test_render_end_to_end(snapshot: Any) -> None:
    source = secret({**AUTO, rf.AUTO_NAMESPACES: "team-.*", rf.ALLOWED_NAMESPACES: "team-.*,tools"})
    pull = secret({rf.REFLECTS: "platform/tls"}, name="tls-copy", namespace="tools")
    refused = secret({rf.REFLECTS: "platform/tls"}, name="tls-copy", namespace="other")
    outcome = render(source, pull, refused, ns("platform"), ns("team-a"), ns("tools"), ns("other"))
    assert [r.one_line() for r in outcome.results] == [
        "input.yaml: Secret other/tls-copy: pulls from platform/tls, which does not allow namespace 'other'"
    ]
    where = [(m["metadata"]["namespace"], m["metadata"]["name"]) for m in outcome.mirrors]
    assert where == [("team-a", "tls"), ("tools", "tls-copy")]
    assert outcome.mirrors == snapshot
