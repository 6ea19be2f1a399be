"""X12 from Python (the installed wheel) over tests/fixtures/x12: the same answers the Rust tests in
crates/cptkit-x12/tests/x12.rs assert, and pyx12 (the PyPI X12 validator) accepts what write_837 writes."""

from __future__ import annotations

import datetime
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import cptkit

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "x12"
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
    assert len(result.claims) == 8, "7 claims read, C1002 split in two; C1007 rejected"
    assert ids(result) == ["C1001", "C1002", "C1002", "C1003", "C1004", "C1005", "C1006", "C1008"]
    c1001 = result.claims[0]
    d = c1001.claim.to_dict()
    assert d["payer"]["id"] == "medicare"
    assert d["lines"][0]["procedure_code"] == "00632"
    assert Decimal(d["lines"][0]["quantity"]) == Decimal("90")
    assert c1001.findings == ()
    assert c1001.report is not None and c1001.report.findings == ()
    priced = cptkit.price(c1001.claim, today=TODAY)
    assert priced.total_allowed == Decimal("264.13")

    # The split claim: two parts, each priced at 132.07.
    parts = [c for c in result.claims if c.claim_id == "C1002"]
    assert [p.part for p in parts] == [(1, 2), (2, 2)]
    assert parts[1].lines[0]["control_number"] == "C1002-2"
    assert all(any(f.edit_id == "X12C02" for f in p.findings) for p in parts)
    for p in parts:
        assert cptkit.price(p.claim, today=TODAY).total_allowed == Decimal("132.07")

    # Only C1003 has core error findings (UNT005); its finding points at SV104 in the file.
    with_errors = {
        c.claim_id: [f.edit_id for f in c.report.findings if f.severity == "error"]
        for c in result.claims
        if c.report is not None and not c.report.valid
    }
    assert with_errors == {"C1003": ["UNT005"]}
    c1003 = result.claims[3]
    assert [(f.edit_id, f.field) for f in c1003.findings] == [("X12T01", "lines[0].quantity")]
    assert c1003.report is not None
    unt = next(f for f in c1003.report.findings if f.edit_id == "UNT005")
    at = c1003.locate(unt)
    assert at.element == "SV104"
    data = (FIXTURES / "837p_medicare_star_crlf.x12").read_bytes()
    assert data[at.byte_offset :].startswith(b"SV1*HC:00632:AA*1500*MJ*95")
    assert c1003.locate("lines[0].quantity") == at

    # The rejected claim, with its reason and location.
    assert [r.claim_id for r in result.rejected] == ["C1007"]
    assert result.rejected[0].errors[0].element == "NM109"
    assert "10-digit NPI" in result.rejected[0].errors[0].message
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


def test_other_transaction_sets_are_unsupported() -> None:
    result = cptkit.read_837(FIXTURES / "835_medicare.x12")
    assert result.claims == []
    assert [e.kind for e in result.errors] == ["unsupported"]
    assert isinstance(result.errors[0].to_exception(), cptkit.UnsupportedError)


def test_unreadable_input_raises() -> None:
    with pytest.raises(cptkit.NotFoundError):
        cptkit.read_837(FIXTURES / "no-such-file.x12")
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.read_837(123)  # type: ignore[arg-type]
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.read_837(b"", medicare_locality="not a locality")


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


def test_read_835() -> None:
    remits = cptkit.read_835(FIXTURES / "835_medicare.x12")
    assert len(remits) == 1
    r = remits[0]
    assert r.payer["name"] == "MEDICARE PART B"
    assert r.payee["identifier"] == "1234567893"
    assert r.payment["amount_cents"] == 128_489
    assert r.payment["trace"] == "EFT0000601"
    assert r.balances()
    assert len(r.claims) == 8
    line = r.claims[0]["lines"][0]
    assert line["allowed_cents"] == 26413
    assert [a["group"] + "-" + a["reason"] for a in line["adjustments"]] == ["CO-45", "PR-1", "PR-2"]
    assert r.provider_adjustments[1]["amount_cents"] == -310
    assert r.to_dict()["payer"]["name"] == "MEDICARE PART B"
    assert len(cptkit.read_835((FIXTURES / "835_commercial.x12").read_bytes())) == 2
    with pytest.raises(cptkit.UnsupportedError):
        cptkit.read_835(FIXTURES / "837p_medicare_star_crlf.x12", strict=True)


def _line(rec: cptkit.Reconciliation, claim_id: str, i: int) -> dict[str, object]:
    claim = next(c for c in rec.claims if c["claim_id"] == claim_id)
    line: dict[str, object] = claim["lines"][i]
    return line


def test_reconcile_medicare_hand_sums() -> None:
    rec = cptkit.reconcile(
        FIXTURES / "837p_medicare_star_crlf.x12",
        FIXTURES / "835_medicare.x12",
        tolerance="1.00",
        today=TODAY,
        payer_ids=PAYER_IDS,
    )
    l1 = _line(rec, "C1001", 0)
    assert l1["matched_by"] == "control_number"
    assert (l1["expected"], l1["allowed"], l1["variance"]) == ("264.13", "264.13", "0.00")
    by_reason = {k: Decimal(v) for k, v in l1["adjustments_by_reason"].items()}  # type: ignore[attr-defined]
    assert by_reason["CO-45"] == Decimal("1235.87")
    assert by_reason["PR-1"] == Decimal("50")
    assert l1["flags"] == []
    qk, qx = _line(rec, "C1002", 0), _line(rec, "C1002", 1)
    assert qk["matched_by"] == "code_modifiers_date" and qk["flags"] == []
    assert qx["expected"] == "132.07"
    assert qx["flags"] == [{"flag": "underpaid", "by": "12.07"}]
    assert _line(rec, "C1003", 0)["flags"][0] == {"flag": "not_priced"}  # type: ignore[index]
    l5 = _line(rec, "C1005", 0)
    assert l5["matched_by"] == "claim_level"
    assert Decimal(str(l5["paid"])) == Decimal("211.30") and Decimal(str(l5["allowed"])) == Decimal("264.13")
    l6 = _line(rec, "C1006", 0)
    assert l6["allowed_from_amt_b6"] is False
    assert (l6["expected"], l6["allowed"]) == ("243.81", "243.81")
    assert _line(rec, "C1008", 0)["flags"] == [{"flag": "denied", "reasons": ["CO-50"]}]

    t = rec.totals
    assert (t["claims"], t["lines"], t["denied_lines"], t["underpaid_lines"]) == (7, 8, 1, 1)
    assert t["units_not_minutes_lines"] == 2
    assert t["unmatched_remit_claims"] == 1
    assert Decimal(t["paid"]) == Decimal("1306.79")
    assert Decimal(t["provider_adjustments"]) == Decimal("21.90")
    assert rec.totals_by_payer["medicare"]["lines"] == 8
    assert rec.totals_by_payer["medicare part b"]["unmatched_remit_claims"] == 1
    assert rec.unmatched_remit_claims[0][1]["claim_id"] == "C9999"
    assert rec.to_dict()["totals"] == t
    assert len(rec.lines()) == 8

    # The same from objects already read.
    again = cptkit.reconcile(
        read("837p_medicare_star_crlf.x12"), cptkit.read_835(FIXTURES / "835_medicare.x12"), today=TODAY
    )
    assert again == rec


def test_reconcile_commercial_with_contract_rate() -> None:
    rec = cptkit.reconcile(
        FIXTURES / "837p_commercial_pipe_newline.x12",
        FIXTURES / "835_commercial.x12",
        conversion_factor="60",
        today=TODAY,
        payer_ids=PAYER_IDS,
    )
    l1 = _line(rec, "C2001", 0)
    assert l1["matched_by"] == "original_code"
    assert any(f.get("flag") == "code_changed" and f.get("paid") == "00640-AA" for f in l1["flags"])  # type: ignore[attr-defined]
    assert Decimal(l1["adjustments_by_group"]["PR"]) == Decimal("30")  # type: ignore[index]
    assert Decimal(str(_line(rec, "C2002", 0)["allowed"])) == Decimal("800.00")
    assert next(c for c in rec.claims if c["claim_id"] == "C2003")["no_remittance"] is True
    assert rec.totals["unmatched_claim_lines"] >= 3
    assert "cigna" in rec.totals_by_payer
    with pytest.raises(cptkit.InvalidInputError):
        cptkit.reconcile(b"", b"", tolerance=1.0)  # type: ignore[arg-type]


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
