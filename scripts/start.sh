#!/usr/bin/env bash
# `npm start`: provision what is missing, migrate and seed, run every service; Ctrl-C stops them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# `npm start -- --tls`: person-api and location-ingest serve TLS with a local CA's certificate.
tls=false
for arg in "$@"; do
  case "$arg" in
    --tls) tls=true ;;
    *) echo "npm start: unknown option $arg (known: --tls)" >&2; exit 2 ;;
  esac
done
# A broker we did not start (already running, or given by KAFKA_BROKERS) is left alone on exit.
kafka_was_running=false
if [ -n "${KAFKA_BROKERS:-}" ] || (exec 3<>/dev/tcp/localhost/9092) 2>/dev/null; then kafka_was_running=true; fi
bash scripts/provision.sh
set -a
# shellcheck disable=SC1091
. .udaconnect/env
set +a
node --import tsx db/cli.ts setup
if [ "$tls" = true ]; then
  # CA and server certificate for localhost/127.0.0.1/::1, reused while valid (.udaconnect/tls/).
  bash scripts/tls-certs.sh --out "$ROOT/.udaconnect/tls" >/dev/null
  export UDACONNECT_TLS_DIR="$ROOT/.udaconnect/tls"
else
  unset UDACONNECT_TLS_DIR
fi
# The page is served from modules/frontend/dist: build it so it matches the sources.
npm run --silent build -w @udaconnect/frontend >/dev/null
status=0
node --import tsx scripts/run-services.ts || status=$?
# Leave the machine as we found it: stop the broker if this run started it.
if [ "$kafka_was_running" = false ]; then bash scripts/stop-infra.sh; fi
exit $status
