# PostgreSQL 15 from Debian's postgresql-15. A cluster of our own (not the system one), with a
# role and database `keel` (password `keel`) for the event store. When run as root the server
# runs as the `postgres` system user, which must be able to reach its data directory: if it
# cannot reach $STACK_DIR (e.g. a clone under /root), the data lives under /var/tmp/keel-<uid>-<hash>.
postgres_ports() { echo "$POSTGRES_PORT"; }

postgres_bin() { printf '/usr/lib/postgresql/%s/bin' "$POSTGRES_MAJOR"; }

postgres_install() { [ -x "$(postgres_bin)/postgres" ] || apt_ensure "postgresql-$POSTGRES_MAJOR" "postgresql-client-$POSTGRES_MAJOR"; }

# Runs a command as the user that owns the cluster.
postgres_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

postgres_datadir() {
  local dir="$STACK_DIR/postgres"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$STACK_DIR"; then
    dir="/var/tmp/keel-$(id -u)-$(printf '%s' "$REPO_ROOT" | md5sum | cut -c1-8)/postgres"
  fi
  printf '%s' "$dir"
}

postgres_start() {
  local data; data="$(postgres_datadir)"
  if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown -R postgres: "$(dirname "$data")" && chmod 700 "$data"
    postgres_as "$(postgres_bin)/initdb" -D "$data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STACK_DIR/logs/postgres-initdb.log" 2>&1 \
      || { tail -n 20 "$STACK_DIR/logs/postgres-initdb.log" >&2; die "postgres: initdb failed"; }
  fi
  local as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  start_daemon postgres "${as[@]}" "$(postgres_bin)/postgres" -D "$data" \
    -c listen_addresses=127.0.0.1 -p "$POSTGRES_PORT" -c unix_socket_directories="$data" \
    -c max_connections=300 -c shared_buffers=512MB -c max_wal_size=4GB \
    -c logging_collector=off
  wait_for postgres 60 postgres_socket_probe
  postgres_as "$(postgres_bin)/psql" -h "$data" -p "$POSTGRES_PORT" -U postgres -v ON_ERROR_STOP=1 -q \
    -f "$STACK_LIB_DIR/postgres/init.sql" >/dev/null || die "postgres: applying scripts/stack/postgres/init.sql failed"
  wait_for postgres 30
}

# Answers before the keel role exists (used during start).
postgres_socket_probe() { postgres_as "$(postgres_bin)/pg_isready" -q -h "$(postgres_datadir)" -p "$POSTGRES_PORT"; }

postgres_probe() {
  local v
  v="$(PGPASSWORD=keel PGCONNECT_TIMEOUT=2 psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U keel -d keel -Atc 'show server_version' 2>/dev/null)" || return 1
  printf 'PostgreSQL %s (role and database keel)' "${v%% *}"
}
