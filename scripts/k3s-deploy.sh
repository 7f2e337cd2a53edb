#!/usr/bin/env bash
# Builds the images, imports them into K3s, generates the secrets if missing, applies
# deployment/ and waits until everything runs. Works from the host (VM via `vagrant ssh`)
# or on a K3s host itself (`k3s ctr images import` directly).
#   SKIP_BUILD=1   reuse images already built     KUBECTL=…   kubectl command to use
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
NS=udaconnect
log() { printf '\033[1;34m[k3s-deploy]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[k3s-deploy] %s\033[0m\n' "$*" >&2; exit 1; }

if [ -z "${KUBECONFIG:-}" ] && [ -f "$ROOT/.udaconnect/kubeconfig" ]; then export KUBECONFIG="$ROOT/.udaconnect/kubeconfig"; fi
KUBECTL=${KUBECTL:-kubectl}
if ! command -v kubectl >/dev/null 2>&1 && command -v k3s >/dev/null 2>&1; then KUBECTL="sudo k3s kubectl"; fi

# 1. Images
VERSION=$(node -p 'require("./package.json").version')
TARGETS=(frontend person-api location-ingest location-writer connection-service migrate)
IMAGES=()
for t in "${TARGETS[@]}"; do IMAGES+=("udaconnect/$t:$VERSION"); done
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building images $VERSION"
  REGISTRY='' bash scripts/build-images.sh "${TARGETS[@]}" >/dev/null
fi
# The same builder scripts/build-images.sh picks (docker with a daemon, else podman). podman names
# a short name localhost/udaconnect/…; containerd resolves the manifests' udaconnect/… as
# docker.io/udaconnect/…, so those names go into the archive (-m: several images in one).
BUILD_CLI=${BUILD_CLI:-}
if [ -z "$BUILD_CLI" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then BUILD_CLI=docker; else BUILD_CLI=podman; fi
fi
save_images() {
  if [ "$BUILD_CLI" = podman ]; then
    local i
    for i in "${IMAGES[@]}"; do podman tag "$i" "docker.io/$i"; done
    podman save -m "${IMAGES[@]/#/docker.io/}"
  else
    docker save "${IMAGES[@]}"
  fi
}

# 2. Import into K3s's containerd (imagePullPolicy IfNotPresent: nothing is pulled)
if command -v k3s >/dev/null 2>&1; then
  log "importing images into the local k3s"
  save_images | sudo k3s ctr images import -
elif command -v vagrant >/dev/null 2>&1 && [ -f Vagrantfile ]; then
  log "importing images into the Vagrant VM's k3s"
  save_images | vagrant ssh -c 'sudo k3s ctr images import -'
else
  die "neither k3s nor vagrant found: cannot import the images"
fi

# 3. Secrets (gitignored) and manifests
# Creates whatever is missing (database passwords, token keys, certificates) and keeps the rest.
# After `scripts/k3s-secrets.sh --rotate-keys` (or any other change of those files) this apply
# rolls the pods: kustomize's secretGenerator names each Secret after a hash of its content
# (udaconnect-auth-<hash>) and rewrites every reference to it, so new content means a new
# Secret name in the pod templates of person-api, location-ingest and connection-service, and
# the Deployments roll out new pods with the new keys (the previous public key stays in
# jwks.json, so tokens issued before the rotation keep working). db-migrate runs again on every
# deploy and sets changed role passwords first.
bash scripts/k3s-secrets.sh
# A Job's pod template is immutable: remove the finished migration job so it runs again.
$KUBECTL -n "$NS" delete job db-migrate --ignore-not-found >/dev/null 2>&1 || true
log "kubectl apply -k deployment/"
applied=$($KUBECTL apply -k deployment/ -o name)
printf '%s\n' "$applied"

# 4. Wait
log "waiting for postgis and kafka"
$KUBECTL -n "$NS" rollout status statefulset/postgis --timeout=300s
$KUBECTL -n "$NS" rollout status statefulset/kafka --timeout=300s
log "waiting for the db-migrate job"
$KUBECTL -n "$NS" wait --for=condition=complete job/db-migrate --timeout=300s \
  || { $KUBECTL -n "$NS" logs job/db-migrate --tail=50 || true; die "db-migrate did not complete"; }
for d in connection-service location-writer location-ingest person-api frontend; do
  $KUBECTL -n "$NS" rollout status "deployment/$d" --timeout=300s
done
$KUBECTL -n "$NS" get pods -o wide

# 5. Generated Secrets that no pod template names any more (the content before a rotation or a
# password change; an old signing key among them): removed once the rollouts are done. A
# `kubectl rollout undo` to a template that names one of them needs a redeploy instead.
for old in $($KUBECTL -n "$NS" get secret -l app.kubernetes.io/part-of=udaconnect,app.kubernetes.io/component -o name); do
  if ! grep -qx "$old" <<<"$applied"; then
    log "deleting the superseded $old"
    $KUBECTL -n "$NS" delete "$old" --ignore-not-found >/dev/null
  fi
done

cat >&2 <<TXT

UdaConnect is running on K3s (TLS with the CA deployment/tls/ca.crt; every call needs a token):
  organizer token         TOKEN=\$(scripts/k3s-token.sh --role organizer --ttl 12h)
  Swagger UI / REST API   https://localhost:30001/
                          curl --cacert deployment/tls/ca.crt -H "Authorization: Bearer \$TOKEN" https://localhost:30001/api/persons
  location-ingest (gRPC)  localhost:30002                (grpcurl -cacert deployment/tls/ca.crt localhost:30002 list)
  simulate devices        npm run simulate -- --target localhost:30002 --api https://localhost:30001 --ca deployment/tls/ca.crt --token \$TOKEN
  frontend                http://localhost:30000/        (sign in with the token)
TXT
