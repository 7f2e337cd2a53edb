#!/usr/bin/env bash
# Makes sure everything UdaConnect needs locally is installed and running:
#   npm packages, PostgreSQL + PostGIS (Debian packages), a single-node Kafka broker (KRaft,
#   jars from Maven Central). Idempotent: a second run only checks and returns in a second or two.
# If DATABASE_URL / KAFKA_BROKERS are set and answer, they are used and nothing is installed.
# Writes the resolved settings to .udaconnect/env, which start.sh and test.sh source.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="$ROOT/.udaconnect"
PG_MAJOR=${PG_MAJOR:-15}
KAFKA_VERSION=${KAFKA_VERSION:-4.3.1}
KAFKA_HOME="$STATE/kafka"
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
# Each service's own PostgreSQL role, as <PREFIX>:<role>; the service's URL is <PREFIX>_DATABASE_URL in
# .udaconnect/env. db/roles.ts defines the roles and their privileges (test/db/roles.test.ts checks
# that this list names the same roles).
SERVICE_DB_ROLES=(PERSON_API:udaconnect_person_api INGEST:udaconnect_ingest WRITER:udaconnect_writer CONNECTION_SERVICE:udaconnect_connections)
mkdir -p "$STATE"

log() { printf '\033[1;34m[provision]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[provision] %s\033[0m\n' "$*" >&2; exit 1; }

# wait_port, and starting a Kafka node from the jars Maven Central serves.
# shellcheck source=scripts/kafka/broker.sh
. "$ROOT/scripts/kafka/broker.sh"

apt_install() {
  if [ ! -f "$STATE/.apt-updated" ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    touch "$STATE/.apt-updated"
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# npm packages exactly as package-lock.json pins them (`npm ci`), whenever node_modules is missing or
# older than the lockfile (node_modules/.package-lock.json is npm's record of the last install; a
# package.json edited without `npm install` is caught by test/install, and by `npm ci` in CI). The
# committed lockfile lists every platform's optional binaries (test/install/reproducible-install.test.ts
# checks it), so `npm ci` installs this platform's and never rewrites it: a run leaves
# package-lock.json as committed, and the check below fails loudly if it did not.
manifest_sums() { (cd "$ROOT" && sha256sum package-lock.json package.json modules/*/package.json); }
ensure_node_modules() {
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && ! [ "$ROOT/package-lock.json" -nt "$stamp" ]; then return 0; fi
  local before after out
  before=$(manifest_sums)
  log "npm ci"
  if ! out=$(cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
    case "$out" in
      *"in sync"*)
        # npm's reason (what is missing or differs) without the usage text it appends.
        sed '/Clean install a project/,$d' <<<"$out" >&2
        die "package.json and package-lock.json disagree, so npm ci refuses them: run npm install and commit package-lock.json" ;;
      *)
        printf '%s\n' "$out" >&2
        die "npm ci failed (output above)" ;;
    esac
  fi
  if [ -n "$out" ]; then log "npm ci: ${out##*$'\n'}"; fi
  after=$(manifest_sums)
  if [ "$before" != "$after" ]; then
    die "npm ci changed $(diff <(echo "$before") <(echo "$after") | awk '/^>/ {print $3}' | paste -sd' ') — it must install from the committed package-lock.json and leave it as it is"
  fi
}

# ---------------------------------------------------------------- PostgreSQL + PostGIS
pg_url_answers() {
  command -v psql >/dev/null 2>&1 && psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

# Settings for the cluster we install (never for one found through DATABASE_URL): Debian's
# defaults (shared_buffers 128 MB, random_page_cost 4) suit a small machine with spinning disks.
# Connection queries probe a GiST index and fetch scattered rows; a quarter of the memory (at
# most 4 GiB) keeps index and table pages in PostgreSQL's own cache (docs/benchmarks.md).
# Returns 0 when the file changed (the cluster must restart), 1 when it was already so.
tune_postgres() {
  local mem_mb conf="/etc/postgresql/$PG_MAJOR/main/conf.d/udaconnect.conf" want
  mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  local shared=$((mem_mb / 4)) cache=$((mem_mb / 2))
  [ "$shared" -gt 4096 ] && shared=4096
  [ "$shared" -lt 128 ] && shared=128
  want="# Written by UdaConnect's scripts/provision.sh; rewritten when it changes.
shared_buffers = ${shared}MB
effective_cache_size = ${cache}MB
random_page_cost = 1.1
"
  [ "$(cat "$conf" 2>/dev/null)" = "${want%$'\n'}" ] && return 1
  printf '%s' "$want" >"$conf"
  log "PostgreSQL settings: shared_buffers ${shared}MB, effective_cache_size ${cache}MB, random_page_cost 1.1 ($conf)"
  return 0
}

# True when every service role logs in with its password file's password: proves role and password
# whatever the grants, on the maintenance database (the password travels in the environment only).
service_roles_log_in() {
  local pwdir=$1 entry role
  for entry in "${SERVICE_DB_ROLES[@]}"; do
    role=${entry#*:}
    PGPASSWORD=$(cat "$pwdir/pg-password-$role") psql "postgresql://$role@localhost:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1 || return 1
  done
}

# One LOGIN role per service (db/roles.ts; `db/cli.ts setup` grants each only what it needs, after
# migrating). Passwords are generated once per machine, like ct_admin's; the SQL is db/roles.ts'
# (`db/cli.ts roles-sql`, the same text the K3s migrate Job runs), applied as the postgres superuser.
# Skipped when db/roles.ts and the passwords are unchanged since the last run that set them and
# proved each login, and the roles still exist.
ensure_service_roles() {
  local pwdir=$1 entry prefix role pwfile stamp stampfile="$STATE/.db-roles"
  local -a pwenv=() pwfiles=()
  for entry in "${SERVICE_DB_ROLES[@]}"; do
    prefix=${entry%%:*} role=${entry#*:}
    pwfile="$pwdir/pg-password-$role"
    [ -s "$pwfile" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pwfile")
    pwfiles+=("$pwfile")
    pwenv+=("${prefix}_DB_PASSWORD=$(cat "$pwfile")")
    printf -v "${prefix}_DATABASE_URL" '%s' "postgresql://$role:$(cat "$pwfile")@localhost:5432/geoconnections"
  done
  stamp=$(cat "$ROOT/db/roles.ts" "${pwfiles[@]}" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stampfile" 2>/dev/null)" = "$stamp" ]; then
    local names
    names=$(printf "'%s'," "${SERVICE_DB_ROLES[@]#*:}")
    [ "$(psql "$DATABASE_URL" -Atqc "SELECT count(*) FROM pg_roles WHERE rolcanlogin AND rolname IN (${names%,})" 2>/dev/null)" = "${#SERVICE_DB_ROLES[@]}" ] && return
  fi
  (
    export "${pwenv[@]}"
    node --import tsx "$ROOT/db/cli.ts" roles-sql
  ) | su postgres -c "PGOPTIONS='-c client_min_messages=warning' psql -v ON_ERROR_STOP=1 -qAt" >/dev/null
  service_roles_log_in "$pwdir" || die "the service roles were set up but cannot log in"
  echo "$stamp" >"$stampfile"
  log "PostgreSQL service roles ready: ${SERVICE_DB_ROLES[*]#*:}"
}

# The services' URLs when DATABASE_URL came from outside: as given, else DATABASE_URL itself.
service_urls_from_env() {
  local entry url_var
  for entry in "${SERVICE_DB_ROLES[@]}"; do
    url_var="${entry%%:*}_DATABASE_URL"
    printf -v "$url_var" '%s' "${!url_var:-$DATABASE_URL}"
  done
}

# The env file's lines for the services' URLs.
service_url_lines() {
  local entry url_var
  for entry in "${SERVICE_DB_ROLES[@]}"; do
    url_var="${entry%%:*}_DATABASE_URL"
    printf '%s=%s\n' "$url_var" "${!url_var}"
  done
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    pg_url_answers "$DATABASE_URL" || die "DATABASE_URL is set but does not answer: $DATABASE_URL"
    log "using PostgreSQL at DATABASE_URL"
    service_urls_from_env
    return
  fi
  local pkgs=()
  dpkg -s "postgresql-$PG_MAJOR" >/dev/null 2>&1 || pkgs+=("postgresql-$PG_MAJOR")
  dpkg -s "postgresql-$PG_MAJOR-postgis-3" >/dev/null 2>&1 || pkgs+=("postgresql-$PG_MAJOR-postgis-3")
  if [ ${#pkgs[@]} -gt 0 ]; then apt_install "${pkgs[@]}"; fi

  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1,$2}' | grep -qx "$PG_MAJOR main"; then
    log "creating PostgreSQL cluster $PG_MAJOR/main"
    pg_createcluster "$PG_MAJOR" main >/dev/null
  fi
  local online=false
  pg_lsclusters -h | awk -v v="$PG_MAJOR" '$1==v && $2=="main" {print $4}' | grep -q online && online=true
  if tune_postgres && $online; then
    log "restarting PostgreSQL $PG_MAJOR for the new memory settings"
    pg_ctlcluster "$PG_MAJOR" main restart
  elif ! $online; then
    log "starting PostgreSQL $PG_MAJOR"
    pg_ctlcluster "$PG_MAJOR" main start
  fi

  # The password is generated once per machine (not per checkout: every clone shares the
  # cluster's ct_admin role) and kept outside the repository.
  local pwdir="${XDG_CONFIG_HOME:-$HOME/.config}/udaconnect" pwfile
  pwfile="$pwdir/pg-password"
  mkdir -p "$pwdir"
  [ -s "$pwfile" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pwfile")
  local pw
  pw=$(cat "$pwfile")
  su postgres -c "PGOPTIONS='-c client_min_messages=warning' psql -v ON_ERROR_STOP=1 -qAt" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ct_admin') THEN
    CREATE ROLE ct_admin LOGIN CREATEDB PASSWORD '$pw';
  ELSE
    ALTER ROLE ct_admin LOGIN CREATEDB PASSWORD '$pw';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE geoconnections OWNER ct_admin'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'geoconnections') \gexec
-- DROP DATABASE … WITH (FORCE) of a test database must be able to end an autovacuum worker in it.
GRANT pg_signal_backend TO ct_admin;
\c template1
CREATE EXTENSION IF NOT EXISTS postgis;
\c geoconnections
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
  DATABASE_URL="postgresql://ct_admin:$pw@localhost:5432/geoconnections"
  pg_url_answers "$DATABASE_URL" || die "PostgreSQL started but $DATABASE_URL does not answer"
  ensure_service_roles "$pwdir"
  log "PostgreSQL $PG_MAJOR + PostGIS ready on localhost:5432"
}

# ---------------------------------------------------------------- Kafka (KRaft, single node)
ensure_kafka() {
  if [ -n "${KAFKA_BROKERS:-}" ]; then
    local first=${KAFKA_BROKERS%%,*}
    wait_port "${first%:*}" "${first##*:}" 5 || die "KAFKA_BROKERS is set but $first does not answer"
    log "using Kafka at KAFKA_BROKERS=$KAFKA_BROKERS"
    return
  fi
  KAFKA_BROKERS="localhost:$KAFKA_PORT"
  if wait_port localhost "$KAFKA_PORT" 0; then
    log "Kafka already answering on $KAFKA_BROKERS"
    return
  fi
  kafka_fetch_jars
  local cluster_id=""
  if [ ! -f "$KAFKA_HOME/data/meta.properties" ]; then
    log "formatting Kafka storage"
    cluster_id=$(kafka_cluster_id)
  fi
  log "starting Kafka $KAFKA_VERSION (KRaft) on $KAFKA_BROKERS; log in .udaconnect/kafka/broker.log"
  # One copy of everything: a single broker.
  kafka_start_node "$KAFKA_HOME" 1 "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "1@localhost:$KAFKA_CONTROLLER_PORT" "$cluster_id" 768m \
    offsets.topic.replication.factor=1 transaction.state.log.replication.factor=1 transaction.state.log.min.isr=1 \
    share.coordinator.state.topic.replication.factor=1 share.coordinator.state.topic.min.isr=1
  kafka_wait_node "$KAFKA_HOME" "$KAFKA_PORT"
  log "Kafka ready on $KAFKA_BROKERS"
}

# ---------------------------------------------------------------- token signing keys
# .udaconnect/auth/signing-key.json (private, person-api and `npm run token` sign with it) and
# jwks.json (public, every service verifies with it); made once, rotated with `npm run auth:rotate`.
ensure_auth_keys() {
  (cd "$ROOT" && node --import tsx scripts/auth-keys.ts ensure --dir "$STATE/auth") || die "could not create the token signing keys"
}

ensure_node_modules
ensure_postgres
ensure_kafka
ensure_auth_keys

cat >"$STATE/env" <<ENV
DATABASE_URL=$DATABASE_URL
$(service_url_lines)
KAFKA_BROKERS=$KAFKA_BROKERS
AUTH_JWKS_FILE=$STATE/auth/jwks.json
AUTH_SIGNING_KEY_FILE=$STATE/auth/signing-key.json
ENV
chmod 600 "$STATE/env"
