"""A real control plane (etcd, kube-apiserver, kube-controller-manager) for the e2e tests and benches."""
