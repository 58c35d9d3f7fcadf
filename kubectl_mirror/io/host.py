"""The real `Host` the engine borrows: a YAML parser and a monotonic clock."""

from __future__ import annotations

import time
from typing import Any

from kubectl_mirror.engine.model import Host


def parse_yaml_text(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def real_host() -> Host:
    return Host(parse_yaml=parse_yaml_text, clock=time.monotonic)
