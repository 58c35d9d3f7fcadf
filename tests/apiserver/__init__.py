"""A protocol-level fake Kubernetes API server for the test suite (see docs/testing.md)."""

from .errors import ApiError
from .server import ApiServer

__all__ = ["ApiError", "ApiServer"]
