# Apache Kafka 4.x in KRaft mode: one node that is both broker and controller, loopback only.
# Jars come from Maven Central (org.apache.kafka:kafka_2.13 and its runtime dependencies, plus the
# SLF4J -> Log4j 2 binding) into $KEEL_CACHE/kafka-$KAFKA_VERSION; it runs on the machine's Java 17.
# Runtime state (config rendered from scripts/stack/kafka/server.properties, the formatted log dirs)
# lives in $STACK_DIR/kafka; delete that folder to start from an empty cluster.
KAFKA_NODE_ID=1
# Fixed cluster id: base64url of the 16 bytes "keel-local-kafka".
KAFKA_CLUSTER_ID=a2VlbC1sb2NhbC1rYWZrYQ

kafka_ports() { echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT"; }

kafka_home() { printf '%s/kafka-%s' "$KEEL_CACHE" "$KAFKA_VERSION"; }

# Major version of the java on PATH (17 for "17.0.15"), empty when there is none.
kafka_java_major() {
  command -v java >/dev/null 2>&1 || return 0
  java -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\).*/\1/p' | head -n1
}

# The version of a jar in a folder, from its file name: kafka_jar_version DIR NAME.
kafka_jar_version() {
  local f
  for f in "$1/$2"-[0-9]*.jar; do
    [ -e "$f" ] || continue
    f="${f##*/}"; f="${f#"$2"-}"; printf '%s' "${f%.jar}"; return 0
  done
  return 1
}

# The SLF4J binding that matches the slf4j-api Kafka brings (1.x: log4j-slf4j-impl, 2.x:
# log4j-slf4j2-impl), at the Log4j version Kafka brings. Prints groupId:artifactId:version.
kafka_binding_gav() {
  local lib="$1" log4j slf4j artifact=log4j-slf4j-impl
  log4j="$(kafka_jar_version "$lib" log4j-core)" || die "kafka: no log4j-core jar in $lib (delete $(kafka_home) and retry)"
  slf4j="$(kafka_jar_version "$lib" slf4j-api)" || die "kafka: no slf4j-api jar in $lib (delete $(kafka_home) and retry)"
  case "$slf4j" in 1.*) ;; *) artifact='log4j-slf4j2-impl' ;; esac
  printf 'org.apache.logging.log4j:%s:%s' "$artifact" "$log4j"
}

kafka_classpath() {
  local home gav a v
  home="$(kafka_home)"; gav="$(kafka_binding_gav "$home/lib")"
  IFS=: read -r _ a v <<<"$gav"
  printf '%s/lib/*:%s/slf4j-binding/%s-%s.jar' "$home" "$home" "$a" "$v"
}

kafka_install() {
  local major home binding
  command -v java >/dev/null 2>&1 || apt_ensure openjdk-17-jre-headless
  major="$(kafka_java_major)"
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    die "kafka: Kafka $KAFKA_VERSION needs Java 17 or newer; 'java' on PATH is $(java -version 2>&1 | head -n1)"
  fi
  command -v kcat >/dev/null 2>&1 || apt_ensure kcat
  home="$(kafka_home)"
  maven_fetch "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" "$home/lib"
  binding="$(kafka_binding_gav "$home/lib")"
  maven_fetch "$binding" "$home/slf4j-binding"
}

# Writes $STACK_DIR/kafka/server.properties from the template and formats the storage once.
kafka_configure() {
  local dir="$STACK_DIR/kafka" cp log
  mkdir -p "$dir/data"
  sed -e "s|@NODE_ID@|$KAFKA_NODE_ID|g; s|@PORT@|$KAFKA_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g; s|@DATA_DIR@|$dir/data|g" \
      "$STACK_LIB_DIR/kafka/server.properties" >"$dir/server.properties"
  [ -f "$dir/data/meta.properties" ] && return 0
  cp="$(kafka_classpath)"; log="$STACK_DIR/logs/kafka-format.log"
  say "kafka: formatting storage in $dir/data (cluster id $KAFKA_CLUSTER_ID)"
  if ! java -Xmx256m -cp "$cp" -Dlog4j2.configurationFile="$STACK_LIB_DIR/kafka/log4j2.xml" \
        kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$dir/server.properties" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "kafka: formatting $dir/data failed (log: $log; delete $dir to start over)"
  fi
}

kafka_start() {
  local cp
  kafka_configure
  cp="$(kafka_classpath)"
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of JVM flags
  start_daemon kafka java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$STACK_LIB_DIR/kafka/log4j2.xml" \
    -cp "$cp" kafka.Kafka "$STACK_DIR/kafka/server.properties"
  wait_for kafka 90
}

# A metadata request through kcat; answers within ~5 s when the broker is down or hung.
kafka_probe() {
  local out brokers pid version=""
  command -v kcat >/dev/null 2>&1 || return 1
  # Nothing listening: fail at once instead of letting kcat wait out its timeout.
  ss -ltnH "sport = :$KAFKA_PORT" 2>/dev/null | grep -q . || return 1
  # Metadata for one absent topic (small answer); allow.auto.create.topics=false so that the
  # broker's auto.create.topics.enable does not create it.
  out="$(timeout 6 kcat -b "127.0.0.1:$KAFKA_PORT" -X allow.auto.create.topics=false \
           -L -t __keel_probe -m 5 2>/dev/null)" || return 1
  brokers="$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9][0-9]*\) brokers:.*/\1/p' | head -n1)"
  [ -n "$brokers" ] && [ "$brokers" -ge 1 ] || return 1
  # The version is not in the protocol; take it from our process's classpath when it is ours.
  if pid_alive kafka; then
    pid="$(cat "$(pidfile kafka)")"
    version="$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | sed -n 's|.*/kafka-\([0-9][^/]*\)/lib/.*|\1|p' | head -n1)"
  fi
  printf 'Kafka %s(KRaft, %s broker%s)' "${version:+$version }" "$brokers" "$([ "$brokers" = 1 ] || echo s)"
}

# Stops the process group in the pid file, then any Kafka of this stack left without a pid file
# (found by its exact config path, so nothing else is touched).
kafka_stop() {
  local conf="$STACK_DIR/kafka/server.properties" p
  stop_pid kafka
  for p in /proc/[0-9]*; do
    grep -qsxzF -- "$conf" "$p/cmdline" || continue   # one NUL-separated argument equals it
    kill -TERM "${p#/proc/}" 2>/dev/null || true
    for _ in $(seq 1 60); do [ -d "$p" ] || break; sleep 0.5; done
    kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
}
