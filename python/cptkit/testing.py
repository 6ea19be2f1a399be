"""Test data for notebooks, benchmarks and examples.

Synthetic claims are not real patients: made-up member ids and birth dates, test NPIs, and charges from
a made-up charge master; codes, modifiers, diagnoses, places of service and localities are real
reference data, so every claim is judged against real rules.
"""

from __future__ import annotations

from typing import Any

from cptkit import _native

__all__ = ["synthetic_claims"]


def synthetic_claims(n: int, seed: int = 0) -> Any:
    """``n`` synthetic claims as a claim-lines table (``cptkit.CLAIM_LINES_SCHEMA``).

    The mix: Medicare (45%), Medicare Advantage, Cigna, BCBS Oklahoma, UnitedHealthcare and Aetna
    (no public anesthesia rules: "not priced"); every priced anesthesia code; personally performed
    (AA), medically directed (a QK physician claim and a QX anesthetist claim for one case) and
    non-directed CRNA (QZ) cases; a 99100 add-on line now and then; fee-schedule claims for 30% of
    cases (an office visit with an injection, surgery with multiple procedures, imaging with 26 and TC,
    therapy units); and about 3% of cases with a mistake a billing office makes (a retired diagnosis, a
    mistyped NPI, zero minutes or units, a pointer past the diagnoses, an anesthetist's modifier on a
    physician). The same seed gives the same table.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return _native.synthetic_claims(n, seed)
