"""Adapters around the pure engine: files, YAML, the ResourceList format, the cluster."""
