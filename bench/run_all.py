"""Every cptkit benchmark in one run, each with its baseline run beside it, as one table of ratios.

A benchmark, not a test: `bench/run_all.sh [--quick]` (which builds what it needs and uses the
project's venv). Each benchmark script prints one `name: value` line per figure; this script runs
them one after another (never two at once: they would share the two cores), keeps each one's whole
output in bench/out/run_all/<name>.log and prints the table the README's Performance section comes
from. A figure a benchmark did not print shows as "not reported" rather than failing the run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "run_all"
FIGURE = re.compile(r"^([a-z][a-z0-9_]*): (-?[0-9.]+(?:e[-+]?[0-9]+)?)$", re.MULTILINE)


@dataclass(frozen=True)
class Bench:
    name: str
    command: list[str]
    quick: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Row:
    label: str
    bench: str
    figure: str
    unit: str
    # The figure's baseline from the same run (a ratio is printed), or None for an absolute goal.
    baseline: str | None
    baseline_label: str
    # The goal: figure >= goal (absolute), or figure / baseline >= goal (with a baseline); None for a
    # row that is a diagnostic, not a goal of the issue.
    goal: float | None
    goal_on_ratio: bool
    # The goal is an upper bound (memory): figure < goal.
    at_most: bool = False


PY = str(ROOT / ".venv" / "bin" / "python")

BENCHES = [
    Bench("table", [PY, "bench/python/bench_table.py", "1000000"], [PY, "bench/python/bench_table.py", "200000"], {}),
    Bench("x12", ["bench/x12/run.sh", "100"], ["bench/x12/run.sh", "30"], {}),
    Bench(
        "grpc",
        ["bench/grpc/run.sh", "--get-codes", "00632:basic,00632"],
        ["bench/grpc/run.sh", "--get-codes", "00632:basic,00632"],
        {"DURATION": "5", "ROUNDS": "3", "CLIENT": "raw"},
    ),
    Bench("price", [PY, "bench/python/bench_price.py"], [PY, "bench/python/bench_price.py"], {}),
    Bench("code", [PY, "bench/python/bench_code.py"], [PY, "bench/python/bench_code.py", "--repeat", "3"], {}),
]

ROWS = [
    Row("validate + price, mixed table, per core", "table", "table_price_lines_per_cpu_s", "lines/s", None, "", 5e6, False),
    Row("validate + price, mixed table, 2 cores", "table", "table_price_lines_per_s", "lines/s",
        "pandas_price_lines_per_s", "vectorized pandas pricer, 6 edits", 15, True),
    # A diagnostic (no goal of its own): categorical text read in place.
    Row("validate + price, text columns dictionary-encoded, 2 cores", "table", "table_dictionary_price_lines_per_s",
        "lines/s", "table_price_lines_per_s", "the plain table, same run", None, True),
    # Peak memory no more than the input plus the result: what the call adds, over the result it returns.
    Row("price_table peak memory beyond its input", "table", "table_peak_memory_mb", "MB",
        "table_result_mb", "its result table", 1.0, True, at_most=True),
    # A diagnostic: the same against what the result holds of its own (its claim ids are the input's).
    Row("price_table peak memory beyond its input, stricter", "table", "table_peak_memory_mb", "MB",
        "table_result_own_mb", "the result without the claim ids it shares", None, True),
    Row("837P to typed claims, one core", "x12", "x12_parse_1core_mb_s", "MB/s",
        "x12_parse_base_mb_s", "sequential reader before issue 13", 300, False),
    Row("837P to typed claims, every core", "x12", "x12_parse_ncore_mb_s", "MB/s",
        "x12_parse_1core_mb_s", "one core, same rounds", 1.8, True),
    # Independent one-core readers, one per core, at once: what the cores themselves allow any reader.
    Row("837P ceiling: a one-core reader per core at once", "x12", "x12_parse_nproc_mb_s", "MB/s",
        "x12_parse_1core_mb_s", "one core, same rounds", None, True),
    Row("837P peak RSS, every core", "x12", "x12_peak_rss_ncore_mb", "MB", None, "", 64, False, at_most=True),
    Row("GetCode BASIC (00632)", "grpc", "getcode_00632_basic_rps", "req/s", "echo_rps", "Echo, same server", 0.8, True),
    Row("GetCode FULL (00632)", "grpc", "getcode_00632_full_rps", "req/s", "echo_rps", "Echo, same server", 0.6, True),
    Row("ProcessClaims, one stream", "grpc", "process_claims_per_s", "claims/s",
        "price_claim_unary_per_s", "unary PriceClaim", 150e3, False),
    Row("price_many on dicts", "price", "price_many_dicts_claims_per_s", "claims/s",
        "pure_python_pricer_claims_per_s", "pure-Python Medicare pricer", 500e3, False),
    Row("cptkit.code (cached)", "code", "code_lookups_per_s", "lookups/s", "dict_lookups_per_s", "dict lookup", 200e3, False),
]


def run(bench: Bench, quick: bool) -> dict[str, float]:
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"{bench.name}.log"
    command = bench.quick if quick else bench.command
    print(f"== {bench.name}: {' '.join(command)} (output in {log.relative_to(ROOT)})", flush=True)
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, **bench.env}, stdout=out, stderr=subprocess.STDOUT)
    text = log.read_text(encoding="utf-8", errors="replace")
    status = "ok" if done.returncode == 0 else f"exit {done.returncode}: see the log"
    print(f"   {status}, {time.perf_counter() - start:.0f} s", flush=True)
    # The last value of a name counts (a script may print progress first).
    return {name: float(value) for name, value in FIGURE.findall(text)}


def number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}"


def table(figures: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "| benchmark | result | baseline beside it | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        got = figures.get(row.bench, {})
        value = got.get(row.figure)
        base = got.get(row.baseline) if row.baseline else None
        ratio = value / base if value is not None and base else None
        result = f"{number(value)} {row.unit}" if value is not None else "not reported"
        baseline = f"{row.baseline_label}: {number(base)} {row.unit}" if base is not None else "-"
        measured = ratio if row.goal_on_ratio else value
        if row.goal is None:
            goal, met = "-", "-"
        else:
            goal = f"{'<' if row.at_most else '≥'} {number(row.goal)}{'x' if row.goal_on_ratio else ' ' + row.unit}"
            ok = measured is not None and (measured < row.goal if row.at_most else measured >= row.goal)
            met = "-" if measured is None else ("yes" if ok else "**no**")
        ratio_text = f"{ratio:.2f}x" if ratio is not None else "-"
        lines.append(f"| {row.label} | {result} | {baseline} | {ratio_text} | {goal} | {met} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs: a look, not the README figures")
    parser.add_argument("--only", nargs="*", choices=[b.name for b in BENCHES], help="run these benchmarks only")
    args = parser.parse_args()
    cores = os.cpu_count()
    load = Path("/proc/loadavg").read_text(encoding="ascii").split()[:3]
    print(f"machine: {cores} cores, load average {' '.join(load)} before the run")
    figures = {b.name: run(b, args.quick) for b in BENCHES if not args.only or b.name in args.only}
    report = "\n".join(table(figures))
    (OUT / "table.md").write_text(report + "\n", encoding="utf-8")
    print()
    print(report)
    sys.exit(0)


if __name__ == "__main__":
    main()
