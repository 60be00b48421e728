#!/usr/bin/env bash
# The local stack without Docker:  stack.sh up|status|down [service ...]
# Services: mariadb postgres redis kafka elasticsearch jaeger (all by default), and the optional
# debezium (Kafka Connect + Debezium), which `up` starts by default only when DEBEZIUM=1.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SERVICES="mariadb postgres redis kafka elasticsearch jaeger"
OPTIONAL_SERVICES="debezium"
for f in "$STACK_LIB_DIR"/services/*.sh; do . "$f"; done

cmd="${1:-status}"; shift || true
# Without a list: the core services, plus the optional ones for status and down (so they are
# shown and stopped), and for up only when asked (DEBEZIUM=1).
if [ $# -gt 0 ]; then services="$*"
elif [ "$cmd" = up ] && [ "${DEBEZIUM:-0}" != 1 ]; then services="$ALL_SERVICES"
else services="$ALL_SERVICES $OPTIONAL_SERVICES"
fi

# One line per service: name, state, address, detail.
line() { printf '%-14s %-5s %-28s %s\n' "$1" "$2" "$3" "$4"; }
addr() { local p out=""; for p in $("${1}_ports"); do out="${out:+$out,}127.0.0.1:$p"; done; printf '%s' "$out"; }

# An optional service that was not asked for (not running, no DEBEZIUM=1): not an error.
idle() {
  declare -F "${1}_idle" >/dev/null && [ "${DEBEZIUM:-0}" != 1 ] && ! pid_alive "$1"
}

status_one() {
  local svc="$1" detail
  if detail="$("${svc}_probe" 2>/dev/null)"; then line "$svc" up "$(addr "$svc")" "$detail"; return 0
  elif idle "$svc"; then line "$svc" off "$(addr "$svc")" "$("${svc}_idle")"; return 0
  else line "$svc" down "$(addr "$svc")" "$(pid_alive "$svc" && echo "process running, not answering; see $(logfile "$svc")" || echo "not running")"; return 1
  fi
}

up_one() {
  local svc="$1" port
  if "${svc}_probe" >/dev/null 2>&1; then status_one "$svc"; return; fi
  if pid_alive "$svc"; then stop_pid "$svc"; fi   # ours but not answering: restart it
  "${svc}_install"
  for port in $("${svc}_ports"); do port_free_or_die "$port" "$svc"; done
  "${svc}_start"
  status_one "$svc"
}

down_one() {
  local svc="$1"
  if declare -F "${svc}_stop" >/dev/null; then "${svc}_stop"; else stop_pid "$svc"; fi
  line "$svc" down "$(addr "$svc")" stopped
}

case "$cmd" in
  up)
    apt_ensure $APT_PACKAGES
    for s in $services; do up_one "$s"; done ;;
  status)
    rc=0; for s in $services; do status_one "$s" || rc=1; done; exit "$rc" ;;
  down)
    # Reverse order: consumers of a service stop before it.
    for s in $(printf '%s\n' $services | tac); do down_one "$s"; done ;;
  *) die "usage: stack.sh up|status|down [service ...]" ;;
esac
