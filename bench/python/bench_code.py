"""Lookups per second of ``cptkit.code`` from Python, against a plain dict lookup in the same script.

Run against the installed wheel (``bash scripts/test.sh`` builds and installs it into .venv):

    .venv/bin/python bench/python/bench_code.py [--repeat 5]

Prints one line per case with its ratio to the dict baseline. Nothing asserts on time: the numbers
are for people (the target is >= 200,000 lookups/s for the cached default profile).
"""

from __future__ import annotations

import argparse
import timeit
from typing import Any

import cptkit


def per_second(stmt: str, namespace: dict[str, Any], repeat: int, per_loop: int = 1) -> float:
    """Best-of-``repeat`` rate of ``stmt`` (which does ``per_loop`` lookups), timeit-style."""
    timer = timeit.Timer(stmt, globals=namespace)
    number, _ = timer.autorange()  # Enough loops for 0.2 s.
    best = min(timer.repeat(repeat=repeat, number=number))
    return number * per_loop / best


def main() -> None:
    parser = argparse.ArgumentParser(description="cptkit.code lookups per second vs a dict lookup")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case; the best counts")
    args = parser.parse_args()

    codes = [summary.code for summary in cptkit.list_codes()]
    table = {c: cptkit.code(c) for c in codes}  # Also warms the per-code cache.
    ns: dict[str, Any] = {"code": cptkit.code, "table": table, "codes": codes}
    n = len(codes)

    one_dict = per_second("table['00632']", ns, args.repeat)
    one_code = per_second("code('00632')", ns, args.repeat)
    all_dict = per_second("for c in codes: table[c]", ns, args.repeat, per_loop=n)
    all_code = per_second("for c in codes: code(c)", ns, args.repeat, per_loop=n)
    fresh = per_second("code('00632', localities=['13202-01'])", ns, args.repeat)

    rows = [
        ("dict lookup table['00632'] (baseline)", one_dict, one_dict),
        ("cptkit.code('00632'), cached", one_code, one_dict),
        (f"dict lookup cycling all {n} codes (baseline)", all_dict, all_dict),
        (f"cptkit.code(c) cycling all {n} codes", all_code, all_dict),
        ("cptkit.code('00632', localities=['13202-01']), built fresh", fresh, one_dict),
    ]
    print(f"cptkit {cptkit.__version__}, best of {args.repeat}")
    width = max(len(label) for label, _, _ in rows)
    for label, rate, baseline in rows:
        print(f"{label:<{width}}  {rate:>13,.0f} lookups/s  {baseline / rate:8.1f}x the dict's time")
    # One `name: value` line per figure, for bench/run_all.py.
    print(f"code_lookups_per_s: {one_code:.0f}")
    print(f"dict_lookups_per_s: {one_dict:.0f}")


if __name__ == "__main__":
    main()
