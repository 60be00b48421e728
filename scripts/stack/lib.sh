# Shared helpers for the local stack. Sourced, never run.
# Conventions: every service lives in services/<name>.sh and defines
#   <name>_install   idempotent; downloads into $KEEL_CACHE (outside the clone)
#   <name>_start     starts the process in the background, writes $STACK_DIR/<name>.pid
#   <name>_probe     a real request; prints a short detail (version) and returns 0 when it answers
#   <name>_ports     the ports it listens on, space separated
# plus optional <name>_stop (default: kill the pid in the pid file, then wait).
set -euo pipefail

STACK_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_LIB_DIR/../.." && pwd)"
# shellcheck source=versions.env
. "$STACK_LIB_DIR/versions.env"

KEEL_CACHE="${KEEL_CACHE:-$HOME/.cache/keel}"
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
mkdir -p "$KEEL_CACHE" "$STACK_DIR/logs"

say()  { printf '%s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo when it is available
# without a password, otherwise fails with the exact command the user has to run.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else die "this step needs root; run it yourself, then re-run make up:  sudo $*"
  fi
}

# Installs the Debian packages that are missing, with one apt-get call.
apt_ensure() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
    die "missing Debian packages; install them with:  sudo apt-get install -y ${missing[*]}"
  fi
  local log="$STACK_DIR/logs/apt.log"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$log" 2>&1; then
    as_root apt-get update -q >>"$log" 2>&1 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$log" 2>&1 \
      || { tail -n 20 "$log" >&2; die "apt-get install ${missing[*]} failed (log: $log)"; }
  fi
}

pidfile() { printf '%s/%s.pid' "$STACK_DIR" "$1"; }
logfile() { printf '%s/logs/%s.log' "$STACK_DIR" "$1"; }

# True when the pid recorded for a service is alive.
pid_alive() {
  local f; f="$(pidfile "$1")"
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# Fails naming the port and the process holding it when a port is taken by someone else.
port_free_or_die() {
  local port="$1" svc="$2" holder
  if ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; then
    holder="$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1)"
    die "$svc: port $port is already in use by ${holder:-another process} (stop it, or run make down if it is ours)"
  fi
}

# Starts a command detached from this shell, logging to .stack/logs/<svc>.log, pid in .stack/<svc>.pid.
start_daemon() {
  local svc="$1"; shift
  local log; log="$(logfile "$svc")"
  : >"$log"
  setsid nohup "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$svc")"
}

# Waits up to $2 seconds for <svc>_probe (or the probe function named by $3) to succeed;
# on failure prints the log tail and fails.
wait_for() {
  local svc="$1" timeout="$2" probe="${3:-${1}_probe}" deadline=$((SECONDS + $2))
  while ! "$probe" >/dev/null 2>&1; do
    if ! pid_alive "$svc"; then
      say "$svc exited during start; last lines of $(logfile "$svc"):"
      tail -n 30 "$(logfile "$svc")" >&2 || true
      die "$svc did not come up"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$svc did not answer within ${timeout}s; last lines of $(logfile "$svc"):"
      tail -n 30 "$(logfile "$svc")" >&2 || true
      die "$svc did not come up"
    fi
    sleep 1
  done
}

# Stops the process recorded in the pid file (its whole process group), waiting up to 30 s.
stop_pid() {
  local svc="$1" f pid i
  f="$(pidfile "$svc")"
  [ -s "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Downloads one Maven artifact with its runtime dependencies into $2 using a generated pom.
# $1 = groupId:artifactId:version, $2 = destination folder. Names the artifact on failure.
maven_fetch() {
  local gav="$1" dest="$2" g a v work log
  IFS=: read -r g a v <<<"$gav"
  [ -f "$dest/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || apt_ensure maven
  work="$(mktemp -d)"; log="$STACK_DIR/logs/maven-$a.log"
  sed -e "s|@GROUP@|$g|; s|@ARTIFACT@|$a|; s|@VERSION@|$v|" "$STACK_LIB_DIR/fetch-pom.xml" >"$work/pom.xml"
  say "downloading $gav and its runtime dependencies from Maven Central"
  if ! mvn -B -q -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$dest" >"$log" 2>&1; then
    grep -E 'ERROR' "$log" | head -n 5 >&2 || tail -n 10 "$log" >&2
    rm -rf "$work"
    die "could not download $gav from Maven Central (full log: $log)"
  fi
  rm -rf "$work"; touch "$dest/.complete"
}
