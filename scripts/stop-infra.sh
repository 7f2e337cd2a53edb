#!/usr/bin/env bash
# Stops what our scripts started beside PostgreSQL: the Kafka broker of provisioning, the three-node
# cluster of scripts/kafka-cluster.sh and the read replica of scripts/pg-replica.sh (the primary
# PostgreSQL stays up: it is a system service).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The read replica scripts/pg-replica.sh made, if it runs (stopped, not removed; `ensure` starts it again).
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | awk '$2 == "replica" && $4 ~ /^online/ {found = 1} END {exit !found}'; then
  bash "$ROOT/scripts/pg-replica.sh" stop
fi
if [ -d "$ROOT/.udaconnect/kafka-cluster" ]; then bash "$ROOT/scripts/kafka-cluster.sh" stop; fi
log() { printf '[stop] %s\n' "$*"; }
die() { printf '[stop] %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/kafka/broker.sh
. "$ROOT/scripts/kafka/broker.sh"
pidfile="$ROOT/.udaconnect/kafka/broker.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then log "stopping Kafka broker (pid $(cat "$pidfile"))"; fi
kafka_stop_node "$pidfile"
