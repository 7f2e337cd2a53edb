#!/usr/bin/env bash
# Prints an organizer token for the K3s deployment (what `npm run token` is for the local stack):
#
#   scripts/k3s-token.sh --role organizer [--ttl 12h] [--name NAME]
#
# Signed with the key the cluster's person-api uses: the udaconnect-auth Secret its pod template
# mounts (kustomize adds a content hash to the name; older ones stay until k3s-deploy.sh prunes
# them). The key goes to a mode-600 temporary file, removed on exit; scripts/token.ts signs with
# it. Token on stdout, a note on stderr:
#   TOKEN=$(scripts/k3s-token.sh --role organizer --ttl 2h)
# Uses .udaconnect/kubeconfig (scripts/k3s-kubeconfig.sh) unless KUBECONFIG is set; KUBECTL=…
# names another kubectl command. Needs node with the repository's dependencies (npm install).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS=udaconnect
die() { echo "k3s-token: $*" >&2; exit 1; }
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --signing-key-file|--signing-key-file=*) die "the signing key comes from the cluster; for a local key use npm run token" ;;
  esac
done
[ $# -gt 0 ] || { usage >&2; exit 2; }

if [ -z "${KUBECONFIG:-}" ] && [ -f "$ROOT/.udaconnect/kubeconfig" ]; then export KUBECONFIG="$ROOT/.udaconnect/kubeconfig"; fi
KUBECTL=${KUBECTL:-kubectl}
if [ "$KUBECTL" = kubectl ] && ! command -v kubectl >/dev/null 2>&1 && command -v k3s >/dev/null 2>&1; then KUBECTL="sudo k3s kubectl"; fi
command -v node >/dev/null 2>&1 || die "node is required"
[ -d "$ROOT/node_modules/tsx" ] || die "the repository's dependencies are missing: run npm install first"

# The Secret person-api runs with; the newest labelled one if the Deployment is not there.
secret=$($KUBECTL -n "$NS" get deployment person-api \
  -o jsonpath='{.spec.template.spec.volumes[?(@.name=="auth")].secret.secretName}' 2>/dev/null || true)
if [ -z "$secret" ]; then
  secret=$($KUBECTL -n "$NS" get secret -l app.kubernetes.io/part-of=udaconnect,app.kubernetes.io/component=token-keys \
    --sort-by=.metadata.creationTimestamp -o jsonpath='{.items[-1:].metadata.name}' 2>/dev/null || true)
fi
[ -n "$secret" ] || die "no udaconnect-auth Secret in namespace $NS (deployed? scripts/k3s-deploy.sh; KUBECONFIG=${KUBECONFIG:-unset})"

umask 077
tmp=$(mktemp "${TMPDIR:-/tmp}/udaconnect-signing-key.XXXXXX")
trap 'rm -f "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 600 "$tmp"
$KUBECTL -n "$NS" get secret "$secret" -o go-template='{{index .data "signing-key.json"}}' | base64 --decode >"$tmp" \
  || die "could not read signing-key.json from Secret $secret"
[ -s "$tmp" ] || die "Secret $secret holds no signing-key.json"

cd "$ROOT"
node --import tsx scripts/token.ts --signing-key-file "$tmp" "$@"
