"""Arrow batch validate + price against a vectorized pandas Medicare pricer on the same table.

A benchmark, not a test: `.venv/bin/python bench/python/bench_table.py [CLAIMS=1000000]`.

Both sides read the same synthetic claim-lines table (cptkit.testing.synthetic_claims: anesthesia and
fee-schedule lines, every payer, good and broken claims). cptkit validates every claim and prices every
line of every payer. The pandas baseline is vectorized numpy work on the Medicare fee-for-service
anesthesia lines only (its rate counts those lines alone): base units by code, time units (minutes / 15 to the nearest
tenth, half up; none for 01995 and 01996), the modifier share (AA/QZ 100%, QK/QX/QY 50%, AD 3 base units), the 2025 locality or
national conversion factor, rounding and the lesser of charge, in integer arithmetic, plus a representative subset of the
edits (unknown code, no pricing modifier, minutes not positive, NPI check digit, unknown diagnosis,
pointer past the diagnoses). Its allowed amounts are checked against cptkit's on the valid Medicare lines
before any timing is reported. Peak memory is read from /proc (VmHWM) around each side; for cptkit, the
most of a first call (in a process that has held no result yet) and the timed ones. cptkit also prices
the same table with its text columns dictionary-encoded (as pandas categoricals and Parquet dictionary
pages arrive), checked to give the same answers.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import cptkit
from cptkit.testing import synthetic_claims

TODAY = "2026-11-27"
LIBC = ctypes.CDLL("libc.so.6")


def status_mb(field: str) -> float:
    """A /proc/self/status size in MB of 10^6 bytes, the unit of the table sizes beside it (/proc counts KiB)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def reset_peak() -> float:
    """Resets the peak RSS (VmHWM) to the current RSS (Linux: clear_refs 5); returns the current RSS.

    Memory freed earlier goes back to the system first (glibc's malloc_trim): kept by the allocator, it
    would serve the next call without raising the RSS, and the peak would depend on what ran before."""
    gc.collect()
    LIBC.malloc_trim(0)
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
    return status_mb("VmRSS")


def reference_tables() -> tuple[dict[str, int], dict[str, float], float, set[str]]:
    base_units = {c.code: c.base_units for c in cptkit.list_codes() if c.service_type != "fee_schedule"}
    localities: dict[str, float] = {}
    national = float("nan")
    for b in cptkit.code("00632", localities="all").benchmarks:
        if b.year != 2025:
            continue
        if b.locality is None:
            national = float(b.conversion_factor)
        else:
            localities[b.locality.id] = float(b.conversion_factor)
    diagnoses = {"M54.50", "M54.16", "M54.17", "M48.061", "M48.062", "M51.16", "M51.17", "K80.20", "M17.11", "Z30.2", "O80", "K35.80"}
    return base_units, localities, national, diagnoses


def npi_ok(npis: pd.Series) -> np.ndarray:
    """The CMS Luhn check (prefix 80840, i.e. +24), vectorized over 10-digit strings."""
    digits = np.array([list(map(int, s)) for s in npis.unique()])
    doubled = digits[:, [8, 6, 4, 2, 0]] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + digits[:, [7, 5, 3, 1]].sum(axis=1) + 24
    ok = dict(zip(npis.unique(), (10 - total % 10) % 10 == digits[:, 9], strict=True))
    return npis.map(ok).to_numpy(dtype=bool)


def pandas_medicare(df: pd.DataFrame, tables: tuple[dict[str, int], dict[str, float], float, set[str]]) -> pd.DataFrame:
    base_units, localities, national, diagnoses = tables
    medicare = df[(df["payer_id"] == "medicare") & df["procedure_code"].isin(base_units)]
    first_modifier = medicare["modifiers"].str[0]
    minutes = medicare["quantity"].astype(float)
    base = medicare["procedure_code"].map(base_units)
    # Edits (a subset of cptkit's): unknown code, pricing modifier, minutes, NPI, diagnoses, pointers.
    n_dx = medicare["diagnoses"].str.len()
    max_pointer = medicare["diagnosis_pointers"].map(lambda p: max(p) if len(p) else 0)
    known_dx = medicare["diagnoses"].map(lambda ds: all(d in diagnoses for d in ds))
    valid = (
        base.notna()
        & first_modifier.isin(["AA", "QK", "QX", "QY", "QZ", "AD"])
        & (minutes > 0)
        & npi_ok(medicare["rendering_npi"])
        & npi_ok(medicare["billing_provider_npi"])
        & known_dx
        & (max_pointer <= n_dx)
    )
    # Pricing in integers, as money must be (floats round 13.7 x 19.5 x 0.5 the wrong way): units in
    # tenths (minutes / 15 to the nearest tenth, half up), the factor in 1/10,000 dollars, the share
    # in percent, one half-up rounding to cents at the end, then the lesser of the charge.
    whole_minutes = minutes.round().astype(np.int64)
    time_tenths = (20 * whole_minutes + 15) // 30
    # Medicare pays daily epidural management (01995, 01996) on base units alone (no time units).
    time_tenths = np.where(medicare["procedure_code"].isin(["01995", "01996"]), 0, time_tenths)
    share_percent = first_modifier.map({"AA": 100, "QZ": 100, "QK": 50, "QY": 50, "QX": 50, "AD": 100})
    unit_tenths = np.where(first_modifier == "AD", 30, base.fillna(0).astype(np.int64) * 10 + time_tenths)
    cf = medicare["medicare_locality"].map(localities).fillna(national)
    cf_ten_thousandths = np.round(cf * 10_000).astype(np.int64)
    product = unit_tenths * cf_ten_thousandths * share_percent.fillna(0).astype(np.int64)
    fee = (product + 50_000) // 100_000
    allowed = np.minimum(fee, medicare["charge_cents"])
    return pd.DataFrame({"valid": valid, "allowed_cents": allowed}, index=medicare.index)


def main() -> None:
    claims = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    lines = synthetic_claims(claims, seed=42)
    rows = lines.num_rows
    tables = reference_tables()
    print(f"{rows:,} claim lines ({claims:,} claims), input table {lines.nbytes / 1e6:.0f} MB")

    # Peak memory first, while the process has never held a result (later calls reuse the pages earlier
    # results freed, and show less): a small table loads the reference data before the one measured.
    cptkit.price_table(lines.slice(0, 1000), conversion_factor="60", today=TODAY, progress=False)
    before = reset_peak()
    result = cptkit.price_table(lines, conversion_factor="60", today=TODAY, progress=False)
    peak = {"cptkit": status_mb("VmHWM") - before}
    result_mb = result.get_total_buffer_size() / 1e6
    # The result's claim ids are the input's buffers (zero-copy), counted in its size but not added by
    # the call: the stricter bound leaves them out.
    result_own_mb = result.drop_columns(["claim_id"]).get_total_buffer_size() / 1e6
    del result

    # Correctness next: the baseline must agree with cptkit on every valid Medicare line it prices.
    frame = lines.to_pandas()  # the analyst's DataFrame: pandas is timed from here, not from Arrow
    priced = cptkit.price_table(lines, conversion_factor="60", today=TODAY, progress=False)
    baseline = pandas_medicare(frame, tables)
    ours = priced.to_pandas().loc[baseline.index]
    both = baseline["valid"] & (ours["status"] == "priced")
    mismatched = (ours.loc[both, "allowed_cents"] != baseline.loc[both, "allowed_cents"]).sum()
    print(f"pandas vs cptkit on {both.sum():,} valid Medicare lines: {mismatched} allowed amounts differ")
    if mismatched:
        raise SystemExit("the baseline disagrees with cptkit: fix it before timing")
    medicare_rows = len(baseline)  # the lines the baseline prices: its rate counts these
    del priced, ours, baseline

    best: dict[str, float] = {}
    for _ in range(3):
        before = reset_peak()
        start, cpu = time.perf_counter(), time.process_time()
        result = cptkit.price_table(lines, conversion_factor="60", today=TODAY, progress=False)
        best["cptkit"] = min(best.get("cptkit", 1e9), time.perf_counter() - start)
        # Every thread's CPU time: lines per CPU-second is the rate of one core.
        best["cptkit_cpu"] = min(best.get("cptkit_cpu", 1e9), time.process_time() - cpu)
        peak["cptkit"] = max(peak["cptkit"], status_mb("VmHWM") - before)
        del result
        start = time.perf_counter()
        cptkit.validate_table(lines, today=TODAY, progress=False)
        best["validate"] = min(best.get("validate", 1e9), time.perf_counter() - start)
        before = reset_peak()
        start = time.perf_counter()
        baseline = pandas_medicare(frame, tables)
        best["pandas"] = min(best.get("pandas", 1e9), time.perf_counter() - start)
        peak["pandas"] = max(peak.get("pandas", 0), status_mb("VmHWM") - before)
        del baseline
    # The same table as pandas categoricals or Parquet dictionary pages arrive: text columns encoded.
    encoded = lines
    for field in lines.schema:
        if field.type == pa.string() and field.name != "claim_id":  # ids are unique: nobody encodes them
            i = encoded.schema.get_field_index(field.name)
            encoded = encoded.set_column(i, field.name, pc.dictionary_encode(lines[field.name]))
    want = cptkit.price_table(lines, conversion_factor="60", today=TODAY, progress=False)
    if not cptkit.price_table(encoded, conversion_factor="60", today=TODAY, progress=False).equals(want):
        raise SystemExit("the dictionary-encoded table gave other answers than the plain one")
    del want
    for _ in range(3):
        before = reset_peak()
        start = time.perf_counter()
        result = cptkit.price_table(encoded, conversion_factor="60", today=TODAY, progress=False)
        best["dictionary"] = min(best.get("dictionary", 1e9), time.perf_counter() - start)
        peak["dictionary"] = max(peak.get("dictionary", 0), status_mb("VmHWM") - before)
        del result
    cptkit_rate = rows / best["cptkit"]
    pandas_rate = medicare_rows / best["pandas"]
    print(f"cptkit validate_table:                 {rows / best['validate']:>12,.0f} lines/s")
    print(
        f"cptkit price_table (validate + price): {cptkit_rate:>12,.0f} lines/s "
        f"({rows / best['cptkit_cpu']:,.0f} per CPU-second), peak memory +{peak['cptkit']:.0f} MB"
    )
    print(
        f"pandas Medicare price + 6 edits:       {pandas_rate:>12,.0f} lines/s ({medicare_rows:,} Medicare anesthesia lines), "
        f"peak memory +{peak['pandas']:.0f} MB"
    )
    print(
        f"cptkit price_table, text columns dictionary-encoded ({encoded.get_total_buffer_size() / 1e6:.0f} MB): "
        f"{rows / best['dictionary']:>12,.0f} lines/s, peak memory +{peak['dictionary']:.0f} MB"
    )
    print(f"ratio cptkit / pandas: {cptkit_rate / pandas_rate:.1f}x")
    print(f"cptkit peak memory / input table: {peak['cptkit'] * 1e6 / lines.nbytes:.2f}x")
    # The bound: peak memory no more than the input plus the result. The input is held before
    # the call, so what the call adds should not exceed its result.
    print(
        f"cptkit peak memory over the input: +{peak['cptkit']:.0f} MB, its result {result_mb:.0f} MB "
        f"({result_own_mb:.0f} MB without the claim ids it shares with the input)"
    )
    # One `name: value` line per figure, for bench/run_all.py.
    print(f"table_price_lines_per_s: {cptkit_rate:.0f}")
    print(f"table_price_lines_per_cpu_s: {rows / best['cptkit_cpu']:.0f}")
    print(f"table_validate_lines_per_s: {rows / best['validate']:.0f}")
    print(f"pandas_price_lines_per_s: {pandas_rate:.0f}")
    print(f"table_peak_memory_over_input: {peak['cptkit'] * 1e6 / lines.nbytes:.2f}")
    print(f"table_peak_memory_mb: {peak['cptkit']:.0f}")
    print(f"table_result_mb: {result_mb:.0f}")
    print(f"table_result_own_mb: {result_own_mb:.0f}")
    print(f"table_dictionary_price_lines_per_s: {rows / best['dictionary']:.0f}")
    print(f"table_dictionary_input_mb: {encoded.get_total_buffer_size() / 1e6:.0f}")
    print(f"table_dictionary_peak_memory_mb: {peak['dictionary']:.0f}")


if __name__ == "__main__":
    main()
