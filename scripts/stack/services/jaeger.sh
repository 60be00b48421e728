# Jaeger v2 (cmd/jaeger, OpenTelemetry-collector based) built from the Go module proxy,
# in-memory storage, loopback only: OTLP gRPC/HTTP receivers and the query API + UI.
# The UI is a placeholder page (the module ships no UI assets); the HTTP API works.
# Config: scripts/stack/jaeger/config.yaml (ports come from versions.env through the environment).

JAEGER_MODULE=github.com/jaegertracing/jaeger
# The query service's gRPC API; not in versions.env, it is not something we use.
JAEGER_QUERY_GRPC_PORT="${JAEGER_QUERY_GRPC_PORT:-16685}"

jaeger_bin() { printf '%s/jaeger-%s/jaeger' "$KEEL_CACHE" "$JAEGER_VERSION"; }

jaeger_ports() { echo "$JAEGER_OTLP_GRPC_PORT $JAEGER_OTLP_HTTP_PORT $JAEGER_QUERY_PORT"; }

# Finds the go command: PATH first, then the usual tarball location.
jaeger_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else die "jaeger: Go is needed to build Jaeger $JAEGER_VERSION (install it from https://go.dev/dl/ into /usr/local/go)"
  fi
}

# Builds cmd/jaeger from the module's own go.mod (it has a replace directive, so `go install pkg@version`
# refuses it): download the module, copy it somewhere writable, go build inside it.
jaeger_install() {
  local bin dest go log dir work start
  bin="$(jaeger_bin)"
  [ -x "$bin" ] && return 0
  dest="$(dirname "$bin")"; mkdir -p "$dest"
  go="$(jaeger_go)"; log="$STACK_DIR/logs/jaeger-build.log"
  say "building Jaeger $JAEGER_VERSION (cmd/jaeger) from the Go module proxy; with an empty Go module and build cache this takes 6-9 minutes on 2 cores (log: $log)"
  start="$(date +%s)"
  : >"$log"
  dir="$("$go" mod download -json "$JAEGER_MODULE@$JAEGER_VERSION" 2>>"$log" \
          | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')" || true
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    tail -n 20 "$log" >&2; die "jaeger: could not download $JAEGER_MODULE@$JAEGER_VERSION (log: $log)"
  fi
  work="$(mktemp -d "$dest/build.XXXXXX")"
  cp -R "$dir/." "$work/src"
  chmod -R u+w "$work/src"
  if ! (cd "$work/src" && "$go" build -buildvcs=false -trimpath \
          -ldflags "-s -w -X $JAEGER_MODULE/internal/version.latestVersion=$JAEGER_VERSION" \
          -o "$work/jaeger" ./cmd/jaeger) >>"$log" 2>&1; then
    grep -v '^go: downloading' "$log" | tail -n 20 >&2
    rm -rf "$work"
    die "jaeger: go build ./cmd/jaeger of $JAEGER_MODULE@$JAEGER_VERSION failed (log: $log)"
  fi
  mv "$work/jaeger" "$bin"
  rm -rf "$work"
  say "built $bin in $(( $(date +%s) - start ))s"
}

jaeger_start() {
  port_free_or_die "$JAEGER_QUERY_GRPC_PORT" jaeger
  start_daemon jaeger env \
    JAEGER_OTLP_GRPC_PORT="$JAEGER_OTLP_GRPC_PORT" JAEGER_OTLP_HTTP_PORT="$JAEGER_OTLP_HTTP_PORT" \
    JAEGER_QUERY_PORT="$JAEGER_QUERY_PORT" JAEGER_QUERY_GRPC_PORT="$JAEGER_QUERY_GRPC_PORT" \
    "$(jaeger_bin)" --config "$STACK_LIB_DIR/jaeger/config.yaml"
  wait_for jaeger 60
}

jaeger_probe() {
  curl -fsS --max-time 3 "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" >/dev/null || return 1
  ss -ltnH "sport = :$JAEGER_OTLP_GRPC_PORT" 2>/dev/null | grep -q . || return 1
  ss -ltnH "sport = :$JAEGER_OTLP_HTTP_PORT" 2>/dev/null | grep -q . || return 1
  printf 'Jaeger %s (OTLP %s/%s, query %s)' "$JAEGER_VERSION" \
    "$JAEGER_OTLP_GRPC_PORT" "$JAEGER_OTLP_HTTP_PORT" "$JAEGER_QUERY_PORT"
}
