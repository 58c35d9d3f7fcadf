"""Live-cluster use cases: read the cluster, render with the engine, reconcile, write."""
