#!/usr/bin/env bash
# `npm start`: provision what is missing, migrate and seed, run every service; Ctrl-C (or SIGTERM
# to npm or to this script) stops them.
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
# The simulator's venue and a day of talks, once (scripts/simulator/demo-event.ts).
node --import tsx scripts/seed-demo-event.ts
if [ "$tls" = true ]; then
  # CA and server certificate for localhost/127.0.0.1/::1, reused while valid (.udaconnect/tls/).
  bash scripts/tls-certs.sh --out "$ROOT/.udaconnect/tls" >/dev/null
  export UDACONNECT_TLS_DIR="$ROOT/.udaconnect/tls"
else
  unset UDACONNECT_TLS_DIR
fi
# The page is served from modules/frontend/dist: build it so it matches the sources.
npm run --silent build -w @udaconnect/frontend >/dev/null
# The runner in the background, so that this shell can pass on SIGTERM/SIGINT/SIGHUP: bash does
# not forward signals to a foreground child, and a process manager (or `timeout`) signals only the
# process it started (npm, which forwards to this script: package.json starts it with `exec`).
# The runner stops every service on the first signal and ignores repeats within a second (a
# terminal's Ctrl-C reaches it directly and through npm and this shell as well).
node --import tsx scripts/run-services.ts &
runner=$!
trap 'kill -TERM "$runner" 2>/dev/null || true' TERM
trap 'kill -INT "$runner" 2>/dev/null || true' INT
trap 'kill -HUP "$runner" 2>/dev/null || true' HUP
# `wait` returns early whenever a trapped signal arrives: wait until the runner has really exited.
while kill -0 "$runner" 2>/dev/null; do wait "$runner" || true; done
status=0
wait "$runner" || status=$?
# Leave the machine as we found it: stop the broker if this run started it.
if [ "$kafka_was_running" = false ]; then bash scripts/stop-infra.sh; fi
exit $status
