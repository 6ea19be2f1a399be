"""Fee-schedule lines from Python: the data directory (`cptkit.load_data`) adds a release without a
rebuild, and claims are priced with the release in force on their date of service. The release here is
a test double: the embedded RVU25D files copied under another name and dates, so only the loading and
the selection by date are under test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

import cptkit

RVU25D = Path(__file__).resolve().parents[2] / "crates" / "cptkit-core" / "data" / "pfs" / "rvu25d"
HEADER = "release,year,effective_from,effective_to,conversion_factor,qp_conversion_factor,directory,source\n"


def visit(date_of_service: str) -> dict[str, object]:
    return {
        "claim_id": "V1",
        "payer": {"id": "medicare", "plan_type": "medicare_ffs"},
        "place_of_service": "11",
        "patient": {"birth_date": "1950-01-01"},
        "billing_provider_npi": "1234567893",
        "rendering_provider": {"npi": "1558598797", "taxonomy": "207Q00000X"},
        "medicare_locality": "10112-00",
        "diagnoses": ["M54.50"],
        "lines": [
            {
                "procedure_code": "99213",
                "unit_basis": "UN",
                "quantity": "1",
                "diagnosis_pointers": [1],
                "charge_cents": 20000,
                "date_of_service": date_of_service,
            }
        ],
    }


def data_dir(root: Path, releases: str) -> Path:
    shutil.copytree(RVU25D, root / "pfs" / "test26")
    (root / "pfs" / "releases.csv").write_text(HEADER + releases, encoding="utf-8")
    return root


@pytest.fixture
def embedded_again() -> Iterator[None]:
    yield
    cptkit.load_data(None)


@pytest.mark.usefixtures("embedded_again")
def test_a_release_in_a_data_directory_prices_its_dates(tmp_path: Path) -> None:
    (line,) = cptkit.price(visit("2026-03-02"), today="2026-11-27").lines
    assert line.status == "not_priced"
    assert any("no Medicare Physician Fee Schedule release for CY2026" in s.detail for s in line.steps)

    cptkit.load_data(data_dir(tmp_path, "TEST26,2026,2026-01-01,2026-12-31,32.3465,,test26,test double\n"))
    (line,) = cptkit.price(visit("2026-03-02"), today="2026-11-27").lines
    assert (line.status, line.allowed) == ("priced", Decimal("81.86"))
    assert [s.value for s in line.steps if s.step == "fee_schedule_release"] == ["TEST26"]
    assert cptkit.code("99213").fee_schedule is not None

    cptkit.load_data(None)
    (line,) = cptkit.price(visit("2026-03-02"), today="2026-11-27").lines
    assert line.status == "not_priced"


@pytest.mark.usefixtures("embedded_again")
def test_a_broken_data_directory_raises_naming_the_file_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "pfs").mkdir()
    (tmp_path / "pfs" / "releases.csv").write_text(HEADER + "TEST26,2026,2026-01-01,2026-12-31,32.3465,,gone,x\n")
    with pytest.raises(cptkit.CptkitError, match="pfs_rvu.csv"):
        cptkit.load_data(tmp_path)
    (line,) = cptkit.price(visit("2025-11-03"), today="2026-11-27").lines
    assert line.allowed == Decimal("81.86"), "the embedded data is still in use"


@pytest.mark.usefixtures("embedded_again")
def test_a_missing_data_directory_is_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(cptkit.MissingFileError) as error:
        cptkit.load_data(tmp_path / "not-there")
    assert isinstance(error.value, FileNotFoundError)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(cptkit.InvalidInputError, match="is not a directory"):
        cptkit.load_data(tmp_path / "a-file")


def test_percent_of_medicare_is_checked_and_named() -> None:
    claim = visit("2025-11-03")
    claim["payer"] = {"id": "cigna", "plan_type": "commercial"}
    (line,) = cptkit.price(claim, today="2026-11-27", percent_of_medicare=Decimal("125")).lines
    assert line.allowed == Decimal("102.33")
    with pytest.raises(cptkit.InvalidInputError) as error:
        cptkit.price(claim, today="2026-11-27", percent_of_medicare="0")
    assert error.value.field == "percent_of_medicare"
    with pytest.raises(cptkit.InvalidInputError) as error:
        cptkit.price(claim, today="2026-11-27", percent_of_medicare=1.25)
    assert error.value.field == "percent_of_medicare"
