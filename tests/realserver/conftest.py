"""The fixture's own tests use the session's control plane (tests/realserver/fixtures.py)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.realserver.fixtures")
