#!/usr/bin/env bash
# Validates the deployment definitions without a Docker engine or a cluster:
#   - compose.yaml is loaded and schema-checked by compose-go (the library
#     Docker Compose v2 is built on), through tools/composecheck, with a deploy/.env
#     made the documented way (init-env.sh); the bare .env.example must be refused,
#     naming the missing secret;
#   - both kustomizations are rendered by kustomize, and the Helm chart is linted and
#     rendered by helm; every resource is validated offline against the Kubernetes
#     schemas (kubernetes-validate).
# Tools are built from the Go module proxy into a cache folder once. (The stack itself
# runs for real in .ci/compose-smoke.sh.)  env: PYTHON (a virtualenv's python)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${OMNIDESK_CACHE_DIR:-$HOME/.cache/omnidesk}/bin"
mkdir -p "$bin"
PYTHON=${PYTHON:-python3}
KUSTOMIZE_VERSION=v5.7.1
HELM_VERSION=v3.22.0
K8S_VERSION=${K8S_VERSION:-1.30}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v go >/dev/null || { echo "validate: Go is needed to build kustomize/helm/composecheck" >&2; exit 1; }
if [ ! -x "$bin/kustomize" ] || ! "$bin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
  echo "building kustomize $KUSTOMIZE_VERSION"
  GOBIN="$bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
if [ ! -x "$bin/helm" ] || ! "$bin/helm" version --short 2>/dev/null | grep -q "$HELM_VERSION"; then
  echo "building helm $HELM_VERSION"
  GOBIN="$bin" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
(cd "$here/tools/composecheck" && go build -o "$bin/composecheck" .)
"$PYTHON" -m pip install --quiet --disable-pip-version-check 'kubernetes-validate>=1.30'
validate() { "$PYTHON" -m kubernetes_validate --strict --quiet -k "$K8S_VERSION" "$1"; }

echo "== compose (deploy/.env from init-env.sh)"
sh "$here/init-env.sh" "$work/.env" >/dev/null
"$bin/composecheck" "$here/compose.yaml" "$work/.env"
echo "== compose with .env.example copied as is: refused, naming the secret"
if "$bin/composecheck" "$here/compose.yaml" "$here/.env.example" 2>"$work/refused"; then
  echo "validate: compose accepted an empty NOTIFIER_CSAT_SIGNING_SECRET" >&2; exit 1
fi
grep -o 'required variable NOTIFIER_CSAT_SIGNING_SECRET[^:]*' "$work/refused"

for target in base overlays/production; do
  echo "== kustomize $target (Kubernetes $K8S_VERSION schemas)"
  "$bin/kustomize" build "$here/k8s/$target" > "$work/rendered.yaml"
  validate "$work/rendered.yaml"
  echo "ok: $(grep -c '^kind:' "$work/rendered.yaml") resources"
done

chart="$here/helm/omnidesk"
echo "== helm $("$bin/helm" version --short) lint + template (Kubernetes $K8S_VERSION schemas)"
"$bin/helm" lint --strict "$chart" -f "$chart/ci/production-values.yaml"
minimal=(--set postgresql.host=pg.example --set postgresql.password=pw
  --set secrets.values.NOTIFIER_CSAT_SIGNING_SECRET=0123456789abcdef0123)
for values in "production:-f $chart/ci/production-values.yaml" "minimal:${minimal[*]}"; do
  name=${values%%:*}
  # shellcheck disable=SC2086 # the option list splits on purpose
  "$bin/helm" template omnidesk "$chart" ${values#*:} > "$work/helm-$name.yaml"
  validate "$work/helm-$name.yaml"
  echo "ok: helm template ($name values): $(grep -c '^kind:' "$work/helm-$name.yaml") resources:" \
    "$(grep '^kind:' "$work/helm-$name.yaml" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}')"
done
echo "== helm without the CSAT secret: refused, naming it"
if "$bin/helm" template omnidesk "$chart" --set postgresql.host=pg --set postgresql.password=pw \
  >/dev/null 2>"$work/refused"; then
  echo "validate: helm rendered without NOTIFIER_CSAT_SIGNING_SECRET" >&2; exit 1
fi
grep -o 'secrets.values.NOTIFIER_CSAT_SIGNING_SECRET is required[^,]*' "$work/refused"
