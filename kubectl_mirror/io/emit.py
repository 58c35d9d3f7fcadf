"""Writing objects out as a YAML stream or a JSON List.

libyaml's emitter (through PyYAML) is used when present: rendering 200,000 mirrors is bounded
by serialization, and the pure-Python emitters are an order of magnitude slower. Multi-line
strings are written as literal blocks so rendered config files stay readable in review.

A stream may also copy documents out as they were read (render --all's unchanged inputs): their
text comes from io.yamlload, which only hands out text that reads back as the object it stands for.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from kubectl_mirror.io.yamlload import reads_as_string

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _MirrorDumper(_Dumper):  # type: ignore[misc]
    """SafeDumper with block literals for multi-line strings and no anchors (mirrors share
    sub-trees with their source in memory; the output must not show it)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """PyYAML's Resolver.resolve, answered without its general case for scalars when no path
        or wildcard resolvers are registered (none are): libyaml's emitter asks it twice for every
        scalar written, and building the list of resolvers each time was ~10% of a render."""
        table = self.yaml_implicit_resolvers
        if kind is not ScalarNode or self.yaml_path_resolvers or None in table:
            return super().resolve(kind, value, implicit)
        if implicit[0]:
            for tag, regexp in table.get(value[:1], ()):
                if regexp.match(value):
                    return tag
        return self.DEFAULT_SCALAR_TAG


def _str(dumper: Any, value: str) -> Any:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if _awkward(value) else "|")
    # libyaml quotes what YAML 1.1 would not read back as a string; kpt, kustomize and kubectl's
    # newer readers use YAML 1.2, which also reads `1e5` or `0o17` as numbers.
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style=None if reads_as_string(value) else "'"
    )


# A line ending in a space, or a control character other than a newline (tab included).
_AWKWARD = re.compile(r" \n| $|[\x00-\x09\x0b-\x1f]")


def _awkward(value: str) -> bool:
    """Strings a literal block cannot hold faithfully (trailing spaces, tabs, control chars)."""
    return _AWKWARD.search(value) is not None


_MirrorDumper.add_representer(str, _str)

_SCALARS = (str, int, float, bool, type(None))
_SHARED_LIMIT = 20_000


class _StreamDumper(_MirrorDumper):
    """For a stream of mirrors: a flat mapping met again (a source's data, labels, annotations are
    one object shared by all its mirrors) reuses the node built the first time. The emitter forgets
    nodes between documents, so no anchor can appear; within a document a node is used once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: dict[int, tuple[Any, Any]] = {}
        self._used: set[int] = set()

    def represent(self, data: Any) -> None:
        self._used = set()
        super().represent(data)

    def represent_data(self, data: Any) -> Any:
        if type(data) is not dict:
            return super().represent_data(data)
        key = id(data)
        hit = self._shared.get(key)
        if hit is not None and hit[0] is data and key not in self._used:
            self._used.add(key)
            return hit[1]
        node = super().represent_data(data)
        if all(type(v) in _SCALARS for v in data.values()):
            if len(self._shared) >= _SHARED_LIMIT:
                self._shared.clear()
            self._shared[key] = (data, node)
            self._used.add(key)
        return node


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
    out = io.StringIO()
    write_yaml_stream(objs, out)
    return out.getvalue()


def write_yaml_stream(objs: Sequence[Any], out: Any, *, texts: Sequence[str | None] = ()) -> None:
    """`yaml_stream` written straight to `out` (a text stream), never held whole in memory.
    `texts[i]`, if given and not None, is written after a `---` line in place of dumping objs[i]
    (a document's text as read, ending with a line break)."""
    if not texts:
        _dump_stream(objs, out)
        return
    dumped: list[Any] = []
    for obj, text in zip(objs, texts, strict=True):
        if text is None:
            dumped.append(obj)
            continue
        _dump_stream(dumped, out)
        dumped = []
        out.write("---\n")
        out.write(text)
    _dump_stream(dumped, out)


def _dump_stream(objs: Sequence[Any], out: Any) -> None:
    if objs:
        yaml.dump_all(
            objs,
            out,
            Dumper=_StreamDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 30,
            explicit_start=True,
        )


def json_list(objs: Sequence[Any]) -> str:
    """kubectl's shape for several objects: a v1 List."""
    return (
        json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}, indent=2, ensure_ascii=False)
        + "\n"
    )
