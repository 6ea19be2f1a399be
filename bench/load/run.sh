#!/usr/bin/env bash
# Load and correctness run of cptkit-server (a benchmark, not a test): builds release binaries of
# cptkit-server and cptkit-loadgen, starts the server on a free loopback port, runs the load
# generator against it (mixed GetCode, PriceClaim, ProcessClaims streams and X12 ParseClaims, every
# answer checked against tests/fixtures), prints throughput, p50/p99/p99.9 latency, statuses and the
# server's RSS over time, writes the JSON summary, then stops the server with SIGTERM.
#
#   bench/load/run.sh                                  # 30 s, 32 workers, default mix
#   DURATION=10s CONCURRENCY=8 bench/load/run.sh       # shorter, lighter
#   RATE=500 bench/load/run.sh                         # open loop: 500 requests/s whatever the latency
#   SERVER_ARGS="--max-concurrent-requests 4" bench/load/run.sh --allow-status RESOURCE_EXHAUSTED
#   bench/load/run.sh --mix process_claims=1 --stream-claims 1000   # extra flags go to cptkit-loadgen
#
# Environment: PROFILE (cargo profile, default release), DURATION (default 30s), CONCURRENCY
# (closed-loop workers, default 32), CONNECTIONS
# (HTTP/2 connections, default 4), RATE (requests/s: open loop instead; unset = closed loop),
# SERVER_ARGS (extra cptkit-server flags, e.g. "--tls-cert c.pem --tls-key k.pem --tokens-file t"),
# TLS_CA (the CA PEM that signed --tls-cert: the generator then connects with https, checking the
# name TLS_DOMAIN, default localhost), TOKEN_FILE (a bearer token file), OUT (JSON summary, default
# bench/out/load/summary.json), SERVER_LOG (server stderr, default bench/out/load/server.log, info
# level: one access-log line per request, as in production).
# Exit status: cptkit-loadgen's (0 every answer right, 1 wrong/lost answers or unexpected statuses).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

duration="${DURATION:-30s}"
concurrency="${CONCURRENCY:-32}"
connections="${CONNECTIONS:-4}"
out="${OUT:-bench/out/load/summary.json}"
server_log="${SERVER_LOG:-bench/out/load/server.log}"
mkdir -p "$(dirname "$out")" "$(dirname "$server_log")"

# PROFILE=dev runs debug binaries (a quick check of the script; the numbers mean little).
profile="${PROFILE:-release}"
echo "building $profile binaries ..."
cargo build --profile "$profile" --quiet -p cptkit-server --bin cptkit-server -p cptkit-loadgen --bin cptkit-loadgen
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
target_dir="${target_dir:-$root/target}"
bin_dir="$target_dir/$([ "$profile" = dev ] && echo debug || echo "$profile")"

# The server prints "cptkit-server listening on ADDR" on stdout once ready.
ready="$(mktemp)"
# shellcheck disable=SC2086 # SERVER_ARGS is a list of flags.
RUST_LOG="${RUST_LOG:-info}" "$bin_dir/cptkit-server" --listen 127.0.0.1:0 ${SERVER_ARGS:-} \
  >"$ready" 2>"$server_log" &
server_pid=$!
stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || echo "cptkit-server exited with status $?" >&2
  fi
  rm -f "$ready"
}
trap stop_server EXIT

for _ in $(seq 1 300); do
  address="$(sed -n 's/^cptkit-server listening on //p' "$ready")"
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "cptkit-server did not start; see $server_log" >&2; exit 2; }
  sleep 0.1
done
[ -n "${address:-}" ] || { echo "cptkit-server did not print its address in 30 s" >&2; exit 2; }

args=(--duration "$duration" --concurrency "$concurrency" --connections "$connections"
      --server-pid "$server_pid" --json "$out" --fixtures "$root/tests/fixtures")
if [ -n "${TLS_CA:-}" ]; then
  args+=(--target "https://$address" --ca-file "$TLS_CA" --tls-domain "${TLS_DOMAIN:-localhost}")
else
  args+=(--target "http://$address")
fi
[ -n "${RATE:-}" ] && args+=(--rate "$RATE")
[ -n "${TOKEN_FILE:-}" ] && args+=(--token-file "$TOKEN_FILE")

echo "machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) (the generator shares these cores)"
echo "server pid $server_pid on $address; log $server_log"
status=0
"$bin_dir/cptkit-loadgen" "${args[@]}" "$@" || status=$?
echo "JSON summary: $out"
exit "$status"
