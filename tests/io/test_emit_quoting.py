"""What render writes reads back as the same strings under YAML 1.1 and 1.2."""

from __future__ import annotations

import yaml

from kubectl_mirror.io.emit import to_yaml
from kubectl_mirror.io.yamlload import AliasBudget, load_one

NUMBERS_IN_ONE_OR_THE_OTHER = [
    "1e5",
    "0o17",
    "1.5e3",
    "12",
    "0x1F",
    "true",
    "null",
    "~",
    "-.inf",
    "017",
    "yes",
]


def test_strings_that_either_yaml_version_reads_as_numbers_are_quoted() -> None:
    data = {"data": {f"k{i}": v for i, v in enumerate(NUMBERS_IN_ONE_OR_THE_OTHER)}}
    text = to_yaml(data)
    assert yaml.safe_load(text) == data  # YAML 1.1 (PyYAML, kubectl's older readers)
    assert load_one(text, budget=AliasBudget()).value == data  # YAML 1.2 core (kpt, kustomize)
