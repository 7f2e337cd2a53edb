#!/bin/bash
# The part of postgis/postgis's docker-entrypoint.sh that deployment/postgis.yaml relies on: an
# empty PGDATA is initialised with POSTGRES_USER (superuser) / POSTGRES_PASSWORD, POSTGRES_DB is
# created with the postgis extension, clients authenticate with scram-sha-256 over TCP; then
# postgres runs as PID 1 with the container's args (leading "-c …" options go to postgres).
set -euo pipefail
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
shift
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${PGDATA:=/var/lib/postgresql/data}"
mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "postgis: POSTGRES_PASSWORD is required to initialise $PGDATA" >&2; exit 1; }
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
  printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c 'CREATE EXTENSION IF NOT EXISTS postgis'
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgis: initialised $PGDATA (database $POSTGRES_DB, superuser $POSTGRES_USER)"
fi
exec postgres -c listen_addresses='*' "$@"
