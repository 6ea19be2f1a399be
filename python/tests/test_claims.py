"""Claim validation and pricing against the installed wheel, held to the same golden cases as the Rust
core (tests/fixtures/claims/<case>/{claim.json,expected.json}) and the gRPC server."""

from __future__ import annotations

import copy
import datetime
import json
import pickle
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import cptkit

REPO_ROOT = Path(__file__).resolve().parents[2]
CLAIMS = REPO_ROOT / "tests" / "fixtures" / "claims"
CASES = sorted(d.name for d in CLAIMS.iterdir() if (d / "claim.json").is_file())
RULESETS = REPO_ROOT / "crates" / "cptkit-core" / "data" / "rulesets"
TODAY = datetime.date(2026, 11, 27)


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def case(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return read_json(CLAIMS / name / "claim.json"), read_json(CLAIMS / name / "expected.json")


def price_kwargs(expected: dict[str, Any]) -> dict[str, Any]:
    """A golden case's price options as keyword arguments: a factor for every payer, or with
    `payer_conversion_factors` a dict of payer id -> factor (None: every other payer)."""
    options = expected.get("price_options", {})
    kwargs: dict[str, Any] = {"today": expected["today"]}
    every = Decimal(options["conversion_factor"]) if "conversion_factor" in options else None
    by_payer = options.get("payer_conversion_factors")
    if by_payer:
        kwargs["conversion_factor"] = {None: every, **{p: Decimal(cf) for p, cf in by_payer.items()}}
    elif every is not None:
        kwargs["conversion_factor"] = every
    if "rule_set" in options:
        kwargs["rule_set"] = options["rule_set"]
    if "percent_of_medicare" in options:
        kwargs["percent_of_medicare"] = Decimal(options["percent_of_medicare"])
    return kwargs


def finding_set(findings: Any) -> set[tuple[str, str]]:
    return {(f["edit_id"], f["field"]) for f in findings}


def medicare_claim(code: str = "00632", modifier: str = "AA", minutes: int = 90) -> dict[str, Any]:
    claim, _ = case("medicare_00632_aa_90min_2025")
    claim = copy.deepcopy(claim)
    line = claim["lines"][0]
    line.update(procedure_code=code, quantity=str(minutes), start_time=None, end_time=None)
    line["modifiers"][0] = modifier
    return claim


def test_every_case_is_found() -> None:
    assert len(CASES) >= 15, CASES


# --- validate -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_validate_golden(name: str) -> None:
    claim, expected = case(name)
    report = cptkit.validate(claim, today=expected["today"])
    assert isinstance(report, cptkit.ValidationReport)
    assert report.claim_id == claim["claim_id"]
    assert {(f.edit_id, f.field) for f in report.findings} == finding_set(expected["findings"])
    assert report.valid == all(f.severity != "error" for f in report.findings)
    for finding in report.findings:
        assert isinstance(finding, cptkit.Finding)
        assert finding.severity in ("error", "warning")
        assert finding.message and finding.hint
    # The same claim as JSON text, bytes and a parsed Claim gives the same report.
    text = (CLAIMS / name / "claim.json").read_text(encoding="utf-8")
    for same in (text, text.encode(), cptkit.Claim.from_json(text), cptkit.Claim.from_dict(claim)):
        assert cptkit.validate(same, today=expected["today"]) == report
    # to_dict is the core's serde JSON: the path as text (field) and as data (loc).
    assert report.to_dict() == {
        "claim_id": report.claim_id,
        "findings": [
            {
                "edit_id": f.edit_id,
                "severity": f.severity,
                "field": f.field,
                "loc": list(f.loc),
                "message": f.message,
                "hint": f.hint,
            }
            for f in report.findings
        ],
    }
    for finding in report.findings:
        # loc is the field path as a tuple of names and indexes, as pydantic's.
        text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in finding.loc).lstrip(".")
        assert text == finding.field


def test_validate_many_runs_the_batch_edits() -> None:
    claims = read_json(CLAIMS / "batch_medical_direction" / "claims.json")
    expected = read_json(CLAIMS / "batch_medical_direction" / "expected.json")
    reports = cptkit.validate_many(claims, today=expected["today"])
    assert len(reports) == len(claims)
    for claim, report in zip(claims, reports, strict=True):
        assert isinstance(report, cptkit.ValidationReport)
        assert report.claim_id == claim["claim_id"]
        want = finding_set(expected["findings_by_claim"][claim["claim_id"]])
        assert {(f.edit_id, f.field) for f in report.findings} == want, report.claim_id
    # One at a time, the cross-claim edits cannot fire.
    alone = [cptkit.validate(c, today=expected["today"]) for c in claims]
    assert not any(f.edit_id.startswith("BAT") for r in alone for f in r.findings)
    # JSON strings and Claim objects read the same.
    as_text = cptkit.validate_many([json.dumps(c) for c in claims], today=expected["today"])
    as_claims = cptkit.validate_many((cptkit.Claim.from_dict(c) for c in claims), today=expected["today"])
    assert as_text == reports == as_claims


def test_validate_many_finds_cases_across_chunks() -> None:
    """Claims are judged chunk by chunk as they are read; the edits across claims still see them all:
    the fixture's claims spread over several thousand others answer as they do together."""
    claims = read_json(CLAIMS / "batch_medical_direction" / "claims.json")
    expected = read_json(CLAIMS / "batch_medical_direction" / "expected.json")
    filler = [medicare_claim() for _ in range(1500)]
    spread = [item for claim in claims for item in (claim, *filler)]
    reports = cptkit.validate_many(spread, today=expected["today"])
    assert len(reports) == len(spread)
    for claim, report in zip(claims, reports[:: len(filler) + 1], strict=True):
        want = finding_set(expected["findings_by_claim"][claim["claim_id"]])
        assert {(f.edit_id, f.field) for f in report.findings} == want, report.claim_id


def test_validate_many_puts_an_unreadable_claim_in_its_slot() -> None:
    good = medicare_claim()
    bad = medicare_claim(code="ABCDE")
    results = cptkit.validate_many([good, bad, "{not json", good], today=TODAY)
    assert [type(r) for r in results] == [
        cptkit.ValidationReport,
        cptkit.InvalidInputError,
        cptkit.InvalidInputError,
        cptkit.ValidationReport,
    ]
    assert isinstance(results[1], cptkit.InvalidInputError)
    assert results[1].field == "lines[0].procedure_code"


def test_today_defaults_to_today_and_judges_the_future() -> None:
    claim = medicare_claim()
    # The default is today's date in UTC, not the local one (west of UTC, the evening's local
    # tomorrow is still UTC's today).
    tomorrow = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)
    claim["lines"][0]["date_of_service"] = tomorrow.isoformat()
    fields = {(f.edit_id, f.field) for f in cptkit.validate(claim).findings}
    assert ("DAT001", "lines[0].date_of_service") in fields
    later = tomorrow + datetime.timedelta(days=1)
    for today in (later, later.isoformat(), datetime.datetime.combine(later, datetime.time(9, 30))):
        assert cptkit.validate(claim, today=today).valid


@pytest.mark.parametrize("today", ["27/11/2026", 20261127, "yesterday"])
def test_bad_today(today: Any) -> None:
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.validate(medicare_claim(), today=today)
    assert info.value.field == "today"


# --- malformed claims -----------------------------------------------------------------------------------


def broken(path: str, value: Any) -> dict[str, Any]:
    claim = medicare_claim()
    node: Any = claim
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return claim


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("lines[0].procedure_code", "ABCDE"),
        ("lines[0].procedure_code", 632),
        ("lines[0].quantity", 90.0),  # a decimal string, never a float
        ("lines[0].charge_cents", "1500.00"),
        ("lines[0].date_of_service", "03/04/2025"),
        ("lines[0].modifiers[0]", "A"),
        ("lines[0].diagnosis_pointers[1]", -1),
        ("lines[0].unit_basis", "minutes"),
        ("lines[0].start_time", "8am"),
        ("payer.plan_type", "hmo"),
        ("billing_provider_npi", "1234567893 1234567"),  # not an NPI of any length: cannot be kept
        ("rendering_provider.role", "surgeon"),
        ("diagnoses[1]", "M54.50.12"),  # longer than any ICD code
        ("medicare_locality", "1320201"),
        ("place_of_service", True),
        ("claim_id", None),
        ("lines[0].surprise", 1),  # unknown fields are refused
    ],
)
def test_malformed_claims_name_the_field(path: str, value: Any) -> None:
    claim = broken(path, value)
    for call in (cptkit.validate, cptkit.price, cptkit.Claim.from_dict):
        with pytest.raises(cptkit.InvalidInputError) as info:
            call(claim)
        assert not isinstance(info.value, cptkit.ClaimValidationError)
        assert info.value.kind == "invalid_input"
        assert info.value.field == path, info.value
        assert info.value.loc and isinstance(info.value.loc, tuple)
    # The same claim as JSON text names the same field.
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.validate(json.dumps(claim))
    assert info.value.field == path


@pytest.mark.parametrize(
    ("path", "value", "edit_id"),
    [
        ("billing_provider_npi", "123", "NPI002"),  # too short
        ("billing_provider_npi", "5678912345", "NPI002"),  # the X12 guide's example NPI: prefix 5
        ("billing_provider_npi", "1234567890", "NPI001"),  # check digit
        ("diagnoses[1]", "36616", "DX009"),  # ICD-9-CM, service after 2015-10-01
        ("diagnoses[1]", "M5", "DX002"),  # not an ICD-10-CM code
        ("lines[0].modifiers[1]", "ZZ", "MOD009"),  # a modifier no one knows
        ("lines[0].procedure_code", "00101", "CPT001"),  # anesthesia range, not in the CMS file
    ],
)
def test_well_formed_text_that_breaks_a_rule_is_kept_and_reported(path: str, value: Any, edit_id: str) -> None:
    claim = broken(path, value)
    report = cptkit.validate(claim, today="2026-11-27")
    found = [f for f in report.findings if f.edit_id == edit_id]
    assert found and found[0].field == path, report.findings
    assert found[0].hint
    assert cptkit.Claim.from_dict(claim).to_dict()  # the claim reads
    if found[0].severity == "error":
        with pytest.raises(cptkit.ClaimValidationError) as info:
            cptkit.price(claim, today="2026-11-27")
        assert any(f.edit_id == edit_id for f in info.value.issues)


def test_icd9_before_2015_is_a_warning_not_checked() -> None:
    claim = broken("diagnoses[1]", "36616")
    for line in claim["lines"]:
        line["date_of_service"] = "2014-05-01"
        line.pop("start_time", None)
        line.pop("end_time", None)
    claim["diagnoses"] = ["36616"]
    report = cptkit.validate(claim, today="2026-11-27")
    dx = [(f.edit_id, f.severity) for f in report.findings if f.field.startswith("diagnoses")]
    assert dx == [("DX010", "warning")]


@pytest.mark.parametrize("path", ["payer", "lines[0].procedure_code", "patient.birth_date"])
def test_a_missing_field_is_named_by_its_path(path: str) -> None:
    # Even under patient: a missing field has no value to hide.
    name = path.rsplit(".", 1)[-1]
    for face in (broken(path, KeyError), json.dumps(broken(path, KeyError))):
        with pytest.raises(cptkit.InvalidInputError, match=f"missing field `{name}`") as error:
            cptkit.validate(face)
        assert error.value.field == path


@pytest.mark.parametrize("bad", ["", "{", "[]", b"\xff\xfe", "null", 42, None, ["a"], object()])
def test_unreadable_claims(bad: Any) -> None:
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.validate(bad)


def test_a_dict_may_hold_dates_and_decimals() -> None:
    claim = medicare_claim()
    typed = copy.deepcopy(claim)
    typed["patient"]["birth_date"] = datetime.date(1958, 6, 14)
    typed["lines"][0].update(
        quantity=Decimal("90"),
        date_of_service=datetime.date(2025, 3, 4),
        start_time=datetime.datetime(2025, 3, 4, 8, 0),
        end_time=datetime.datetime(2025, 3, 4, 9, 30),
    )
    assert cptkit.Claim.from_dict(typed).to_dict()["lines"][0]["quantity"] == "90"
    assert cptkit.price(typed, today=TODAY).total_allowed == cptkit.price(claim, today=TODAY).total_allowed


def test_a_list_longer_than_its_struct_is_refused_as_in_json() -> None:
    # Nothing is dropped unread: a payer given as a list of three values for two fields is an error on
    # every face (JSON says "trailing characters"), and a patient list never shows its values.
    for field, value in [("payer", ["medicare", "medicare_ffs", "EXTRA"]), ("patient", ["1958-06-14", "M1", "SMITH"])]:
        claim = medicare_claim()
        claim[field] = value
        for face in (claim, json.dumps(claim)):
            with pytest.raises(cptkit.InvalidInputError, match=f"^{field}: ") as error:
                cptkit.validate(face, today=TODAY)
            assert "SMITH" not in str(error.value)
        [result] = cptkit.price_many([claim], today=TODAY)
        assert isinstance(result, cptkit.InvalidInputError) and str(result).startswith(f"{field}: ")


def test_a_whole_number_quantity_reads_as_its_decimal_string() -> None:
    # Exact, as a table's integer column reads; a float stays refused (its binary value is not 90.1).
    claim = medicare_claim()
    whole = copy.deepcopy(claim)
    whole["lines"][0]["quantity"] = int(claim["lines"][0]["quantity"])
    for face in (whole, json.dumps(whole)):
        assert cptkit.price(face, today=TODAY).total_allowed == cptkit.price(claim, today=TODAY).total_allowed
    whole["lines"][0]["quantity"] = 90.1
    with pytest.raises(cptkit.InvalidInputError, match=r"^lines\[0\]\.quantity: "):
        cptkit.price(whole, today=TODAY)


def test_claim_class_round_trips() -> None:
    data, _ = case("medicare_00632_aa_90min_2025")
    claim = cptkit.Claim.from_dict(data)
    assert claim.claim_id == "CLM-0001"
    assert cptkit.Claim.from_json(claim.to_json()) == claim
    assert cptkit.Claim.from_dict(claim.to_dict()) == claim
    assert pickle.loads(pickle.dumps(claim)) == claim
    assert repr(claim) == "Claim(claim_id='CLM-0001', payer='medicare', lines=1)"
    for phi in (data["patient"]["member_id"], data["patient"]["birth_date"]):
        assert phi not in repr(claim)
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.Claim.from_dict(json.dumps(data))  # type: ignore[arg-type]
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.Claim.from_json(data)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(claim)


# --- price ----------------------------------------------------------------------------------------------

PRICED = [n for n in CASES if "priced" in case(n)[1]]
REFUSED = [n for n in CASES if "price_error" in case(n)[1]]


def test_cases_split_into_priced_and_refused() -> None:
    assert len(PRICED) >= 10 and len(REFUSED) >= 5
    assert set(PRICED) | set(REFUSED) == set(CASES)


@pytest.mark.parametrize("name", PRICED)
def test_price_golden(name: str) -> None:
    claim, expected = case(name)
    want = expected["priced"]
    priced = cptkit.price(claim, **price_kwargs(expected))
    assert isinstance(priced, cptkit.PricedClaim)
    assert priced.claim_id == claim["claim_id"]
    as_dict = priced.to_dict()
    assert as_dict["total_allowed"] == want["total_allowed"]
    assert priced.total_allowed == Decimal(want["total_allowed"])
    assert str(priced.total_allowed) == want["total_allowed"]
    assert isinstance(priced.total_charge, Decimal)
    assert len(priced.lines) == len(want["lines"])
    for line, line_dict, want_line in zip(priced.lines, as_dict["lines"], want["lines"], strict=True):
        assert isinstance(line, cptkit.PricedLine)
        split = [f for f in ("base_units", "time_units") if f in want_line]  # where a case states it
        for field in ("allowed", "total_units", "conversion_factor", "share", *split):
            assert line_dict[field] == want_line[field], (name, field)
            value = getattr(line, field)
            assert isinstance(value, Decimal)
            assert str(value) == want_line[field], (name, field)
        assert line.to_dict() == line_dict
        # A line's own status, else the case's, else priced.
        assert line.status == want_line.get("status", expected.get("status", "priced"))
        assert len(line.steps) >= (5 if line.status == "priced" else 2), "every step explained"
        assert [s.to_dict() for s in line.steps] == line_dict["steps"]
    # Every input form prices the same.
    text = (CLAIMS / name / "claim.json").read_text(encoding="utf-8")
    for same in (text, text.encode(), cptkit.Claim.from_dict(claim)):
        assert cptkit.price(same, **price_kwargs(expected)) == priced


@pytest.mark.parametrize("name", REFUSED)
def test_price_errors_golden(name: str) -> None:
    claim, expected = case(name)
    want = expected["price_error"]
    classes = {"invalid_input": cptkit.InvalidInputError, "not_found": cptkit.NotFoundError}
    with pytest.raises(classes[want["kind"]]) as info:
        cptkit.price(claim, **price_kwargs(expected))
    error = info.value
    assert error.kind == want["kind"]
    if "field" in want:
        assert error.field == want["field"]
        assert not isinstance(error, cptkit.ClaimValidationError)
        return
    # An invalid claim: every error finding, as Finding objects and as (field, message) violations.
    assert isinstance(error, cptkit.ClaimValidationError)
    report = cptkit.validate(claim, today=expected["today"])
    errors = tuple(f for f in report.findings if f.severity == "error")
    assert error.issues and error.issues == errors
    assert error.report == report
    assert error.field is None
    assert error.violations == [(f.field, f"{f.edit_id}: {f.message}") for f in errors]
    for f in errors:  # the message says what is wrong, for a traceback
        assert f"{f.edit_id} at {f.field}" in str(error)


def test_missing_contract_conversion_factor_and_unknown_payer() -> None:
    claim, _ = case("cigna_missing_conversion_factor")
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.price(claim, today=TODAY)
    assert info.value.field == "conversion_factor"
    assert "contract conversion factor" in str(info.value)
    aetna, _ = case("aetna_no_public_rules")
    with pytest.raises(cptkit.NotFoundError) as not_found:
        cptkit.price(aetna, conversion_factor="60.00", today=TODAY)
    assert not_found.value.field == "payer.id"


@pytest.mark.parametrize("cf", [Decimal("60.00"), "60.00", "60", 60, Decimal("6E+1")])
def test_conversion_factor_accepts_decimal_str_int(cf: Any) -> None:
    claim, _ = case("cigna_00632_66min_2021_tenths")
    priced = cptkit.price(claim, conversion_factor=cf, today=TODAY)
    assert priced.total_allowed == cptkit.price(claim, conversion_factor="60.00", today=TODAY).total_allowed


# Text is read as gRPC and the CLI read it: " 60.00 " is refused there, so here too.
@pytest.mark.parametrize(
    "cf", [60.0, 60.5, float("nan"), True, "sixty", "", "0", "-5", Decimal("NaN"), [60], " 60.00 "]
)
def test_conversion_factor_refuses_floats_and_nonsense(cf: Any) -> None:
    claim, _ = case("cigna_00632_66min_2021_tenths")
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.price(claim, conversion_factor=cf, today=TODAY)
    assert info.value.field == "conversion_factor"
    with pytest.raises(cptkit.InvalidInputError) as batch:
        cptkit.price_many([claim], conversion_factor=cf, today=TODAY)
    assert batch.value.field == "conversion_factor"
    with pytest.raises(cptkit.InvalidInputError, match="never a float"):
        cptkit.price(claim, conversion_factor=60.0, today=TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payer", "cf", "field"),
    [
        ("", "62.50", 'conversion_factor[""]'),
        (" ", "62.50", 'conversion_factor[" "]'),
        ("", "sixty", 'conversion_factor[""]'),
        ("Cigna", "0", "conversion_factor.Cigna"),
    ],
)
def test_a_payer_factor_error_names_the_dict_entry(payer: str, cf: str, field: str) -> None:
    """Named at its key as given: a factor keyed by no payer id is that entry, not the factor for
    every payer (`conversion_factor`, the None key)."""
    claim, _ = case("cigna_00632_66min_2021_tenths")
    with pytest.raises(cptkit.InvalidInputError) as info:
        cptkit.price(claim, conversion_factor={None: "60.00", payer: cf}, today=TODAY)
    assert (info.value.field, info.value.loc) == (field, ("conversion_factor", payer))


def test_rule_set_by_id() -> None:
    claim, _ = case("cigna_00632_66min_2021_tenths")
    whole = cptkit.price(claim, conversion_factor="60.00", rule_set="cigna-before-2021-05", today=TODAY)
    assert whole.lines[0].rule_set == "cigna-before-2021-05"
    tenths = cptkit.price(claim, conversion_factor="60.00", today=TODAY)
    assert tenths.lines[0].rule_set == "cigna-2021-05"
    assert whole.lines[0].time_units == Decimal(5) and tenths.lines[0].time_units == Decimal("4.4")
    with pytest.raises(cptkit.NotFoundError) as info:
        cptkit.price(claim, conversion_factor="60.00", rule_set="no-such-rules", today=TODAY)
    assert info.value.field == "rule_set"
    assert "medicare-ffs" in str(info.value)
    with pytest.raises(cptkit.InvalidInputError) as invalid:
        cptkit.price(claim, rule_set=5, today=TODAY)  # type: ignore[arg-type]
    assert invalid.value.field == "rule_set"


def test_explanation_steps_with_sources() -> None:
    claim, _ = case("medicare_00632_qk_90min_2025")
    line = cptkit.price(claim, today=TODAY).lines[0]
    steps = {s.step: s for s in line.steps}
    for name in ("rule_set", "base_units", "time_units", "total_units", "conversion_factor", "share", "rounding"):
        assert name in steps, name
        assert isinstance(steps[name], cptkit.PriceStep)
        assert steps[name].detail and steps[name].value
    assert steps["base_units"].value == "7" and "CMS" in steps["base_units"].detail
    assert steps["time_units"].value == "6.0" and "90 min / 15" in steps["time_units"].detail
    assert steps["conversion_factor"].value == str(line.conversion_factor)
    assert "CY2025" in steps["conversion_factor"].detail
    assert steps["share"].value == "0.50" and "QK" in steps["share"].detail
    assert steps["rounding"].value == str(line.fee_schedule) and "half-up" in steps["rounding"].detail
    assert line.steps is line.steps  # rendered once, on first read


def test_priced_classes() -> None:
    claim, _ = case("medicare_00632_aa_90min_2025")
    priced = cptkit.price(claim, today=TODAY)
    line = priced.lines[0]
    assert priced.lines is priced.lines
    assert (line.line, line.procedure_code, line.status, line.rule_set) == (0, "00632", "priced", "medicare-ffs")
    assert line.date_of_service == datetime.date(2025, 3, 4)
    assert (line.base_units, line.time_units, line.modifying_units) == (Decimal(7), Decimal("6.0"), Decimal(0))
    assert line.charge == Decimal("1500.00") and line.fee_schedule == line.allowed == Decimal("264.13")
    assert repr(priced) == (
        "PricedClaim(claim_id='CLM-0001', total_charge=Decimal('1500.00'), total_allowed=Decimal('264.13'), lines=1)"
    )
    assert repr(line) == (
        "PricedLine(line=0, procedure_code='00632', status='priced', total_units=Decimal('13.0'), "
        "allowed=Decimal('264.13'))"
    )
    assert priced == cptkit.price(claim, today=TODAY)
    assert priced != cptkit.price(medicare_claim(minutes=91), today=TODAY)
    with pytest.raises(TypeError):
        hash(priced)
    with pytest.raises(AttributeError):
        priced.total_allowed = Decimal(0)  # type: ignore[misc]
    assert set(priced.to_dict()) == {"claim_id", "lines", "total_charge", "total_allowed"}
    assert set(line.to_dict()) == {
        "line", "procedure_code", "status", "rule_set", "date_of_service", "base_units", "time_units",
        "modifying_units", "total_units", "conversion_factor", "share", "fee_schedule", "charge", "allowed",
        "steps",
    }  # fmt: skip


def test_results_and_errors_pickle() -> None:
    report = cptkit.validate(case("broken_dates_and_times")[0], today=TODAY)
    assert report.findings
    assert pickle.loads(pickle.dumps(report)) == report
    assert pickle.loads(pickle.dumps(report.findings[0])) == report.findings[0]
    with pytest.raises(cptkit.ClaimValidationError) as info:
        cptkit.price(case("broken_dates_and_times")[0], today=TODAY)
    copy_ = pickle.loads(pickle.dumps(info.value))
    assert type(copy_) is cptkit.ClaimValidationError
    assert (copy_.issues, copy_.report, copy_.violations) == (info.value.issues, info.value.report, info.value.violations)


def test_finding_and_report_constructors() -> None:
    finding = cptkit.Finding("MOD001", "error", "lines[0].modifiers", "no pricing modifier", "add one")
    report = cptkit.ValidationReport("X", [finding])
    assert report.findings == (finding,) and not report.valid
    assert cptkit.ValidationReport("X", []).valid
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.Finding("MOD001", "fatal", "f", "m", "h")  # type: ignore[arg-type]


# --- price_many -----------------------------------------------------------------------------------------


def test_price_many_keeps_order_and_puts_errors_in_their_slots() -> None:
    good, _ = case("medicare_00632_aa_90min_2025")
    invalid, _ = case("broken_modifier_order_role_and_units")
    no_cf, _ = case("cigna_missing_conversion_factor")
    malformed = medicare_claim(code="ABCDE")
    inputs: list[Any] = [
        good,
        invalid,
        json.dumps(good),
        malformed,
        "{not json",
        no_cf,
        cptkit.Claim.from_dict(medicare_claim(minutes=120)),
        17,
        good,
    ]
    results = cptkit.price_many(inputs, today=TODAY)
    assert len(results) == len(inputs)
    kinds = [type(r) for r in results]
    assert kinds == [
        cptkit.PricedClaim,
        cptkit.ClaimValidationError,
        cptkit.PricedClaim,
        cptkit.InvalidInputError,
        cptkit.InvalidInputError,
        cptkit.InvalidInputError,
        cptkit.PricedClaim,
        cptkit.InvalidInputError,
        cptkit.PricedClaim,
    ]
    single = cptkit.price(good, today=TODAY)
    assert results[0] == results[2] == results[8] == single
    assert isinstance(results[1], cptkit.ClaimValidationError) and results[1].issues
    assert isinstance(results[3], cptkit.InvalidInputError) and results[3].field == "lines[0].procedure_code"
    assert isinstance(results[5], cptkit.InvalidInputError) and results[5].field == "conversion_factor"
    assert isinstance(results[6], cptkit.PricedClaim) and results[6].total_allowed > single.total_allowed


def test_price_many_matches_price_on_every_golden_case() -> None:
    for name in CASES:
        claim, expected = case(name)
        kwargs = price_kwargs(expected)
        (result,) = cptkit.price_many([claim], **kwargs)
        try:
            assert result == cptkit.price(claim, **kwargs), name
        except cptkit.CptkitError as error:
            assert type(result) is type(error) and str(result) == str(error), name


def test_price_many_large_batch_across_chunks() -> None:
    claims = [medicare_claim(modifier=m, minutes=15 + i % 300) for i, m in enumerate(["AA", "QK"] * 2500)]
    claims[4321] = medicare_claim(code="0063")
    results = cptkit.price_many(iter(claims), today=TODAY)  # any iterable
    assert len(results) == len(claims)
    assert isinstance(results[4321], cptkit.InvalidInputError)
    for i in (0, 1, 2047, 2048, 4095, 4096, 4999):
        assert results[i] == cptkit.price(claims[i], today=TODAY), i
    assert sum(isinstance(r, cptkit.PricedClaim) for r in results) == len(claims) - 1
    assert cptkit.price_many([], today=TODAY) == []
    assert cptkit.validate_many([], today=TODAY) == []


@pytest.mark.parametrize("lone", [{"claim_id": "x"}, "[]", b"[]", 5])
def test_batches_refuse_a_lone_claim(lone: Any) -> None:
    for call in (cptkit.price_many, cptkit.validate_many):
        with pytest.raises(cptkit.InvalidInputError) as info:
            call(lone)
        assert info.value.field == "claims"


# --- rule sets ------------------------------------------------------------------------------------------


def my_contract() -> str:
    text = (RULESETS / "cigna_2021.json").read_text(encoding="utf-8")
    custom = (
        text.replace("cigna-2021-05", "my-contract")
        .replace('"payer_ids": ["cigna"]', '"payer_ids": ["acme"]')
        .replace('"AA": "1.00"', '"AA": "0.90"')
    )
    assert custom.count("my-contract") == 1 and '"acme"' in custom and '"0.90"' in custom
    return custom


def acme_claim() -> dict[str, Any]:
    claim = medicare_claim("00632", "AA", 90)
    claim["payer"] = {"id": "acme", "plan_type": "commercial"}
    return claim


def test_load_rule_set_from_path_text_and_dict(tmp_path: Path) -> None:
    text = my_contract()
    path = tmp_path / "my_contract.json"
    path.write_text(text, encoding="utf-8")
    loaded = [
        cptkit.load_rule_set(path),
        cptkit.load_rule_set(str(path)),
        cptkit.load_rule_set(text),
        cptkit.load_rule_set(text.encode()),
        cptkit.load_rule_set(json.loads(text)),
    ]
    assert all(r == loaded[0] for r in loaded)
    rules = loaded[0]
    assert isinstance(rules, cptkit.RuleSet)
    assert (rules.id, rules.payer_ids, rules.conversion_factor) == ("my-contract", ("acme",), "contract")
    assert rules.effective_from == datetime.date(2021, 5, 1)
    assert cptkit.load_rule_set(rules) is rules
    assert pickle.loads(pickle.dumps(rules)) == rules
    assert rules.to_dict() == json.loads(rules.to_json())
    assert rules.to_dict()["shares"]["AA"] == "0.90"

    # (7 base + 6.0 time) x 60.00 x 0.90 = 702.00
    priced = cptkit.price(acme_claim(), conversion_factor="60.00", rule_set=rules, today=TODAY)
    assert priced.total_allowed == Decimal("702.00")
    assert priced.lines[0].rule_set == "my-contract"
    assert any("0.90" in s.detail for s in priced.lines[0].steps if s.step == "share")
    (batch,) = cptkit.price_many([acme_claim()], conversion_factor=Decimal("60.00"), rule_set=rules, today=TODAY)
    assert batch == priced
    # Without it, nothing covers payer "acme".
    with pytest.raises(cptkit.NotFoundError) as info:
        cptkit.price(acme_claim(), conversion_factor="60.00", today=TODAY)
    assert info.value.field == "payer.id"


def test_malformed_rule_sets_name_the_field(tmp_path: Path) -> None:
    good = json.loads(my_contract())
    cases: list[tuple[Any, str]] = [
        ({"id": 3}, "id"),
        ('{"id": 3}', "id"),
        ({**good, "shares": {**good["shares"], "AA": "ninety"}}, "shares.AA"),
        ({**good, "time_units": {**good["time_units"], "rounding": "bankers"}}, "time_units.rounding"),
        ({**good, "time_units": {**good["time_units"], "unit_minutes": 0}}, "time_units.unit_minutes"),
        ({**good, "effective_from": "May 2021"}, "effective_from"),
        ({**good, "surprise": True}, "surprise"),
    ]
    for source, field in cases:
        with pytest.raises(cptkit.InvalidInputError) as info:
            cptkit.load_rule_set(source)
        assert info.value.field == field, info.value
        assert "rule set" in str(info.value)
    with pytest.raises(cptkit.MissingFileError):
        cptkit.load_rule_set(tmp_path / "missing.json")
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.load_rule_set(12)  # type: ignore[arg-type]
