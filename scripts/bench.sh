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

# No area has its benchmark yet: each area's issue adds its runner here.
echo "no benchmark is built yet for BENCH=$area: each area's issue adds its own" >&2
exit 2
