#!/usr/bin/env bash
# TiC benchmark: generates a deterministic in-network-rates file (once), then runs cptkit-tic's bench_tic,
# a Python ijson streaming reader and DuckDB read_json on it (bench/tic/compare.py) and prints the ratios.
# Usage: bench/tic/run.sh [SIZE_MB=1000]. Needs python3; creates a venv with ijson and duckdb.
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-1000}"
out="bench/out/tic"
file="$out/bench_tic_${size}mb.json"
venv="${VENV:-bench/out/venv-tic}"
mkdir -p "$out"
if [ ! -f "$file" ]; then
  python3 bench/tic/generate_tic.py "$size" "$file"
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q ijson duckdb
fi
cargo build --release -p cptkit-tic --example bench_tic
# One core: the reader is single-threaded; pinning keeps the figures comparable between runs.
if command -v taskset >/dev/null; then pin=(taskset -c 0); else pin=(); fi
"${pin[@]}" "$venv/bin/python" bench/tic/compare.py "$file" --bench "${CARGO_TARGET_DIR:-target}/release/examples/bench_tic"
