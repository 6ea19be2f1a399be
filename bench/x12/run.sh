#!/usr/bin/env bash
# X12 837P benchmark: generates a deterministic 837P file of SIZE_MB (once), then runs in interleaved
# rounds: the baseline reader (X12_BASE_REV, built once from `git archive`) on one core, the current
# reader on one core, and the current reader on N cores; prints the medians and their ratios.
#
# Usage: bench/x12/run.sh [SIZE_MB=100]
# Env:   X12_ROUNDS (5), X12_THREADS (cores: nproc), X12_BASE_REV (a0255f9, the sequential reader
#        before issue 13; "none" skips the baseline), CARGO_TARGET_DIR (target).
#
# Output: progress lines start with "#"; every figure is one line `name: value` (name [a-z0-9_]+,
# value a plain number; MB = 1e6 bytes), parsed by bench/run_all.sh:
#   x12_file_mb                     input size
#   x12_threads                     N
#   x12_tokenize_mb_s               tokenizer alone, one core, CPU time (median)
#   x12_parse_1core_mb_s            current reader, one worker thread, pinned to one core, wall (median)
#   x12_parse_1core_cpu_mb_s        the same by process CPU time (median)
#   x12_parse_ncore_mb_s            current reader, N worker threads, all cores, wall (median)
#   x12_parse_ncore_ratio           ncore / 1core (the issue's goal: >= 1.8 on 2 cores)
#   x12_parse_nproc_mb_s            N one-core readers at once, one process pinned to each core, on the
#                                   same file: N x the slowest one's MB/s, wall (median). What the cores
#                                   give perfectly independent work: the ceiling for any parallel reader
#                                   (shared caches, SMT siblings, the host).
#   x12_parse_nproc_ratio           nproc / 1core: the machine's own scaling
#   x12_parse_ncore_vs_nproc        ncore / nproc: how much of that ceiling the parallel reader reaches
#   x12_parse_base_mb_s             baseline reader, one core, wall (median)
#   x12_parse_base_cpu_mb_s         the same by CPU time (median)
#   x12_parse_1core_vs_base         1core / base
#   x12_parse_ncore_vs_base         ncore / base
#   x12_full_ncore_mb_s             parse (N cores) + validate + price (calling thread), wall (median)
#   x12_peak_rss_ncore_mb           peak RSS of the N-core parse run (max over rounds)
#   x12_peak_rss_1core_mb           peak RSS of the one-core parse run (max over rounds)
set -euo pipefail
cd "$(dirname "$0")/../.."
size="${1:-100}"
rounds="${X12_ROUNDS:-5}"
threads="${X12_THREADS:-$(nproc)}"
base_rev="${X12_BASE_REV:-a0255f9}"
target="${CARGO_TARGET_DIR:-target}"
out="bench/out/x12"
file="$out/bench_837_${size}mb.x12"
mkdir -p "$out"
if [ ! -f "$file" ]; then
  python3 bench/x12/generate_837.py "$file" "$size" >&2
fi
cargo build --quiet --release -p cptkit-x12 --example bench_837
current="$target/release/examples/bench_837"
base=""
if [ "$base_rev" != "none" ]; then
  src="$out/base-$base_rev"
  if [ ! -d "$src" ]; then
    mkdir -p "$src"
    git archive "$base_rev" | tar -x -C "$src"
  fi
  # Its own target dir: the same example name would overwrite the current binary.
  CARGO_TARGET_DIR="$target/x12-base" cargo build --quiet --release --manifest-path "$src/Cargo.toml" \
    -p cptkit-x12 --example bench_837
  base="$target/x12-base/release/examples/bench_837"
fi
if command -v taskset >/dev/null; then pin=(taskset -c 0); else pin=(); fi
log="$out/run_$$.log"
: >"$log"
"$current" "$file" segments 1 | sed 's/^/tok /' >>"$log"
for r in $(seq "$rounds"); do
  echo "# round $r/$rounds" >&2
  if [ -n "$base" ]; then "${pin[@]}" "$base" "$file" parse | sed 's/^/base /' >>"$log"; fi
  "${pin[@]}" "$current" "$file" parse 1 | sed 's/^/one /' >>"$log"
  "$current" "$file" parse "$threads" | sed 's/^/many /' >>"$log"
  if [ ${#pin[@]} -gt 0 ] && [ "$threads" -gt 1 ]; then
    for c in $(seq 0 $((threads - 1))); do
      taskset -c "$c" "$current" "$file" parse 1 >"$log.proc$c" &
    done
    wait
    cat "$log".proc* | awk -v n="$threads" '/^parse_mb_s_wall:/ { if (min == "" || $2 < min) min = $2 }
      END { if (min != "") printf "procs parse_mb_s_wall: %.1f\n", n * min }' >>"$log"
    rm -f "$log".proc*
  fi
done
"$current" "$file" full "$threads" | sed 's/^/full /' >>"$log"
python3 - "$log" "$threads" <<'EOF'
import re, statistics, sys
log, threads = sys.argv[1], sys.argv[2]
runs = {}
for line in open(log):
    who, _, rest = line.rstrip("\n").partition(" ")
    m = re.match(r"([a-z0-9_]+): ([0-9.]+)$", rest)
    if m:
        runs.setdefault(who, {}).setdefault(m.group(1), []).append(float(m.group(2)))
        continue
    # The baseline before issue 13 printed sentences: "parse -> typed claims: 1.73 s wall, 59 MB/s wall, 84 MB/s CPU time; ..."
    m = re.search(r"parse -> typed claims: .*?([0-9.]+) MB/s wall, ([0-9.]+) MB/s CPU", rest)
    if m:
        runs.setdefault(who, {}).setdefault("parse_mb_s_wall", []).append(float(m.group(1)))
        runs.setdefault(who, {}).setdefault("parse_mb_s_cpu", []).append(float(m.group(2)))
def med(who, key):
    values = runs.get(who, {}).get(key)
    return statistics.median(values) if values else None
def show(name, value, fmt="{:.0f}"):
    if value is not None:
        print(f"{name}: {fmt.format(value)}")
one, many, base = med("one", "parse_mb_s_wall"), med("many", "parse_mb_s_wall"), med("base", "parse_mb_s_wall")
show("x12_file_mb", med("tok", "file_mb"), "{:.1f}")
print(f"x12_threads: {threads}")
show("x12_tokenize_mb_s", med("tok", "tokenize_mb_s_cpu"))
show("x12_parse_1core_mb_s", one)
show("x12_parse_1core_cpu_mb_s", med("one", "parse_mb_s_cpu"))
show("x12_parse_ncore_mb_s", many)
show("x12_parse_ncore_ratio", many / one if one and many else None, "{:.2f}")
procs = med("procs", "parse_mb_s_wall")
show("x12_parse_nproc_mb_s", procs)
show("x12_parse_nproc_ratio", procs / one if one and procs else None, "{:.2f}")
show("x12_parse_ncore_vs_nproc", many / procs if many and procs else None, "{:.2f}")
show("x12_parse_base_mb_s", base)
show("x12_parse_base_cpu_mb_s", med("base", "parse_mb_s_cpu"))
show("x12_parse_1core_vs_base", one / base if one and base else None, "{:.2f}")
show("x12_parse_ncore_vs_base", many / base if many and base else None, "{:.2f}")
show("x12_full_ncore_mb_s", med("full", "full_mb_s_wall"))
rss = lambda who: max(runs.get(who, {}).get("peak_rss_mb", [0])) or None
show("x12_peak_rss_ncore_mb", rss("many"), "{:.1f}")
show("x12_peak_rss_1core_mb", rss("one"), "{:.1f}")
EOF
rm -f "$log"
