"""The dialects the engine reads, in precedence order."""

from __future__ import annotations

from kubectl_mirror.engine.dialects.base import Dialect
from kubectl_mirror.engine.dialects.native import NATIVE

DIALECTS: tuple[Dialect, ...] = (NATIVE,)
