"""X12 from Python (the installed wheel) over tests/fixtures/x12: the same answers the Rust tests in
crates/cptkit-x12/tests/x12.rs assert, and pyx12 (the PyPI X12 validator) accepts what write_837 writes."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import cptkit

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "x12"
CLAIMS = FIXTURES.parent / "claims"
TODAY = datetime.date(2026, 11, 27)
PAYER_IDS = {"BCBSOK": "bcbs-ok"}
ALL_837 = sorted(p.name for p in FIXTURES.glob("837p_*.x12"))


def read(name: str, **kwargs: object) -> cptkit.Read837Result:
    return cptkit.read_837(FIXTURES / name, payer_ids=PAYER_IDS, **kwargs)  # type: ignore[arg-type]


def ids(result: cptkit.Read837Result) -> list[str]:
    return [c.claim.claim_id for c in result.claims]


def test_clean_medicare_file_reads_like_the_rust_tests() -> None:
    result = read("837p_medicare_star_crlf.x12", validate=True, today=TODAY)
    assert result.errors == ()
    assert len(result.claims) == 9, "8 claims read, C1002 split in two; C1009 rejected"
    assert ids(result) == ["C1001", "C1002", "C1002", "C1003", "C1004", "C1005", "C1006", "C1007", "C1008"]
    # A Read837Result is a sequence of its parsed claims.
    assert len(result) == 9 and list(result) == result.claims and result[0] is result.claims[0]
    assert result[-1].claim_id == "C1008" and [c.claim_id for c in result[1:3]] == ["C1002", "C1002"]
    c1001 = result.claims[0]
    d = c1001.claim.to_dict()
    assert d["payer"]["id"] == "medicare"
    assert d["lines"][0]["procedure_code"] == "00632"
    assert Decimal(d["lines"][0]["quantity"]) == Decimal("90")
    assert c1001.findings == ()
    assert c1001.report is not None and c1001.report.findings == ()
    priced = cptkit.price(c1001.claim, today=TODAY)
    assert priced.total_allowed == Decimal("266.76")

    # The split claim: two parts, each priced at 133.38.
    parts = [c for c in result.claims if c.claim_id == "C1002"]
    assert [p.part for p in parts] == [(1, 2), (2, 2)]
    assert parts[1].lines[0]["control_number"] == "C1002-2"
    assert all(any(f.edit_id == "X12C02" for f in p.findings) for p in parts)
    for p in parts:
        assert cptkit.price(p.claim, today=TODAY).total_allowed == Decimal("133.38")

    # Only C1003 has core error findings (UNT005); its finding points at SV104 in the file.
    with_errors = {
        c.claim_id: [f.edit_id for f in c.report.findings if f.severity == "error"]
        for c in result.claims
        if c.report is not None and not c.report.valid
    }
    # C1007's rendering NPI (12345) is kept on the claim and reported.
    assert with_errors == {"C1003": ["UNT005"], "C1007": ["NPI002"]}
    c1007 = result.claims[7]
    npi = next(f for f in c1007.report.findings if f.edit_id == "NPI002")
    assert npi.loc == ("rendering_provider", "npi") and c1007.locate(npi).element == "NM109"
    c1003 = result.claims[3]
    assert [(f.edit_id, f.field) for f in c1003.findings] == [("X12T01", "lines[0].quantity")]
    assert c1003.report is not None
    unt = next(f for f in c1003.report.findings if f.edit_id == "UNT005")
    at = c1003.locate(unt)
    assert at.element == "SV104"
    data = (FIXTURES / "837p_medicare_star_crlf.x12").read_bytes()
    assert data[at.byte_offset :].startswith(b"SV1*HC:00632:AA*1500*MJ*95")
    assert c1003.locate("lines[0].quantity") == at

    # The rejected claim (a service date that is not a date), with its reason and location.
    assert [r.claim_id for r in result.rejected] == ["C1009"]
    assert result.rejected[0].errors[0].element == "DTP03"
    assert "20251345" in result.rejected[0].errors[0].message
    assert not result.ok


def test_commercial_payers_and_bytes_input() -> None:
    data = (FIXTURES / "837p_commercial_pipe_newline.x12").read_bytes()
    result = cptkit.read_837(data, payer_ids=PAYER_IDS, medicare_locality="13202-01")
    assert result.errors == ()
    payers = [(c.claim_id, c.claim.to_dict()["payer"]["id"]) for c in result.claims]
    assert payers == [("C2001", "cigna"), ("C2002", "uhc"), ("C2003", "61101"), ("C2004", "bcbs-ok"), ("C2005", "skil0")]
    assert result.claims[1].findings[0].edit_id == "X12C03"
    assert result.claims[4].findings[0].edit_id == "X12C04"
    assert all(c.claim.to_dict()["medicare_locality"] == "13202-01" for c in result.claims)
    assert result.claims[0].info["payer_identifier"]


def test_payer_ids_are_read_as_every_face_reads_them() -> None:
    # As the CLI's `--payer-id` and gRPC's `payer_ids`: blanks around an id are no part of it. Python
    # kept " bcbs-ok", which selects no rule set, where the CLI priced the claim by BCBS Oklahoma's.
    data = (FIXTURES / "837p_commercial_pipe_newline.x12").read_bytes()
    plain = cptkit.read_837(data, payer_ids=PAYER_IDS).core_claims()
    assert cptkit.read_837(data, payer_ids={" BCBSOK ": " bcbs-ok "}).core_claims() == plain
    assert "bcbs-ok" in [c.to_dict()["payer"]["id"] for c in plain]


def test_qualifying_apm_npis_give_back_what_the_837_does_not_carry() -> None:
    case = CLAIMS / "medicare_00632_aa_90min_2026_qp"
    claim = json.loads((case / "claim.json").read_text(encoding="utf-8"))
    today = json.loads((case / "expected.json").read_text(encoding="utf-8"))["today"]
    written = cptkit.write_837([claim], billing_location={"state": "NY", "zip": "10001"})
    plain = cptkit.read_837(written).core_claims()[0]
    qp = cptkit.read_837(written, qualifying_apm_npis=[claim["rendering_provider"]["npi"]]).core_claims()[0]
    assert not plain.to_dict()["rendering_provider"]["qualifying_apm"]
    assert qp.to_dict()["rendering_provider"]["qualifying_apm"]
    total = cptkit.price(qp, today=today).total_allowed
    assert total == cptkit.price(claim, today=today).total_allowed != cptkit.price(plain, today=today).total_allowed


def test_broken_envelope_reports_errors_with_segments_and_offsets_and_keeps_good_claims() -> None:
    result = read("837p_broken_envelope.x12")
    assert ids(result) == ["C4001"], "only the transaction whose SE checks out"
    got = [(e.kind, e.element, e.segment) for e in result.errors]
    assert got == [
        ("envelope", "SE01", 58),
        ("envelope", "SE02", 86),
        ("envelope", "GE01", 87),
        ("envelope", "IEA02", 88),
    ]
    data = (FIXTURES / "837p_broken_envelope.x12").read_bytes()
    for e in result.errors:
        assert data[e.byte_offset :].startswith(e.segment_id.encode()), e
        assert e.location.segment == e.segment
    assert result.errors[0].transaction_control == "0002"
    assert "segment 58 (SE), element SE01, byte" in str(result.errors[0])
    # Through the one error map: an InvalidInputError naming the X12 place.
    exc = result.errors[0].to_exception()
    assert isinstance(exc, cptkit.InvalidInputError)
    assert exc.field == "x12.segment[58].SE01"
    with pytest.raises(cptkit.InvalidInputError) as raised:
        result.raise_for_errors()
    assert [f for f, _ in raised.value.violations][:1] == ["x12.segment[58].SE01"]
    assert len(raised.value.violations) == 4


def test_truncated_file_keeps_what_was_complete() -> None:
    result = read("837p_truncated.x12")
    assert ids(result) == ["C5001"]
    assert len(result.errors) == 2
    assert all(e.kind == "truncated" for e in result.errors)
    assert result.errors[0].segment_id == "CLM"
    assert result.errors[0].byte_offset > 0


def test_two_interchanges() -> None:
    result = read("837p_two_interchanges.x12")
    assert result.errors == ()
    assert ids(result) == ["C3001", "C3002"]
    assert result.claims[1].claim.to_dict()["lines"][0]["modifiers"][0] == "AA"


def test_the_implementation_guides_anesthesia_example_keeps_its_claim() -> None:
    """X222A1 example 9: ICD-9 (HI*BK), a rendering NPI that is not an NPI, service in 2005."""
    result = read("837p_x222_example9_anesthesia.x12", validate=True, today=TODAY)
    assert result.ok and len(result) == 1
    parsed = result[0]
    claim = parsed.claim.to_dict()
    line = claim["lines"][0]
    assert (line["procedure_code"], line["modifiers"], line["quantity"]) == ("00142", ["QK", "QS", "P1"], "61")
    assert claim["diagnoses"] == ["366.16"]  # ICD-9-CM stored dotted, as ICD-10-CM is
    assert claim["rendering_provider"]["npi"] == "5678912345"
    assert claim["service_facility_location"] == {"state": "TN", "zip": "37232"}
    found = {(f.edit_id, f.field, f.severity) for f in parsed.report.findings}
    assert ("NPI002", "rendering_provider.npi", "error") in found
    assert ("DX010", "diagnoses[0]", "warning") in found
    # cptkit has no Medicare anesthesia conversion factor for 2005: said, not guessed.
    with pytest.raises(cptkit.ClaimValidationError):
        cptkit.price(parsed.claim, today=TODAY)


def test_fee_schedule_lines_read_in_units_and_price_as_the_golden_claims() -> None:
    """SV1 lines in units (UN), RT/LT and 50, the locality from the service facility's ZIP (2310C)."""
    result = read("837p_medicare_fee_schedule.x12", validate=True, today=TODAY)
    assert result.ok and ids(result) == ["F1001", "F1002", "F1003"]
    for parsed in result:
        assert parsed.report.findings == ()
        assert parsed.claim.to_dict()["service_facility_location"] == {"state": "AL", "zip": "35203"}
    priced = [cptkit.price(p.claim, today=TODAY) for p in result]
    allowed = [[line.allowed for line in p.lines] for p in priced]
    # The amounts of the golden claims pfs_99213_office_alabama_2025, pfs_72148_26_professional_component
    # (non-facility here), pfs_20610_rt_lt_pair and pfs_20610_bilateral_50, by CMS's formula in 10112-00.
    assert allowed == [
        [Decimal("81.86"), Decimal("12.71"), Decimal("64.35")],
        [Decimal("42.91"), Decimal("42.91")],
        [Decimal("85.82")],
    ]
    steps = {s.step for s in priced[0].lines[0].steps}
    assert {"fee_schedule_release", "rvus", "locality", "fee_schedule_amount"} <= steps


@pytest.mark.parametrize("name", ALL_837 + ["all"])
def test_as_table_is_the_table_of_the_claims_read(name: str) -> None:
    """as_table=True builds the table straight from the claims read: the table read().to_table() gives,
    warning exactly when claims were rejected or X12 problems found. "all": every fixture back to back,
    several transaction sets (read on every core)."""
    import warnings

    if name == "all":
        source: object = b"".join((FIXTURES / n).read_bytes() for n in ALL_837)
    else:
        source = FIXTURES / name
    read = cptkit.read_837(source, payer_ids=PAYER_IDS)  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = cptkit.read_837(source, payer_ids=PAYER_IDS, as_table=True)  # type: ignore[arg-type]
    assert table.schema == cptkit.CLAIM_LINES_SCHEMA
    assert table.equals(read.to_table())
    assert table.num_rows == sum(len(c.claim.to_dict()["lines"]) for c in read.claims)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if read.ok:
        assert messages == []
    else:
        problems = len(read.errors) + len(read.problems)
        assert messages == [
            f"the table holds the {len(read.claims)} claims read; {len(read.rejected)} claims were rejected "
            f"and {problems} X12 problems found: read without as_table=True for the details"
        ]


def test_as_table_of_a_big_file_is_written_run_by_run(tmp_path: Path) -> None:
    """An input of many table batches (88,571 claims): the claims are read on every core and written to
    Arrow run by run of transaction sets on a thread of their own, then given back to the reader; the
    table is the one the claims read give, in file order. The file is read as it goes, never held
    whole, and gives what its bytes give."""
    path = tmp_path / "big.x12"
    generator = Path(__file__).resolve().parents[2] / "bench" / "x12" / "generate_837.py"
    subprocess.run([sys.executable, str(generator), str(path), "30"], check=True, capture_output=True)
    table = cptkit.read_837(path, as_table=True)
    read = cptkit.read_837(path)
    assert read.ok and len(read.claims) > 65_536
    assert len(table.to_batches()) > 1
    assert table.equals(read.to_table())
    assert table.equals(cptkit.read_837(path.read_bytes(), as_table=True))


def test_other_transaction_sets_are_unsupported() -> None:
    result = cptkit.read_837(FIXTURES / "835_medicare.x12")
    assert result.claims == []
    assert [e.kind for e in result.errors] == ["unsupported"]
    assert isinstance(result.errors[0].to_exception(), cptkit.UnsupportedError)


def test_unreadable_input_raises() -> None:
    with pytest.raises(cptkit.MissingFileError):
        cptkit.read_837(FIXTURES / "no-such-file.x12")
    with pytest.raises(cptkit.InvalidInputError, match="is a directory"):
        cptkit.read_837(FIXTURES)
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.read_837(123)  # type: ignore[arg-type]
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.read_837(b"", medicare_locality="not a locality")
    # An NPI that cannot match is refused, not left to match nothing.
    with pytest.raises(cptkit.InvalidInputError) as raised:
        cptkit.read_837(b"", qualifying_apm_npis=["1558598797", " 123"])
    assert raised.value.field == "qualifying_apm_npis[1]"


@pytest.mark.parametrize("name", ALL_837)
def test_read_write_read_gives_the_same_claims(name: str, tmp_path: Path) -> None:
    first = read(name)
    claims = first.core_claims()
    written = cptkit.write_837(claims, tmp_path / "out.837", sender_id="GROUP1", receiver_id="CLEARINGHOUSE")
    assert (tmp_path / "out.837").read_bytes() == written
    again = cptkit.read_837(written, payer_ids=PAYER_IDS)
    assert again.errors == () and again.rejected == ()
    assert again.core_claims() == claims
    # Dicts and ParsedClaims are accepted too.
    assert cptkit.write_837([c.to_dict() for c in claims]) == cptkit.write_837(first.claims)


def test_write_refuses_what_an_837_cannot_carry() -> None:
    claim = read("837p_medicare_star_crlf.x12").claims[0].claim.to_dict()
    claim["claim_id"] = "C*1"
    with pytest.raises(cptkit.InvalidInputError) as raised:
        cptkit.write_837([claim])
    assert raised.value.field is not None and "claim_id" in raised.value.field
    # A claim that cannot be read is named to its field, as claims_to_table names it.
    with pytest.raises(cptkit.InvalidInputError) as raised:
        cptkit.write_837([{**claim, "claim_id": "C1", "place_of_service": "1"}])
    assert raised.value.field == "claims[0].place_of_service"


def test_the_billing_location_is_the_claims_or_given_never_made_up() -> None:
    # The 837 requires the billing provider's state and ZIP, read back as the claim's own (the ZIP sets
    # the Medicare locality): a claim without them is refused unless they are given.
    claim = json.loads((CLAIMS / "medicare_00632_aa_90min_2025" / "claim.json").read_text(encoding="utf-8"))
    assert "billing_provider_location" not in claim
    with pytest.raises(cptkit.InvalidInputError) as raised:
        cptkit.write_837([claim])
    assert raised.value.field == "claims[0].billing_provider_location.state"
    given = {"state": "CA", "zip": "94105"}
    back = cptkit.read_837(cptkit.write_837([claim], billing_location=given)).core_claims()[0]
    assert back.to_dict()["billing_provider_location"] == given
    own = {**claim, "billing_provider_location": {"state": "TX", "zip": "75201"}}
    back = cptkit.read_837(cptkit.write_837([own], billing_location=given)).core_claims()[0]
    assert back.to_dict()["billing_provider_location"] == own["billing_provider_location"]
    with pytest.raises(cptkit.InvalidInputError) as raised:
        cptkit.write_837([claim], billing_location={"state": "California", "zip": "94105"})
    assert raised.value.field == "billing_location.state"
    # Never a part of each: a location without its ZIP is refused, not completed from the other.
    for location, given in [({"state": "NY"}, None), (None, {"state": "NY"}), ({"state": "TX"}, given)]:
        with pytest.raises(cptkit.InvalidInputError) as raised:
            cptkit.write_837([{**claim, "billing_provider_location": location}], billing_location=given)
        assert raised.value.field == "claims[0].billing_provider_location.zip"


def test_read_835() -> None:
    remits = cptkit.read_835(FIXTURES / "835_medicare.x12")
    assert len(remits) == 1
    r = remits[0]
    assert isinstance(r.payer, cptkit.RemittanceParty)
    assert (r.payer.name, r.payer.identifier) == ("MEDICARE PART B", "01112")
    assert r.payee.identifier == "1234567893"
    assert isinstance(r.payment, cptkit.RemittancePayment)
    assert r.payment.amount == Decimal("1296.36")
    assert (r.payment.method, r.payment.trace) == ("ACH", "EFT0000601")
    assert r.payment.date == datetime.date(2025, 4, 15)
    assert r.production_date == datetime.date(2025, 4, 14)
    assert r.balances()
    assert r.problems == ()
    assert len(r.claims) == 8 and all(isinstance(c, cptkit.RemittanceClaim) for c in r.claims)

    c1001 = r.claims[0]
    assert (c1001.claim_id, c1001.status, c1001.payer_claim_control) == ("C1001", "1", "25084000100")
    assert (c1001.charge, c1001.paid, c1001.patient_responsibility) == (
        Decimal("1500.00"),
        Decimal("173.41"),
        Decimal("93.35"),
    )
    assert c1001.rendering_npi == "1234567893"
    assert c1001.dates == (("050", datetime.date(2025, 3, 20)),)
    line = c1001.lines[0]
    assert isinstance(line, cptkit.RemittanceLine)
    assert str(line.procedure) == "00632-AA-P2"
    assert (line.procedure.qualifier, line.procedure.code, line.procedure.modifiers) == ("HC", "00632", ("AA", "P2"))
    assert (line.charge, line.paid, line.allowed, line.paid_units) == (
        Decimal("1500.00"),
        Decimal("173.41"),
        Decimal("266.76"),
        Decimal("90"),
    )
    assert line.date_of_service == datetime.date(2025, 3, 4) and line.service_end is None
    assert line.control_number == "C1001-1"
    assert line.original_procedure is None and line.original_units is None
    assert [(a.key, a.group, a.reason, a.amount, a.quantity) for a in line.adjustments] == [
        ("CO-45", "CO", "45", Decimal("1233.24"), None),
        ("PR-1", "PR", "1", Decimal("50.00"), None),
        ("PR-2", "PR", "2", Decimal("43.35"), None),
    ]
    data = (FIXTURES / "835_medicare.x12").read_bytes()
    assert data[line.adjustments[1].location.byte_offset :].startswith(b"CAS*PR*1*50**2*43.35~")
    assert data[line.location.byte_offset :].startswith(b"SVC*HC:00632:AA:P2*")

    # SVC05 13 units returned with SVC07 95 minutes as submitted.
    c1003 = r.claims[2].lines[0]
    assert (c1003.paid_units, c1003.original_units) == (Decimal("13"), Decimal("95"))
    # Claim-level CAS and no SVC; a denial with its remark code.
    c1005 = r.claims[4]
    assert c1005.lines == () and [a.key for a in c1005.adjustments] == ["CO-45", "PR-2"]
    c1008 = r.claims[6]
    assert (c1008.claim_id, c1008.status, c1008.paid) == ("C1008", "4", Decimal("0.00"))
    assert c1008.lines[0].remarks == ("N115",)

    plb = r.provider_adjustments
    assert all(isinstance(p, cptkit.ProviderAdjustment) for p in plb)
    assert [(p.reason, p.reference, p.amount) for p in plb] == [
        ("WO", "C0000123", Decimal("25.00")),
        ("L6", "INT2025", Decimal("-3.10")),
    ]
    assert plb[0].fiscal_period_end == datetime.date(2025, 12, 31)
    assert "RemittanceLine(procedure=RemittanceProcedure(code='00632'" in repr(line)
    assert repr(r) == "Remittance(payer=\"MEDICARE PART B\", claims=8, amount=1296.36)"

    commercial = cptkit.read_835((FIXTURES / "835_commercial.x12").read_bytes())
    assert len(commercial) == 2
    # SVC06: the payer adjudicated 00640-AA for the 00630-AA-P1 billed; DTM*150/151 dates.
    changed = commercial[0].claims[0].lines[0]
    assert (str(changed.procedure), str(changed.original_procedure)) == ("00640-AA", "00630-AA-P1")
    ranged = commercial[1].claims[0].lines[0]
    assert (ranged.date_of_service, ranged.service_end) == (datetime.date(2025, 4, 3), datetime.date(2025, 4, 3))
    assert ranged.allowed is None
    with pytest.raises(cptkit.UnsupportedError):
        cptkit.read_835(FIXTURES / "837p_medicare_star_crlf.x12", strict=True)


def test_remittance_to_dict_keeps_the_dict_shape() -> None:
    """Each typed object's to_dict() is the dict the attributes used to be: the parts of Remittance.to_dict()."""
    r = cptkit.read_835(FIXTURES / "835_medicare.x12")[0]
    d = r.to_dict()
    assert d["payment"]["amount_cents"] == 129_636
    assert d["claims"][0]["lines"][0]["allowed_cents"] == 26676
    assert r.payer.to_dict() == d["payer"] and r.payee.to_dict() == d["payee"]
    assert r.payment.to_dict() == d["payment"]
    assert [c.to_dict() for c in r.claims] == d["claims"]
    assert [p.to_dict() for p in r.provider_adjustments] == d["provider_adjustments"]
    line = r.claims[0].lines[0]
    assert line.adjustments[0].to_dict() == d["claims"][0]["lines"][0]["adjustments"][0]
    assert line.procedure.to_dict() == {"qualifier": "HC", "code": "00632", "modifiers": ["AA", "P2"]}
    # Frozen values with equality.
    again = cptkit.read_835(FIXTURES / "835_medicare.x12")[0]
    assert again == r and again.claims[0] == r.claims[0] and again.claims[0] != r.claims[1]
    with pytest.raises(AttributeError):
        r.claims[0].paid = Decimal("0")  # type: ignore[misc]


def test_read_835_with_errors_reports_bad_transactions_without_raising() -> None:
    data = (FIXTURES / "835_commercial.x12").read_bytes()
    # Transaction 0001 claims 15 segments where it has 14: its SE01 is wrong, so it is left out.
    bad_count = data.replace(b"SE*14*0001~", b"SE*15*0001~")
    result = cptkit.read_835(bad_count, with_errors=True)
    assert isinstance(result, cptkit.Read835Result)
    assert [c.claim_id for r in result.remittances for c in r.claims] == ["C2002"]
    assert len(result) == 1 and not result.ok
    [e] = result.errors
    assert isinstance(e, cptkit.X12Issue)
    assert (e.kind, e.segment_id, e.element, e.segment, e.transaction_control) == ("envelope", "SE", "SE01", 16, "0001")
    assert e.byte_offset == data.index(b"SE*14*0001~")
    assert bad_count[e.byte_offset :].startswith(b"SE*15*0001~")
    assert result.problems == ()
    # The list form still returns the good remittances, and strict still raises.
    assert cptkit.read_835(bad_count) == result.remittances
    with pytest.raises(cptkit.InvalidInputError) as raised:
        result.raise_for_errors()
    assert raised.value.field == "x12.segment[16].SE01"
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.read_835(bad_count, strict=True)

    # A value that cannot be result keeps its remittance and is reported as a problem.
    bad_amount = data.replace(b"CLP*C2001*1*2000*470", b"CLP*C2001*1*2000*4x0")
    result = cptkit.read_835(bad_amount, with_errors=True)
    assert len(result) == 2 and result.errors == () and not result.ok
    assert [(p.kind, p.element, p.segment) for p in result.problems] == [("value", "CLP04", 10)]
    assert result.problems == result.remittances[0].problems

    # Truncated inside the second transaction's CLP: the first remittance is kept.
    truncated = data[: data.index(b"CLP*C2002") + 12]
    result = cptkit.read_835(truncated, with_errors=True)
    assert [c.claim_id for r in result.remittances for c in r.claims] == ["C2001"]
    assert [e.kind for e in result.errors] == ["truncated", "truncated"]
    assert (result.errors[0].segment_id, result.errors[0].segment) == ("CLP", 23)
    assert result.errors[0].byte_offset == data.index(b"CLP*C2002")
    assert "no IEA" in result.errors[1].message

    # A clean file: ok, nothing to raise; a Read835Result reconciles like the list it holds.
    clean = cptkit.read_835(data, with_errors=True)
    assert clean.ok and clean.errors == () and len(clean) == 2
    clean.raise_for_errors()
    assert repr(clean) == "Read835Result(remittances=2, errors=0, problems=0)"
    claims = read("837p_commercial_pipe_newline.x12")
    from_result = cptkit.reconcile(claims, clean, conversion_factor="60", today=TODAY)
    assert from_result == cptkit.reconcile(claims, data, conversion_factor="60", today=TODAY)
    assert from_result.totals.lines > 0


def _line(rec: cptkit.Reconciliation, claim_id: str, i: int) -> cptkit.ReconciledLine:
    claim = next(c for c in rec.claims if c.claim_id == claim_id)
    return claim.lines[i]


def test_reconcile_medicare_hand_sums() -> None:
    rec = cptkit.reconcile(
        FIXTURES / "837p_medicare_star_crlf.x12",
        FIXTURES / "835_medicare.x12",
        tolerance="1.00",
        today=TODAY,
        payer_ids=PAYER_IDS,
    )
    l1 = _line(rec, "C1001", 0)
    assert isinstance(l1, cptkit.ReconciledLine)
    assert (l1.claim_id, l1.payer, l1.procedure) == ("C1001", "medicare", "00632-AA-P2")
    assert l1.matched_by == "control_number"
    assert (l1.expected, l1.allowed, l1.variance) == (Decimal("266.76"), Decimal("266.76"), Decimal("0.00"))
    assert l1.adjustments_by_reason["CO-45"] == Decimal("1233.24")
    assert l1.adjustments_by_reason["PR-1"] == Decimal("50")
    assert dict(l1.adjustments_by_group) == {"CO": Decimal("1233.24"), "PR": Decimal("93.35")}
    with pytest.raises(TypeError):
        l1.adjustments_by_group["CO"] = Decimal("0")  # type: ignore[index]
    assert l1.flags == ()
    qk, qx = _line(rec, "C1002", 0), _line(rec, "C1002", 1)
    assert qk.matched_by == "code_modifiers_date" and qk.flags == ()
    assert qx.expected == Decimal("133.38")
    assert [(f.flag, f.by) for f in qx.flags] == [("underpaid", Decimal("13.38"))]
    assert repr(qx.flags[0]) == "LineFlag(flag='underpaid', by=Decimal('13.38'))"
    not_priced = _line(rec, "C1003", 0).flags[0]
    assert (not_priced.flag, not_priced.by) == ("not_priced", None)
    assert any(f.flag == "units_not_minutes" and f.paid_units == Decimal("13") for f in _line(rec, "C1003", 0).flags)
    l5 = _line(rec, "C1005", 0)
    assert l5.matched_by == "claim_level"
    assert (l5.paid, l5.allowed) == (Decimal("213.41"), Decimal("266.76"))
    l6 = _line(rec, "C1006", 0)
    assert l6.allowed_from_amt_b6 is False
    assert (l6.expected, l6.allowed) == (Decimal("246.24"), Decimal("246.24"))
    denied = _line(rec, "C1008", 0).flags
    assert [(f.flag, f.reasons) for f in denied] == [("denied", ("CO-50",))]

    t = rec.totals
    assert isinstance(t, cptkit.ReconciliationTotals)
    assert (t.claims, t.lines, t.denied_lines, t.underpaid_lines) == (8, 9, 1, 1)
    assert t.units_not_minutes_lines == 2
    assert t.unmatched_remit_claims == 1
    assert t.paid == Decimal("1318.26")
    assert t.provider_adjustments == Decimal("21.90")
    # One payer, one row: the claims' payer id, with the 835's claim that matches none and its PLB.
    assert list(rec.totals_by_payer) == ["medicare"]
    assert rec.totals_by_payer["medicare"].to_dict() == t.to_dict()
    payer, remit_claim = rec.unmatched_remit_claims[0]
    assert (payer, remit_claim.claim_id, remit_claim.paid) == ("MEDICARE PART B", "C9999", Decimal("100.00"))
    assert len(rec.lines()) == 9
    assert [(l.claim_id, l.line_number) for l in rec.lines()][:3] == [("C1001", 1), ("C1002", 1), ("C1002", 2)]

    # The dict API, one to_dict() away: the same dicts as Reconciliation.to_dict() (unchanged).
    d = rec.to_dict()
    assert t.to_dict() == d["totals"] and d["totals"]["paid"] == "1318.26"
    assert [c.to_dict() for c in rec.claims] == d["claims"]
    assert {k: v.to_dict() for k, v in rec.totals_by_payer.items()} == d["totals_by_payer"]
    assert qx.to_dict()["flags"] == [{"flag": "underpaid", "by": "13.38"}]
    rows = [dict(line, claim_id=c["claim_id"], payer=c["payer"]) for c in d["claims"] for line in c["lines"]]
    assert [l.to_dict() for l in rec.lines()] == rows
    assert rows[0]["expected"] == "266.76" and rows[0]["matched_by"] == "control_number"

    # The same from objects already read.
    again = cptkit.reconcile(
        read("837p_medicare_star_crlf.x12"), cptkit.read_835(FIXTURES / "835_medicare.x12"), today=TODAY
    )
    assert again == rec


def test_reconcile_reports_an_amount_it_cannot_read_and_a_claim_paid_at_claim_level() -> None:
    data = (FIXTURES / "835_medicare.x12").read_bytes()
    bad = data.replace(b"SVC*HC:00632:AA:P2*1500*173.41**90", b"SVC*HC:00632:AA:P2*1500*17X.41**90")
    rec = cptkit.reconcile(FIXTURES / "837p_medicare_star_crlf.x12", bad, today=TODAY)
    (problem,) = rec.problems
    assert isinstance(problem, cptkit.X12Issue)
    assert "SVC03 is not an amount" in str(problem) and "17X" not in str(problem)
    line = _line(rec, "C1001", 0)
    assert (line.paid, line.allowed, line.variance) == (None, None, None)
    (flag,) = line.flags
    assert flag.flag == "unreadable_amount" and flag.locations is not None
    assert flag.locations[0].byte_offset == problem.location.byte_offset
    t = rec.totals
    assert (t.unreadable_lines, t.denied_lines, t.paid) == (1, 1, Decimal("1144.85"))

    # C1002 (two lines) answered at claim level: its payment is the claim's, counted once.
    start, end = data.index(b"CLP*C1002*"), data.index(b"CLP*C1003*")
    clp = b"CLP*C1002*1*3000*202.7*50.68*MB*25084000200*11*1~\nCAS*CO*45*2746.62~\nCAS*PR*2*50.68~\n"
    edited = data[:start] + clp + data[end:]
    removed = data[start:end].count(b"~") - 3
    se = edited.index(b"SE*94*")
    edited = edited[:se] + b"SE*%d*" % (94 - removed) + edited[se + len(b"SE*94*") :]
    rec = cptkit.reconcile(FIXTURES / "837p_medicare_star_crlf.x12", edited, today=TODAY)
    assert rec.problems == ()
    c1002 = next(c for c in rec.claims if c.claim_id == "C1002")
    level = c1002.claim_level
    assert isinstance(level, cptkit.ClaimLevelResult)
    assert (level.paid, level.expected) == (Decimal("202.70"), Decimal("266.76"))
    assert [f.flag for f in level.flags] == ["underpaid"]
    assert [[f.flag for f in l.flags] for l in c1002.lines] == [["paid_at_claim_level"]] * 2
    assert (rec.totals.paid, rec.totals.claims_paid_at_claim_level) == (Decimal("1318.26"), 1)


def test_reconcile_reports_an_amount_with_a_fraction_of_a_cent_never_rounded() -> None:
    data = (FIXTURES / "835_medicare.x12").read_bytes()
    bad = data.replace(b"SVC*HC:00632:AA:P2*1500*173.41**90", b"SVC*HC:00632:AA:P2*1500*173.405**90")
    read = cptkit.read_835(bad, with_errors=True)
    (problem,) = read.problems
    assert "SVC03 has more than two decimals" in str(problem) and "173.4" not in str(problem)
    assert read.remittances[0].claims[0].lines[0].paid is None
    rec = cptkit.reconcile(FIXTURES / "837p_medicare_star_crlf.x12", bad, today=TODAY)
    line = _line(rec, "C1001", 0)
    assert (line.paid, line.allowed, [f.flag for f in line.flags]) == (None, None, ["unreadable_amount"])
    assert rec.totals.paid == Decimal("1318.26") - Decimal("173.41")
    # Zeros past the cents are cents.
    zeros = data.replace(b"*1500*173.41**90", b"*1500*173.4100**90")
    exact = cptkit.reconcile(FIXTURES / "837p_medicare_star_crlf.x12", zeros, today=TODAY)
    assert exact.problems == () and _line(exact, "C1001", 0).paid == Decimal("173.41")


def test_reconcile_names_the_payer_of_a_remittance_that_answers_no_claim_by_payer_ids() -> None:
    # The 835's payer (N1*PR, N104 01112) named by payer_ids, as an 837's would be: one row.
    data = (FIXTURES / "835_medicare.x12").read_bytes()
    rec = cptkit.reconcile(
        FIXTURES / "837p_commercial_pipe_newline.x12", data, today=TODAY, payer_ids={"01112": "medicare-jm"}
    )
    assert rec.totals_by_payer["medicare-jm"].unmatched_remit_claims == 8
    assert rec.totals_by_payer["medicare-jm"].provider_adjustments == Decimal("21.90")


def test_reconcile_commercial_with_contract_rate() -> None:
    rec = cptkit.reconcile(
        FIXTURES / "837p_commercial_pipe_newline.x12",
        FIXTURES / "835_commercial.x12",
        conversion_factor="60",
        today=TODAY,
        payer_ids=PAYER_IDS,
    )
    l1 = _line(rec, "C2001", 0)
    assert l1.matched_by == "original_code"
    assert any(f.flag == "code_changed" and f.paid == "00640-AA" for f in l1.flags)
    assert l1.adjustments_by_group["PR"] == Decimal("30")
    assert _line(rec, "C2002", 0).allowed == Decimal("800.00")
    c2003 = next(c for c in rec.claims if c.claim_id == "C2003")
    assert c2003.no_remittance is True and c2003.statuses == ()
    assert rec.totals.unmatched_claim_lines >= 3
    # Each 835 under the payer id of the claims it answers; the claims with none under their own.
    assert sorted(rec.totals_by_payer) == ["61101", "bcbs-ok", "cigna", "skil0", "uhc"]
    assert (rec.totals_by_payer["cigna"].paid, rec.totals_by_payer["uhc"].paid) == (Decimal("470"), Decimal("600"))
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.reconcile(b"", b"", tolerance=1.0)  # type: ignore[arg-type]


def test_a_tolerance_is_read_as_every_face_reads_it() -> None:
    # As gRPC's `tolerance` and the CLI's `--tolerance` (crates/cptkit-cli/tests/cli.rs): the CLI took a
    # negative tolerance that Python and gRPC refuse.
    files = (FIXTURES / "837p_medicare_star_crlf.x12", FIXTURES / "835_medicare.x12")
    for negative in ("-5", Decimal("-5"), -5, "-0.01"):
        with pytest.raises(cptkit.InvalidInputError) as raised:
            cptkit.reconcile(*files, tolerance=negative, today=TODAY)
        assert raised.value.field == "tolerance"
        assert raised.value.message.startswith("expected a non-negative decimal (dollars)")
    plain = cptkit.reconcile(*files, tolerance="20", today=TODAY)
    assert all(cptkit.reconcile(*files, tolerance=t, today=TODAY) == plain for t in (" 20 ", Decimal("20.00"), 20))


# pyx12 -----------------------------------------------------------------------------------------


def _x12valid(path: Path) -> str:
    """pyx12's validator on one file: its log and verdict. Its exit status says nothing (pyx12 4.0.0:
    the ``x12valid`` console script exits 1 on success, ``python -m pyx12.scripts.x12valid`` exits 0 on
    failure), so the verdict line (``<file>: OK`` / ``<file>: Failure``) and ERROR log lines decide."""
    result = subprocess.run(
        [sys.executable, "-m", "pyx12.scripts.x12valid", str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        check=False,
        timeout=300,
    )
    return result.stdout + result.stderr


def test_pyx12_rejects_a_broken_837(tmp_path: Path) -> None:
    """The check below can fail: pyx12 does report a bad SV103 unit code."""
    pytest.importorskip("pyx12")
    bad = tmp_path / "bad.x12"
    text = (FIXTURES / "837p_medicare_star_crlf.x12").read_bytes()
    bad.write_bytes(text.replace(b"*1500*MJ*90", b"*1500*XX*90", 1))
    report = _x12valid(bad)
    assert f"{bad}: Failure" in report and "SV103" in report, report


@pytest.mark.parametrize("name", ALL_837)
def test_pyx12_accepts_what_write_837_writes(name: str, tmp_path: Path) -> None:
    pytest.importorskip("pyx12")
    claims = read(name).core_claims()
    out = tmp_path / f"written_{name}"
    cptkit.write_837(claims, out, sender_id="GROUP1", receiver_id="CLEARINGHOUSE")
    report = _x12valid(out)
    assert f"{out}: OK" in report, report
    assert " ERROR " not in report, report
