"""The dialects the engine reads, in precedence order: our own markers win over a peer's; and
how to tell any other tool's copy (a marker dialect's or a policy tool's) from a plain object."""

from __future__ import annotations

from collections.abc import Callable

from kubectl_mirror.engine.dialects import configmapsync, configmirror
from kubectl_mirror.engine.dialects.base import Dialect
from kubectl_mirror.engine.dialects.kubed import KUBED
from kubectl_mirror.engine.dialects.kubemirror import KUBEMIRROR
from kubectl_mirror.engine.dialects.mirrorverse import MIRRORVERSE
from kubectl_mirror.engine.dialects.native import NATIVE
from kubectl_mirror.engine.dialects.reflector import REFLECTOR
from kubectl_mirror.engine.dialects.replicator import REPLICATOR
from kubectl_mirror.engine.model import Obj

DIALECTS: tuple[Dialect, ...] = (NATIVE, MIRRORVERSE, KUBEMIRROR, REFLECTOR, REPLICATOR, KUBED)

# Tools whose sources are custom resources, not markers, and how their copies are marked.
POLICY_TOOL_COPIES: tuple[tuple[str, Callable[[Obj], bool]], ...] = (
    ("ConfigMapSync", configmapsync.is_copy),
    ("ConfigMirror", configmirror.is_copy),
)


def copied_by(obj: Obj) -> str:
    """The tool whose copy `obj` is ("" for none): such an object is never a source, and at a
    mirror's place it is that tool's copy to adopt, not an object of unknown origin."""
    for dialect in DIALECTS:
        if dialect.is_foreign_mirror(obj):
            return dialect.tool or dialect.name
    return next((tool for tool, is_copy in POLICY_TOOL_COPIES if is_copy(obj)), "")
