"""emit's dumpers answer libyaml's emitter "which tag would this scalar read as?" without PyYAML's
general case: the answers, and so every byte written, are PyYAML's own."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from kubectl_mirror.io import emit

SCALARS = [
    "", "1", "-1", "+1", "0", "017", "0o17", "0x1F", "0b101", "1_000", "1.5", "1e5", "1E+5", ".5",
    "-.5", "+.inf", ".nan", "1.", "true", "True", "FALSE", "yes", "no", "on", "off", "y", "~",
    "null", "NULL", "abc", "12:30", "1:2:3", "0.1.2", "08", "2024-01-01", "2024-01-01T00:00:00Z",
    "<<", "<<x", "=", "!x", "&x", "*x", "é", "😀", " lead", "trail ", "a\nb",
]  # fmt: skip
IMPLICITS = [(True, False), (False, True), (True, True), (False, False)]


def ours(kind: Any, value: Any, implicit: tuple[bool, bool]) -> Any:
    return emit._StreamDumper(io.StringIO()).resolve(kind, value, implicit)


def pyyaml(kind: Any, value: Any, implicit: tuple[bool, bool]) -> Any:
    return yaml.resolver.Resolver().resolve(kind, value, implicit)


@pytest.mark.parametrize("implicit", IMPLICITS)
@pytest.mark.parametrize("value", SCALARS)
def test_a_scalar_resolves_as_pyyaml_resolves_it(value: str, implicit: tuple[bool, bool]) -> None:
    assert ours(ScalarNode, value, implicit) == pyyaml(ScalarNode, value, implicit)


@pytest.mark.parametrize("kind", [MappingNode, SequenceNode])
def test_collections_are_pyyamls_answer(kind: Any) -> None:
    assert ours(kind, None, (True, False)) == pyyaml(kind, None, (True, False))


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=12), implicit=st.sampled_from(IMPLICITS))
def test_any_text_resolves_as_pyyaml_resolves_it(value: str, implicit: tuple[bool, bool]) -> None:
    assert ours(ScalarNode, value, implicit) == pyyaml(ScalarNode, value, implicit)


def test_the_stream_is_byte_for_byte_what_pyyamls_resolver_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    objs: list[Any] = [
        {"data": {v or "empty": v for v in SCALARS}, "list": SCALARS, "n": [1, 1.5, True, None]},
        {"kind": "ConfigMap", "metadata": {"name": "x", "labels": {"1": "2024-01-01"}}},
    ]
    stream, one = emit.yaml_stream(objs), emit.to_yaml(objs[0])
    monkeypatch.setattr(emit._MirrorDumper, "resolve", yaml.resolver.Resolver.resolve)
    assert emit.yaml_stream(objs) == stream
    assert emit.to_yaml(objs[0]) == one
