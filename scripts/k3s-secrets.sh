#!/usr/bin/env bash
# Writes deployment/secrets.env (gitignored) with a random PostgreSQL password and the matching
# DATABASE_URL, for kustomize's secretGenerator. Keeps an existing file unless --force is given
# (a new password does not change an already initialised PostGIS volume).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILE="$ROOT/deployment/secrets.env"

if [ -s "$FILE" ] && [ "${1:-}" != "--force" ]; then
  echo "[k3s-secrets] $FILE exists; kept (use --force for a new password)" >&2
  exit 0
fi
# Hex only: safe inside a URL without escaping.
PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077
cat >"$FILE" <<ENV
POSTGRES_PASSWORD=$PASSWORD
DATABASE_URL=postgresql://ct_admin:$PASSWORD@postgis.udaconnect.svc.cluster.local:5432/geoconnections
ENV
echo "[k3s-secrets] wrote $FILE" >&2
