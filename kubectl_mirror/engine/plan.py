"""The engine's entry points: classify the inputs, then render every source's mirrors.

`render_source` is the unit `watch` reuses per source; `render_all` is what `render`, the KRM
function and `sync` call for a whole input set.

Inputs come from repositories many people can write to, so what a mirror copies is checked
before a source is accepted (names, metadata, JSON-like values: names.py, values.py), every
source renders against a deadline (budget.py), and every result about a Secret has the Secret's
values scrubbed from its message, whichever check wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kubectl_mirror.engine import markers as m
from kubectl_mirror.engine.budget import Deadline, source_deadline
from kubectl_mirror.engine.dialects.base import Dialect
from kubectl_mirror.engine.dialects.registry import DIALECTS, copied_by
from kubectl_mirror.engine.kinds import (
    check_mirrorable,
    check_payload,
    cluster_scoped_crd_kinds,
    kind_rank,
    sort_key,
)
from kubectl_mirror.engine.model import (
    Decision,
    EngineOptions,
    NamespaceInfo,
    Obj,
    ObjectKey,
    PullRef,
    Result,
)
from kubectl_mirror.engine.names import (
    NAMESPACE_RULE,
    check_metadata_maps,
    check_namespace,
    check_source_identity,
    is_namespace_name,
    quoted,
)
from kubectl_mirror.engine.policies import policy_kind_of
from kubectl_mirror.engine.policy import Policy, chosen_spec
from kubectl_mirror.engine.redact import scrub, secret_strings
from kubectl_mirror.engine.render import Source, assemble, mirror_for, prepare
from kubectl_mirror.engine.targets import resolve_targets
from kubectl_mirror.engine.values import check_json_like
from kubectl_mirror.errors import InputError, MirrorError, Ref, SpecError

LOCAL_CONFIG = "config.kubernetes.io/local-config"


@dataclass(frozen=True)
class Item:
    """One input object and the file it came from (for error messages)."""

    obj: Obj
    file: str = ""


@dataclass(frozen=True)
class Pull:
    obj: Obj
    ref: Ref
    pull: PullRef
    dialect: Dialect


@dataclass(frozen=True)
class Inventory:
    sources: tuple[Source, ...]
    pulls: tuple[Pull, ...]
    universe: Mapping[str, NamespaceInfo]
    objects: Mapping[ObjectKey, Obj]  # (group, kind, namespace, name) -> object, non-mirrors
    results: tuple[Result, ...]
    # (group, kind) -> why, for the kinds the input's CRDs declare cluster-scoped.
    cluster_kinds: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceOutcome:
    source: Source
    mirrors: tuple[Obj, ...]
    decisions: tuple[Decision, ...]
    results: tuple[Result, ...]


@dataclass(frozen=True)
class Outcome:
    mirrors: tuple[Obj, ...]
    sources: tuple[SourceOutcome, ...]
    results: tuple[Result, ...]
    filled_pulls: frozenset[ObjectKey] = field(default_factory=frozenset)

    @property
    def failed(self) -> bool:
        return any(r.severity == "error" for r in self.results)


def is_mirror(obj: Obj) -> bool:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return False
    return m.is_mirror(meta) or bool(copied_by(obj))


_key = ObjectKey.of


def _kind_name(key: ObjectKey) -> str:
    return key.describe().replace(f" {key.namespace}/", " ", 1)


def check_object(obj: object, file: str, index: int) -> Ref:
    """Every input must look like a KRM object before anything reads its markers."""
    where = Ref(file=file)
    if not isinstance(obj, dict):
        raise InputError(f"document {index} is a {type(obj).__name__}, not an object", where)
    ref = Ref.of(obj, file=file)
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            raise InputError("is required and must be a string", ref, key)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise InputError("is required and must be a mapping", ref, "metadata")
    if not isinstance(meta.get("name"), str) or not meta.get("name"):
        raise InputError("is required and must be a string", ref, "metadata.name")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not isinstance(value, dict):
            raise InputError("must be a mapping", ref, f"metadata.{key}")
    ns = meta.get("namespace")
    if ns is not None and not isinstance(ns, str):
        raise InputError("must be a string", ref, "metadata.namespace")
    return ref


def _namespace_info(obj: Obj, ref: Ref) -> tuple[NamespaceInfo | None, list[Result]]:
    """The namespace a Namespace object declares, and what is wrong with it. An invalid name is
    left out of the universe; a label YAML typed (`reject: true` unquoted) is an error but is
    still read as the string it was meant to be, so a namespace that meant to refuse mirrors
    refuses them."""
    meta = obj.get("metadata") or {}
    try:
        check_namespace(str(meta["name"]), ref, "metadata.name")
    except MirrorError as err:
        return None, [Result.from_error(err)]
    problems: list[Result] = []
    try:
        check_metadata_maps(obj, ref)
    except MirrorError as err:
        problems.append(Result.from_error(err))
    labels = meta.get("labels") or {}
    pairs = sorted((str(k), _label_text(v)) for k, v in labels.items())
    return NamespaceInfo(str(meta["name"]), tuple(pairs)), problems


def _label_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scrubbed(results: Iterable[Result], *objs: object) -> list[Result]:
    """`results` with every value of any Secret among `objs` hidden from their messages."""
    found = list(results)
    if not found:
        return found
    secrets = tuple(s for obj in objs for s in secret_strings(obj))
    if not secrets:
        return found
    return [Result(r.severity, scrub(r.message, secrets), r.ref, scrub(r.field_path, secrets)) for r in found]


def _read_markers(obj: Obj, ref: Ref, options: EngineOptions) -> Source | None:
    for dialect in DIALECTS:
        if dialect.kinds and obj.get("kind") not in dialect.kinds:
            continue
        spec = dialect.read_source(obj, ref, options)
        if spec is not None:
            return Source(obj, ref, spec)
    return None


def _read_pull(obj: Obj, ref: Ref) -> Pull | None:
    for dialect in DIALECTS:
        if dialect.kinds and obj.get("kind") not in dialect.kinds:
            continue
        pull = dialect.read_pull(obj, ref)
        if pull is not None:
            return Pull(obj, ref, pull, dialect)
    return None


def classify(items: Sequence[Item], options: EngineOptions, *, deadline: Deadline | None = None) -> Inventory:
    """Sort inputs into namespaces, sources, pull requests and policies; errors become results.

    Reading markers compiles transform templates, which costs time too: once `deadline` (the
    run's) has passed, the remaining policies and objects are not read, and one error says so."""
    clock = options.host.clock
    skipped: list[Ref] = []

    def late() -> bool:
        return deadline is not None and clock() > deadline.at

    results: list[Result] = []
    universe: dict[str, NamespaceInfo] = {}
    for name in options.extra_namespaces:
        if is_namespace_name(name):
            universe[name] = NamespaceInfo(name)
        else:
            message = f"{quoted(name)} is not a valid namespace name ({NAMESPACE_RULE})"
            results.append(Result("error", message, Ref(), "namespaces"))
    refs: list[tuple[Obj, Ref]] = []
    policies: list[Policy] = []
    for index, item in enumerate(items):
        try:
            ref = check_object(item.obj, item.file, index)
        except MirrorError as err:
            results.append(Result.from_error(err))
            continue
        obj = item.obj
        if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1":
            info, problems = _namespace_info(obj, ref)
            results.extend(problems)
            if info is not None:
                universe[info.name] = info
        elif (policy_kind := policy_kind_of(obj)) is not None:
            if late():
                skipped.append(ref)
                continue
            try:
                policies.append(policy_kind.read(obj, ref, options))
            except MirrorError as err:
                results.append(Result.from_error(err))
        else:
            refs.append((obj, ref))
    cluster_kinds = cluster_scoped_crd_kinds(obj for obj, _ in refs)
    sources: list[Source] = []
    pulls: list[Pull] = []
    objects: dict[ObjectKey, Obj] = {}
    for obj, ref in refs:
        if is_mirror(obj):
            try:
                pull = _read_pull(obj, ref)
            except MirrorError as err:
                results.extend(_scrubbed([Result.from_error(err)], obj))
                continue
            if pull is not None:
                pulls.append(pull)
            continue
        if _key(obj) in objects:
            results.append(Result("error", "appears more than once in the input", ref))
            continue
        objects[_key(obj)] = obj
        if _is_local_config(obj):
            continue
        if late():
            skipped.append(ref)
            continue
        try:
            marked = _read_markers(obj, ref, options)
            pull = _read_pull(obj, ref) if marked is None else None
        except MirrorError as err:
            results.extend(_scrubbed([Result.from_error(err)], obj))
            continue
        if pull is not None:
            pulls.append(pull)
        source, found = _choose_source(
            obj, ref, marked, policies=policies, options=options, cluster_kinds=cluster_kinds
        )
        results.extend(_scrubbed(found, obj))
        if source is None:
            continue
        sources.append(source)
    sources.sort(key=lambda s: sort_key(s.obj))
    if skipped and deadline is not None:
        message = (
            f"{deadline.reason} while reading the inputs: {len(skipped)} object(s) from here on were not read"
        )
        results.append(Result("error", message, skipped[0]))
    return Inventory(tuple(sources), tuple(pulls), universe, objects, tuple(results), cluster_kinds)


def source_of(
    obj: Obj, ref: Ref, *, policies: Sequence[Policy], options: EngineOptions
) -> tuple[Source | None, list[Result]]:
    """Whether one object is a source, by its own markers or a policy, and its spec.

    The unit `classify` applies to every input and `watch` applies to one changed object."""
    try:
        marked = _read_markers(obj, ref, options)
    except MirrorError as err:
        return None, _scrubbed([Result.from_error(err)], obj)
    source, found = _choose_source(obj, ref, marked, policies=policies, options=options)
    return source, _scrubbed(found, obj)


def _choose_source(
    obj: Obj,
    ref: Ref,
    marked: Source | None,
    *,
    policies: Sequence[Policy],
    options: EngineOptions,
    cluster_kinds: Mapping[tuple[str, str], str] | None = None,
) -> tuple[Source | None, list[Result]]:
    """`source_of` once the object's own markers are read (`marked`)."""
    results: list[Result] = []
    source = marked
    chosen_by = [p for p in policies if p.selects(obj)]
    used: tuple[Policy, ...] = ()
    if source is None and chosen_by:
        spec, used = chosen_spec(chosen_by)
        source = Source(obj, ref, spec)
    winner = "its own markers win" if marked is not None else f"{used[0].ref.describe()} wins" if used else ""
    for extra in chosen_by:
        if extra not in used:
            message = f"also selected by {extra.ref.describe()}, which is ignored for it ({winner})"
            results.append(Result("warning", message, ref))
    if source is None:
        return None, results
    try:
        check_mirrorable(obj, ref, options, cluster_kinds=cluster_kinds)
        if not ref.namespace:
            raise SpecError("a source must have a namespace", ref, "metadata.namespace")
        check_copyable(obj, ref)
    except MirrorError as err:
        return None, [*results, Result.from_error(err)]
    results.extend(Result("warning", message, ref, path) for path, message in source.spec.warnings)
    return source, results


def check_copyable(obj: Obj, ref: Ref) -> None:
    """What a mirror copies from `obj` is something the API server (and our hashing, sorting
    and emitting) can take: valid names, string metadata, JSON values, string data maps."""
    check_source_identity(obj, ref)
    check_metadata_maps(obj, ref)
    check_json_like(obj, ref)
    check_payload(obj, ref)


def _is_local_config(obj: Obj) -> bool:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return annotations.get(LOCAL_CONFIG) == "true" or (
        obj.get("kind") == "Kptfile" and str(obj.get("apiVersion", "")).startswith("kpt.dev/")
    )


def render_source(
    source: Source,
    *,
    universe: Mapping[str, NamespaceInfo],
    options: EngineOptions,
    deadline: Deadline | None = None,
) -> SourceOutcome:
    """Every mirror of one source, before `deadline` (by default the source's own time budget
    from now). A failure stops this source only, never the others."""
    clock = options.host.clock
    if deadline is None:
        budget_ms = options.limits.source_time_budget_ms
        reason = f"stopped: the source used up its time budget of {budget_ms} ms"
        deadline = Deadline(clock() + budget_ms / 1000, reason)
    try:
        namespaces, decisions = resolve_targets(
            source.spec,
            source_namespace=source.ref.namespace,
            universe=universe,
            options=options,
            ref=source.ref,
            deadline=deadline,
        )
        prepared = prepare(source, options)
        mirrors: list[Obj] = []
        results: list[Result] = []
        for ns in namespaces:
            # Transform rules check the deadline themselves; a plain copy costs next to nothing.
            mirror, found = mirror_for(prepared, ns, options, deadline=deadline)
            mirrors.append(mirror)
            results.extend(found)
    except MirrorError as err:
        return SourceOutcome(source, (), (), tuple(_scrubbed([Result.from_error(err)], source.obj)))
    return SourceOutcome(source, tuple(mirrors), decisions, tuple(_scrubbed(results, source.obj)))


def _fill_pull(pull: Pull, inventory: Inventory, options: EngineOptions) -> tuple[Obj | None, Result | None]:
    mirror, problem = _pulled(pull, inventory, options)
    if problem is None:
        return mirror, None
    source_obj = inventory.objects.get(_source_key(pull))
    return mirror, _scrubbed([problem], pull.obj, source_obj)[0]


def _source_key(pull: Pull) -> ObjectKey:
    # The pulled source has the pulling object's kind, so also its API group.
    return _key(pull.obj)._replace(namespace=pull.pull.source_namespace, name=pull.pull.source_name)


def _pulled(pull: Pull, inventory: Inventory, options: EngineOptions) -> tuple[Obj | None, Result | None]:
    target_ns = pull.ref.namespace
    source_obj = inventory.objects.get(_source_key(pull))
    where = f"{pull.pull.source_namespace}/{pull.pull.source_name}"
    if source_obj is None:
        return None, Result("warning", f"pulls from {where}, which is not among the inputs", pull.ref)
    try:
        allowed = pull.dialect.allows_pull(source_obj, target_ns)
    except MirrorError as err:
        return None, Result.from_error(err)
    if not allowed:
        return None, Result(
            "warning", f"pulls from {where}, which does not allow namespace {target_ns!r}", pull.ref
        )
    from kubectl_mirror.engine.model import MirrorSpec

    source = Source(source_obj, Ref.of(source_obj), MirrorSpec(dialect=pull.dialect.name, targets=()))
    try:
        check_mirrorable(source_obj, source.ref, options, cluster_kinds=inventory.cluster_kinds)
        check_copyable(source_obj, source.ref)
        # The pulling object gives the mirror its name, namespace and kept annotations.
        check_source_identity(pull.obj, pull.ref)
        check_metadata_maps(pull.obj, pull.ref)
    except MirrorError as err:
        return None, Result.from_error(err)
    prepared = prepare(source, options)
    own_meta = pull.obj.get("metadata") or {}
    # The pulling object keeps its own markers (so the next run pulls again) on top of ours.
    keep = {
        k: v for k, v in (own_meta.get("annotations") or {}).items() if k.startswith(m.CONTROL_PREFIXES[1:])
    }
    mirror = assemble(
        prepared,
        namespace=target_ns,
        name=str(own_meta.get("name")),
        annotations={**prepared.annotations, **keep},
    )
    return mirror, None


def render_all(items: Sequence[Item], options: EngineOptions) -> Outcome:
    """Every mirror of every source in `items`. The run's time budget covers reading the
    markers (which compiles templates) and rendering the sources."""
    clock = options.host.clock
    run_ms = options.limits.run_time_budget_ms
    start = clock()
    reason = f"stopped: the run used up its time budget of {run_ms} ms"
    inventory = classify(items, options, deadline=Deadline(start + run_ms / 1000, reason))
    outcomes = _render_sources(inventory, options, left=run_ms / 1000 - (clock() - start))
    results = list(inventory.results)
    shadowed = {} if options.live else inventory.objects
    produced: dict[ObjectKey, str] = {}
    mirrors: list[Obj] = []
    for outcome in outcomes:
        results.extend(outcome.results)
        _collect(outcome.mirrors, outcome.source.ref, produced, mirrors, results, shadowed)
    filled: set[ObjectKey] = set()
    for pull in sorted(inventory.pulls, key=lambda p: sort_key(p.obj)):
        mirror, problem = _fill_pull(pull, inventory, options)
        if problem is not None:
            results.append(problem)
        if mirror is not None:
            filled.add(_key(pull.obj))
            _collect((mirror,), pull.ref, produced, mirrors, results, shadowed, pulled=True)
    mirrors.sort(key=sort_key)
    results.sort(key=_result_key)
    return Outcome(tuple(mirrors), tuple(outcomes), tuple(results), frozenset(filled))


def _render_sources(inventory: Inventory, options: EngineOptions, *, left: float) -> list[SourceOutcome]:
    """Every source in order, each against its own deadline and the `left` seconds of the run's
    budget; once that is spent, the remaining sources fail at once, each with its own error."""
    clock = options.host.clock
    limits = options.limits
    spent = f"not rendered: the run used up its time budget of {limits.run_time_budget_ms} ms"
    outcomes: list[SourceOutcome] = []
    for source in inventory.sources:
        if left <= 0:
            outcomes.append(SourceOutcome(source, (), (), (Result("error", spent, source.ref),)))
            continue
        start = clock()
        deadline = source_deadline(
            now=start, source_ms=limits.source_time_budget_ms, run_left=left, run_ms=limits.run_time_budget_ms
        )
        outcome = render_source(source, universe=inventory.universe, options=options, deadline=deadline)
        outcomes.append(outcome)
        left -= clock() - start
    return outcomes


def _result_key(r: Result) -> tuple[str, int, str, str, str, str, str]:
    """Results in a stable order whatever the input order (the same input, the same bytes)."""
    ref = r.ref
    return (
        ref.file,
        kind_rank(ref.kind),
        ref.kind,
        ref.namespace,
        ref.name,
        r.field_path,
        r.message,
    )


def _collect(
    new: Iterable[Obj],
    by: Ref,
    produced: dict[ObjectKey, str],
    mirrors: list[Obj],
    results: list[Result],
    shadowed: Mapping[ObjectKey, Obj],
    *,
    pulled: bool = False,
) -> None:
    """Add mirrors, refusing duplicates and never shadowing an input object we do not own."""
    for mirror in new:
        key = _key(mirror)
        who = by.describe()
        if key in produced:
            results.append(
                Result(
                    "error",
                    f"{key.describe()} would be produced by both {produced[key]} and {who}; "
                    "keeping the first",
                    by,
                )
            )
            continue
        if not pulled and key in shadowed:
            results.append(
                Result(
                    "error",
                    f"target namespace {key.namespace!r} already has {_kind_name(key)} that is not a mirror; "
                    "it is left alone",
                    by,
                )
            )
            continue
        produced[key] = who
        mirrors.append(mirror)
