#!/usr/bin/env python3
"""Same TiC file, same job, three readers: cptkit-tic (bench_tic), Python ijson (streaming), DuckDB read_json.

    compare.py FILE --bench PATH/TO/bench_tic [--duckdb-threads N] [--skip-duckdb]

The job: keep the in_network records of the CPT anesthesia codes (cptkit's base-unit table), take every
negotiated price, group by code x billing class x place of service x modifiers x negotiated type and compute
count, min, p10, p25, median, p75, p90, max (linear interpolation, type 7). cptkit additionally splits rows by
its per-unit / per-case heuristic; the baselines do not, so row counts differ while price counts must agree.

Each reader runs in its own process; it reports wall time, CPU time (process_time for Python: all threads)
and peak RSS (ru_maxrss / VmHWM). MB/s is uncompressed JSON bytes over time.
"""
import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEVELS = [Decimal("0.1"), Decimal("0.25"), Decimal("0.5"), Decimal("0.75"), Decimal("0.9")]


def anesthesia_codes() -> list[str]:
    with open(ROOT / "crates/cptkit-core/data/cms_anesthesia_base_units.csv", newline="") as f:
        return sorted(row["cpt_code"] for row in csv.DictReader(f))


def quantile7(values: list, p: Decimal):
    h = (len(values) - 1) * p
    lo = int(h)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (h - lo) * (values[hi] - values[lo])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB -> MB


def run_ijson(path: str) -> dict:
    import ijson

    codes = set(anesthesia_codes())
    groups: dict = {}
    kept = prices = 0
    start, cpu = time.perf_counter(), time.process_time()
    with open(path, "rb") as f:
        for item in ijson.items(f, "in_network.item"):
            if item.get("billing_code_type") not in ("CPT", "HCPCS") or item.get("billing_code") not in codes:
                continue
            if item.get("negotiation_arrangement", "ffs") != "ffs":
                continue
            kept += 1
            for rate in item["negotiated_rates"]:
                for p in rate["negotiated_prices"]:
                    prices += 1
                    mods = ",".join(sorted(p.get("billing_code_modifier") or []))
                    for pos in p.get("service_code") or [None]:
                        key = (item["billing_code"], p["billing_class"], pos, mods, p["negotiated_type"])
                        groups.setdefault(key, []).append(Decimal(p["negotiated_rate"]))
    rows = []
    for key, values in groups.items():
        values.sort()
        rows.append((key, len(values), values[0], *[quantile7(values, q) for q in LEVELS], values[-1]))
    return {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "rss_mb": peak_rss_mb(),
            "kept": kept, "prices": prices, "rows": len(rows)}


def run_duckdb(path: str, threads: int) -> dict:
    import duckdb

    codes = ", ".join(f"'{c}'" for c in anesthesia_codes())
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    start, cpu = time.perf_counter(), time.process_time()
    # The whole file is one JSON object: read_json needs maximum_object_size above the file size.
    size = os.path.getsize(path) + 1
    con.execute(f"""
        CREATE TEMP TABLE prices AS
        WITH items AS (SELECT unnest(in_network) AS i
                       FROM read_json(?, format = 'auto', maximum_object_size = {size})),
             kept AS (SELECT i.billing_code AS code, unnest(i.negotiated_rates) AS nr FROM items
                      WHERE i.billing_code_type IN ('CPT', 'HCPCS') AND i.billing_code IN ({codes})
                        AND coalesce(i.negotiation_arrangement, 'ffs') = 'ffs')
        SELECT code, unnest(nr.negotiated_prices) AS p FROM kept
    """, [path])
    kept_prices = con.execute("SELECT count(*) FROM prices").fetchone()[0]
    rows = con.execute("""
        WITH exploded AS (
            SELECT code, p.billing_class AS class, unnest(coalesce(p.service_code, [NULL])) AS pos,
                   array_to_string(list_sort(coalesce(p.billing_code_modifier, [])), ',') AS mods,
                   p.negotiated_type AS type, p.negotiated_rate AS rate FROM prices)
        SELECT code, class, pos, mods, type, count(*), min(rate),
               quantile_cont(rate, [0.1, 0.25, 0.5, 0.75, 0.9]), max(rate)
        FROM exploded GROUP BY ALL
    """).fetchall()
    return {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "rss_mb": peak_rss_mb(),
            "kept": None, "prices": kept_prices, "rows": len(rows)}


def run_cptkit(path: str, bench: str) -> dict:
    start = time.perf_counter()
    out = subprocess.run([bench, path], check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    line = next(l for l in out.splitlines() if l.startswith("ingest:"))
    cpu_mbs = float(re.search(r"([\d.]+) MB/s CPU time", line).group(1))
    mb = os.path.getsize(path) / 1e6
    return {"wall": wall, "cpu": mb / cpu_mbs, "rss_mb": float(re.search(r"VmHWM\): ([\d.]+) MB", out).group(1)),
            "kept": int(re.search(r"(\d+) kept", line).group(1)), "prices": int(re.search(r"(\d+) prices", line).group(1)),
            "rows": int(re.search(r"(\d+) benchmark rows", line).group(1))}


def child(method: str, args) -> dict:
    cmd = [sys.executable, __file__, args.file, "--method", method, "--duckdb-threads", str(args.duckdb_threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--bench")
    parser.add_argument("--method", choices=["ijson", "duckdb"])
    parser.add_argument("--duckdb-threads", type=int, default=1)
    parser.add_argument("--skip-duckdb", action="store_true")
    args = parser.parse_args()
    if args.method == "ijson":
        print(json.dumps(run_ijson(args.file)))
        return
    if args.method == "duckdb":
        print(json.dumps(run_duckdb(args.file, args.duckdb_threads)))
        return
    mb = os.path.getsize(args.file) / 1e6
    results = {"cptkit-tic": run_cptkit(args.file, args.bench), "ijson (yajl2_c)": child("ijson", args)}
    if not args.skip_duckdb:
        results[f"duckdb read_json ({args.duckdb_threads} thread)"] = child("duckdb", args)
    ours = results["cptkit-tic"]
    print(f"file: {args.file} ({mb:.0f} MB of JSON)")
    print(f"{'reader':32} {'wall s':>8} {'MB/s wall':>10} {'MB/s CPU':>9} {'peak RSS MB':>12} {'prices':>8} {'rows':>6}  cptkit is x faster (CPU)")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:32} failed: {r['error']}")
            continue
        ratio = r["cpu"] / ours["cpu"]
        print(f"{name:32} {r['wall']:8.2f} {mb / r['wall']:10.0f} {mb / r['cpu']:9.0f} {r['rss_mb']:12.1f} "
              f"{r['prices']:8d} {r['rows']:6d}  {ratio:.1f}")


if __name__ == "__main__":
    main()
