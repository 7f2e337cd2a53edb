#!/usr/bin/env bash
# A local three-node Kafka cluster (KRaft, each node broker + controller), for the fault tests that
# kill a broker (test/faults/kafka-cluster-faults.test.ts) and for trying the production settings:
# every topic 3 copies, a message acknowledged once 2 have it. The single broker of `npm start`
# (port 9092) is not touched.
#
#   scripts/kafka-cluster.sh start [--fresh]   start the nodes that are not running; --fresh wipes their data first
#   scripts/kafka-cluster.sh stop              stop every node (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka-cluster.sh kill <node>       SIGKILL node 1, 2 or 3 (what the fault tests do)
#   scripts/kafka-cluster.sh start-node <node> start one node again
#   scripts/kafka-cluster.sh status            each node's pid and port, and KAFKA_BROKERS
#
# Nodes live in .udaconnect/kafka-cluster/node-<n>/ (data/, broker.log, broker.pid); node n listens
# on localhost:1909(2n) (clients) and localhost:1909(2n+1) (controllers): 19092, 19094, 19096.
# Clients use KAFKA_BROKERS=localhost:19092,localhost:19094,localhost:19096 and
# KAFKA_REPLICATION_FACTOR=3 (KAFKA_MIN_INSYNC_REPLICAS then defaults to 2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
KAFKA_HOME="$ROOT/.udaconnect/kafka"
CLUSTER="$ROOT/.udaconnect/kafka-cluster"
NODES=(1 2 3)

log() { printf '\033[1;34m[kafka-cluster]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[kafka-cluster] %s\033[0m\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/kafka/broker.sh
. "$ROOT/scripts/kafka/broker.sh"

port() { echo $((19090 + 2 * $1)); }
controller_port() { echo $((19091 + 2 * $1)); }
node_dir() { echo "$CLUSTER/node-$1"; }
running() { local f; f="$(node_dir "$1")/broker.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
brokers() { local n out=(); for n in "${NODES[@]}"; do out+=("localhost:$(port "$n")"); done; (IFS=,; echo "${out[*]}"); }
voters() { local n out=(); for n in "${NODES[@]}"; do out+=("$n@localhost:$(controller_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
valid_node() { [[ " ${NODES[*]} " == *" $1 "* ]] || die "no node '$1' (nodes: ${NODES[*]})"; }

start_node() {
  local n=$1 dir
  dir=$(node_dir "$n")
  if running "$n"; then return 0; fi
  if wait_port localhost "$(port "$n")" 0; then die "port $(port "$n") is taken by a process that is not node $n of this cluster"; fi
  local cluster_id
  cluster_id=$(cat "$CLUSTER/cluster-id")
  # 3 copies of every topic, including Kafka's own; 2 must have a message before it is acknowledged.
  # A node that stops heartbeating is fenced after 6 s (default 9 s), and its partitions move.
  kafka_start_node "$dir" "$n" "$(port "$n")" "$(controller_port "$n")" "$(voters)" "$cluster_id" 512m \
    default.replication.factor=3 min.insync.replicas=2 unclean.leader.election.enable=false \
    offsets.topic.replication.factor=3 transaction.state.log.replication.factor=3 transaction.state.log.min.isr=2 \
    share.coordinator.state.topic.replication.factor=3 share.coordinator.state.topic.min.isr=2 \
    broker.heartbeat.interval.ms=1000 broker.session.timeout.ms=6000
}

cmd_start() {
  if [ "${1:-}" = "--fresh" ]; then
    cmd_stop
    rm -rf "$CLUSTER"
  fi
  kafka_fetch_jars
  mkdir -p "$CLUSTER"
  [ -s "$CLUSTER/cluster-id" ] || kafka_cluster_id >"$CLUSTER/cluster-id"
  local n
  for n in "${NODES[@]}"; do start_node "$n"; done
  for n in "${NODES[@]}"; do kafka_wait_node "$(node_dir "$n")" "$(port "$n")"; done
  log "3 nodes answering: KAFKA_BROKERS=$(brokers) (logs in .udaconnect/kafka-cluster/node-*/broker.log)"
}

cmd_stop() {
  local n
  for n in "${NODES[@]}"; do
    if running "$n"; then log "stopping node $n"; fi
    kafka_stop_node "$(node_dir "$n")/broker.pid"
  done
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop ;;
  kill)
    valid_node "${2:-}"
    running "$2" || die "node $2 is not running"
    kill -9 "$(cat "$(node_dir "$2")/broker.pid")"
    log "node $2 killed (SIGKILL)" ;;
  start-node)
    valid_node "${2:-}"
    start_node "$2"
    kafka_wait_node "$(node_dir "$2")" "$(port "$2")"
    log "node $2 answering on localhost:$(port "$2")" ;;
  status)
    for n in "${NODES[@]}"; do
      if running "$n"; then echo "node $n: pid $(cat "$(node_dir "$n")/broker.pid"), localhost:$(port "$n")"; else echo "node $n: not running"; fi
    done
    echo "KAFKA_BROKERS=$(brokers)" ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
