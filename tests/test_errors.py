"""Errors reach the terminal as one line, whatever an input put into them."""

from __future__ import annotations

from kubectl_mirror.errors import InputError, Ref


def test_an_error_line_escapes_newlines_and_terminal_controls_from_any_part() -> None:
    err = InputError(
        "bad\x1b[2J value", Ref(kind="ConfigMap", namespace="a\nb", name="c\u202ed", file="x\ny.yaml"), "f"
    )
    line = err.one_line()
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert line == "x\\ny.yaml: ConfigMap a\\nb/c\\u202ed: f: bad\\x1b[2J value"
