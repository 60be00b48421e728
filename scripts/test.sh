#!/usr/bin/env bash
# make test: the stack up, then fmt check, clippy, and every test with the integration feature on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
start=$(date +%s)

# DEBEZIUM=1: the Debezium conformance test (capture/tests/debezium.rs) needs Kafka Connect.
step "stack: make up DEBEZIUM=1"
DEBEZIUM=1 bash scripts/stack/stack.sh up

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets --all-features -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test --workspace --all-features"
cargo test --workspace --all-features

printf '\nmake test passed in %ss\n' "$(( $(date +%s) - start ))"
