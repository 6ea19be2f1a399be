"""cptkit.code: the 00632 profile against the golden fixture and the public sources, localities,
immutability, caching, repr and the HTML card."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import cptkit


def test_tests_run_against_the_installed_wheel(repo_root: Path) -> None:
    package = Path(cptkit.__file__).resolve()
    native = Path(cptkit._native.__file__).resolve()
    assert repo_root / "python" not in package.parents, package
    assert "site-packages" in package.parts, package
    assert native.parent == package.parent
    assert cptkit.__version__ != "0+unknown"


def test_profile_is_the_golden_json(golden_00632: dict[str, Any]) -> None:
    assert cptkit.code("00632").to_dict() == golden_00632


def test_to_dict_is_plain_json() -> None:
    d = cptkit.code("00632").to_dict()
    assert json.loads(json.dumps(d)) == d
    assert isinstance(d["benchmarks"][0]["conversion_factor"], str)
    assert isinstance(d["modifiers"], list)


def test_header_facts() -> None:
    p = cptkit.code("00632")
    assert p.code == "00632"
    assert p.base_units == 7
    assert p.category == "Spine and spinal cord"
    assert p.service_type == "anesthesia"
    assert p.medicare_inpatient_only == "yes"
    assert p.description.startswith("Anesthesia")
    assert [place.code for place in p.places_of_service] == ["21"]
    assert p.places_of_service[0].name == "Inpatient Hospital"
    assert p.clinical_context.setting
    assert all(isinstance(s, str) for s in p.clinical_context.sources)


def test_modifiers_say_what_they_do_to_payment() -> None:
    modifiers = {m.code: m for m in cptkit.code("00632").modifiers}
    for code in ["AA", "AD", "QK", "QX", "QY", "QZ", "QS", "G8", "G9", "GC", "23", "47", "P1", "P6"]:
        assert code in modifiers, code
    assert "monitored anesthesia care" in modifiers["QS"].meaning
    assert modifiers["QS"].category == "informational"
    assert modifiers["QX"].medicare_payment_effect == "50%"
    assert modifiers["QX"].category == "pricing"
    assert "medical direction" in modifiers["QX"].meaning


def test_taxonomies() -> None:
    taxonomies = {t.taxonomy.code: t for t in cptkit.code("00632").taxonomies}
    for code in ["207L00000X", "367500000X", "208VP0014X", "207LP2900X"]:
        assert code in taxonomies, code
    assert taxonomies["207L00000X"].taxonomy.classification == "Anesthesiology"
    assert taxonomies["367500000X"].taxonomy.provider_role == "CRNA"
    assert all(t.why for t in taxonomies.values())
    # Each row names where its claim comes from, apart from the taxonomy's own definition.
    assert all(t.source for t in taxonomies.values())
    assert taxonomies["367500000X"].source == "CMS specialty 43 crosswalk; DMBA modifier table"


def test_diagnoses_have_titles_and_are_billable() -> None:
    diagnoses = {d.diagnosis.code: d.diagnosis for d in cptkit.code("00632").diagnoses}
    expected = {
        "M54.50": "Low back pain, unspecified",
        "M54.51": "Vertebrogenic low back pain",
        "M54.59": "Other low back pain",
        "M54.16": "Radiculopathy, lumbar region",
        "M54.17": "Radiculopathy, lumbosacral region",
        "M48.061": "Spinal stenosis, lumbar region without neurogenic claudication",
        "M48.062": "Spinal stenosis, lumbar region with neurogenic claudication",
    }
    for code, title in expected.items():
        assert diagnoses[code].title == title
        assert diagnoses[code].billable is True
        assert diagnoses[code].valid_through is None
        assert diagnoses[code].replaced_by == ()


def test_payers_and_policies() -> None:
    payers = cptkit.code("00632").payers
    assert [p.payer for p in payers] == [
        "Medicare",
        "Medicare Advantage",
        "Aetna",
        "Blue Cross Blue Shield",
        "Cigna",
        "UnitedHealthcare",
    ]
    medicare = payers[0]
    inpatient = [policy for policy in medicare.policies if policy.topic == "inpatient-only"]
    assert len(inpatient) == 1
    assert inpatient[0].effective_date == datetime.date(2025, 1, 1)
    assert inpatient[0].evidence == "confirmed"
    assert all(policy.payer == payer.payer for payer in payers for policy in payer.policies)


def test_related_codes() -> None:
    related = cptkit.code("00632").related_codes
    siblings = [r.code for r in related if r.relation == "same_category"]
    for code in ["00630", "00635", "00640", "00670"]:
        assert code in siblings, code
    assert "00632" not in siblings
    qualifying = [r for r in related if r.relation == "qualifying_circumstance"]
    assert len(qualifying) == 4
    assert all(r.base_units is None for r in qualifying)
    assert next(r for r in related if r.code == "00670").base_units == 13


def test_policy_updates_newest_first() -> None:
    updates = cptkit.code("00632").policy_updates
    assert all(isinstance(u.date, datetime.date) for u in updates)
    assert [u.date for u in updates] == sorted((u.date for u in updates), reverse=True)
    assert any("M54.5" in u.title for u in updates)


def _amount(profile: cptkit.CodeProfile, year: int, tier: str, minutes: int) -> Decimal:
    row = next(b for b in profile.benchmarks if b.year == year and b.tier == tier and b.locality is None)
    return next(a.allowed for a in row.amounts if a.minutes == minutes)


def test_benchmarks_are_decimals() -> None:
    p = cptkit.code("00632")
    assert len(p.benchmarks) == 3  # national rows only by default
    assert _amount(p, 2025, "single", 90) == Decimal("264.13")
    assert _amount(p, 2026, "non_qualifying_apm", 90) == Decimal("266.47")
    assert _amount(p, 2026, "qualifying_apm", 90) == Decimal("267.80")
    national_2025 = p.benchmarks[0]
    assert national_2025.conversion_factor == Decimal("20.3178")
    ninety = national_2025.amounts[2]
    assert (ninety.minutes, ninety.time_units, ninety.total_units) == (90, Decimal("6.0"), Decimal("13.0"))
    for b in p.benchmarks:
        assert isinstance(b.conversion_factor, Decimal)
        for a in b.amounts:
            assert all(isinstance(x, Decimal) for x in (a.time_units, a.total_units, a.allowed))
    assert str(ninety.time_units) == "6.0"  # precision kept, as in the JSON


def test_locality_row_on_request() -> None:
    p = cptkit.code("00632", localities=["13202-01"])
    local = [b for b in p.benchmarks if b.locality is not None]
    assert len(local) == 1
    manhattan = local[0]
    assert manhattan.locality is not None
    assert (manhattan.locality.id, manhattan.locality.name) == ("13202-01", "MANHATTAN")
    assert manhattan.conversion_factor == Decimal("22.76")
    assert manhattan.amounts[2].allowed == Decimal("295.88")
    assert len(p.benchmarks) == 3 + 1


def test_all_localities() -> None:
    p = cptkit.code("00632", localities="all")
    assert len(p.benchmarks) == 3 + 109
    assert sum(b.locality is None for b in p.benchmarks) == 3


def test_every_locality_is_all_or_star_as_on_grpc() -> None:
    every = cptkit.code("00632", localities="all")
    for spelling in ["*", ["*"], ["all"], ("13202-01", "*")]:
        assert cptkit.code("00632", localities=spelling) == every, spelling
    with pytest.raises(cptkit.InvalidInputError) as e:
        cptkit.code("00632", localities="13202-01")
    assert e.value.field == "localities" and '"all" or "*"' in str(e.value)
    with pytest.raises(cptkit.InvalidInputError) as e:
        cptkit.code("00632", localities=["13202-01", "1320201"])
    assert e.value.field == "localities[1]"


def test_non_ascii_digits_are_refused_for_their_characters() -> None:
    with pytest.raises(cptkit.InvalidInputError) as e:
        cptkit.code("\uff10\uff10\uff16\uff13\uff12")  # full-width 00632
    assert e.value.field == "code"
    assert "only ASCII letters and digits are accepted" in str(e.value) and "characters)" not in str(e.value)


def test_localities_from_any_sequence() -> None:
    assert cptkit.code("00632", localities=("13202-01",)) == cptkit.code("00632", localities=["13202-01"])
    assert cptkit.code("00632", localities=[]) is cptkit.code("00632")


def test_objects_are_frozen() -> None:
    p = cptkit.code("00632")
    with pytest.raises(AttributeError):
        p.base_units = 8  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.new_attribute = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        p.modifiers[0].code = "ZZ"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.benchmarks[0].amounts[0].allowed = Decimal(0)  # type: ignore[misc]
    assert isinstance(p.modifiers, tuple)  # sequences cannot be changed in place either
    with pytest.raises(TypeError):
        cptkit.CodeProfile()


def test_default_profile_is_cached_and_shared() -> None:
    p = cptkit.code("00632")
    assert cptkit.code("00632") is p
    assert cptkit.code(" 00632 ") is p  # other spellings of a cached code
    assert p.modifiers is p.modifiers
    local = cptkit.code("00632", localities=["13202-01"])
    assert local is not cptkit.code("00632", localities=["13202-01"])  # options other than the default are built fresh


def test_equality_by_value() -> None:
    p = cptkit.code("00632")
    assert p != cptkit.code("00632", localities=["13202-01"])
    assert p != cptkit.code("00630")
    assert cptkit.code("00632", localities="all") == cptkit.code("00632", localities="all")
    assert p.modifiers[0] == cptkit.modifier("AA")
    assert p.places_of_service[0] != cptkit.place_of_service("21")  # different types
    assert p != "00632"
    with pytest.raises(TypeError):
        hash(p)


def test_repr_is_short_and_readable() -> None:
    p = cptkit.code("00632")
    text = repr(p)
    assert text.startswith("CodeProfile(code='00632', base_units=7, category='Spine and spinal cord'")
    assert len(text) < 200
    assert repr(p.benchmarks[0].amounts[2]) == (
        "BenchmarkAmount(minutes=90, time_units=Decimal('6.0'), total_units=Decimal('13.0'), allowed=Decimal('264.13'))"
    )
    assert repr(cptkit.modifier("QX")).startswith("Modifier(code='QX', category='pricing'")
    assert repr(cptkit.diagnosis("M54.5")) == (
        "Diagnosis(code='M54.5', title='Low back pain', billable=False, valid_through=datetime.date(2021, 9, 30))"
    )
    long_text = repr(p.clinical_context)
    assert "..." in long_text  # long strings are shortened


def test_html_card() -> None:
    p = cptkit.code("00632")
    html = p._repr_html_()
    assert html.startswith('<div class="cptkit-card">') and html.endswith("</div>")
    assert "<style>" in html and "<script" not in html  # self-contained, no scripts
    for heading in [
        "Places of service",
        "Clinical context",
        "Modifiers",
        "Provider taxonomies",
        "Common diagnoses",
        "Payers and policies",
        "Medicare benchmarks",
        "Related codes",
        "Policy updates",
        "Sources",
    ]:
        assert f"<h4>{heading}" in html, heading
    assert "<code>00632</code>" in html
    assert "Base units: 7" in html
    assert "Medicare inpatient-only" in html
    assert "$264.13" in html and "$20.3178" in html
    assert "Blue Cross Blue Shield" in html
    assert "M48.062" in html and "207LP2900X" in html
    # Text is escaped: "&" and quotes from the data never reach the markup raw.
    assert "Allopathic &amp; Osteopathic Physicians" in html
    assert "Allopathic & Osteopathic" not in html
    assert "Raynaud&#39;s syndrome" in html
    assert "Raynaud's" not in html


def test_html_card_for_a_code_without_benchmarks() -> None:
    p = cptkit.code("01999")
    assert p.service_type == "unlisted_anesthesia"
    assert p.benchmarks == ()
    assert "priced by report" in p._repr_html_()


def test_every_code_profiles_and_round_trips() -> None:
    for summary in cptkit.list_codes():
        p = cptkit.code(summary.code)
        assert (p.code, p.base_units, p.category) == (summary.code, summary.base_units, summary.category)
        assert p.service_type == summary.service_type
        assert p.medicare_inpatient_only == summary.medicare_inpatient_only
        d = p.to_dict()
        assert json.loads(json.dumps(d)) == d
        assert (d["code"], len(d["benchmarks"])) == (summary.code, len(p.benchmarks))


# ---- every code of the Medicare Physician Fee Schedule ----


def test_office_visit_99213_has_rvus_and_amounts() -> None:
    p = cptkit.code("99213")
    assert (p.service_type, p.base_units, p.category) == ("fee_schedule", 0, "Evaluation and Management")
    assert "CPT descriptor is not included" in p.description
    assert p.modifiers == () and p.benchmarks == ()
    fee = p.fee_schedule
    assert fee is not None
    assert (fee.status, fee.payable, fee.add_on) == ("A", True, False)
    assert fee.status_meaning.startswith("Active")
    assert (fee.release.release, fee.release.conversion_factor) == ("RVU25D", Decimal("32.3465"))
    assert (fee.rvus.work, fee.rvus.nonfacility_pe, fee.rvus.facility_pe, fee.rvus.mp) == (
        Decimal("1.30"),
        Decimal("1.35"),
        Decimal("0.57"),
        Decimal("0.10"),
    )
    national = fee.amounts[0]
    assert national.locality is None and national.pe_gpci == Decimal(1)
    # (1.30 + 1.35 + 0.10) x 32.3465 = 88.952875 -> 88.95; facility 1.97 x 32.3465 = 63.722605 -> 63.72
    assert (national.nonfacility.allowed, national.facility.allowed) == (Decimal("88.95"), Decimal("63.72"))
    assert national.nonfacility.limiting_charge == Decimal("97.18")  # 88.95 x 1.0925 = 97.177875
    assert [i.field for i in fee.indicators][:3] == ["status", "pctc", "global"]
    assert cptkit.code("99213") is p  # cached like an anesthesia profile


def test_fee_schedule_localities_and_components() -> None:
    p = cptkit.code("72148", localities=["10112-00"])
    fee = p.fee_schedule
    assert fee is not None
    assert [a.locality.id if a.locality else None for a in fee.amounts] == [None, "10112-00"]
    assert [(c.modifier, c.amounts[0].nonfacility.allowed) for c in fee.components] == [
        ("26", Decimal("67.60")),
        ("TC", Decimal("120.65")),
    ]
    assert fee.rvus.facility_na is True
    # A TC row's own supervision level: 74177-TC direct (02), the code's row "does not apply" (09).
    ct = cptkit.code("74177").fee_schedule
    assert ct is not None
    supervision = [i.value for i in ct.indicators if i.field == "supervision"]
    tc = next(c for c in ct.components if c.modifier == "TC")
    assert (supervision, [i.value for i in tc.indicators if i.field == "supervision"]) == (["09"], ["02"])
    capped = cptkit.code("70496", localities=["10112-00"]).fee_schedule
    assert capped is not None
    alabama = capped.amounts[1].nonfacility
    assert (alabama.fee_schedule, alabama.opps_cap, alabama.allowed) == (
        Decimal("243.05"),
        Decimal("230.40"),
        Decimal("230.40"),
    )
    assert len(cptkit.code("99213", localities="all").fee_schedule.amounts) == 1 + 109  # type: ignore[union-attr]


def test_level2_status_and_families() -> None:
    j1100 = cptkit.code("J1100")
    assert j1100.description == "Dexamethasone sodium phos"
    assert j1100.fee_schedule is not None and j1100.fee_schedule.status == "E"
    assert j1100.fee_schedule.amounts == ()
    contractor = cptkit.code("0042T").fee_schedule
    assert contractor is not None and contractor.status_meaning.startswith("Contractor priced")
    related = {r.code: r.relation for r in cptkit.code("43239").related_codes}
    assert related["43235"] == "endoscopic_base" and related["43238"] == "endoscopic_family"
    add_on = cptkit.code("99292").fee_schedule
    assert add_on is not None and add_on.add_on and add_on.global_period.code == "ZZZ"
    anesthesia = cptkit.code("00632").fee_schedule
    assert anesthesia is not None and anesthesia.status == "J"


def test_search_by_range_status_section_and_words() -> None:
    em = [c.code for c in cptkit.search_codes(codes="99202-99215")]
    assert em == ["99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"]
    assert [c.code for c in cptkit.search_codes(codes=["72148", "99213"])] == ["72148", "99213"]
    radiology = cptkit.search_codes(section="Radiology", status="A")
    assert radiology and all(c.section == "Radiology" and c.status == "A" for c in radiology)
    assert "99213" in [c.code for c in cptkit.search_codes(section="evaluation and management")]
    assert "J1100" in [c.code for c in cptkit.search_codes("dexamethasone")]
    not_valid = cptkit.search_codes(status="i")
    assert not_valid and all(c.status == "I" for c in not_valid)
    summary = cptkit.search_codes(codes="99213")[0]
    assert (summary.service_type, summary.base_units, summary.status) == ("fee_schedule", 0, "A")
    with pytest.raises(cptkit.InvalidInputError) as e:
        cptkit.search_codes(status="Q")
    assert e.value.field == "status"
    with pytest.raises(cptkit.InvalidInputError) as e:
        cptkit.search_codes(codes="99215-99202")
    assert e.value.field == "codes"
    with pytest.raises(cptkit.InvalidInputError) as e:
        cptkit.search_codes(codes=[99213])  # type: ignore[list-item]
    assert e.value.field == "codes"


def test_fee_schedule_card() -> None:
    html = cptkit.code("72148")._repr_html_()
    assert "<h4>Medicare Physician Fee Schedule (RVU25D)" in html
    assert "$188.26" in html and "$67.60" in html and "$120.65" in html
    assert "Diagnostic test with professional (26) and technical (TC) components" in html
    assert "<h4>Modifiers" not in html  # no anesthesia sections for a fee schedule code
    card = cptkit.code("70496", localities=["10112-00"])._repr_html_()
    assert "$230.40 (OPPS cap; fee schedule $243.05)" in card


def test_fee_schedule_profile_round_trips() -> None:
    for code in ["99213", "72148", "J1100", "43239"]:
        d = cptkit.code(code).to_dict()
        assert json.loads(json.dumps(d)) == d
        assert isinstance(d["fee_schedule"]["amounts"], list)
