#!/usr/bin/env bash
# `npm run test:deploy`: the K3s deployment, run for real as far as a machine without Docker or a
# cluster allows (docs/deploy-test.md says what is proved and what is not).
#
#   1. installs podman, buildah, runc, debootstrap … (apt) if missing; podman runs with its own
#      containers.conf/storage.conf under .udaconnect/cache/deploy (CONTAINERS_CONF), /etc untouched
#   2. base images, made locally and cached by a key of their inputs (base-images.sh)
#   3. every target of the real Dockerfile (scripts/build-images.sh, podman's layer cache)
#   4. deployment/ rendered with `kubectl kustomize` after scripts/k3s-secrets.sh made its secrets
#      (in a copy under .udaconnect/cache/deploy/run: your own deployment/secrets.env is untouched);
#      then scripts/deploy/apiserver.sh applies it to a real kube-apiserver (PSS restricted); the
#      production overlay (overlays/production) likewise, rendered from the same copy and applied
#      to a fresh kube-apiserver of its own, with the same strictness (it is not run on podman)
#   5. the rendered manifests on podman (podman-kube.ts convert, podman-run.sh up), then from the
#      host: gRPC pings into location-ingest, rows in PostGIS, persons and connections over REST,
#      the frontend's page and its /api proxy, and SIGTERM of every pod (exit 0 within its grace)
#   6. tears everything down (also on failure and Ctrl-C) and prints what it proved and what not
#
# usage: scripts/deploy/test-deploy.sh [--keep] [--self-test]
#   --keep        leave the pods running at the end (podman-run.sh down … removes them)
#   --self-test   break the deployment on purpose, one case at a time, and pass only if each
#                 broken run fails at the expected step (a test of this test; builds reuse the cache)
# env: DEPLOY_TEST_PORT_BASE (20000): pod ports are published on 127.0.0.1:<base + port % 10000>
#        (below the ephemeral range 32768–60999, where a client socket in TIME_WAIT blocks the bind)
#      DEPLOY_TEST_SUBNET (10.213.77): the podman network's /24
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/deploy/lib.sh
. "$HERE/lib.sh"
cd "$ROOT"

KEEP=false SELF_TEST=false
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=true ;;
    --self-test) SELF_TEST=true ;;
    -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) ddie "unknown argument $arg (--keep, --self-test)" ;;
  esac
done
PORT_BASE=${DEPLOY_TEST_PORT_BASE:-20000}
SUBNET=${DEPLOY_TEST_SUBNET:-10.213.77}
# A break to apply to the rendered manifests (--self-test sets it for its child runs).
BREAK=${DEPLOY_TEST_BREAK:-}

if [ "$SELF_TEST" = true ]; then
  exec bash "$HERE/self-test.sh"
fi

T0=$(date +%s)
PROVED=() UNPROVED=() TIMES=()
proved() { PROVED+=("$*"); printf '\033[1;32m[deploy-test] PROVED\033[0m %s\n' "$*" >&2; }
timed() { # label command… : runs it and records its duration
  local label=$1 t
  shift
  t=$(date +%s)
  "$@"
  TIMES+=("$label $(($(date +%s) - t)) s")
}

# ---------------------------------------------------------------- teardown and summary
CONVERTED="$RUN_DIR/podman"
STAGE=setup
summary() {
  local status=$1
  {
    echo
    echo "================ npm run test:deploy: $([ "$status" = 0 ] && echo PASSED || echo "FAILED at: $STAGE") ($(($(date +%s) - T0)) s)"
    [ ${#TIMES[@]} -eq 0 ] || echo "durations: $(printf '%s; ' "${TIMES[@]}" | sed 's/; $//')"
    echo "proved:"
    for p in "${PROVED[@]}"; do echo "  ✓ $p"; done
    [ ${#PROVED[@]} -gt 0 ] || echo "  (nothing)"
    echo "not proved here (only a real K3s can):"
    for u in "${UNPROVED[@]}"; do echo "  - $u"; done
    cat <<'TXT'
  - the scheduler: requests/limits are applied by podman (cgroups), but nothing places pods on nodes
  - kubelet probes: the manifests' readiness probes were run from the host against the pod IPs;
    liveness/startup probes never restart anything here, and named ports are resolved by the converter
  - NodePorts and kube-proxy: pods are reached on 127.0.0.1:<port base + port>, Services by static
    IPs in /etc/hosts (hostAliases), not through ClusterIP/DNS
  - NetworkPolicy enforcement (the API server accepts them; nothing enforces them here)
  - the official images: postgis/postgis and apache/kafka are Debian-built stand-ins, node is this
    machine's Node 20 on debootstrap bookworm, not node:20-bookworm-slim
  - the Vagrant box and K3s itself (local-path volumes, containerd, image import)
  - runAsNonRoot/fsGroup are not enforced by podman (the images' USER and the converter's file
    ownership stand in); the API server's PSS check covers the declared settings
  - the production overlay (overlays/production) runs nowhere here: it is rendered and accepted by
    the API server only. Three Kafka brokers forming a quorum, two pods of every service, the
    autoscalers (controller-manager, metrics-server) and the disruption budgets (eviction) are not
    exercised; test/deployment/production-overlay.test.ts checks them statically
TXT
  } >&2
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$KEEP" = true ]; then
    dwarn "--keep: pods left running; remove them with: bash scripts/deploy/podman-run.sh down $CONVERTED"
  elif [ -f "$CONVERTED/plan.json" ]; then
    dlog "teardown: pods, podman secrets, network"
    bash "$HERE/podman-run.sh" down "$CONVERTED" || true
  fi
  # The run's secrets are throw-away: remove them (the cache of images stays).
  rm -rf "$RUN_DIR/deployment/secrets.env" "$RUN_DIR/deployment/auth" "$RUN_DIR/deployment/tls" "$CONVERTED/secrets" "$CONVERTED/volumes" 2>/dev/null || true
  summary "$status"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. tools
install_tools() {
  local need=() cmd pkg
  for pair in podman:podman buildah:buildah runc:runc debootstrap:debootstrap catatonit:catatonit netavark:netavark \
    kubectl:kubectl mvn:maven ss:iproute2 openssl:openssl; do
    cmd=${pair%%:*} pkg=${pair#*:}
    if [ "$cmd" = netavark ]; then [ -x /usr/lib/podman/netavark ] && continue; else command -v "$cmd" >/dev/null 2>&1 && continue; fi
    need+=("$pkg")
  done
  # podman's helpers: CNI/netavark plugins and aardvark are recommends, not depends.
  dpkg -s containernetworking-plugins >/dev/null 2>&1 || need+=(containernetworking-plugins)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || ddie "missing ${need[*]}: install them (apt-get install ${need[*]}) or run as root"
    dlog "installing ${need[*]} (apt)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  command -v kubectl >/dev/null || ddie "kubectl is needed for kustomize (apt: kubectl from the Kubernetes repository)"
  [ -d "$ROOT/node_modules/tsx" ] || ddie "the repository's dependencies are missing: run npm ci first"
  podman_env
  proved "tools: $(podman --version), runc $(runc --version | head -n 1 | awk '{print $3}'), CONTAINERS_CONF=${CONTAINERS_CONF#"$ROOT"/}"
}

# ---------------------------------------------------------------- 2. + 3. images
build_images() {
  bash "$HERE/base-images.sh"
  local out
  out=$(BUILD_CLI=podman BUILD_OPTS="--pull=never ${PODMAN_BUILD_ULIMITS[*]}" bash scripts/build-images.sh 2>"$RUN_DIR/build-images.log") ||
    { tail -40 "$RUN_DIR/build-images.log" >&2; ddie "scripts/build-images.sh failed (log: $RUN_DIR/build-images.log)"; }
  proved "every Dockerfile target built with podman: $(echo "$out" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- 4. render + API server
PRODUCTION=overlays/production
render() {
  local dep="$RUN_DIR/deployment" overlay="$RUN_DIR/$PRODUCTION"
  rm -rf "$dep" "$RUN_DIR/overlays"
  mkdir -p "$RUN_DIR" "$(dirname "$overlay")"
  # A copy of deployment/ without its generated (gitignored) files: the user's stay untouched.
  cp -r deployment "$dep"
  rm -rf "$dep/secrets.env" "$dep/secrets.env.tmp" "$dep/auth" "$dep/tls" "$dep/generated-by-scripts-k3s-secrets.sh.yaml"
  # The production overlay beside it, as in the repository (its base is ../../deployment).
  cp -r "$PRODUCTION" "$overlay"
  # A fresh clone first: `kubectl apply -k` must refuse with the documented message, for the
  # base and for the overlay (whose base it is).
  local msg target
  for target in "$dep" "$overlay"; do
    if msg=$(kubectl kustomize "$target" 2>&1); then ddie "kustomize rendered ${target#"$RUN_DIR"/} without its secrets"; fi
    grep -q 'k3s-secrets.sh' <<<"$msg" || ddie "without secrets, kustomize's message for ${target#"$RUN_DIR"/} does not name scripts/k3s-secrets.sh: $msg"
  done
  proved "fresh clone: kustomize refuses deployment/ and $PRODUCTION with a message naming scripts/k3s-secrets.sh"
  # The documented way: scripts/k3s-secrets.sh, then kustomize.
  K3S_DEPLOYMENT_DIR="$dep" bash scripts/k3s-secrets.sh 2>"$RUN_DIR/k3s-secrets.log" ||
    { cat "$RUN_DIR/k3s-secrets.log" >&2; ddie "scripts/k3s-secrets.sh failed"; }
  kubectl kustomize "$dep" >"$RUN_DIR/rendered.yaml"
  if [ -n "$BREAK" ]; then bash "$HERE/self-test.sh" --apply "$BREAK" "$RUN_DIR/rendered.yaml"; fi
  proved "kubectl kustomize rendered $(grep -c '^kind:' "$RUN_DIR/rendered.yaml") objects"
  kubectl kustomize "$overlay" >"$RUN_DIR/rendered-production.yaml"
  proved "kubectl kustomize rendered the production overlay: $(grep -c '^kind:' "$RUN_DIR/rendered-production.yaml") objects"
}

apiserver() {
  if [ ! -f "$HERE/apiserver.sh" ]; then
    UNPROVED+=("!!! scripts/deploy/apiserver.sh is missing: the manifests were NOT applied to a real kube-apiserver (PSS restricted) !!!")
    dwarn "SKIPPED: scripts/deploy/apiserver.sh does not exist yet; no API server check"
    return 0
  fi
  local log="$RUN_DIR/apiserver.log"
  bash "$HERE/apiserver.sh" "$RUN_DIR/rendered.yaml" >"$log" 2>&1 || { tail -40 "$log" >&2; ddie "apiserver.sh refused the rendered manifests (log: $log)"; }
  tail -5 "$log" >&2
  proved "kube-apiserver accepted the rendered manifests under PSS restricted (scripts/deploy/apiserver.sh)"
  if [ -z "$BREAK" ]; then
    bash "$HERE/apiserver.sh" --self-test "$RUN_DIR/rendered.yaml" >"$log.self-test" 2>&1 ||
      { tail -40 "$log.self-test" >&2; ddie "apiserver.sh --self-test failed (log: $log.self-test)"; }
    tail -3 "$log.self-test" >&2
    proved "apiserver.sh --self-test: its broken manifests were refused"
  fi
}

# The production overlay, on a fresh kube-apiserver of its own (so nothing of the base's apply can
# hide a refusal), with the same check: no refusal, no warning, every Pod admitted under PSS
# restricted. Not in --self-test's broken runs: their breaks apply to the base's rendering only.
apiserver_production() {
  if [ -n "$BREAK" ]; then
    dlog "production overlay: not applied in a --self-test run (break $BREAK)"
    return 0
  fi
  [ -f "$HERE/apiserver.sh" ] || return 0
  local log="$RUN_DIR/apiserver-production.log"
  bash "$HERE/apiserver.sh" "$RUN_DIR/rendered-production.yaml" >"$log" 2>&1 ||
    { tail -40 "$log" >&2; ddie "apiserver.sh refused the rendered production overlay (log: $log)"; }
  tail -4 "$log" >&2
  proved "kube-apiserver accepted the rendered production overlay ($PRODUCTION) under PSS restricted: $(sed -n 's/.*\] \([0-9]* objects accepted and present ([^)]*)\).*/\1/p' "$log")"
}

# ---------------------------------------------------------------- 5. podman
run_pods() {
  node --import tsx "$HERE/podman-kube.ts" convert "$RUN_DIR/rendered.yaml" "$CONVERTED" \
    --subnet "$SUBNET" --port-base "$PORT_BASE" >"$RUN_DIR/convert.log"
  bash "$HERE/podman-run.sh" up "$CONVERTED"
  proved "every pod ready by the manifests' readiness probes, db-migrate Job exit 0 (read-only root FS, non-root users, limits as in deployment/)"
  while IFS= read -r n; do UNPROVED+=("$n"); done < <(node -e 'for (const n of require(process.argv[1]).notes) console.log(n)' "$CONVERTED/plan.json")
}

end_to_end() {
  node --import tsx "$HERE/podman-kube.ts" e2e "$CONVERTED/plan.json" "$RUN_DIR/deployment/tls/ca.crt" "$RUN_DIR/deployment/secrets.env" 2>&1 |
    tee "$RUN_DIR/e2e.log" >&2
  [ "${PIPESTATUS[0]}" = 0 ] || ddie "end-to-end checks failed"
  while IFS= read -r line; do proved "${line#PROVED }"; done < <(grep '^PROVED ' "$RUN_DIR/e2e.log")
}

sigterm() {
  bash "$HERE/podman-run.sh" sigterm "$CONVERTED" || ddie "a pod did not exit 0 within its grace period on its stop signal"
  proved "every pod stopped on its stop signal within terminationGracePeriodSeconds: exit 0 (udaconnect images); $(cat "$CONVERTED/sigterm-notes" 2>/dev/null || echo 'no exceptions')"
}

mkdir -p "$RUN_DIR"
STAGE="1 tools"; timed tools install_tools
STAGE="2+3 images"; timed images build_images
STAGE="4 render"; timed render render
STAGE="4 apiserver"; timed apiserver apiserver
STAGE="4 production overlay"; timed apiserver-production apiserver_production
STAGE="5 pods"; timed pods run_pods
STAGE="5 end-to-end"; timed e2e end_to_end
STAGE="5 sigterm"; timed sigterm sigterm
STAGE=done
