#!/bin/bash
# KAFKA_* → server.properties as apache/kafka's start script does (KAFKA_FOO_BAR → foo.bar,
# "__" → "_", "___" → "-"); the JVM/launcher variables are not properties. Then formats the log
# dir with CLUSTER_ID (if not yet formatted) and execs the broker (PID 1, so SIGTERM reaches it).
set -euo pipefail
conf=/opt/kafka/config/server.properties
: >"$conf"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_LOG4J_OPTS|KAFKA_GC_LOG_OPTS|KAFKA_JMX_OPTS|KAFKA_DEBUG|KAFKA_VERSION) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key=${name#KAFKA_}
  key=$(printf '%s' "$key" | tr '[:upper:]' '[:lower:]' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  printf '%s=%s\n' "$key" "$value" >>"$conf"
done < <(env)
echo "kafka: $(wc -l <"$conf") properties from KAFKA_* in $conf"
# shellcheck disable=SC2206
heap=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g})
java=(java "${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml -cp '/opt/kafka/libs/*')
logdir=$(sed -n 's/^log\.dirs=//p' "$conf" | cut -d, -f1)
if [ -n "${CLUSTER_ID:-}" ] && [ ! -f "${logdir:-/var/lib/kafka/data}/meta.properties" ]; then
  "${java[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$conf" --ignore-formatted
fi
exec "${java[@]}" kafka.Kafka "$conf"
