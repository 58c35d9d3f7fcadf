"""The dialects the engine reads, in precedence order: our own markers win over a peer's."""

from __future__ import annotations

from kubectl_mirror.engine.dialects.base import Dialect
from kubectl_mirror.engine.dialects.kubemirror import KUBEMIRROR
from kubectl_mirror.engine.dialects.mirrorverse import MIRRORVERSE
from kubectl_mirror.engine.dialects.native import NATIVE
from kubectl_mirror.engine.dialects.reflector import REFLECTOR
from kubectl_mirror.engine.dialects.replicator import REPLICATOR

DIALECTS: tuple[Dialect, ...] = (NATIVE, MIRRORVERSE, KUBEMIRROR, REFLECTOR, REPLICATOR)
