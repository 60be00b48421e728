#!/usr/bin/env bash
# make demo [ORDERS=2000] [RATE=100] [SAGA=orchestration] [KILLS=0] [RELEASE=0]: brings the stack
# up and runs the e-commerce example end to end (examples/ecommerce): a fresh deployment, every
# role as its own process, the load, the checks, the figures, and one JSON line at the end.
# Exits non-zero when a check fails. The debug build by default (the one `make test` builds);
# RELEASE=1 builds and runs the release build, whose latencies are the benchmark's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/stack/stack.sh up
echo
echo "==> building the example (the first build compiles every dependency: several minutes)"
profile=debug
if [[ "${RELEASE:-0}" == 1 ]]; then
  profile=release
  cargo build --release -p ecommerce
else
  cargo build -p ecommerce
fi
"./target/$profile/ecommerce" demo \
  --orders "${ORDERS:-2000}" --rate "${RATE:-100}" --saga "${SAGA:-orchestration}" --kills "${KILLS:-0}"
