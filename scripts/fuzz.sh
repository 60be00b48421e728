#!/usr/bin/env bash
# make fuzz [FUZZ_SECONDS=60]: feeds arbitrary bytes to keel-capture's MariaDB event decoders
# (capture/fuzz, cargo-fuzz with libFuzzer) for FUZZ_SECONDS; a panic stops it with the input
# saved under capture/fuzz/artifacts. Installs cargo-fuzz from crates.io on first use. Runs on
# the stable toolchain without a sanitizer (the decoders are safe Rust: a panic is what we look
# for, not memory errors).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
cd capture/fuzz
cargo fuzz run decoders --sanitizer none -- -max_total_time="${FUZZ_SECONDS:-60}"
