# Sourced, not run: how our scripts fetch the Apache Kafka jars and start a KRaft node from them.
# scripts/provision.sh starts the single local broker with it, scripts/kafka-cluster.sh three.
# Expects ROOT, KAFKA_VERSION, KAFKA_HOME (where the jars live: $KAFKA_HOME/$KAFKA_VERSION/lib)
# and the functions log and die.

# True once a TCP port answers; tries for up to $3 seconds (0: a single try).
wait_port() {
  local host=$1 port=$2 secs=$3 i
  for ((i = 0; ; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    ((i < secs * 4)) || return 1
    sleep 0.25
  done
}

# The jars of kafka_2.13:$KAFKA_VERSION and what it needs at run time, from Maven Central, once.
kafka_fetch_jars() {
  command -v java >/dev/null || die "java (17+) is needed to run the Kafka broker"
  local lib="$KAFKA_HOME/$KAFKA_VERSION/lib"
  [ -f "$lib/kafka_2.13-$KAFKA_VERSION.jar" ] && return 0
  command -v mvn >/dev/null || die "mvn is needed to fetch the Kafka jars from Maven Central"
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION with mvn"
  rm -rf "$lib.tmp"
  mkdir -p "$KAFKA_HOME"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$lib.tmp" >"$KAFKA_HOME.mvn.log" 2>&1 ||
    { tail -20 "$KAFKA_HOME.mvn.log" >&2; die "mvn could not fetch the Kafka jars"; }
  mv "$lib.tmp" "$lib"
}

# The JVM command line shared by the storage tool and the broker; $1 is the heap's maximum.
kafka_java_cmd() {
  KAFKA_JAVA=(java -Xms256m "-Xmx${1:-768m}" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.yaml"
    -cp "$KAFKA_HOME/$KAFKA_VERSION/lib/*")
}

# A random cluster id, as the storage tool makes them.
kafka_cluster_id() {
  kafka_java_cmd
  "${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1
}

# Starts one combined broker + controller in the background and returns at once; the caller waits
# for its port. Everything of the node lives in $dir: server.properties, data/ (formatted with
# $cluster_id the first time), broker.log and broker.pid.
#   kafka_start_node <dir> <node id> <broker port> <controller port> <quorum voters> <cluster id> <heap> [property=value ...]
kafka_start_node() {
  local dir=$1 id=$2 port=$3 cport=$4 voters=$5 cluster_id=$6 heap=$7
  shift 7
  kafka_java_cmd "$heap"
  mkdir -p "$dir/data"
  {
    cat <<PROPS
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://localhost:$port,CONTROLLER://localhost:$cport
advertised.listeners=PLAINTEXT://localhost:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=6
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
    printf '%s\n' "$@"
  } >"$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
      { cat "$dir/format.log" >&2; die "could not format Kafka storage in $dir/data"; }
  fi
  # setsid + all descriptors redirected: the broker outlives this script without holding its pipes.
  setsid "${KAFKA_JAVA[@]}" kafka.Kafka "$dir/server.properties" >"$dir/broker.log" 2>&1 </dev/null &
  echo $! >"$dir/broker.pid"
}

# Waits up to 90 s for the node in $1 to answer on port $2; dies with its log's tail if it does not.
kafka_wait_node() {
  local dir=$1 port=$2 i
  for ((i = 0; i < 360; i++)); do
    wait_port localhost "$port" 0 && return 0
    kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null || break
    sleep 0.25
  done
  wait_port localhost "$port" 1 || { tail -30 "$dir/broker.log" >&2; die "Kafka (node in $dir) did not start within 90 s"; }
}

# Stops the node whose pid file is $1: SIGTERM, up to 30 s for a clean shutdown, then SIGKILL.
kafka_stop_node() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
}
