"""kubectl-mirror: expand marked sources into mirrors for many namespaces."""

__version__ = "0.1.0"
