"""Plain data the engine passes around.

Objects are plain dicts (as parsed from YAML/JSON); everything the engine derives from them is a
frozen dataclass, so a spec read once can be reused per source by `watch` without copying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from kubectl_mirror.errors import MirrorError, Ref, printable

Obj = dict[str, Any]


class ObjectKey(NamedTuple):
    """The one key of an object everywhere: two kinds of one name in two API groups (two
    `Gateway` kinds, say) are two different objects. A tuple, so millions of cached keys cost
    no more than plain tuples."""

    group: str  # "core" for the legacy group
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Any) -> ObjectKey:
        meta = obj.get("metadata") or {}
        api_version = str(obj.get("apiVersion", ""))
        return cls(
            api_version.split("/", 1)[0] if "/" in api_version else "core",
            str(obj.get("kind", "")),
            str(meta.get("namespace", "")),
            str(meta.get("name", "")),
        )

    def describe(self) -> str:
        """`Kind namespace/name`, with the group for kinds outside the core group."""
        kind = self.kind if self.group == "core" else f"{self.kind}.{self.group}"
        return f"{kind} {self.namespace}/{self.name}"


Severity = Literal["error", "warning", "info"]
Strategy = Literal["replace", "merge"]
OnSourceDelete = Literal["delete", "orphan"]
TargetKind = Literal["name", "glob", "regex", "outside", "all", "labeled", "selector"]
RuleOp = Literal["value", "template", "merge", "delete"]
TemplateSyntax = Literal["jinja", "go"]


@dataclass(frozen=True)
class Result:
    """A finding that is not (necessarily) fatal; the worst severity decides the exit code."""

    severity: Severity
    message: str
    ref: Ref = field(default_factory=Ref)
    field_path: str = ""

    @classmethod
    def from_error(cls, err: MirrorError, severity: Severity = "error") -> Result:
        return cls(severity=severity, message=err.message, ref=err.ref, field_path=err.field_path)

    def one_line(self) -> str:
        """The result as one line of plain text: any character a terminal would act on (a
        newline that could forge a second line, an ANSI escape, a bidi override) comes out
        escaped, whichever part of an input put it there."""
        parts = [p for p in (self.ref.file, self.ref.describe(), self.field_path) if p]
        parts.append(self.message)
        return printable(": ".join(parts))


@dataclass(frozen=True)
class Target:
    """One entry of a target or exclude list.

    `value` is the name, glob, regex or selector text; for `labeled` it is the namespace label key
    that opts a namespace in (each dialect has its own) and `label_value` the value it must carry;
    for `outside` a comma list of names and regexes: it matches the names none of them matches.
    """

    kind: TargetKind
    value: str = ""
    label_value: str = "true"

    def text(self) -> str:
        if self.kind == "all":
            return "*"
        if self.kind == "labeled":
            return f"labeled({self.value}={self.label_value})"
        if self.kind == "selector":
            return f"selector({self.value})"
        if self.kind == "regex":
            return f"regex({self.value})"
        if self.kind == "outside":
            return f"outside({self.value})"
        return self.value


@dataclass(frozen=True)
class TransformRule:
    """One transform: at `path`, exactly one operation, optionally only for some namespaces."""

    path: str
    op: RuleOp
    arg: Any = None
    namespace_pattern: str = ""
    syntax: TemplateSyntax = "jinja"


@dataclass(frozen=True)
class MirrorSpec:
    """What a source asks for, whatever dialect it was written in."""

    dialect: str
    targets: tuple[Target, ...]
    exclude: tuple[Target, ...] = ()
    strategy: Strategy = "replace"
    on_source_delete: OnSourceDelete = "delete"
    transforms: tuple[TransformRule, ...] = ()
    transform_strict: bool = False
    policy: Ref | None = None
    # Labels a dialect puts on its mirrors besides ours (Mirrorverse's replica markers), so users
    # who still read them keep working after the switch.
    extra_labels: tuple[tuple[str, str], ...] = ()
    # Label that marks an orphaned mirror stale, besides ours.
    extra_stale_label: str = ""
    # When several policies that combine (ConfigMapSync, ConfigMirror) select one source: which
    # of them asked for which target namespace, so each mirror names its own policy.
    target_policies: tuple[tuple[str, Ref], ...] = ()
    # Findings about the markers that do not stop the source: (field path, message), reported
    # as warnings wherever the source is read (kubed's cross-cluster `sync-contexts`).
    warnings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PullRef:
    """An object in a target namespace that asks to be filled from a source (Reflector/Replicator)."""

    dialect: str
    source_namespace: str
    source_name: str


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    labels: tuple[tuple[str, str], ...] = ()

    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class Decision:
    """Why one namespace was or was not chosen for one source (`render --explain`)."""

    namespace: str
    chosen: bool
    reason: str


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one hostile source (or input) can cause. The time budgets are read
    off `Host.clock`: a template's, a source's (target resolution and all its mirrors) and the
    run's (every source of one `render_all`); none is reached by an honest input."""

    max_rules: int = 50
    max_rule_bytes: int = 10 * 1024
    max_template_output: int = 64 * 1024
    template_time_budget_ms: int = 100
    source_time_budget_ms: int = 10_000
    run_time_budget_ms: int = 60_000


def _no_yaml(text: str) -> Any:
    raise NotImplementedError("no YAML parser was given to the engine")


def _no_clock() -> float:
    return 0.0


@dataclass(frozen=True)
class Host:
    """What the engine borrows from the outside world, handed in so the engine stays pure.

    `parse_yaml` reads marker values written as YAML (transform rules); `clock` is only a runaway
    guard for templates (a template that finishes yields the same bytes whatever the clock says).
    Tests pass fakes; io.host.real_host() passes ruamel and time.monotonic.
    """

    parse_yaml: Callable[[str], Any] = _no_yaml
    clock: Callable[[], float] = _no_clock


DEFAULT_PROTECTED = ("kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class EngineOptions:
    """Options that apply to every source; built once from flags or functionConfig."""

    max_targets: int = 100
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED
    include_namespaces: tuple[str, ...] = ()
    exclude_namespaces: tuple[str, ...] = ()
    extra_namespaces: tuple[str, ...] = ()
    allow_kinds: tuple[str, ...] = ()
    drop_metadata: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    host: Host = field(default_factory=Host)
    # The input is a live cluster, not files: the namespaces are all there is (an explicit name
    # that does not exist cannot receive anything), and an object already at a mirror's place is
    # for `reconcile.decide` to judge per mirror (conflict, adopt, update), not a render error.
    live: bool = False
