#!/usr/bin/env bash
# Production benchmark of cptkit-server (a benchmark, not a test): each figure beside its baseline,
# measured in the same run with release binaries and cptkit-loadgen checking every answer.
#
#   1. security: GetCode and PriceClaim throughput of a server with TLS and bearer tokens against a
#      plaintext server without authentication, both running side by side, rounds alternating.
#      Goal: TLS + tokens >= 0.85x plaintext.
#   2. overload: the capacity C of a server (closed loop), then open loop at C/2 and at 2C against a
#      server with --max-concurrent-requests; the excess must be shed (RESOURCE_EXHAUSTED) and the p99
#      of the accepted requests at 2C stay within 2x the p99 at C/2.
#   3. soak: open loop at C/2 for SOAK against a server with the default limits: zero errors, RSS
#      growth < 10% (first sample to last).
#
#   bench/load/production.sh                         # all three; the soak takes SOAK (default 10m)
#   PARTS=security,overload ROUND=5s ROUNDS=3 bench/load/production.sh
#   PARTS=soak SOAK=2m bench/load/production.sh
#
# Environment: PARTS (default security,overload,soak), ROUND (seconds per measurement, default 5s),
# ROUNDS (security rounds, default 3), CONCURRENCY (closed-loop workers, default 32), LIMIT
# (--max-concurrent-requests of the overload server, default 16), SOAK (default 10m), OUT (folder of
# the JSON summaries, default bench/out/production), SERVER_CPUS and LOAD_CPUS (below). The generator shares the machine's cores with the
# servers: on 2 cores the figures are lower bounds of what a dedicated server does.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
parts="${PARTS:-security,overload,soak}"
round="${ROUND:-5s}"
rounds="${ROUNDS:-3}"
concurrency="${CONCURRENCY:-32}"
limit="${LIMIT:-16}"
soak="${SOAK:-10m}"
out="${OUT:-bench/out/production}"
# SERVER_CPUS / LOAD_CPUS (taskset lists, e.g. 0 and 1): keep the server and the generator on their
# own cores, so an overloaded generator does not take the server's CPU.
server_cpus="${SERVER_CPUS:-}"
load_cpus="${LOAD_CPUS:-}"
mkdir -p "$out"
work="$(mktemp -d)"

echo "building release binaries ..."
cargo build --release --quiet -p cptkit-server --bin cptkit-server -p cptkit-loadgen --bin cptkit-loadgen
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="${target_dir:-$root/target}/release"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: starts a server, sets ADDRESS_NAME and PID_NAME.
start() {
  local name="$1"; shift
  RUST_LOG=warn ${server_cpus:+taskset -c "$server_cpus"} "$bin/cptkit-server" --listen 127.0.0.1:0 "$@" >"$work/$name.out" 2>"$out/$name.log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 300); do
    local address
    address="$(sed -n 's/^cptkit-server listening on //p' "$work/$name.out")"
    if [ -n "$address" ]; then
      printf -v "ADDRESS_$name" '%s' "$address"
      printf -v "PID_$name" '%s' "$pid"
      return
    fi
    sleep 0.1
  done
  echo "server $name did not start; see $out/$name.log" >&2
  exit 2
}

# load NAME JSON ARGS...: runs the generator against server NAME, the summary to JSON.
load() {
  local name="$1" json="$2"; shift 2
  local address_var="ADDRESS_$name" pid_var="PID_$name"
  local target=(--target "http://${!address_var}")
  if [ "$name" = secure ]; then
    target=(--target "https://${!address_var}" --ca-file "$work/ca.pem" --tls-domain localhost
            --token-file "$work/token")
  fi
  ${load_cpus:+taskset -c "$load_cpus"} "$bin/cptkit-loadgen" "${target[@]}" --fixtures "$root/tests/fixtures" --server-pid "${!pid_var}" \
    --json "$json" "$@" >"$json.txt" || { cat "$json.txt" >&2; echo "load against $name failed" >&2; exit 1; }
}

# field JSON PATH: a number from a summary, e.g. field x.json latency.p99_ms
field() {
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v.get(k, 0) if isinstance(v, dict) else 0
print(v)' "$1" "$2"
}
ratio() { python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print(f"{a/b:.2f}" if b else "n/a")' "$1" "$2"; }

echo "machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ ",$parts," == *",security,"* ]]; then
  # A CA, a localhost certificate and a token, made here with openssl.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cptkit bench CA" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/server.key" \
    -out "$work/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/san.ext"
  openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -days 2 -extfile "$work/san.ext" -out "$work/server.pem" 2>/dev/null
  head -c 24 /dev/urandom | base64 | tr -d '\n' >"$work/token"
  hash="$(sha256sum <"$work/token" | cut -d' ' -f1)"
  printf '{"tokens": [{"name": "bench", "sha256": "%s", "services": ["*"]}]}\n' "$hash" >"$work/tokens.json"

  start plain
  start secure --tls-cert "$work/server.pem" --tls-key "$work/server.key" --tokens-file "$work/tokens.json"
  echo
  echo "== security: TLS + bearer token against plaintext without authentication ($rounds rounds of $round, $concurrency workers)"
  printf '%-12s %-6s %12s %12s %7s %10s %10s\n' rpc round plain_rps secure_rps ratio plain_p99 secure_p99
  for kind in get_code price_claim; do
    for r in $(seq 1 "$rounds"); do
      for name in plain secure; do
        load "$name" "$out/security-$kind-$name-$r.json" --duration "$round" --concurrency "$concurrency" \
          --mix "$kind=1"
      done
      p="$out/security-$kind-plain-$r.json" s="$out/security-$kind-secure-$r.json"
      printf '%-12s %-6s %12.0f %12.0f %7s %8.2fms %8.2fms\n' "$kind" "$r" "$(field "$p" throughput_rps)" \
        "$(field "$s" throughput_rps)" "$(ratio "$(field "$s" throughput_rps)" "$(field "$p" throughput_rps)")" \
        "$(field "$p" latency.p99_ms)" "$(field "$s" latency.p99_ms)"
    done
  done
fi

if [[ ",$parts," == *",overload,"* || ",$parts," == *",soak,"* ]]; then
  start limited --max-concurrent-requests "$limit"
  mix="get_code=1,price_claim=1"
  # As many workers as the limit: the server is saturated and next to nothing is shed (a worker may
  # send its next request before the server has let go of the last one).
  load limited "$out/capacity.json" --duration "$round" --concurrency "$limit" --mix "$mix" \
    --allow-status RESOURCE_EXHAUSTED
  capacity="$(field "$out/capacity.json" throughput_rps)"
  half="$(python3 -c "print(max(1, round($capacity / 2)))")"
  echo
  echo "== capacity (closed loop, $limit workers, GetCode + PriceClaim): $(printf '%.0f' "$capacity") req/s"
fi

if [[ ",$parts," == *",overload,"* ]]; then
  double="$(python3 -c "print(round($capacity * 2))")"
  load limited "$out/overload-half.json" --duration "$round" --rate "$half" --mix "$mix"
  load limited "$out/overload-double.json" --duration "$round" --rate "$double" --mix "$mix" \
    --allow-status RESOURCE_EXHAUSTED
  h="$out/overload-half.json" d="$out/overload-double.json"
  echo "== overload (open loop; server --max-concurrent-requests $limit)"
  printf '%-10s %10s %10s %10s %10s %10s\n' load rate answered_rps shed p50 p99_accepted
  for pair in "half:$h:$half" "double:$d:$double"; do
    IFS=: read -r label file rate <<<"$pair"
    printf '%-10s %10s %10.0f %10.0f %8.2fms %8.2fms\n' "$label" "$rate" "$(field "$file" throughput_rps)" \
      "$(field "$file" errors_by_status.RESOURCE_EXHAUSTED)" "$(field "$file" latency.p50_ms)" \
      "$(field "$file" latency.p99_ms)"
  done
  echo "ratio    p99 accepted at 2C / p99 at C/2 = $(ratio "$(field "$d" latency.p99_ms)" "$(field "$h" latency.p99_ms)") (goal <= 2.00); not sent by the generator: $(field "$d" not_sent)"
fi

if [[ ",$parts," == *",soak,"* ]]; then
  # A server with the default limits: at half load nothing should be refused.
  start soak
  echo "== soak: open loop at $half req/s (C/2) for $soak, GetCode + PriceClaim, default limits ..."
  load soak "$out/soak.json" --duration "$soak" --rate "$half" --mix "$mix" --rss-interval 10s
  s="$out/soak.json"
  first="$(field "$s" rss.first_kib)" last="$(field "$s" rss.last_kib)" max="$(field "$s" rss.max_kib)"
  printf 'requests %s, right %s, wrong %s, hung %s, not sent %s, statuses %s\n' "$(field "$s" requests)" \
    "$(field "$s" right)" "$(field "$s" wrong)" "$(field "$s" hung)" "$(field "$s" not_sent)" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["errors_by_status"] or "none")' "$s")"
  echo "RSS first $first KiB, last $last KiB, max $max KiB: growth $(python3 -c "print(f'{($last - $first) / $first * 100:+.1f}%')") (goal < +10%)"
fi
echo
echo "JSON summaries in $out"
