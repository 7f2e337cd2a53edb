#!/usr/bin/env bash
# The secret material of the K3s deployment, written into gitignored files that kustomize's
# secretGenerators turn into Secrets (deployment/kustomization.yaml):
#
#   deployment/secrets.env   → Secret udaconnect-db
#       POSTGRES_PASSWORD, DATABASE_URL      ct_admin, the superuser of the postgis pod; only the
#                                            db-migrate Job connects with it
#       <P>_DB_PASSWORD, <P>_DATABASE_URL    one PostgreSQL role per service (db/roles.ts), for P in
#                                            PERSON_API INGEST WRITER CONNECTION_SERVICE; db-migrate
#                                            creates/updates the roles, each service gets its URL
#   deployment/auth/         → Secret udaconnect-auth  (scripts/auth-keys.ts)
#       signing-key.json                     private token signing key (person-api only)
#       jwks.json                            public keys every service verifies tokens with
#   deployment/tls/          → Secret udaconnect-tls   (scripts/tls-certs.sh)
#       ca.crt, tls.crt, tls.key             the CA and the certificate of person-api and
#                                            location-ingest (their cluster names and localhost);
#                                            ca.key, the CA's private key, stays here
#
# usage: scripts/k3s-secrets.sh [--rotate-keys] [--new-db-passwords] [--force]
#   (no option)          create what is missing, keep everything that is there. An older
#                        secrets.env (POSTGRES_PASSWORD and DATABASE_URL only) is completed; its
#                        ct_admin password is kept, as an initialised PostGIS volume keeps it.
#                        A certificate expiring within 30 days is renewed by the same CA.
#   --rotate-keys        a new token signing key; jwks.json keeps the previous public key, so
#                        tokens already issued stay valid until they expire. Then run
#                        scripts/k3s-deploy.sh: the new Secret name rolls the pods.
#   --new-db-passwords   new passwords for the four service roles (not ct_admin); the next
#                        deploy's db-migrate Job sets them in PostgreSQL.
#   --force              new passwords for everything, ct_admin included: for a new cluster only
#                        (an initialised PostGIS volume keeps its old ct_admin password).
# Needs node with the repository's dependencies installed (npm install) and openssl.
# K3S_DEPLOYMENT_DIR (default deployment/) is where the files go (the tests use a copy).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${K3S_DEPLOYMENT_DIR:-$ROOT/deployment}
FILE="$DIR/secrets.env"
NS=udaconnect
DB_HOST="postgis.$NS.svc.cluster.local:5432"
DB_NAME=geoconnections
ADMIN_USER=ct_admin
# <PREFIX>:<role>, as db/roles.ts declares them (passwordEnv <PREFIX>_DB_PASSWORD, urlEnv
# <PREFIX>_DATABASE_URL); test/deployment checks that the two agree.
SERVICE_ROLES=(PERSON_API:udaconnect_person_api INGEST:udaconnect_ingest WRITER:udaconnect_writer CONNECTION_SERVICE:udaconnect_connections)
# The names the TLS ports are reached by: in the cluster (short and qualified Service names), and
# from the host through the forwarded NodePorts.
TLS_HOSTS=""
for svc in person-api location-ingest connection-service-meetings; do
  TLS_HOSTS="$TLS_HOSTS$svc,$svc.$NS,$svc.$NS.svc,$svc.$NS.svc.cluster.local,"
done
TLS_HOSTS="${TLS_HOSTS}localhost,127.0.0.1"

log() { echo "[k3s-secrets] $*" >&2; }
die() { echo "[k3s-secrets] $*" >&2; exit 1; }
usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; }

ROTATE_KEYS=false NEW_DB=false FORCE=false
while [ $# -gt 0 ]; do
  case "$1" in
    --rotate-keys) ROTATE_KEYS=true ;;
    --new-db-passwords) NEW_DB=true ;;
    --force) FORCE=true ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

command -v node >/dev/null 2>&1 || die "node is required (scripts/auth-keys.ts makes the token keys)"
[ -d "$ROOT/node_modules/tsx" ] || die "the repository's dependencies are missing: run npm install first"
[ -d "$DIR" ] || die "no directory $DIR"
umask 077

# ---------------------------------------------------------------- secrets.env
# Hex only: safe inside a URL without escaping.
random_password() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# The value of KEY in the current secrets.env ('' if absent).
current() { [ -f "$FILE" ] && sed -n "s/^$1=//p" "$FILE" | tail -n 1 || true; }
url() { printf 'postgresql://%s:%s@%s/%s' "$1" "$2" "$DB_HOST" "$DB_NAME"; }
check_password() {
  [[ "$2" =~ ^[A-Za-z0-9._~-]+$ ]] || die "$1 in $FILE holds characters that need escaping in a URL; replace it (hex, as this script makes) or use --force on a new cluster"
}

known_keys=(POSTGRES_PASSWORD DATABASE_URL)
added=() renewed=()
admin_pw=$(current POSTGRES_PASSWORD)
if [ -z "$admin_pw" ] || [ "$FORCE" = true ]; then
  [ -n "$admin_pw" ] && renewed+=(POSTGRES_PASSWORD) || added+=(POSTGRES_PASSWORD)
  admin_pw=$(random_password)
fi
check_password POSTGRES_PASSWORD "$admin_pw"
# URLs are always derived from the passwords, so the two can never disagree.
content="POSTGRES_PASSWORD=$admin_pw
DATABASE_URL=$(url "$ADMIN_USER" "$admin_pw")
"
for entry in "${SERVICE_ROLES[@]}"; do
  prefix=${entry%%:*} role=${entry#*:}
  known_keys+=("${prefix}_DB_PASSWORD" "${prefix}_DATABASE_URL")
  pw=$(current "${prefix}_DB_PASSWORD")
  if [ -z "$pw" ] || [ "$FORCE" = true ] || [ "$NEW_DB" = true ]; then
    [ -n "$pw" ] && renewed+=("${prefix}_DB_PASSWORD") || added+=("${prefix}_DB_PASSWORD")
    pw=$(random_password)
  fi
  check_password "${prefix}_DB_PASSWORD" "$pw"
  content="$content${prefix}_DB_PASSWORD=$pw
${prefix}_DATABASE_URL=$(url "$role" "$pw")
"
done
# Anything else an operator added to the file stays, after the keys above.
if [ -f "$FILE" ]; then
  pattern="^($(IFS='|'; echo "${known_keys[*]}"))="
  extra=$(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$FILE" | grep -Ev "$pattern" || true)
  [ -z "$extra" ] || content="$content$extra
"
fi
if [ -f "$FILE" ] && [ "$(cat "$FILE"; echo x)" = "${content}x" ]; then
  log "$FILE is complete; kept"
else
  printf '%s' "$content" >"$FILE.tmp"
  chmod 600 "$FILE.tmp"
  mv -f "$FILE.tmp" "$FILE"
  [ ${#added[@]} -eq 0 ] || log "$FILE: new ${added[*]}"
  [ ${#renewed[@]} -eq 0 ] || log "$FILE: replaced ${renewed[*]}"
  log "wrote $FILE"
fi
if [ "$FORCE" = true ]; then
  log "warning: a new ct_admin password only works with a new PostGIS volume (kubectl delete -k deployment/ first)"
fi

# ---------------------------------------------------------------- token keys
cd "$ROOT"
if [ "$ROTATE_KEYS" = true ]; then
  node --import tsx scripts/auth-keys.ts rotate --dir "$DIR/auth"
  log "rotated the token signing key in $DIR/auth; run scripts/k3s-deploy.sh to roll the pods"
else
  node --import tsx scripts/auth-keys.ts ensure --dir "$DIR/auth"
fi
chmod 700 "$DIR/auth"
chmod 600 "$DIR/auth/signing-key.json"

# ---------------------------------------------------------------- TLS
# Reuses the CA and the certificate while they are valid for 30 more days and cover every name.
bash "$ROOT/scripts/tls-certs.sh" --out "$DIR/tls" --name tls --hosts "$TLS_HOSTS" >/dev/null
chmod 700 "$DIR/tls"
# ---------------------------------------------------------------- marker for kustomize
# deployment/kustomization.yaml lists this file first: without it (a fresh clone) kustomize stops
# with an error that names this script. No objects; rewritten only when missing (no mtime churn).
MARKER="$DIR/generated-by-scripts-k3s-secrets.sh.yaml"
if [ ! -f "$MARKER" ]; then
  printf '%s\n' "# Written by scripts/k3s-secrets.sh beside secrets.env, auth/ and tls/ (all gitignored)." \
    "# deployment/kustomization.yaml lists it so that kustomize names that script when they are missing." \
    "# It holds no Kubernetes objects." >"$MARKER"
  chmod 644 "$MARKER"
fi
log "ready: $FILE, $DIR/auth/{signing-key.json,jwks.json}, $DIR/tls/{ca.crt,tls.crt,tls.key}"
