# MariaDB 10.11 from Debian's mariadb-server, configured for CDC (ROW binlog, full images and
# metadata, GTID). Data in $STACK_DIR/mariadb. Logins: root with an empty password on loopback
# (dev only) and the CDC user keel/keel with the grants CDC needs.
mariadb_ports() { echo "$MARIADB_PORT"; }

mariadb_install() { command -v mariadbd >/dev/null || apt_ensure mariadb-server mariadb-client; }

mariadb_sock() { printf '%s/mariadb.sock' "$STACK_DIR"; }

mariadb_start() {
  local data="$STACK_DIR/mariadb" user_opt=()
  [ "$(id -u)" = 0 ] && user_opt=(--user=root)
  if [ ! -d "$data/mysql" ]; then
    mkdir -p "$data"
    mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$data" --skip-test-db \
      --auth-root-authentication-method=normal >"$STACK_DIR/logs/mariadb-install.log" 2>&1 \
      || { tail -n 20 "$STACK_DIR/logs/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
  fi
  start_daemon mariadb mariadbd --no-defaults "${user_opt[@]}" --datadir="$data" \
    --socket="$(mariadb_sock)" --pid-file="$STACK_DIR/mariadb/mariadbd.pid" \
    --bind-address=127.0.0.1 --port="$MARIADB_PORT" --skip-name-resolve \
    --server-id=1 --log-bin="$data/binlog" --binlog-format=ROW --binlog-row-image=FULL \
    --binlog-row-metadata=FULL --binlog-annotate-row-events=ON --log-bin-compress=OFF \
    --gtid-domain-id=0 --binlog-checksum=CRC32 --expire-logs-days=7 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=1 --max-connections=300
  wait_for mariadb 60
  mariadb --no-defaults --socket="$(mariadb_sock)" -uroot <"$STACK_LIB_DIR/mariadb/init.sql" \
    || die "mariadb: applying scripts/stack/mariadb/init.sql failed"
}

mariadb_probe() {
  local v
  v="$(mariadb --no-defaults --connect-timeout=2 -h127.0.0.1 -P"$MARIADB_PORT" -uroot -N -e 'select version()' 2>/dev/null)" || return 1
  [ -n "$v" ] && printf 'MariaDB %s (binlog ROW, GTID)' "${v%%-*}"
}

mariadb_stop() {
  # mariadbd flushes and exits cleanly on SIGTERM; stop_pid waits for it.
  stop_pid mariadb
}
