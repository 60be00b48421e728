# Elasticsearch 8.14, single node, loopback only, security off, from Maven Central:
#   org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ELASTICSEARCH_VERSION:zip
# (Elastic's own minimal distribution: the real server with transport-netty4, x-pack-core and
# x-pack-security; no bundled JDK, so it runs on the machine's Java 17). It lacks the optional
# modules (painless, reindex, analysis-common, mapper-extras, aggregations, rest-root, ...):
# org.codelibs:elasticsearch-cluster-runner and org.codelibs.elasticsearch.module:* stop at 7.10.2
# on Maven Central, so there is no 8.x source for them.
#
# Elasticsearch refuses to run as root. As root we start it in a user namespace where it has uid
# 1000 (still root outside, so it reads the cache and writes .stack even under a 0700 /root);
# where user namespaces are unavailable, as the system user keel-es via runuser.
# KEEL_ES_RUNAS=userns|user forces one; KEEL_ES_HEAP overrides the heap (default -Xms1g -Xmx2g).
ES_GAV="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ELASTICSEARCH_VERSION:zip"
ES_HOME_DIR="$KEEL_CACHE/elasticsearch-$ELASTICSEARCH_VERSION"
ES_USER=keel-es

elasticsearch_ports() { echo "$ES_PORT"; }

elasticsearch_install() {
  [ -f "$ES_HOME_DIR/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || apt_ensure maven
  command -v unzip >/dev/null 2>&1 || apt_ensure unzip
  command -v java >/dev/null 2>&1 || apt_ensure openjdk-17-jre-headless
  # maven_fetch resolves jars only (its pom has no <type>), so this zip is fetched the same way by hand.
  local work log="$STACK_DIR/logs/maven-elasticsearch.log"
  work="$(mktemp -d "$KEEL_CACHE/.elasticsearch-XXXXXX")"
  say "downloading $ES_GAV from Maven Central"
  if ! (cd "$work" && mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
        -Dartifact="$ES_GAV" -DoutputDirectory="$work") >"$log" 2>&1; then
    grep -E 'ERROR' "$log" | head -n 5 >&2 || tail -n 10 "$log" >&2
    rm -rf "$work"
    die "could not download $ES_GAV from Maven Central (full log: $log)"
  fi
  unzip -q "$work/elasticsearch-$ELASTICSEARCH_VERSION.zip" -d "$work" \
    || { rm -rf "$work"; die "could not unpack elasticsearch-$ELASTICSEARCH_VERSION.zip"; }
  rm -rf "$ES_HOME_DIR"
  mv "$work/elasticsearch-$ELASTICSEARCH_VERSION" "$ES_HOME_DIR"
  rm -rf "$work"
  touch "$ES_HOME_DIR/.complete"
}

# How to drop root: "none" (not root), "userns" or "user".
es_runas_mode() {
  if [ "$(id -u)" != 0 ]; then echo none; return; fi
  case "${KEEL_ES_RUNAS:-}" in userns|user) echo "$KEEL_ES_RUNAS"; return ;; esac
  if unshare --user --map-user=1000 --map-group=1000 true 2>/dev/null; then echo userns; else echo user; fi
}

# Prints the first path of "$@" that the system user $ES_USER can create and write in.
es_user_writable_dir() {
  local d
  for d in "$@"; do
    mkdir -p "$d" && chown -R "$ES_USER:$ES_USER" "$d" \
      && runuser -u "$ES_USER" -- test -w "$d" -a -x "$d" && { printf '%s' "$d"; return 0; }
  done
  return 1
}

elasticsearch_start() {
  local mode home="$ES_HOME_DIR" run="$STACK_DIR/elasticsearch" java_home how="" prefix=()
  mode="$(es_runas_mode)"
  java_home="${ES_JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
  case "$mode" in
    userns)
      prefix=(unshare --user --map-user=1000 --map-group=1000)
      how=" (we are root: run in a user namespace as uid 1000)" ;;
    user)
      id -u "$ES_USER" >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
      # The cache is usually under /root (mode 0700): give the user a copy of the distribution.
      if ! runuser -u "$ES_USER" -- test -r "$home/lib/elasticsearch-$ELASTICSEARCH_VERSION.jar"; then
        home="/var/tmp/keel/elasticsearch-$ELASTICSEARCH_VERSION"
        if [ ! -f "$home/.complete" ]; then
          mkdir -p /var/tmp/keel && chmod 755 /var/tmp/keel
          rm -rf "$home" "$home.tmp"
          cp -a "$ES_HOME_DIR" "$home.tmp" && chmod -R a+rX "$home.tmp" && mv "$home.tmp" "$home"
        fi
      fi
      run="$(es_user_writable_dir "$run" "/var/tmp/keel/$(printf '%s' "$STACK_DIR" | cksum | cut -d' ' -f1)/elasticsearch")" \
        || die "elasticsearch: no data folder that $ES_USER can write"
      runuser -u "$ES_USER" -- test -x "$java_home/bin/java" || die "elasticsearch: $ES_USER cannot run $java_home/bin/java"
      prefix=(runuser -u "$ES_USER" --)
      how=" (we are root: run as $ES_USER)" ;;
  esac
  mkdir -p "$run/config" "$run/data" "$run/logs" "$run/tmp"
  cp "$STACK_LIB_DIR/elasticsearch/elasticsearch.yml" "$STACK_LIB_DIR/elasticsearch/jvm.options" \
     "$STACK_LIB_DIR/elasticsearch/log4j2.properties" "$run/config/"
  if [ "$mode" = user ]; then
    chown -R "$ES_USER:$ES_USER" "$run"
  elif [ "$mode" = userns ] && [ -n "$(find "$run" ! -user 0 -print -quit)" ]; then
    chown -R 0:0 "$run"   # left by a run as $ES_USER: not writable from the namespace otherwise
  fi
  say "elasticsearch: data in $run$how"
  start_daemon elasticsearch "${prefix[@]}" env -u JAVA_HOME -u JAVA_TOOL_OPTIONS -u JAVA_OPTS \
    ES_JAVA_HOME="$java_home" ES_PATH_CONF="$run/config" ES_TMPDIR="$run/tmp" \
    ES_JAVA_OPTS="${KEEL_ES_HEAP:--Xms1g -Xmx2g} -XX:ErrorFile=$run/logs/hs_err_pid%p.log" \
    "$home/bin/elasticsearch" \
      -Ecluster.name=keel-dev -Enode.name=keel-es \
      -Epath.data="$run/data" -Epath.logs="$run/logs" \
      -Ehttp.port="$ES_PORT" -Etransport.port=9300-9399
  wait_for elasticsearch 180
}

# A real request: the node's version (this build has no GET / handler) and cluster health.
elasticsearch_probe() {
  local base="http://127.0.0.1:$ES_PORT" nodes health version status
  nodes="$(curl -fsS --max-time 3 "$base/_nodes/_local?filter_path=nodes.*.version")" || return 1
  health="$(curl -fsS --max-time 3 "$base/_cluster/health")" || return 1
  version="$(printf '%s' "$nodes" | grep -o '"version":"[^"]*"' | head -n1 | cut -d'"' -f4)"
  status="$(printf '%s' "$health" | grep -o '"status":"[^"]*"' | cut -d'"' -f4)"
  case "$status" in green|yellow) ;; *) return 1 ;; esac
  printf 'Elasticsearch %s (%s)' "$version" "$status"
}
