#!/usr/bin/env bash
# Where the server's time goes for GetCode(00632:basic) against Echo (a profile, not a benchmark):
# perf samples the server for 6 s of Echo load, then 6 s of GetCode BASIC load, and prints each
# window's CPU split (cptkit-server, libc, kernel) beside the request rates grpc_bench measured, and
# the server's system calls per request in the same windows (how many writes carry the answers).
#   bench/grpc/profile_getcode.sh        # needs perf (and its syscall tracepoints); about 30 s
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-bench/out/profile_getcode}"
mkdir -p "$out"
cargo build --release --quiet -p cptkit-server --bin cptkit-server --example grpc_bench
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
server="$target_dir/release/cptkit-server"
# One round: 1 s warm-up and 10 s of Echo, then the same for GetCode BASIC; the windows, [3 s, 9 s]
# and [14 s, 20 s] from the start, sit inside them.
# Its own session: grpc_bench stops its server by signalling its process group.
RUST_LOG=info setsid "$target_dir/release/examples/grpc_bench" --server "$server" --duration 10 --rounds 1 \
  --client raw --rpcs codes --get-codes 00632:basic > "$out/bench.log" 2>&1 &
bench=$!
sleep 3
# grpc_bench's own server, by the pid it prints (not another cptkit-server on the machine).
pid="$(sed -n 's/^server .*(pid \([0-9]*\)).*/\1/p' "$out/bench.log" | head -1)"
calls="syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait"
sample() {
  perf stat -x, -e "$calls" -p "$pid" -o "$out/$1.calls" -- sleep 6 2> /dev/null &
  perf record -e cpu-clock -F 2000 -g -p "$pid" -o "$out/$1.data" -- sleep 6 2> /dev/null
  wait $!
}
sample echo
sleep 5
sample basic
wait "$bench"
grep -E "^raw|^ratio" "$out/bench.log"
for window in echo basic; do
  echo "== $window: server CPU in the 6 s window"
  perf report -i "$out/$window.data" --no-children --sort dso --stdio -g none 2> /dev/null |
    grep -E "Event count|%" | head -5
  # Requests in the window: the run's rate times its 6 s.
  rpc=$([ "$window" = echo ] && echo "Echo" || echo "GetCode")
  rate=$(awk -v rpc="$rpc" '$1 == "raw" && index($3, rpc) == 1 { print $4; exit }' "$out/bench.log")
  echo "== $window: server system calls per request (${rate:-?} req/s x 6 s)"
  awk -F, -v requests="$((${rate:-0} * 6))" '$3 ~ /sys_enter_/ && requests > 0 {
      sub(/.*sys_enter_/, "", $3); printf "  %-10s %.2f\n", $3, $1 / requests }' "$out/$window.calls"
done
