"""search_codes, list_codes and the single-item lookups."""

from __future__ import annotations

import datetime

import pytest

import cptkit


# Every distinct code of the fee schedule (RVU25D); the 276 anesthesia codes are among them.
EVERY_CODE = 16_852


def test_list_codes_is_every_code_in_order() -> None:
    codes = cptkit.list_codes()
    assert len(codes) == EVERY_CODE
    assert sum(c.service_type != "fee_schedule" for c in codes) == 276
    assert [c.code for c in codes] == sorted(c.code for c in codes)
    assert all(isinstance(c, cptkit.CodeSummary) for c in codes)
    assert codes[0].code == "0001F"  # Category II codes sort first: "0001F" < "00100" character by character
    assert next(c for c in codes if c.service_type == "anesthesia").code == "00100"
    assert cptkit.list_codes() is not codes  # a new list each call; the summaries are shared
    codes.clear()
    assert len(cptkit.list_codes()) == EVERY_CODE


def test_search_lumbar() -> None:
    found = [c.code for c in cptkit.search_codes("lumbar")]
    for code in ["00630", "00632", "00635"]:
        assert code in found
    assert found == sorted(found)
    assert [c.code for c in cptkit.search_codes("LUMBAR sympathectomy")] == ["00632"]


def test_search_filters() -> None:
    spine = cptkit.search_codes(category="spine and spinal cord")
    assert spine and all(c.category == "Spine and spinal cord" for c in spine)
    heavy = cptkit.search_codes(min_base_units=15)
    assert heavy and all(c.base_units >= 15 for c in heavy)
    light = cptkit.search_codes(max_base_units=3)
    assert light and all(c.base_units <= 3 for c in light)
    window = cptkit.search_codes(min_base_units=7, max_base_units=7, category="Spine and spinal cord")
    assert "00632" in [c.code for c in window]
    inpatient = cptkit.search_codes(inpatient_only=True)
    assert "00632" in [c.code for c in inpatient]
    assert all(c.medicare_inpatient_only == "yes" for c in inpatient)
    # False is "known not to be": a code whose status cptkit has not checked is in neither list.
    outpatient = cptkit.search_codes(inpatient_only=False)
    assert outpatient and all(c.medicare_inpatient_only == "no" for c in outpatient)
    unchecked = [c for c in cptkit.list_codes() if c.medicare_inpatient_only == "unknown"]
    assert len(inpatient) + len(outpatient) + len(unchecked) == EVERY_CODE
    assert "33533" in [c.code for c in unchecked] and "33533" not in [c.code for c in outpatient]
    add_ons = cptkit.search_codes(service_type="anesthesia_add_on")
    assert [c.code for c in add_ons] == ["01953", "01968", "01969"]
    assert [c.code for c in cptkit.search_codes(service_type="unlisted_anesthesia")] == ["01999"]
    assert cptkit.search_codes("lumbar", category="Head") == []
    assert len(cptkit.search_codes()) == EVERY_CODE  # no filter: everything, past one page


def test_summary_round_trip() -> None:
    summary = next(c for c in cptkit.list_codes() if c.code == "00632")
    assert summary.to_dict() == {
        "code": "00632",
        "description": cptkit.code("00632").description,
        "category": "Spine and spinal cord",
        "base_units": 7,
        "service_type": "anesthesia",
        "medicare_inpatient_only": "yes",
        "status": "J",
        "section": "Anesthesia",
    }
    assert repr(summary) == "CodeSummary(code='00632', base_units=7, category='Spine and spinal cord')"


def test_modifier() -> None:
    qs = cptkit.modifier("QS")
    assert isinstance(qs, cptkit.Modifier)
    assert qs.code == "QS"
    assert qs.category == "informational"
    assert "monitored anesthesia care" in qs.meaning
    assert cptkit.modifier("qs") == qs
    assert set(qs.to_dict()) == {"code", "category", "meaning", "billed_by", "medicare_payment_effect", "source"}


def test_deleted_diagnosis() -> None:
    dx = cptkit.diagnosis("M54.5")
    assert dx.title == "Low back pain"
    assert dx.billable is False
    assert dx.valid_through == datetime.date(2021, 9, 30)
    assert dx.replaced_by == ("M54.50", "M54.51", "M54.59")
    assert dx.to_dict()["valid_through"] == "2021-09-30"
    assert dx.to_dict()["replaced_by"] == ["M54.50", "M54.51", "M54.59"]


@pytest.mark.parametrize("spelling", ["m5450", "M5450", "M54.50", " m54.50 "])
def test_diagnosis_normalises(spelling: str) -> None:
    dx = cptkit.diagnosis(spelling)
    assert (dx.code, dx.title, dx.billable) == ("M54.50", "Low back pain, unspecified", True)
    assert dx.valid_through is None


def test_taxonomy() -> None:
    crna = cptkit.taxonomy("367500000X")
    assert crna.classification == "Nurse Anesthetist, Certified Registered"
    assert crna.provider_role == "CRNA"
    assert crna.medicare_specialty == "43"
    assert cptkit.taxonomy("367500000x") == crna


def test_place_of_service() -> None:
    pos = cptkit.place_of_service("21")
    assert (pos.code, pos.name) == ("21", "Inpatient Hospital")
    assert pos.to_dict() == {"code": "21", "name": "Inpatient Hospital", "note": pos.note}
