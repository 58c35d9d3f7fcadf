"""Shared fixtures: the project's own Kubernetes API server (tests/apiserver) for live tests."""

pytest_plugins = ["tests.apiserver.fixtures"]
