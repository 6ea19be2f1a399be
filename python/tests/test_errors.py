"""Errors: one base class with `kind` and `field`, a class per core error kind."""

from __future__ import annotations

import errno
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

import cptkit
from conftest import FIXTURES
from cptkit import exceptions


@pytest.mark.parametrize("bad", ["0063", "ABCDE", "", "006321", "00 632"])
def test_malformed_codes_are_invalid_input_naming_the_field(bad: str) -> None:
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.code(bad)
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, cptkit.CptkitError)
    assert (error.kind, error.field) == ("invalid_input", "code")
    assert str(error).startswith("code: ")
    assert error.violations == [("code", error.message)]


@pytest.mark.parametrize("unknown", ["00101", "99999", "J9998"])
def test_unknown_codes(unknown: str) -> None:
    with pytest.raises(cptkit.UnknownCodeError) as info:
        cptkit.code(unknown)
    error = info.value
    assert isinstance(error, cptkit.NotFoundError)
    assert isinstance(error, LookupError)
    assert isinstance(error, cptkit.CptkitError)
    assert (error.kind, error.field) == ("not_found", "code")
    assert unknown in str(error)


def test_not_in_cms_file_versus_not_anesthesia() -> None:
    with pytest.raises(cptkit.UnknownCodeError, match="anesthesia range"):
        cptkit.code("00101")
    with pytest.raises(cptkit.UnknownCodeError, match="not in the Medicare Physician Fee Schedule"):
        cptkit.code("99999")


def test_unknown_locality_is_not_found_but_not_an_unknown_code() -> None:
    with pytest.raises(cptkit.NotFoundError) as info:
        cptkit.code("00632", localities=["13202-01", "99999-99"])
    assert not isinstance(info.value, cptkit.UnknownCodeError)
    assert info.value.field == "localities[1]"


@pytest.mark.parametrize(
    ("localities", "field"),
    [(["1320201"], "localities[0]"), (["13202-01", 7], "localities[1]"), ("13202-01", "localities"), (5, "localities")],
)
def test_malformed_localities(localities: Any, field: str) -> None:
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.code("00632", localities=localities)
    assert info.value.field == field


def test_wrong_argument_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        cptkit.code(632)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda: cptkit.modifier("Q"), cptkit.InvalidInputError, "code"),
        (lambda: cptkit.modifier("ZZ"), cptkit.NotFoundError, "code"),
        (lambda: cptkit.diagnosis("M5"), cptkit.InvalidInputError, "code"),
        (lambda: cptkit.diagnosis("Z99.999"), cptkit.NotFoundError, "code"),
        (lambda: cptkit.taxonomy("207L00000"), cptkit.InvalidInputError, "code"),
        (lambda: cptkit.taxonomy("123456789X"), cptkit.NotFoundError, "code"),
        (lambda: cptkit.place_of_service("2A"), cptkit.InvalidInputError, "code"),
        (lambda: cptkit.place_of_service("98"), cptkit.NotFoundError, "code"),
        (lambda: cptkit.search_codes(service_type=cast(Any, "general")), cptkit.InvalidInputError, "service_type"),
        (lambda: cptkit.search_codes(min_base_units=-1), cptkit.InvalidInputError, "min_base_units"),
        (lambda: cptkit.search_codes(min_base_units=9, max_base_units=3), cptkit.InvalidInputError, "max_base_units"),
    ],
)
def test_lookup_errors(call: Callable[[], object], error: type[cptkit.CptkitError], field: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error  # NotFoundError here, never the code-specific subclass
    assert info.value.field == field
    assert info.value.kind == error.kind


def test_hierarchy_and_kinds() -> None:
    assert issubclass(cptkit.InvalidInputError, ValueError)
    assert issubclass(cptkit.NotFoundError, LookupError)
    assert issubclass(cptkit.UnknownCodeError, cptkit.NotFoundError)
    assert issubclass(cptkit.ClaimValidationError, cptkit.InvalidInputError)
    assert issubclass(cptkit.MissingFileError, cptkit.NotFoundError)
    assert issubclass(cptkit.MissingFileError, FileNotFoundError)
    kinds = {
        cptkit.InvalidInputError: "invalid_input",
        cptkit.NotFoundError: "not_found",
        cptkit.UnknownCodeError: "not_found",
        cptkit.MissingFileError: "not_found",
        cptkit.ClaimValidationError: "invalid_input",
        cptkit.UnsupportedError: "unsupported",
        cptkit.ConflictError: "conflict",
        cptkit.InternalError: "internal",
    }
    for cls, kind in kinds.items():
        assert issubclass(cls, cptkit.CptkitError)
        assert cls.kind == kind
        assert cls.__module__ == "cptkit.exceptions"
    assert set(exceptions.__all__) == {c.__name__ for c in kinds} | {"CptkitError"}


def test_errors_pickle_with_their_attributes() -> None:
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.code("0063")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is cptkit.InvalidInputError
    assert (copy.kind, copy.field, str(copy)) == ("invalid_input", "code", str(info.value))
    assert copy.violations == info.value.violations


def test_an_error_built_by_hand() -> None:
    error = cptkit.ConflictError("two lines disagree", field="claim.lines[1]")
    assert (error.kind, error.field, str(error)) == ("conflict", "claim.lines[1]", "claim.lines[1]: two lines disagree")
    assert error.violations == [("claim.lines[1]", "two lines disagree")]
    assert str(cptkit.InternalError("boom")) == "boom"
    assert cptkit.InternalError("boom").violations == []


def test_one_exception_for_every_missing_file(tmp_path: Path) -> None:
    """read_837, read_835, reconcile, load_rule_set, ingest_tic and load_benchmarks: MissingFileError,
    which is also the built-in FileNotFoundError, naming the file."""
    missing = tmp_path / "no-such-file"
    calls = [
        lambda: cptkit.read_837(missing),
        lambda: cptkit.read_835(missing),
        lambda: cptkit.reconcile(missing, missing),
        lambda: cptkit.load_rule_set(missing),
        lambda: cptkit.ingest_tic(missing),
        lambda: cptkit.load_benchmarks(missing),
    ]
    for call in calls:
        with pytest.raises(cptkit.MissingFileError) as info:
            call()
        error = info.value
        assert isinstance(error, FileNotFoundError) and isinstance(error, cptkit.NotFoundError)
        assert error.kind == "not_found" and error.errno == errno.ENOENT
        assert error.filename == str(missing) and str(missing) in str(error)


def test_errors_carry_the_path_as_data() -> None:
    fixture = Path(__file__).parents[2] / "tests/fixtures/claims/medicare_00632_aa_90min_2025/claim.json"
    claim = json.loads(fixture.read_text(encoding="utf-8"))
    claim["lines"][0]["modifiers"][1] = "A"
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.validate(claim)
    assert info.value.field == "lines[0].modifiers[1]"
    assert info.value.loc == ("lines", 0, "modifiers", 1)


def _claim() -> dict[str, Any]:
    path = FIXTURES / "claims" / "medicare_00632_aa_90min_2025" / "claim.json"
    claim: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return claim


def test_text_after_a_claim_is_refused_not_dropped() -> None:
    text = json.dumps(_claim())
    for after in [" garbage", "\n" + text]:
        with pytest.raises(cptkit.InvalidInputError, match="text after the claim"):
            cptkit.price(text + after, today="2026-11-27")
    assert cptkit.price(text + "\n", today="2026-11-27").total_allowed > 0


def test_an_array_of_claims_given_as_one_claim_is_said_to_be_an_array() -> None:
    """Not "[0]: invalid type: map, expected a string" (serde reading the array as the claim's fields)."""
    text = json.dumps(_claim())
    said = "expected one claim (a JSON object), got an array"
    for array in [f"[{text}, {text}]", f"\n [{text}]", "[]"]:
        for given in (array, array.encode()):
            slots = [cptkit.price_many([given], today="2026-11-27")[0], cptkit.validate_many([given])[0]]
            with pytest.raises(cptkit.InvalidInputError) as raised:
                cptkit.price(given, today="2026-11-27")
            for error in [*slots, raised.value]:
                assert isinstance(error, cptkit.InvalidInputError) and error.message == said, repr(error)
    # What the message points to: each claim on its own.
    assert all(isinstance(r, cptkit.PricedClaim) for r in cptkit.price_many([text, text], today="2026-11-27"))


def test_a_patient_value_is_never_repeated_in_an_error() -> None:
    for field, value in [("member_id", 12345), ("birth_date", "1958-02-30")]:
        claim = _claim()
        claim["patient"][field] = value
        for given in (claim, json.dumps(claim)):
            with pytest.raises(cptkit.InvalidInputError) as raised:
                cptkit.price(given, today="2026-11-27")
            assert raised.value.field == f"patient.{field}"
            assert str(value) not in str(raised.value)


def test_nulls_are_no_value_as_in_tables() -> None:
    claim = _claim()
    claim["patient"]["member_id"] = None
    claim["lines"][0]["case_id"] = None
    claim["lines"][0]["present_at_induction"] = None
    assert cptkit.price(claim, today="2026-11-27").total_allowed > 0
