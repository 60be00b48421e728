# Kafka Connect standalone with Debezium's MariaDB connector, for the conformance test and the
# capture benchmark (keel-capture compared with the real thing). Optional: `make up` starts it
# only with DEBEZIUM=1 (make test always asks for it); `stack.sh up debezium` starts it alone.
# Jars come from Maven Central with Maven, like Kafka's:
#   org.apache.kafka:connect-runtime:$KAFKA_VERSION and its runtime dependencies (connect-api,
#   connect-json, connect-transforms, Jetty, Jersey) into $KEEL_CACHE/connect-$KAFKA_VERSION,
#   plus the SLF4J -> Log4j 2 binding Kafka already fetched;
#   io.debezium:debezium-connector-mariadb:$DEBEZIUM_VERSION and its runtime dependencies into
#   $KEEL_CACHE/debezium-$DEBEZIUM_VERSION/debezium-connector-mariadb, a plugin folder (its own
#   class loader, so its Jackson does not meet Connect's).
# The worker (scripts/stack/debezium/connect-standalone.properties, rendered into
# $STACK_DIR/debezium) keeps source offsets in $STACK_DIR/debezium/connect.offsets, writes JSON
# through JsonConverter and serves its REST API on loopback; tests add connectors with
# POST /connectors and remove them with DELETE. It needs Kafka up. Heap: KEEL_CONNECT_HEAP.

debezium_ports() { echo "$CONNECT_PORT"; }

connect_home() { printf '%s/connect-%s' "$KEEL_CACHE" "$KAFKA_VERSION"; }
debezium_plugins() { printf '%s/debezium-%s' "$KEEL_CACHE" "$DEBEZIUM_VERSION"; }

debezium_install() {
  kafka_install   # Java 17, kcat, and the Log4j binding jars the worker shares
  maven_fetch "org.apache.kafka:connect-runtime:$KAFKA_VERSION" "$(connect_home)/lib"
  maven_fetch "io.debezium:debezium-connector-mariadb:$DEBEZIUM_VERSION" \
    "$(debezium_plugins)/debezium-connector-mariadb"
}

debezium_start() {
  local dir="$STACK_DIR/debezium" home
  kafka_probe >/dev/null 2>&1 \
    || die "debezium: Kafka does not answer on 127.0.0.1:$KAFKA_PORT; Kafka Connect needs it (run make up DEBEZIUM=1)"
  home="$(kafka_home)"
  mkdir -p "$dir"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g; s|@PORT@|$CONNECT_PORT|g" \
      -e "s|@STATE_DIR@|$dir|g; s|@PLUGIN_PATH@|$(debezium_plugins)|g" \
      "$STACK_LIB_DIR/debezium/connect-standalone.properties" >"$dir/connect-standalone.properties"
  # shellcheck disable=SC2086  # KEEL_CONNECT_HEAP is a list of JVM flags
  start_daemon debezium java ${KEEL_CONNECT_HEAP:--Xms128m -Xmx1g} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$STACK_LIB_DIR/debezium/log4j2.xml" \
    -cp "$(connect_home)/lib/*:$home/slf4j-binding/*" \
    org.apache.kafka.connect.cli.ConnectStandalone "$dir/connect-standalone.properties"
  wait_for debezium 120
}

# GET / (the worker answers) and GET /connector-plugins (Debezium's MariaDB connector loaded).
debezium_probe() {
  local root plugins worker dbz
  root="$(curl -fsS --max-time 3 "http://127.0.0.1:$CONNECT_PORT/")" || return 1
  plugins="$(curl -fsS --max-time 5 "http://127.0.0.1:$CONNECT_PORT/connector-plugins")" || return 1
  worker="$(printf '%s' "$root" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')"
  dbz="$(printf '%s' "$plugins" | sed -n 's/.*"class":"io.debezium.connector.mariadb.MariaDbConnector","type":"source","version":"\([^"]*\)".*/\1/p')"
  [ -n "$dbz" ] || return 1
  printf 'Kafka Connect %s standalone, Debezium MariaDB %s' "$worker" "$dbz"
}

# Not started unless asked: make status says so instead of "down".
debezium_idle() { printf 'not requested (make up DEBEZIUM=1)'; }
