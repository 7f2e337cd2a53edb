#!/usr/bin/env bash
# `npm test`: provision PostgreSQL/PostGIS and Kafka if missing, type-check, run every test.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
start=$(date +%s)
bash scripts/provision.sh
set -a
# shellcheck disable=SC1091
. .udaconnect/env
set +a
echo "[test] type-checking"
npx tsc -p tsconfig.json --noEmit
echo "[test] jest"
status=0
npx jest "$@" || status=$?
if [ "${CI:-}" = "true" ]; then bash scripts/stop-infra.sh || true; fi
echo "[test] finished in $(($(date +%s) - start)) s"
exit $status
