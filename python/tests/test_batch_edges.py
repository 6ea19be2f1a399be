"""`price_many` as a pipeline (dicts read holding the GIL while worker threads judge earlier chunks):
answers in input order, each bad row's exception in its own slot, every answer the same as one `price`
call, on batches of many chunks with every kind of input and every kind of failure interleaved."""

from __future__ import annotations

import copy
import datetime
import gc
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import cptkit
from test_claims import CASES, TODAY, case, medicare_claim, price_kwargs


def same_answer(got: Any, want: Any) -> bool:
    if isinstance(want, cptkit.CptkitError):
        return type(got) is type(want) and str(got) == str(want) and got.field == want.field
    return bool(got == want)


def one_by_one(claims: list[Any], **kwargs: Any) -> list[Any]:
    answers = []
    for claim in claims:
        try:
            answers.append(cptkit.price(claim, **kwargs))
        except cptkit.CptkitError as error:
            answers.append(error)
    return answers


def mixed_batch(count: int) -> list[Any]:
    """Good claims as dicts, JSON text, bytes and `Claim`s, with unreadable, invalid and unpriceable rows
    interleaved at irregular steps, so they land at the start, middle and end of chunks."""
    broken, _ = case("broken_modifier_order_role_and_units")
    no_cf, _ = case("cigna_missing_conversion_factor")
    bad_rows: list[Any] = [
        medicare_claim(code="ABCDE"),  # a field that does not read: InvalidInputError naming it
        {**medicare_claim(), "surprise": 1},  # an unknown field
        {**medicare_claim(), "lines": [{**medicare_claim()["lines"][0], "quantity": 1.5}]},  # a float
        broken,  # reads, fails its edits: ClaimValidationError
        no_cf,  # reads and validates, cannot be priced
        "{not json",
        b"\xff",
        17,
        None,
    ]
    claims: list[Any] = []
    for i in range(count):
        claim = medicare_claim(modifier=["AA", "QK", "QX", "QZ"][i % 4], minutes=15 + (i * 7) % 300)
        claim["claim_id"] = f"C{i}"
        if i % 5 == 1:
            claim["patient"]["birth_date"] = datetime.date(1950, 1, 1 + i % 28)
            claim["lines"][0]["quantity"] = Decimal(claim["lines"][0]["quantity"])
        form = i % 7
        if i % 97 in (0, 13, 50) or i % 1024 in (0, 1023):
            claims.append(copy.deepcopy(bad_rows[i % len(bad_rows)]))
        elif form == 2:
            claims.append(json.dumps(claim, default=str))
        elif form == 3:
            claims.append(json.dumps(claim, default=str).encode())
        elif form == 4:
            claims.append(cptkit.Claim.from_dict(claim))
        else:
            claims.append(claim)
    return claims


def test_price_many_pipeline_equals_price_one_by_one() -> None:
    claims = mixed_batch(9_000)  # about nine chunks
    results = cptkit.price_many(claims, today=TODAY)
    want = one_by_one(claims, today=TODAY)
    assert len(results) == len(want) == len(claims)
    bad = [i for i, (got, expected) in enumerate(zip(results, want, strict=True)) if not same_answer(got, expected)]
    assert bad == [], bad[:10]
    # In order: each good row's answer is its own claim's.
    ids = [r.claim_id for r in results if isinstance(r, cptkit.PricedClaim)]
    assert ids == sorted(ids, key=lambda c: int(c[1:])) and len(ids) > 4_000
    kinds = {type(r) for r in results}
    assert {cptkit.PricedClaim, cptkit.InvalidInputError, cptkit.ClaimValidationError} <= kinds


def test_price_many_pipeline_keeps_field_paths_and_the_golden_answers() -> None:
    """Every golden case, many times over in one batch: the same answer as `price` in every slot."""
    for name in CASES:
        claim, expected = case(name)
        kwargs = price_kwargs(expected)
        want = one_by_one([claim], **kwargs)[0]
        results = cptkit.price_many(itertools.repeat(claim, 2_100), **kwargs)  # a generator, three chunks
        assert all(same_answer(r, want) for r in results), name
    malformed = medicare_claim(code="ABCDE")
    results = cptkit.price_many([medicare_claim()] * 3_000 + [malformed], today=TODAY)
    assert isinstance(results[-1], cptkit.InvalidInputError) and results[-1].field == "lines[0].procedure_code"


def test_price_many_raises_an_iteration_error_and_stops() -> None:
    def claims() -> Any:
        yield from [medicare_claim()] * 2_500
        raise ValueError("the source failed")

    with pytest.raises(ValueError, match="the source failed"):
        cptkit.price_many(claims(), today=TODAY)
    # The workers of the failed call are gone; the next call works.
    assert isinstance(cptkit.price_many([medicare_claim()], today=TODAY)[0], cptkit.PricedClaim)


def test_batches_leave_the_garbage_collector_as_they_found_it() -> None:
    """`price_many`, `validate_many` and `read_837` pause Python's collector while they make their
    results (every pyo3 object is tracked by it, and results hold no cycles): whatever happens, the
    caller's setting is what remains, and the results are the same."""
    claims = [medicare_claim(minutes=30 + i) for i in range(5)]
    x12 = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "x12" / "837p_medicare_star_crlf.x12"

    def batches() -> list[Any]:
        return [
            cptkit.price_many(claims, today=TODAY),
            cptkit.validate_many(claims, today=TODAY),
            [c.claim for c in cptkit.read_837(x12).claims],
        ]

    assert gc.isenabled()
    running = batches()
    assert gc.isenabled()
    gc.disable()
    try:
        assert batches() == running
        assert not gc.isenabled(), "a collector the caller turned off stays off"
    finally:
        gc.enable()

    def failing() -> Any:
        yield from claims
        raise KeyError("the caller's iterator fails mid-batch")

    for batch in (cptkit.price_many, cptkit.validate_many):
        with pytest.raises(KeyError):
            batch(failing(), today=TODAY)
        assert gc.isenabled(), batch.__name__
