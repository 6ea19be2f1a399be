#!/usr/bin/env python3
"""Deterministic synthetic TiC in-network-rates file for benchmarks: generate_tic.py SIZE_MB OUT [--gzip]

Shaped like a large payer's file (CMS schema v1.x, minified): a top-level provider_references table
(groups of NPIs under a TIN), then in_network records, mostly non-anesthesia CPT codes with ~4% anesthesia
codes, each with many negotiated_rates (provider reference ids, 1-3 prices with places of service).
Every name, NPI, TIN and rate is synthetic (seeded random), not any payer's data.
"""
import gzip
import json
import random
import sys

# CPT anesthesia codes with their CMS base units (crates/cptkit-core/data/cms_anesthesia_base_units.csv).
ANESTHESIA = {"00100": 5, "00300": 5, "00400": 3, "00630": 8, "00632": 7, "00670": 13, "00790": 7,
              "00840": 6, "01400": 4, "01402": 7, "01480": 3, "01610": 5, "01810": 3, "01967": 5}
PLACES = ["11", "19", "21", "22", "23", "24"]


def main() -> None:
    size_mb, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(20261127)
    target = size_mb * 1_000_000
    other_codes = sorted({f"{rng.randint(10000, 99499):05d}" for _ in range(3000)})
    groups = 4000
    opener = gzip.open if "--gzip" in sys.argv else open
    written = 0
    with opener(out, "wt", encoding="utf-8") as f:
        def put(text: str) -> None:
            nonlocal written
            f.write(text)
            written += len(text)

        put('{"reporting_entity_name":"Synthetic Benchmark Plan","reporting_entity_type":"health insurance issuer",'
            '"last_updated_on":"2025-07-01","version":"1.3.1","provider_references":[')
        for g in range(groups):
            npis = [1000000000 + rng.randrange(0, 900000000) for _ in range(rng.randint(1, 8))]
            ref = {"provider_group_id": g + 1,
                   "provider_groups": [{"npi": npis, "tin": {"type": "ein", "value": f"{rng.randrange(10**8, 10**9)}"}}]}
            put(("," if g else "") + json.dumps(ref, separators=(",", ":")))
        put('],"in_network":[')
        first = True
        while written < target:
            anesthesia = rng.random() < 0.04
            code = rng.choice(sorted(ANESTHESIA)) if anesthesia else rng.choice(other_codes)
            rates = []
            for _ in range(rng.randint(20, 80)):
                prices = []
                for _ in range(rng.randint(1, 3)):
                    if anesthesia:
                        per_unit = rng.random() < 0.7
                        amount = round(rng.uniform(45, 130) if per_unit else rng.uniform(400, 3500), 2)
                    else:
                        amount = round(rng.lognormvariate(5, 1), 2)
                    price = {"negotiated_type": rng.choice(["negotiated", "negotiated", "fee schedule"]),
                             "negotiated_rate": amount, "expiration_date": "9999-12-31",
                             "service_code": sorted(rng.sample(PLACES, rng.randint(1, 3))),
                             "billing_class": "professional"}
                    if rng.random() < 0.1:
                        price["billing_code_modifier"] = [rng.choice(["26", "TC", "QZ", "QK"])]
                    prices.append(price)
                rates.append({"provider_references": rng.sample(range(1, groups + 1), rng.randint(1, 4)),
                              "negotiated_prices": prices})
            record = {"negotiation_arrangement": "ffs", "name": f"Synthetic service {code}",
                      "billing_code_type": "CPT", "billing_code_type_version": "2025", "billing_code": code,
                      "description": "synthetic benchmark record", "negotiated_rates": rates}
            put(("" if first else ",") + json.dumps(record, separators=(",", ":")))
            first = False
        put("]}")
    print(f"wrote {out}: {written / 1e6:.1f} MB of JSON")


if __name__ == "__main__":
    main()
