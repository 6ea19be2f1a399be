#!/usr/bin/env bash
# X12 837P benchmark: generates a deterministic ~100 MB 837P file (once) and runs the release-mode
# bench binary on one core. Usage: bench/x12/run.sh [SIZE_MB=100]
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-100}"
out="bench/out/x12"
file="$out/bench_837_${size}mb.x12"
mkdir -p "$out"
if [ ! -f "$file" ]; then
  python3 bench/x12/generate_837.py "$file" "$size"
fi
cargo build --release -p cptkit-x12 --example bench_837
# One core: the reader is single-threaded; pinning keeps the figures comparable between runs.
if command -v taskset >/dev/null; then pin=(taskset -c 0); else pin=(); fi
"${pin[@]}" "${CARGO_TARGET_DIR:-target}/release/examples/bench_837" "$file" both
