#!/usr/bin/env bash
# Build the krew archive: one zipapp (pure-Python dependencies only) in a tarball.
# Usage: krew/build.sh [OUT_DIR]   (default: dist/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/dist}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip install --quiet --no-compile --target "$work/app" "$root" 'kubernetes==35.0.0'
# C extensions are platform-specific; every dependency here has a pure-Python fallback.
find "$work/app" -name '*.so' -delete
python3 -m zipapp "$work/app" -m 'kubectl_mirror.cli.main:main' -p '/usr/bin/env python3' \
  -o "$work/kubectl-mirror" -c
mkdir -p "$out"
cp "$root/LICENSE" "$work/" 2>/dev/null || true
tar -C "$work" -czf "$out/kubectl-mirror.tar.gz" kubectl-mirror $( [ -f "$work/LICENSE" ] && echo LICENSE )
sha256sum "$out/kubectl-mirror.tar.gz"
