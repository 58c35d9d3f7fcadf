"""`kubectl mirror can-i`: would the admission policy let me create (or change) these sources?

It asks the API server, as you (SelfSubjectAccessReview), exactly what the policies in
`deploy/components/admission/` check (engine/permissions.py), so the answer comes before
`kubectl apply` rather than from it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from kubectl_mirror.cli import flags
from kubectl_mirror.errors import InputError, MirrorError, Ref, printable

if TYPE_CHECKING:
    from kubectl_mirror.engine.permissions import Check
    from kubectl_mirror.io.cluster import Cluster
    from kubectl_mirror.live.access import Candidate
    from kubectl_mirror.live.config import LiveConfig


def register(app: typer.Typer) -> None:
    app.command("can-i")(can_i)


@dataclass(frozen=True)
class Row:
    source: str
    target: str
    allowed: bool
    missing: str

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "target": self.target,
            "allowed": self.allowed,
            "missing": self.missing,
        }


@flags.live_command(engine=False)
def can_i(
    live: LiveConfig,
    filenames: Annotated[
        list[str] | None,
        typer.Option("--filename", "-f", help="Files or directories with sources (- for stdin)."),
    ] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="json.")] = None,
) -> None:
    """Check that you may ask for these mirrors: `create` in each target namespace (in every
    namespace for a pattern), `get` on what a pull, a MirrorPolicy or a ConfigMapSync reads, `list`
    where a ConfigMirror selects. With -f, the files' sources and policies as `kubectl apply` would
    send them; otherwise those already in the cluster. Exit 1 if the admission policy would deny
    anything."""
    from kubectl_mirror.engine.permissions import checks, exempt, over_budget
    from kubectl_mirror.live.access import Reviewer, in_cluster

    if output not in (None, "json"):
        raise InputError(f"unknown value {output!r} (expected: json)", Ref(), "--output")
    cluster, scope = live.connect()
    skipped: list[str] = []
    errors: list[MirrorError] = []
    if filenames:
        candidates = list(_from_files(cluster, filenames, scope.namespace or cluster.namespace, errors))
    else:
        candidates = list(in_cluster(cluster, scope, skipped))
    reviewer = Reviewer(cluster)
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    for candidate in candidates:
        obj, resource = candidate.obj, candidate.resource
        ref = Ref.of(obj)
        ns = ref.namespace or (scope.namespace or cluster.namespace if resource.namespaced else "")
        source = Ref(kind=ref.kind, namespace=ns if resource.namespaced else "", name=ref.name).describe()
        if (source, resource.group) in seen:
            continue
        seen.add((source, resource.group))
        old = candidate.old if filenames else None
        unchecked = exempt(obj, reviewer.username())  # the policy lets the controller through
        for check in checks(obj, old, group=resource.group, resource=resource.plural, namespace=ns):
            allowed = unchecked or reviewer.allowed(check)
            rows.append(Row(source, _target(check), allowed, "" if allowed else check.describe()))
        too_big = not unchecked and over_budget(
            obj,
            old,
            group=resource.group,
            resource=resource.plural,
            namespace=ns,
            everywhere=reviewer.everywhere,
        )
        if too_big:
            rows.append(Row(source, "-", False, too_big))
    _print(rows, output)
    if skipped:
        where = f" in {scope.namespace}" if scope.namespace else ""
        kinds = ", ".join(skipped)
        print(
            f"warning: you may not list {kinds}{where}: sources of those kinds were not checked",
            file=sys.stderr,
        )
    for error in errors:
        print(f"error: {error.one_line()}", file=sys.stderr)
    if not rows and not errors:
        print("no sources, pull requests or policies to check", file=sys.stderr)
    raise typer.Exit(1 if errors or any(not r.allowed for r in rows) else 0)


def _from_files(
    cluster: Cluster, filenames: list[str], namespace: str, errors: list[MirrorError]
) -> list[Candidate]:
    from kubectl_mirror.io.documents import read_inputs
    from kubectl_mirror.live.access import Candidate, previous

    out: list[Candidate] = []
    for item in read_inputs(filenames):
        ref = Ref.of(item.obj, file=item.file)
        resource = cluster.resource_for(ref.api_version, ref.kind)
        if resource is None:
            errors.append(
                InputError(f"the server does not serve {ref.kind} in {ref.api_version}", ref, "kind")
            )
            continue
        ns = ref.namespace or namespace
        out.append(Candidate(item.obj, resource, previous(cluster, resource, item.obj, ns)))
    return out


def _target(check: Check) -> str:
    """The namespace written to, the pattern that needs every namespace, or `from <ns>[/<name>]`
    for a read."""
    if check.verb != "create":
        return "from " + (f"{check.namespace}/{check.name}" if check.name else check.namespace)
    return check.namespace or check.why.removeprefix("pattern ") or "*"


def _print(rows: list[Row], output: str | None) -> None:
    if output == "json":
        sys.stdout.write(json.dumps([r.as_dict() for r in rows], indent=2) + "\n")
        return
    if not rows:
        return
    lines = [("SOURCE", "TARGET", "ALLOWED", "MISSING")]
    lines += [
        (printable(r.source), printable(r.target), "yes" if r.allowed else "no", printable(r.missing))
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        sys.stdout.write("   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n")
