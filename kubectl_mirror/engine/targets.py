"""Which namespaces one source's mirrors go to, and why each other namespace was left out.

Every candidate namespace gets a `Decision` with a reason, so `render --explain` and `status`
can tell users why a mirror is (not) where they expected it.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.budget import Deadline
from kubectl_mirror.engine.globs import glob_match
from kubectl_mirror.engine.model import Decision, EngineOptions, MirrorSpec, NamespaceInfo, Target
from kubectl_mirror.engine.regexes import compile_regex
from kubectl_mirror.engine.selectors import parse_selector
from kubectl_mirror.errors import Ref, TargetError

Universe = Mapping[str, NamespaceInfo]


def target_matches(target: Target, name: str, labels: Mapping[str, str]) -> bool:
    if target.kind == "name":
        return target.value == name
    if target.kind == "glob":
        return glob_match(target.value, name)
    if target.kind == "regex":
        return compile_regex(target.value).fullmatch(name)
    if target.kind == "outside":
        return not any(compile_regex(p).fullmatch(name) for p in target.value.split(","))
    if target.kind == "all":
        return True
    if target.kind == "labeled":
        return labels.get(target.value) == target.label_value
    return parse_selector(target.value).matches(labels)


def _any_glob(patterns: tuple[str, ...], name: str) -> str:
    return next((p for p in patterns if glob_match(p, name)), "")


def _exclusion(
    name: str,
    labels: Mapping[str, str],
    *,
    spec: MirrorSpec,
    source_namespace: str,
    explicit: bool,
    options: EngineOptions,
) -> str:
    """Why `name` must not get a mirror, or "" when it may. Exclusion always wins."""
    if name == source_namespace:
        return "the source's own namespace"
    if labels.get(m.REJECT) == "true":
        return f"namespace is labeled {m.REJECT}=true"
    hit = next((t for t in spec.exclude if target_matches(t, name, labels)), None)
    if hit is not None:
        return f"excluded by {hit.text()!r}"
    if pattern := _any_glob(options.exclude_namespaces, name):
        return f"excluded by --exclude-namespaces {pattern!r}"
    if options.include_namespaces and not _any_glob(options.include_namespaces, name):
        return "not matched by --include-namespaces"
    if name in options.protected_namespaces and not explicit:
        return "protected namespace (only an explicit name reaches it)"
    return ""


def resolve_targets(
    spec: MirrorSpec,
    *,
    source_namespace: str,
    universe: Universe,
    options: EngineOptions,
    ref: Ref,
    deadline: Deadline | None = None,
) -> tuple[tuple[str, ...], tuple[Decision, ...]]:
    """The sorted target namespaces, and a decision for every namespace considered. Matching is
    bounded per name (globs.py, regexes.py); `deadline` bounds a universe of many names."""
    explicit = {t.value for t in spec.targets if t.kind == "name"}
    decisions: list[Decision] = []
    chosen: list[str] = []
    # A regex may cost up to len(name) x states steps per name; a glob or a name next to nothing.
    every = 1 if any(t.kind in ("regex", "outside") for t in (*spec.targets, *spec.exclude)) else 64
    for index, name in enumerate(sorted(set(universe) | explicit)):
        if deadline is not None and index % every == 0:
            deadline.check(options.host.clock, ref)
        info = universe.get(name)
        labels = info.label_map() if info else {}
        hit = next((t for t in spec.targets if target_matches(t, name, labels)), None)
        if hit is None:
            decisions.append(Decision(name, False, "not matched by any target"))
            continue
        if info is None and options.live:
            decisions.append(Decision(name, False, "namespace does not exist"))
            continue
        why_not = _exclusion(
            name,
            labels,
            spec=spec,
            source_namespace=source_namespace,
            explicit=name in explicit,
            options=options,
        )
        if why_not:
            decisions.append(Decision(name, False, why_not))
            continue
        reason = f"matched {hit.text()!r}"
        if info is None:
            reason += " (namespace not among the inputs; named explicitly)"
        decisions.append(Decision(name, True, reason))
        chosen.append(name)
    if len(chosen) > options.max_targets:
        raise TargetError(
            f"resolves to {len(chosen)} target namespaces, more than the limit of "
            f"{options.max_targets} (raise --max-targets or narrow the targets)",
            ref,
        )
    return tuple(chosen), tuple(decisions)
