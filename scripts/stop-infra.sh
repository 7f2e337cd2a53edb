#!/usr/bin/env bash
# Stops the Kafka broker that provisioning started (PostgreSQL stays up: it is a system service).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
pidfile="$ROOT/.udaconnect/kafka/broker.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  echo "[stop] stopping Kafka broker (pid $pid)"
  kill "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$pidfile"
