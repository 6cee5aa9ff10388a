#!/bin/sh
# The documented first step of the compose deployment: write deploy/.env from
# deploy/.env.example (every setting with its default) and fill in the secrets
# nobody should share, each generated at random:
#   NOTIFIER_CSAT_SIGNING_SECRET  HMAC key of the rating links in customer mails
#                                 (compose refuses to start without it)
#   ROUTER_CSAT_SECRET            HMAC key of the router's rating tokens
#   ROUTER_BOOTSTRAP_ADMIN_KEY    the first admin API key (X-API-Key) of the agent API
#   POSTGRES_PASSWORD             the compose PostgreSQL's password
#   PRIVACY_HASH_KEY              key of the identifier hashes erasure matches on; the
#                                 same in every service (they all read this file).
#                                 Never change it afterwards: stored hashes would be orphaned
# An existing file is kept: only secrets that are missing or empty are added.
# usage: deploy/init-env.sh [ENV_FILE]        (default: deploy/.env)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
env_file=${1:-$here/.env}

if [ ! -e "$env_file" ]; then
  cp "$here/.env.example" "$env_file"
  chmod 600 "$env_file"
  echo "wrote $env_file from .env.example"
fi

random_secret() {
  # 32 random bytes as hex: no characters that .env, YAML or URLs treat specially.
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

for name in NOTIFIER_CSAT_SIGNING_SECRET ROUTER_CSAT_SECRET ROUTER_BOOTSTRAP_ADMIN_KEY \
  POSTGRES_PASSWORD PRIVACY_HASH_KEY; do
  if grep -q "^$name=..*" "$env_file"; then
    continue # set by you: kept
  fi
  value=$(random_secret)
  if grep -q "^$name=" "$env_file"; then
    sed -i "s|^$name=.*|$name=$value|" "$env_file"
  else
    printf '%s=%s\n' "$name" "$value" >>"$env_file"
  fi
  echo "generated $name"
done
echo "agent API admin key: grep ROUTER_BOOTSTRAP_ADMIN_KEY $env_file"
