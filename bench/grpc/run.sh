#!/usr/bin/env bash
# gRPC benchmark of cptkit-server (a benchmark, not a test): start-up time, RSS, Echo vs
# GetCode("00632") and GetCode("99213") throughput and latency, and claims: unary PriceClaim beside a ProcessClaims stream
# of pre-built Medicare claims, on one server, over loopback only. Bounded: about
# 3 x rounds x duration seconds per client mode plus warm-up plus the streams (200,000 claims take a
# few seconds); it stops the server by itself.
#
#   bench/grpc/run.sh                                   # 5 s per run, 3 rounds, raw and decoding clients
#   DURATION=2 ROUNDS=1 bench/grpc/run.sh               # quick look
#   RPCS=claims CLIENT=raw bench/grpc/run.sh            # claims only
#   STREAM_CLAIMS=1000000 STREAMS=2 bench/grpc/run.sh   # a bigger batch over two concurrent streams
#   bench/grpc/run.sh --max-frame-size 65536 --echo-bytes 19826   # extra flags go to grpc_bench
#   RPCS=codes bench/grpc/run.sh --get-codes 00632:basic,00632,99213:basic   # GetCode's BASIC view beside FULL
#
# Environment: DURATION (s, default 5), ROUNDS (default 3), CONCURRENCY (default 64 in flight),
# CHANNELS (HTTP/2 connections, default 4), CLIENT (raw|decoded|both, default both),
# RPCS (codes|claims|codes,claims, default codes,claims), STREAM_CLAIMS (claims per ProcessClaims
# round, default 200000), STREAMS (concurrent ProcessClaims streams sharing them, default 1),
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
rpcs="${RPCS:-codes,claims}"
stream_claims="${STREAM_CLAIMS:-200000}"
streams="${STREAMS:-1}"
server_log="${SERVER_LOG:-/dev/null}"
[ "$server_log" = /dev/null ] || mkdir -p "$(dirname "$server_log")"
# A backstop only: grpc_bench bounds every phase itself and stops the server on the way out.
# Per client mode and round: three timed runs, and a stream allowed 30 s + 0.5 ms per claim.
limit=$((120 + 2 * (3 * rounds * duration + (rounds + 1) * (30 + stream_claims / 2000))))

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
  --rpcs "$rpcs" \
  --stream-claims "$stream_claims" \
  --streams "$streams" \
  --server-log "$server_log" \
  "$@"
