#!/usr/bin/env bash
# Runs the converted manifests (podman-kube.ts convert) on podman and waits as scripts/k3s-deploy.sh
# does: postgis and kafka ready, then the db-migrate Job done (exit 0), then every Deployment ready.
# Readiness is the manifests' own readiness probes, run from the host against the pod IPs
# (podman-kube.ts probe), each within its periodSeconds × failureThreshold budget of attempts.
#   podman-run.sh up <convert-dir>      network, podman secrets, pods; returns when all are ready
#   podman-run.sh sigterm <convert-dir> stops every pod with its image's stop signal; fails unless
#                                       each container exits 0 within terminationGracePeriodSeconds
#   podman-run.sh down <convert-dir>    removes pods, secrets and the network (idempotent)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/deploy/lib.sh
. "$HERE/lib.sh"
podman_env
cmd=${1:?usage: podman-run.sh up|sigterm|down <convert-dir>} dir=${2:?convert dir}
PLAN="$dir/plan.json"
NET=${DEPLOY_TEST_NETWORK:-udaconnect-deploy-test}
READY_TIMEOUT=${DEPLOY_TEST_READY_TIMEOUT:-240}
q() { node -e "const p=require(process.argv[1]); $1" "$(cd "$(dirname "$PLAN")" && pwd)/plan.json" "${@:2}"; }
probe() { node --import tsx "$HERE/podman-kube.ts" probe "$PLAN" "$@"; }

pod_logs() {
  local pod=$1 c
  for c in $(q 'const x=p.pods.find(y=>y.name===process.argv[2]); console.log(x.containers.map(c=>c.podmanName).join(" "))' "$pod"); do
    echo "----- podman logs --tail 40 $c" >&2
    podman logs --tail 40 "$c" >&2 2>&1 || true
  done
}

# Waits until the pod's readiness probes pass (or, for a job, its containers exit 0).
wait_ready() {
  local pod=$1 role started err state code
  role=$(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).role)' "$pod")
  started=$(date +%s)
  while true; do
    if [ "$role" = job ]; then
      state=$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "$pod-$pod" 2>/dev/null || echo "missing 0 0")
      read -r st code restarts <<<"$state"
      if [ "$st" = exited ] && [ "$code" = 0 ]; then
        dlog "  $pod: completed (exit 0, restarts $restarts, $(($(date +%s) - started)) s)"
        return 0
      fi
      limit=$(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).backoffLimit ?? 6)' "$pod")
      if [ "${restarts:-0}" -gt "$limit" ]; then
        dwarn "  $pod: failed $restarts times (backoffLimit $limit), last exit $code"
        pod_logs "$pod"
        return 1
      fi
    else
      if err=$(probe "$pod" readiness 2>&1); then
        dlog "  $pod: ready ($(($(date +%s) - started)) s; readiness probe of the manifest passed)"
        return 0
      fi
      # A container that is not running (crashed, restarting) shows in the log below.
    fi
    if [ $(($(date +%s) - started)) -ge "$READY_TIMEOUT" ]; then
      dwarn "  $pod: not ready after $READY_TIMEOUT s${err:+: $err}"
      podman pod ps --filter "name=^$pod\$" --format '{{.Name}} {{.Status}}' >&2 || true
      pod_logs "$pod"
      return 1
    fi
    sleep 2
  done
}

play() {
  local pod=$1 file ip
  file=$(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).file)' "$pod")
  ip=$(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).ip)' "$pod")
  local out
  out=$(podman kube play --network "$NET" --ip "$ip" --log-driver k8s-file --start "$file" 2>&1) ||
    { printf '%s\n' "$out" >&2; ddie "podman kube play $file failed"; }
  # podman's notes (the pod's infra container, MAC addresses) are not findings.
  grep -iE 'error|warn' <<<"$out" | grep -v 'static macs' >&2 || true
  dlog "  started $pod ($ip)"
}

down() {
  local pod s
  for pod in $(q 'console.log(p.pods.map(x=>x.name).join(" "))' 2>/dev/null || true); do
    podman pod rm -f -t 0 "$pod" >/dev/null 2>&1 || true
  done
  for s in $(q 'console.log(p.secrets.map(x=>x.name).join(" "))' 2>/dev/null || true); do
    podman secret rm "$s" >/dev/null 2>&1 || true
  done
  podman network rm -f "$NET" >/dev/null 2>&1 || true
}

# Every host port the plan publishes must be free (nothing listening, no socket in TIME_WAIT).
check_ports() {
  local port busy=()
  for port in $(q 'console.log(p.pods.flatMap(x=>Object.values(x.ports)).join(" "))'); do
    if ss -Htan "( sport = :$port )" 2>/dev/null | grep -q .; then busy+=("$port"); fi
  done
  [ ${#busy[@]} -eq 0 ] || ddie "host ports in use: ${busy[*]} (ss -tanp); move them with DEPLOY_TEST_PORT_BASE"
}

case "$cmd" in
  up)
    down
    check_ports
    subnet=$(q 'console.log(p.network.subnet)') gw=$(q 'console.log(p.network.gateway)')
    podman network create --disable-dns --subnet "$subnet" --gateway "$gw" "$NET" >/dev/null
    for s in $(q 'console.log(p.secrets.map(x=>x.name+"="+x.file).join(" "))'); do
      podman secret create "${s%%=*}" "${s#*=}" >/dev/null
    done
    # Stages as scripts/k3s-deploy.sh waits for them: the StatefulSets, the Job, the Deployments.
    for kind in StatefulSet Job Deployment; do
      pods=$(q 'console.log(p.pods.filter(x=>x.kind===process.argv[2]).map(x=>x.name).join(" "))' "$kind")
      [ -n "$pods" ] || continue
      dlog "starting the ${kind}s: $pods"
      for pod in $pods; do play "$pod"; done
      for pod in $pods; do wait_ready "$pod" || exit 1; done
    done
    ;;
  sigterm)
    rm -f "$dir/sigterm-notes"
    # Deployments first (as their clients would go first in a rolling shutdown), then the
    # StatefulSets; a finished Job has nothing to stop.
    failed=0
    for kind in Deployment StatefulSet; do
      pods=$(q 'console.log(p.pods.filter(x=>x.kind===process.argv[2]).map(x=>x.name).join(" "))' "$kind")
      declare -A began=()
      for pod in $pods; do
        grace=$(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).terminationGracePeriodSeconds)' "$pod")
        for c in $(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).containers.map(c=>c.podmanName).join(" "))' "$pod"); do
          began[$c]=$(date +%s%N)
          # podman stop sends the image's STOPSIGNAL (SIGTERM; SIGINT for postgres, as containerd
          # does), then SIGKILL after the grace period: exit 137 would mean the grace ran out.
          (podman stop -t "$grace" "$c" >/dev/null 2>&1; echo $(( ($(date +%s%N) - ${began[$c]}) / 1000000 )) >"$dir/stop-$c.ms") &
        done
      done
      wait
      for pod in $pods; do
        grace=$(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).terminationGracePeriodSeconds)' "$pod")
        for c in $(q 'console.log(p.pods.find(x=>x.name===process.argv[2]).containers.map(c=>c.podmanName).join(" "))' "$pod"); do
          code=$(podman inspect --format '{{.State.ExitCode}}' "$c" 2>/dev/null || echo '?')
          ms=$(cat "$dir/stop-$c.ms" 2>/dev/null || echo '?')
          sig=$(podman inspect --format '{{.Config.StopSignal}}' "$c" 2>/dev/null || echo '?')
          image=$(podman inspect --format '{{.ImageName}}' "$c" 2>/dev/null || echo '?')
          in_time=false
          [ "$ms" != '?' ] && [ "$ms" -lt $((grace * 1000)) ] && in_time=true
          if [ "$code" = 0 ] && [ "$in_time" = true ]; then
            dlog "  $c: stop signal $sig → exit 0 in ${ms} ms (grace ${grace} s)"
          elif [ "$code" = 143 ] && [ "$in_time" = true ] && [[ "$image" != *udaconnect/* ]]; then
            # A JVM (the Kafka stand-in, like apache/kafka) runs its shutdown hooks on SIGTERM and
            # then exits 128+15 by convention; the kubelet does not judge a terminated pod's code.
            dlog "  $c: stop signal $sig → exit 143 in ${ms} ms (grace ${grace} s): JVM convention after its shutdown hooks, accepted for third-party $image"
            echo "$c exit 143 (JVM, third-party image) in ${ms} ms" >>"$dir/sigterm-notes"
          else
            dwarn "  $c: stop signal $sig → exit $code after ${ms} ms (grace ${grace} s)"
            podman logs --tail 20 "$c" >&2 2>&1 || true
            failed=1
          fi
        done
      done
      unset began
    done
    exit $failed
    ;;
  down) down ;;
  *) ddie "unknown command $cmd" ;;
esac
