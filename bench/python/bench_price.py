"""Claims priced per second by ``cptkit.price_many``, against a plain pure-Python Medicare pricer run on
the same claims in the same script.

Run against the installed wheel (``bash scripts/test.sh`` builds and installs it into .venv):

    .venv/bin/python bench/python/bench_price.py [--claims 100000] [--repeat 3]

The claims are Medicare fee-for-service anesthesia claims like the core's criterion bench
(``crates/cptkit-core/benches/claims.rs``): codes across the CMS base-unit table, AA/QK/QX/QZ, 20 to
219 minutes, 2025 dates of service, the Manhattan (13202-01) and Los Angeles (01182-18) locality
conversion factors, and charges that sometimes fall below the fee schedule (lesser of charge).

``CPTKIT_THREADS=1`` runs cptkit's batches on one core (the default shares each chunk across the cores).

The pure-Python pricer is the textbook rule and nothing else: base units from the CMS CSV, minutes / 15
rounded half-up to a tenth (none for 01995 and 01996), the CY2025 locality conversion factor, 50% for QK/QY/QX, round to cents,
lesser of fee and charge. cptkit also reads each claim and runs every validation edit (NPI check digits,
ICD-10-CM codes, modifier order and roles, pointers, dates) before pricing it, and keeps what it needs to
explain every step. The script checks that both give the same total for every claim (the mismatch count
must be 0) and prints claims/s and the ratios. Nothing asserts on time.

After the table it prints one ``name: value`` line per figure, for ``bench/run_all.sh`` to parse:

    pure_python_pricer_claims_per_s: N      the baseline, run beside the others in the same process
    price_many_dicts_claims_per_s: N        cptkit.price_many on the dicts (goal >= 500,000 on 2 cores)
    price_many_json_claims_per_s: N         ... on JSON strings
    price_many_claim_objects_claims_per_s: N  ... on cptkit.Claim objects parsed before
    validate_many_dicts_claims_per_s: N
    price_many_dicts_vs_pure_python: R      ratio (x) of price_many on dicts to the baseline
    price_many_dicts_vs_claim_objects: R    ratio of dicts to Claim objects (1.0: reading dicts is free)
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import cptkit

DATA = Path(__file__).resolve().parents[2] / "crates" / "cptkit-core" / "data"
TODAY = "2026-11-27"
# (modifier, taxonomy, role): AA and QK by an anesthesiologist, QX and QZ by a CRNA.
PAIRS = [
    ("AA", "207L00000X", "anesthesiologist"),
    ("QK", "207L00000X", "anesthesiologist"),
    ("QX", "367500000X", "crna"),
    ("QZ", "367500000X", "crna"),
]
LOCALITIES = ["13202-01", "01182-18"]  # Manhattan; Los Angeles (CMS MAC-locality ids)


def anesthesia_codes() -> list[str]:
    """Every base anesthesia code in the CMS table that cptkit prices by time (no unlisted 01999, no
    add-on codes, which are billed beside a primary code)."""
    return sorted(s.code for s in cptkit.search_codes(service_type="anesthesia"))


def sample_claims(count: int) -> list[dict[str, Any]]:
    codes = anesthesia_codes()
    claims = []
    for i in range(count):
        modifier, taxonomy, role = PAIRS[i % len(PAIRS)]
        claims.append(
            {
                "claim_id": f"C{i}",
                "payer": {"id": "medicare", "plan_type": "medicare_ffs"},
                "place_of_service": "21",
                "patient": {"birth_date": "1950-01-01"},
                "billing_provider_npi": "1234567893",
                "rendering_provider": {"npi": "1558598797", "taxonomy": taxonomy, "role": role},
                "medicare_locality": LOCALITIES[i % 2],
                "diagnoses": ["M54.50", "M48.062"],
                "lines": [
                    {
                        "procedure_code": codes[(i * 7) % len(codes)],
                        "modifiers": [modifier, "P2"],
                        "unit_basis": "MJ",
                        "quantity": str(20 + (i * 7) % 200),
                        "diagnosis_pointers": [1, 2],
                        # Mostly above the fee schedule; now and then below it (lesser of charge).
                        "charge_cents": 20_000 + (i * 7919) % 300_000,
                        "date_of_service": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                        "case_id": f"K{i}",
                    }
                ],
            }
        )
    return claims


# --- the pure-Python baseline -----------------------------------------------------------------------

TENTH = Decimal("0.1")
CENT = Decimal("0.01")
HALF = Decimal("0.50")
ONE = Decimal("1.00")
FIFTEEN = Decimal(15)
HUNDRED = Decimal(100)
NO_TIME_UNITS = {"01995", "01996"}


def load_tables() -> tuple[dict[str, Decimal], dict[tuple[int, str], Decimal]]:
    with (DATA / "cms_anesthesia_base_units.csv").open(encoding="utf-8") as f:
        base_units = {row["cpt_code"]: Decimal(row["base_units"]) for row in csv.DictReader(f)}
    with (DATA / "medicare_anesthesia_cf_locality_cy2025.csv").open(encoding="utf-8") as f:
        locality_cf = {
            (int(row["year"]), f"{row['mac_contractor']}-{row['locality']}"): Decimal(row["anesthesia_cf_usd"])
            for row in csv.DictReader(f)
        }
    return base_units, locality_cf


def python_pricer() -> Callable[[dict[str, Any]], Decimal]:
    base_units, locality_cf = load_tables()

    def price(claim: dict[str, Any]) -> Decimal:
        total = Decimal(0)
        for line in claim["lines"]:
            code = line["procedure_code"]
            # Medicare pays daily epidural management (01995, 01996) on base units alone.
            time_units = 0 if code in NO_TIME_UNITS else (Decimal(line["quantity"]) / FIFTEEN).quantize(TENTH, ROUND_HALF_UP)
            units = base_units[code] + time_units
            cf = locality_cf[(int(line["date_of_service"][:4]), claim["medicare_locality"])]
            share = HALF if line["modifiers"][0] in ("QK", "QY", "QX") else ONE
            fee = (units * cf * share).quantize(CENT, ROUND_HALF_UP)
            charge = Decimal(line["charge_cents"]) / HUNDRED
            total += min(fee, charge)
        return total

    return price


# --- timing -------------------------------------------------------------------------------------------


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description="cptkit.price_many vs a pure-Python Medicare pricer")
    parser.add_argument("--claims", type=int, default=100_000, help="claims per run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case; the best counts")
    args = parser.parse_args()
    n = args.claims

    claims = sample_claims(n)
    texts = [json.dumps(c) for c in claims]
    parsed = [cptkit.Claim.from_dict(c) for c in claims]
    pure = python_pricer()
    cptkit.price_many(claims[:100], today=TODAY)  # warm: reference data, ICD-10-CM index

    t_py, py_totals = best_of(args.repeat, lambda: [pure(c) for c in claims])
    t_dicts, from_dicts = best_of(args.repeat, lambda: cptkit.price_many(claims, today=TODAY))
    t_texts, from_texts = best_of(args.repeat, lambda: cptkit.price_many(texts, today=TODAY))
    t_parsed, _ = best_of(args.repeat, lambda: cptkit.price_many(parsed, today=TODAY))
    t_validate, reports = best_of(args.repeat, lambda: cptkit.validate_many(claims, today=TODAY))
    t_single, _ = best_of(args.repeat, lambda: [cptkit.price(c, today=TODAY) for c in claims[: n // 10]])

    errors = [r for r in from_dicts if isinstance(r, cptkit.CptkitError)]
    mismatches = sum(
        1
        for want, got in zip(py_totals, from_dicts, strict=True)
        if isinstance(got, cptkit.CptkitError) or got.total_allowed != want
    )
    text_mismatches = sum(
        1
        for a, b in zip(from_dicts, from_texts, strict=True)
        if isinstance(a, cptkit.CptkitError) or isinstance(b, cptkit.CptkitError) or a != b
    )
    invalid = sum(1 for r in reports if isinstance(r, cptkit.CptkitError) or not r.valid)

    print(f"cptkit {cptkit.__version__}: {n:,} Medicare claims (1 line each), best of {args.repeat}")
    print(f"cptkit errors: {len(errors)}; invalid reports: {invalid}")
    print(f"mismatches, pure Python vs cptkit (dicts): {mismatches}")
    print(f"mismatches, cptkit dicts vs JSON strings: {text_mismatches}")
    rows = [
        ("pure-Python Medicare pricer (baseline, no validation)", t_py),
        ("cptkit.price_many(dicts)", t_dicts),
        ("cptkit.price_many(JSON strings)", t_texts),
        ("cptkit.price_many(cptkit.Claim objects, parsed before)", t_parsed),
        ("cptkit.validate_many(dicts)", t_validate),
    ]
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {n / seconds:>10,.0f} claims/s  {t_py / seconds:6.2f}x pure Python")
    single = n // 10
    print(f"{'cptkit.price(dict), one call per claim':<{width}}  {single / t_single:>10,.0f} claims/s")
    figures = [
        ("pure_python_pricer_claims_per_s", f"{n / t_py:.0f}"),
        ("price_many_dicts_claims_per_s", f"{n / t_dicts:.0f}"),
        ("price_many_json_claims_per_s", f"{n / t_texts:.0f}"),
        ("price_many_claim_objects_claims_per_s", f"{n / t_parsed:.0f}"),
        ("validate_many_dicts_claims_per_s", f"{n / t_validate:.0f}"),
        ("price_many_dicts_vs_pure_python", f"{t_py / t_dicts:.2f}"),
        ("price_many_dicts_vs_claim_objects", f"{t_parsed / t_dicts:.2f}"),
    ]
    for name, value in figures:
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
