#!/usr/bin/env bash
# Validates the deployment definitions without a Docker engine or a cluster:
#   - compose.yaml is loaded and schema-checked by compose-go (the library
#     Docker Compose v2 is built on), through tools/composecheck;
#   - both kustomizations are rendered by kustomize and every resource is
#     validated offline against the Kubernetes schemas (kubernetes-validate).
# Tools are built from the Go module proxy into a cache folder once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${OMNIDESK_CACHE_DIR:-$HOME/.cache/omnidesk}/bin"
mkdir -p "$bin"
KUSTOMIZE_VERSION=v5.7.1
K8S_VERSION=${K8S_VERSION:-1.30}

command -v go >/dev/null || { echo "validate: Go is needed to build kustomize/composecheck" >&2; exit 1; }
if [ ! -x "$bin/kustomize" ] || ! "$bin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
  echo "building kustomize $KUSTOMIZE_VERSION"
  GOBIN="$bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
(cd "$here/tools/composecheck" && go build -o "$bin/composecheck" .)
python3 -m pip install --quiet --disable-pip-version-check 'kubernetes-validate>=1.30'

echo "== compose"
"$bin/composecheck" "$here/compose.yaml" "$here/.env.example"

for target in base overlays/production; do
  echo "== kustomize $target (Kubernetes $K8S_VERSION schemas)"
  rendered="$(mktemp)"
  "$bin/kustomize" build "$here/k8s/$target" > "$rendered"
  kubernetes-validate --strict --quiet -k "$K8S_VERSION" "$rendered"
  echo "ok: $(grep -c '^kind:' "$rendered") resources"
  rm -f "$rendered"
done
