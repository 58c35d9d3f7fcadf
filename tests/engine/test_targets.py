"""Target resolution: every grammar entry, exclusions, protection, limits, explanations."""

from __future__ import annotations

from tests.helpers import errors_of, namespaces_of, ns, render, source

UNIVERSE = [
    ns("platform"),
    ns("team-a", env="prod", **{"kubectl-mirror.io/accept": "true"}),
    ns("team-b", env="staging"),
    ns("dev-x"),
    ns("kube-system"),
    ns("locked", **{"kubectl-mirror.io/reject": "true"}),
]


def test_explicit_names_produce_mirrors_even_outside_the_universe() -> None:
    out = render(source(targets="team-a, elsewhere"), *UNIVERSE)
    assert namespaces_of(out) == ["elsewhere", "team-a"]


def test_glob_expands_over_known_namespaces_only() -> None:
    assert namespaces_of(render(source(targets="team-?"), *UNIVERSE)) == ["team-a", "team-b"]
    assert namespaces_of(render(source(targets="[d-e]*"), *UNIVERSE)) == ["dev-x"]


def test_star_means_every_namespace_but_own_protected_and_rejecting_ones() -> None:
    assert namespaces_of(render(source(targets="*"), *UNIVERSE)) == ["dev-x", "team-a", "team-b"]


def test_labeled_selects_namespaces_that_opted_in() -> None:
    assert namespaces_of(render(source(targets="labeled"), *UNIVERSE)) == ["team-a"]


def test_target_selector_adds_namespaces_by_label() -> None:
    src = source(targets=None, annotations={"kubectl-mirror.io/target-selector": "env in (prod,staging)"})
    assert namespaces_of(render(src, *UNIVERSE)) == ["team-a", "team-b"]


def test_exclusion_always_wins_even_over_explicit_names() -> None:
    src = source(targets="team-a,team-b", annotations={"kubectl-mirror.io/exclude": "team-a"})
    assert namespaces_of(render(src, *UNIVERSE)) == ["team-b"]


def test_reject_label_wins_over_explicit_name() -> None:
    assert namespaces_of(render(source(targets="locked,team-a"), *UNIVERSE)) == ["team-a"]


def test_source_namespace_is_never_a_target_even_when_named() -> None:
    assert namespaces_of(render(source(targets="platform,team-a"), *UNIVERSE)) == ["team-a"]


def test_protected_namespaces_are_reached_only_by_explicit_name() -> None:
    assert "kube-system" not in namespaces_of(render(source(targets="kube-*"), *UNIVERSE))
    assert namespaces_of(render(source(targets="kube-system"), *UNIVERSE)) == ["kube-system"]


def test_protected_list_is_configurable() -> None:
    out = render(source(targets="*"), *UNIVERSE, protected_namespaces=("dev-x",))
    assert namespaces_of(out) == ["kube-system", "team-a", "team-b"]


def test_global_include_and_exclude_apply_to_every_source() -> None:
    out = render(
        source(targets="*"),
        *UNIVERSE,
        include_namespaces=("team-*",),
        exclude_namespaces=("team-b",),
    )
    assert namespaces_of(out) == ["team-a"]


def test_extra_namespaces_join_the_universe() -> None:
    out = render(source(targets="x-*"), extra_namespaces=("x-1", "x-2"))
    assert namespaces_of(out) == ["x-1", "x-2"]


def test_too_many_targets_fails_that_source_only() -> None:
    many = [ns(f"n{i}") for i in range(5)]
    out = render(source("big", targets="*"), source("small", targets="n1"), *many, max_targets=3)
    assert namespaces_of(out) == ["n1"]
    assert errors_of(out) == [
        "input.yaml: ConfigMap platform/big: resolves to 5 target namespaces, more than the limit "
        "of 3 (raise --max-targets or narrow the targets)"
    ]


def test_explain_gives_a_reason_for_every_namespace() -> None:
    out = render(source(targets="*", annotations={"kubectl-mirror.io/exclude": "dev-*"}), *UNIVERSE)
    reasons = {d.namespace: (d.chosen, d.reason) for d in out.sources[0].decisions}
    assert reasons == {
        "dev-x": (False, "excluded by 'dev-*'"),
        "kube-system": (False, "protected namespace (only an explicit name reaches it)"),
        "locked": (False, "namespace is labeled kubectl-mirror.io/reject=true"),
        "platform": (False, "the source's own namespace"),
        "team-a": (True, "matched '*'"),
        "team-b": (True, "matched '*'"),
    }
