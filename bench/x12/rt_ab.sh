#!/usr/bin/env bash
# 837P A/B on a busy shared machine (root only; a benchmark, not a test): every run under SCHED_FIFO,
# so other processes get only the kernel's 5% RT reserve and the two builds compared see two free
# cores. Parallel runs: the calling thread at priority 11, the worker threads lowered to 10 as soon as
# they appear (the splitter preempts a worker when it wakes). Interleaved rounds of: B one core, N one
# core, B 2 threads, N 2 threads, and two one-core N processes at once, one per core (the ceiling).
# Prints `name wall_MB/s cpu_MB/s peak_rss_MB` per run.
#
# Usage: bench/x12/rt_ab.sh BASE_BENCH_837 NEW_BENCH_837 FILE.x12   (env ROUNDS, 3)
# SCHED_FIFO is not CFS: it shows what the reader does when its splitter gets a core the moment it
# needs one; bench/x12/run.sh (CFS) on a quiet machine is the figure users see.
set -u
B=$1; N=$2; F=$3
tmp=$(mktemp -d)
w() { awk '/parse_mb_s_wall/{w=$2} /parse_mb_s_cpu/{c=$2} /peak_rss/{m=$2} END{print w, c, m}'; }
par() {
  chrt -f 11 "$1" $F parse 2 > $tmp/par.out & pid=$!
  while kill -0 $pid 2>/dev/null; do
    for t in /proc/$pid/task/*; do
      [ "$(cat $t/comm 2>/dev/null)" = "cptkit-x12-837" ] && [ ! -e $tmp/lowered.${t##*/} ] && chrt -f -p 10 ${t##*/} >/dev/null 2>&1 && touch $tmp/lowered.${t##*/}
    done
    sleep 0.002
  done
  wait $pid; rm -f $tmp/lowered.*; w < $tmp/par.out
}
for i in $(seq ${ROUNDS:-3}); do
  echo "base1 $(chrt -f 10 taskset -c 0 $B $F parse 1 | w)"
  echo "new1 $(chrt -f 10 taskset -c 0 $N $F parse 1 | w)"
  echo "base2 $(par $B)"
  echo "new2 $(par $N)"
  chrt -f 10 taskset -c 0 $N $F parse 1 > $tmp/pp0 & chrt -f 10 taskset -c 1 $N $F parse 1 > $tmp/pp1; wait
  echo "procs $(cat $tmp/pp0 $tmp/pp1 | awk '/parse_mb_s_wall/{if(m==""||$2<m)m=$2} END{print 2*m, 0, 0}')"
done
rm -rf "$tmp"
