"""One error hierarchy for the whole tool.

Every error carries the object and the field it is about, so the CLI edge can print one line
(`FILE: KIND NAMESPACE/NAME: FIELD: message`) and the KRM adapter can fill a Result's
resourceRef/field/file without parsing strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def printable(text: str) -> str:
    """`text` with every non-printable character written as its Python escape (`\\n`, `\\x1b`)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@dataclass(frozen=True)
class Ref:
    """Where an error or a result points: an object (maybe), a field (maybe), a file (maybe)."""

    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    file: str = ""

    @classmethod
    def of(cls, obj: Any, *, file: str = "") -> Ref:
        if not isinstance(obj, dict):
            return cls(file=file)
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        return cls(
            api_version=_s(obj.get("apiVersion")),
            kind=_s(obj.get("kind")),
            namespace=_s(meta.get("namespace")),
            name=_s(meta.get("name")),
            file=file,
        )

    def describe(self) -> str:
        """`KIND NAMESPACE/NAME` (or `KIND NAME` for objects without a namespace)."""
        if not self.kind and not self.name:
            return ""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or '<no kind>'} {where or '<no name>'}"


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass
class MirrorError(Exception):
    """A problem with the user's input or environment, reported as one line."""

    message: str
    ref: Ref = field(default_factory=Ref)
    field_path: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.one_line()

    def one_line(self) -> str:
        """One line of plain text, whatever an input put into the file name, the object's names
        or the message (a newline that could forge a second line, an ANSI escape)."""
        parts = [p for p in (self.ref.file, self.ref.describe(), self.field_path) if p]
        parts.append(self.message)
        return printable(": ".join(parts))

    def with_file(self, file: str) -> MirrorError:
        """The same error, located in `file` (adapters know files; the engine does not)."""
        if self.ref.file or not file:
            return self
        ref = Ref(
            api_version=self.ref.api_version,
            kind=self.ref.kind,
            namespace=self.ref.namespace,
            name=self.ref.name,
            file=file,
        )
        clone = type(self)(self.message, ref, self.field_path)
        return clone


class InputError(MirrorError):
    """Unreadable or malformed input: YAML syntax, wrong types, missing fields."""


class SpecError(MirrorError):
    """A marker or policy field has a value the engine cannot use."""


class TargetError(MirrorError):
    """Target resolution failed for a source (too many targets, bad pattern...)."""


class TransformError(MirrorError):
    """A transform rule is invalid or failed while rendering."""


class ClusterError(MirrorError):
    """The API server refused or failed a request."""


class ForbiddenError(ClusterError):
    """RBAC does not allow the request (403): a kind we may not read is skipped, not retried."""
