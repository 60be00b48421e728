#!/usr/bin/env bash
# make demo [ORDERS=2000] [RATE=100] [SAGA=orchestration] [KILLS=0] [RELEASE=1]: brings the stack
# up and runs the e-commerce example end to end (examples/ecommerce): a fresh deployment, every
# role as its own process, the load, the checks, the figures, and one JSON line at the end.
# Exits non-zero when a check fails. The release build by default: its latencies are what the
# example does (the debug build queues 100 orders/s for seconds in the translator). RELEASE=0
# runs the debug build instead, the one `make test` builds (a shorter first build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/stack/stack.sh up
echo
echo "==> building the example (the first build compiles every dependency: several minutes)"
profile=debug
if [[ "${RELEASE:-1}" != 0 ]]; then
  profile=release
  cargo build --release -p ecommerce
else
  cargo build -p ecommerce
fi
"./target/$profile/ecommerce" demo \
  --orders "${ORDERS:-2000}" --rate "${RATE:-100}" --saga "${SAGA:-orchestration}" --kills "${KILLS:-0}"
