"""Writing objects out as a YAML stream or a JSON List.

libyaml's emitter (through PyYAML) is used when present: rendering 200,000 mirrors is bounded
by serialization, and the pure-Python emitters are an order of magnitude slower. Multi-line
strings are written as literal blocks so rendered config files stay readable in review.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _MirrorDumper(_Dumper):  # type: ignore[misc]
    """SafeDumper with block literals for multi-line strings and no anchors (mirrors share
    sub-trees with their source in memory; the output must not show it)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value and not _awkward(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _awkward(value: str) -> bool:
    """Strings a literal block cannot hold faithfully (trailing spaces, tabs, control chars)."""
    return any(line != line.rstrip(" ") for line in value.split("\n")) or any(
        ord(c) < 32 and c not in "\n" for c in value
    )


_MirrorDumper.add_representer(str, _str)


def to_yaml(obj: Any) -> str:
    return str(
        yaml.dump(
            obj,
            Dumper=_MirrorDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 30,
        )
    )


def yaml_stream(objs: Sequence[Any]) -> str:
    """A multi-document stream: `---` between documents, never a trailing one."""
    if not objs:
        return ""
    return str(
        yaml.dump_all(
            objs,
            Dumper=_MirrorDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 30,
            explicit_start=True,
        )
    )


def json_list(objs: Sequence[Any]) -> str:
    """kubectl's shape for several objects: a v1 List."""
    return (
        json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}, indent=2, ensure_ascii=False)
        + "\n"
    )
