#!/usr/bin/env bash
# A hot-standby streaming replica of the local PostgreSQL cluster (`15 main`, port 5432, started by
# scripts/provision.sh): the Debian cluster `15 replica` on port 5433, made with pg_basebackup -R
# through its own replication role. connection-service reads from it when DATABASE_READ_URL is set
# (docs/scaling.md, "Read replica"); test/replica/read-replica.test.ts runs `ensure` itself.
#
#   bash scripts/pg-replica.sh ensure         create it if missing, start it, wait until it streams
#   bash scripts/pg-replica.sh stop           stop it (the primary is never touched)
#   bash scripts/pg-replica.sh status         what it is doing, and how far behind it is
#   bash scripts/pg-replica.sh pause-replay   hold replay (WAL is still received): for tests
#   bash scripts/pg-replica.sh resume-replay
#
# `ensure` is idempotent (a second run only checks: well under a second) and rebuilds a replica
# that cannot follow the primary any more: its data directory missing or broken, not a standby,
# cloned from another primary, or unable to catch up (the WAL it needs already recycled: there is no
# replication slot, so a stopped replica never makes the primary keep WAL). On the primary it only
# adds the replication role and, when no pg_hba.conf line lets it in, one such line and a reload.
# Writes .udaconnect/replica.env: PG_REPLICA_PORT, DATABASE_READ_URL (ct_admin) and
# CONNECTION_SERVICE_DATABASE_READ_URL (connection-service's role), from .udaconnect/env.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="$ROOT/.udaconnect"
PG_MAJOR=${PG_MAJOR:-15}
PRIMARY_PORT=5432
REPLICA=replica
REPLICA_PORT=${PG_REPLICA_PORT:-5433}
REPL_ROLE=udaconnect_replicator
PWFILE="$STATE/pg-replication-password"
ENV_OUT="$STATE/replica.env"
DATA="/var/lib/postgresql/$PG_MAJOR/$REPLICA"
CONF="/etc/postgresql/$PG_MAJOR/$REPLICA"
PRIMARY_HBA="/etc/postgresql/$PG_MAJOR/main/pg_hba.conf"

log() { printf '\033[1;34m[pg-replica]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[pg-replica] %s\033[0m\n' "$*" >&2; exit 1; }

# SQL as the postgres superuser over the local socket (peer authentication), one value per line.
psql_primary() { su postgres -c "psql -p $PRIMARY_PORT -v ON_ERROR_STOP=1 -XAtq" <<<"$1"; }
psql_replica() { su postgres -c "psql -p $REPLICA_PORT -v ON_ERROR_STOP=1 -XAtq" <<<"$1"; }

cluster_status() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" -v c="$1" '$1==v && $2==c {print $4}'; }
replica_exists() { [ -n "$(cluster_status "$REPLICA")" ]; }
replica_online() { cluster_status "$REPLICA" | grep -q online; }

# ---------------------------------------------------------------- the primary's side
password() {
  mkdir -p "$STATE"
  [ -s "$PWFILE" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PWFILE")
  chmod 600 "$PWFILE"
  cat "$PWFILE"
}

# A replication connection as the role, as the replica's walreceiver makes it (TCP, password).
replication_login_works() {
  PGPASSWORD=$(password) psql "host=127.0.0.1 port=$PRIMARY_PORT user=$REPL_ROLE dbname=replication replication=true connect_timeout=5" \
    -XAtqc 'IDENTIFY_SYSTEM' >/dev/null 2>&1
}

ensure_replication_access() {
  replication_login_works && return 0
  local pw
  pw=$(password)
  psql_primary "SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$REPL_ROLE') THEN
    CREATE ROLE $REPL_ROLE LOGIN REPLICATION PASSWORD '$pw';
  ELSE
    ALTER ROLE $REPL_ROLE LOGIN REPLICATION PASSWORD '$pw';
  END IF;
END \$\$;" >/dev/null
  replication_login_works && { log "replication role $REPL_ROLE ready"; return 0; }
  # Debian's pg_hba.conf lets `all` replicate from localhost; one that does not gets a line for the role.
  if ! grep -Eq "^[[:space:]]*host[[:space:]]+replication[[:space:]]+(all|$REPL_ROLE)[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5)" "$PRIMARY_HBA"; then
    log "adding 'host replication $REPL_ROLE 127.0.0.1/32 scram-sha-256' to $PRIMARY_HBA and reloading the primary"
    printf '# Added by UdaConnect scripts/pg-replica.sh: the streaming replica (cluster %s %s).\nhost    replication     %s    127.0.0.1/32    scram-sha-256\n' \
      "$PG_MAJOR" "$REPLICA" "$REPL_ROLE" >>"$PRIMARY_HBA"
    pg_ctlcluster "$PG_MAJOR" main reload
    sleep 0.5
  fi
  replication_login_works || die "$REPL_ROLE cannot open a replication connection to localhost:$PRIMARY_PORT (see $PRIMARY_HBA and the primary's log)"
}

# ---------------------------------------------------------------- the replica
# Settings of the replica only (its own conf.d): hot_standby_feedback keeps the primary's VACUUM from
# removing rows a running proximity query still reads on the replica, so such queries are not
# cancelled by replay (at the price of some bloat on the primary while they run).
write_replica_conf() {
  mkdir -p "$CONF/conf.d"
  cat >"$CONF/conf.d/udaconnect-replica.conf" <<'CONFEOF'
# Written by UdaConnect's scripts/pg-replica.sh.
hot_standby = on
hot_standby_feedback = on
CONFEOF
  chown -R postgres:postgres "$CONF/conf.d"
}

# Clones the primary into the replica's data directory: a fresh base backup (fast checkpoint, WAL
# streamed alongside) with standby.signal and primary_conninfo written by -R.
rebuild() {
  log "cloning the primary into cluster $PG_MAJOR/$REPLICA ($1)"
  if replica_online; then pg_ctlcluster "$PG_MAJOR" "$REPLICA" stop -m fast; fi
  ensure_replication_access
  install -d -o postgres -g postgres -m 700 "$DATA"
  find "$DATA" -mindepth 1 -delete
  local started=$SECONDS
  (
    PGPASSWORD=$(password)
    export PGPASSWORD
    su postgres -c "pg_basebackup -h 127.0.0.1 -p $PRIMARY_PORT -U $REPL_ROLE -D '$DATA' -R -X stream -c fast --no-password"
  ) || die "pg_basebackup failed"
  log "base backup done in $((SECONDS - started)) s ($(du -sh "$DATA" | cut -f1))"
}

create_cluster() {
  log "creating PostgreSQL cluster $PG_MAJOR/$REPLICA on port $REPLICA_PORT"
  # A data directory left without its cluster's configuration would be "integrated" by
  # pg_createcluster, which needs a postgresql.conf in it that a clone of a Debian cluster lacks.
  if [ -e "$DATA" ]; then rm -rf "$DATA"; fi
  pg_createcluster "$PG_MAJOR" "$REPLICA" --port "$REPLICA_PORT" >/dev/null
  write_replica_conf
  rebuild "new cluster"
}

# Why the data directory cannot be started as a follower of this primary (empty: it can).
data_dir_problem() {
  [ -f "$DATA/PG_VERSION" ] || { echo "no data directory"; return; }
  [ -f "$DATA/standby.signal" ] || { echo "not a standby (promoted?)"; return; }
  local want have
  want=$(psql_primary 'SELECT system_identifier FROM pg_control_system()')
  have=$("/usr/lib/postgresql/$PG_MAJOR/bin/pg_controldata" "$DATA" 2>/dev/null | awk -F: '/Database system identifier/ {gsub(/ /, "", $2); print $2}')
  [ "$want" = "$have" ] || echo "cloned from another primary (system identifier ${have:-unreadable}, the primary's $want)"
}

start_replica() {
  replica_online && return 0
  log "starting PostgreSQL $PG_MAJOR/$REPLICA on port $REPLICA_PORT"
  # 9>&-: the server must not inherit (and so hold) this script's lock.
  pg_ctlcluster "$PG_MAJOR" "$REPLICA" start 9>&-
}

# True once the replica answers read-only queries, streams from the primary and has replayed what the
# primary had written when this was called; tries for up to $1 seconds.
caught_up() {
  local secs=$1 target i
  target=$(psql_primary 'SELECT pg_current_wal_flush_lsn()')
  for ((i = 0; i < secs * 5; i++)); do
    if [ "$(psql_replica "SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= '$target'::pg_lsn
                            AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null)" = t ]; then return 0; fi
    sleep 0.2
  done
  return 1
}

write_env() {
  local primary_env="$STATE/env" admin role
  [ -f "$primary_env" ] || die "$primary_env is missing: run scripts/provision.sh first"
  admin=$(sed -n 's/^DATABASE_URL=//p' "$primary_env")
  role=$(sed -n 's/^CONNECTION_SERVICE_DATABASE_URL=//p' "$primary_env")
  case "$admin" in
    *@localhost:$PRIMARY_PORT/*) ;;
    *) die "DATABASE_URL in $primary_env is not the local cluster on port $PRIMARY_PORT: this script replicates that one only" ;;
  esac
  local want
  want="# Written by scripts/pg-replica.sh: the local read-only replica (PostgreSQL $PG_MAJOR/$REPLICA).
PG_REPLICA_PORT=$REPLICA_PORT
DATABASE_READ_URL=${admin/@localhost:$PRIMARY_PORT\//@localhost:$REPLICA_PORT/}
CONNECTION_SERVICE_DATABASE_READ_URL=${role/@localhost:$PRIMARY_PORT\//@localhost:$REPLICA_PORT/}"
  [ "$(cat "$ENV_OUT" 2>/dev/null)" = "$want" ] && return
  (umask 077 && printf '%s\n' "$want" >"$ENV_OUT")
}

ensure() {
  [ "$(id -u)" -eq 0 ] || die "run as root (pg_createcluster, pg_ctlcluster and su postgres)"
  command -v pg_createcluster >/dev/null || die "postgresql-common is not installed: run scripts/provision.sh first"
  cluster_status main | grep -q online || die "the primary ($PG_MAJOR/main) is not running: run scripts/provision.sh first"
  if ! replica_exists; then
    create_cluster
  else
    local problem
    problem=$(data_dir_problem)
    if [ -n "$problem" ]; then rebuild "$problem"; fi
  fi
  if ! start_replica; then
    rebuild "it did not start (log: /var/log/postgresql/postgresql-$PG_MAJOR-$REPLICA.log)"
    start_replica || die "the rebuilt replica does not start: see /var/log/postgresql/postgresql-$PG_MAJOR-$REPLICA.log"
  fi
  # A test that paused replay and died leaves it paused: a replica that never moves is no replica.
  if [ "$(psql_replica 'SELECT pg_is_in_recovery() AND pg_is_wal_replay_paused()' 2>/dev/null)" = t ]; then
    log "replay was paused: resuming it"
    psql_replica 'SELECT pg_wal_replay_resume()' >/dev/null
  fi
  if ! caught_up 20; then
    rebuild "it did not catch up with the primary within 20 s (log: /var/log/postgresql/postgresql-$PG_MAJOR-$REPLICA.log)"
    start_replica
    caught_up 60 || die "the rebuilt replica does not follow the primary: see /var/log/postgresql/postgresql-$PG_MAJOR-$REPLICA.log"
  fi
  write_env
  log "read-only replica ready on localhost:$REPLICA_PORT (URLs in ${ENV_OUT#"$ROOT"/})"
}

stop() {
  if replica_online; then
    log "stopping PostgreSQL $PG_MAJOR/$REPLICA"
    pg_ctlcluster "$PG_MAJOR" "$REPLICA" stop -m fast
  fi
}

status() {
  if ! replica_exists; then
    echo "no replica cluster ($PG_MAJOR/$REPLICA): bash scripts/pg-replica.sh ensure"
    return 3
  fi
  pg_lsclusters "$PG_MAJOR" "$REPLICA"
  replica_online || return 3
  psql_replica "SELECT 'in recovery: ' || pg_is_in_recovery() || ', replay paused: ' || pg_is_wal_replay_paused()
                    || ', receiver: ' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')
                    || ', replayed up to ' || pg_last_wal_replay_lsn()
                    || ', last replayed commit ' || coalesce(to_char(pg_last_xact_replay_timestamp(), 'YYYY-MM-DD HH24:MI:SS.MS TZ'), 'none')"
  psql_primary "SELECT 'primary: sent ' || sent_lsn || ', replayed ' || replay_lsn || ' (' || pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)
                    || ' bytes behind, replay lag ' || coalesce(replay_lag::text, 'none') || ')'
                  FROM pg_stat_replication WHERE usename = '$REPL_ROLE'"
}

replay() {
  replica_online || die "the replica is not running: bash scripts/pg-replica.sh ensure"
  psql_replica "SELECT pg_wal_replay_$1()" >/dev/null
  log "replay ${1}d"
}

# One of these at a time (two test runs may call ensure at once).
mkdir -p "$STATE"
exec 9>"$STATE/.pg-replica.lock"
flock -w 180 9 || die "another pg-replica.sh still holds $STATE/.pg-replica.lock after 180 s"

case "${1:-}" in
  ensure) ensure ;;
  stop) stop ;;
  status) status ;;
  pause-replay) replay pause ;;
  resume-replay) replay resume ;;
  *) die "usage: bash scripts/pg-replica.sh ensure|stop|status|pause-replay|resume-replay" ;;
esac
