# Redis 7 from Debian's redis-server, no persistence, loopback only.
redis_ports() { echo "$REDIS_PORT"; }

redis_install() { command -v redis-server >/dev/null || apt_ensure redis-server; }

redis_start() {
  mkdir -p "$STACK_DIR/redis"
  start_daemon redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STACK_DIR/redis" \
    --save '' --appendonly no --daemonize no --protected-mode yes
  wait_for redis 30
}

redis_probe() {
  [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] || return 1
  printf 'Redis %s' "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server | sed -n 's/^redis_version:\(.*\)\r$/\1/p')"
}
