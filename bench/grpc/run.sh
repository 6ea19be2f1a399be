#!/usr/bin/env bash
# gRPC benchmark of cptkit-server (a benchmark, not a test): start-up time, RSS, and Echo vs
# GetCode("00632") throughput and latency on one server, over loopback only. Bounded: about
# 2 x rounds x duration seconds per client mode plus warm-up; it stops the server by itself.
#
#   bench/grpc/run.sh                      # 5 s per run, 3 rounds, raw and decoding clients
#   DURATION=2 ROUNDS=1 bench/grpc/run.sh  # quick look
#   bench/grpc/run.sh --max-frame-size 65536 --echo-bytes 19826   # extra flags go to grpc_bench
#
# Environment: DURATION (s, default 5), ROUNDS (default 3), CONCURRENCY (default 64 in flight),
# CHANNELS (HTTP/2 connections, default 4), CLIENT (raw|decoded|both, default both),
# SERVER_LOG (file for the server's stderr, e.g. bench/out/grpc-server.log: one access-log line
# per request, ~50 bytes each; default /dev/null, where the lines are still formatted and written).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

duration="${DURATION:-5}"
rounds="${ROUNDS:-3}"
concurrency="${CONCURRENCY:-64}"
channels="${CHANNELS:-4}"
client="${CLIENT:-both}"
server_log="${SERVER_LOG:-/dev/null}"
[ "$server_log" = /dev/null ] || mkdir -p "$(dirname "$server_log")"
# A backstop only: grpc_bench bounds every phase itself and stops the server on the way out.
limit=$((120 + 4 * rounds * duration))

echo "building release binaries ..."
cargo build --release --quiet -p cptkit-server --bin cptkit-server --example grpc_bench

target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
target_dir="${target_dir:-$root/target}"

echo "machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) (the client shares these cores)"
# The server runs as in production: info-level access log, one line per request (to $server_log).
RUST_LOG="${RUST_LOG:-info}" timeout "$limit" "$target_dir/release/examples/grpc_bench" \
  --server "$target_dir/release/cptkit-server" \
  --duration "$duration" \
  --rounds "$rounds" \
  --concurrency "$concurrency" \
  --channels "$channels" \
  --client "$client" \
  --server-log "$server_log" \
  "$@"
