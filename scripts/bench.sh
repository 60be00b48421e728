#!/usr/bin/env bash
# make bench [BENCH=core|capture|projections|sagas|e2e|all]: release benchmarks against the
# real stack, appending one JSON object per figure to target/bench/results.jsonl:
#   {"bench": "...", "value": N, "unit": "...", "baseline": "...", "baseline_value": N, "ratio": R}
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

area="${1:-all}"
case "$area" in
  all|core|capture|projections|sagas|e2e) ;;
  *) echo "error: unknown BENCH=$area (one of core, capture, projections, sagas, e2e, all)" >&2; exit 2 ;;
esac

# The runner is the keel-bench binary (bench/): it runs the areas whose benchmark exists (core,
# capture, projections, sagas, e2e), says "not built yet" for the others, and exits 2 when the area asked for has none.
# capture compares keel-capture with Debezium in the same run, so it needs the optional debezium
# service; KEEL_BENCH_CAPTURE_ROWS / _UPDATES / _LATENCY_SECS scale it down (defaults 1,000,000
# rows, 100,000 transactions, 10 s).
case "$area" in
  all|capture) export DEBEZIUM=1 ;;
esac
bash scripts/stack/stack.sh up
if [[ "$area" == e2e || "$area" == all ]]; then
  # The e2e benchmark runs the example's release binary.
  cargo build --release -p ecommerce
fi
cargo run --release -p keel-bench -- "$area"
