#!/usr/bin/env python3
"""Parses one generated 837P with cptkit.read_837, pyx12 and linuxforhealth-x12; prints MB/s and ratios.

    python3 bench/x12/generate_837.py /tmp/bench_837.x12 5      # ~5-10 MB: the pure-Python parsers finish
    .venv/bin/python bench/x12/compare_python_parsers.py /tmp/bench_837.x12 [--lfh-python /tmp/lfh/bin/python]

What each parser does (not the same work, so read the ratios with that in mind):
* cptkit.read_837: tokenize, envelope checks, 837P loops -> typed core claims with a source table per
  claim (GIL released); the result is Python objects for every claim.
* pyx12: X12ContextReader over the 005010X222A1 map (walks every segment through the implementation
  guide's loop tree and checks it). This is pyx12's parse; its validator (x12valid) does more on top.
* linuxforhealth-x12: X12ModelReader -> pydantic (v1) models per transaction (validated against its
  837P model). It needs `pydantic<2`: pass `--lfh-python` for a separate venv that has it, e.g.
  `python3 -m venv /tmp/lfh && /tmp/lfh/bin/pip install linuxforhealth-x12 'pydantic<2'`.

Not part of the test suite; no assertions on time. Each parser runs `--repeat` times (best kept).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

LFH_SNIPPET = r"""
import json, sys, time
from linuxforhealth.x12.io import X12ModelReader
path = sys.argv[1]
best = None
count = 0
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    n = 0
    with X12ModelReader(path) as reader:
        for model in reader.models():
            n += 1
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
    count = n
print(json.dumps({"seconds": best, "units": count}))
"""


def best_of(repeat: int, run):  # type: ignore[no-untyped-def]
    best = None
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def bench_cptkit(path: str, repeat: int) -> tuple[float, str]:
    import cptkit

    seconds, result = best_of(repeat, lambda: cptkit.read_837(path))
    return seconds, f"{len(result.claims)} claims, {len(result.errors)} errors"


def bench_pyx12(path: str, repeat: int) -> tuple[float, str]:
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    def run() -> int:
        param = pyx12.params.params()
        errh = pyx12.error_handler.errh_null()
        claims = 0
        with open(path, encoding="ascii") as fd:
            reader = pyx12.x12context.X12ContextReader(param, errh, fd)
            for node in reader.iter_segments("2300"):
                if node.id == "2300":
                    claims += 1
        return claims

    seconds, claims = best_of(repeat, run)
    return seconds, f"{claims} 2300 loops"


def bench_lfh(path: str, repeat: int, python: str | None) -> tuple[float, str] | str:
    cmd = [python or sys.executable, "-c", LFH_SNIPPET, path, str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["seconds"], f"{out['units']} transaction models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--lfh-python", help="python of a venv with linuxforhealth-x12 and pydantic<2")
    parser.add_argument("--skip", action="append", default=[], choices=["pyx12", "lfh"])
    args = parser.parse_args()
    mb = os.path.getsize(args.file) / 1_000_000
    print(f"{args.file}: {mb:.1f} MB")

    results: dict[str, tuple[float, str] | str] = {"cptkit.read_837": bench_cptkit(args.file, args.repeat)}
    if "pyx12" not in args.skip:
        try:
            results["pyx12 X12ContextReader"] = bench_pyx12(args.file, args.repeat)
        except Exception as e:  # noqa: BLE001 - report and go on
            results["pyx12 X12ContextReader"] = f"failed: {e!r}"
    if "lfh" not in args.skip:
        results["linuxforhealth-x12 X12ModelReader"] = bench_lfh(args.file, args.repeat, args.lfh_python)

    base = results["cptkit.read_837"]
    assert not isinstance(base, str)
    print(f"{'parser':36} {'seconds':>9} {'MB/s':>9} {'cptkit x':>9}  what")
    for name, r in results.items():
        if isinstance(r, str):
            print(f"{name:36} {r}")
            continue
        seconds, what = r
        print(f"{name:36} {seconds:9.3f} {mb / seconds:9.2f} {seconds / base[0]:9.1f}  {what}")


if __name__ == "__main__":
    main()
