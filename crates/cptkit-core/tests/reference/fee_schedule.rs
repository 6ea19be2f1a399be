//! Profiles and search for every code of the Medicare Physician Fee Schedule (RVU25D), checked against
//! CMS's files: the RVUs as published, the amounts worked by hand from them and CMS's own Alabama
//! payment file.

use cptkit_core::pfs::FeeScheduleProfile;
use cptkit_core::{
    CodeProfile, CodeQuery, ErrorKind, Known, LocalitySelection, PageRequest, ProfileOptions, Reference, Relation,
    ServiceType,
};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{code, fixtures, profile};

fn dec(text: &str) -> Decimal {
    text.parse().expect(text)
}

fn fee(p: &CodeProfile) -> &FeeScheduleProfile {
    p.fee_schedule.as_ref().expect("a fee schedule code")
}

fn alabama() -> ProfileOptions {
    ProfileOptions { localities: LocalitySelection::Only(vec!["10112-00".parse().expect("id")]) }
}

fn search(query: CodeQuery) -> Vec<String> {
    let page = PageRequest { page_size: 500, page_token: String::new() };
    let result = Reference::embedded().search_codes(&query, &page).expect("search");
    assert!(result.next_page_token.is_empty(), "one page is enough for these tests");
    result.items.into_iter().map(|s| s.code.to_string()).collect()
}

#[test]
fn office_visit_99213() {
    let p = profile("99213");
    assert_eq!(
        (p.service_type, p.base_units, p.medicare_inpatient_only),
        (ServiceType::FeeSchedule, 0, Known::Unknown)
    );
    assert_eq!(p.category, "Evaluation and Management");
    assert!(p.description.contains("CPT descriptor is not included"), "{}", p.description);
    assert!(p.description.contains("99202-99499"), "the section's range: {}", p.description);
    assert!(p.modifiers.is_empty() && p.benchmarks.is_empty() && p.payers.is_empty());

    let f = fee(&p);
    assert_eq!((f.release.release.as_str(), f.release.conversion_factor), ("RVU25D", dec("32.3465")));
    assert_eq!((f.status.as_str(), f.payable, f.add_on), ("A", true, false));
    assert!(f.status_meaning.starts_with("Active"));
    // The release's dates of service are said: a profile read after its year must not look current.
    let dates =
        format!("Amounts for dates of service {} to {} (CMS RVU25D)", f.release.effective_from, f.release.effective_to);
    assert!(f.amounts_note.starts_with(&dates), "{}", f.amounts_note);
    assert_eq!(f.global_period.code, "XXX");
    assert_eq!(
        (f.rvus.work, f.rvus.nonfacility_pe, f.rvus.facility_pe, f.rvus.mp),
        (dec("1.30"), dec("1.35"), dec("0.57"), dec("0.10"))
    );
    assert_eq!((f.rvus.nonfacility_total, f.rvus.facility_total), (dec("2.75"), dec("1.97")));
    assert_eq!(f.section.as_ref().map(|s| s.section.as_str()), Some("Evaluation and Management"));
    let fields: Vec<&str> = f.indicators.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(fields[..3], ["status", "pctc", "global"]);
    assert!(f.indicators.iter().all(|i| !i.meaning.is_empty() && i.meaning != "unknown"));

    // National (GPCIs 1.000): 2.75 x 32.3465 = 88.952875 -> $88.95; facility 1.97 x 32.3465 = 63.722605 -> $63.72.
    // Limiting charge: 88.95 x 1.0925 = 97.177875 -> $97.18; 63.72 x 1.0925 = 69.6141 -> $69.61.
    assert_eq!(f.amounts.len(), 1, "national only by default");
    let national = &f.amounts[0];
    assert!(national.locality.is_none());
    assert_eq!((national.work_gpci, national.pe_gpci, national.mp_gpci), (Decimal::ONE, Decimal::ONE, Decimal::ONE));
    assert_eq!((national.nonfacility.fee_schedule, national.nonfacility.allowed), (dec("88.95"), dec("88.95")));
    assert_eq!((national.facility.fee_schedule, national.facility.opps_cap), (dec("63.72"), None));
    assert_eq!((national.nonfacility.limiting_charge, national.facility.limiting_charge), (dec("97.18"), dec("69.61")));
    assert!(f.components.is_empty());
    assert!(p.related_codes.is_empty());
}

#[test]
fn lumbar_mri_72148_has_its_professional_and_technical_rows() {
    let p = profile("72148");
    let f = fee(&p);
    assert_eq!(p.category, "Radiology: Diagnostic Radiology (Diagnostic Imaging)");
    assert!(f.rvus.facility_na && !f.rvus.nonfacility_na, "NA in the facility setting, as CMS prints it");
    assert_eq!(f.indicators[1].value, "1", "PC/TC indicator 1: diagnostic test with 26 and TC");
    // 5.82 x 32.3465 = 188.25663; 26: 2.09 x 32.3465 = 67.604185; TC: 3.73 x 32.3465 = 120.652445.
    assert_eq!(f.amounts[0].nonfacility.allowed, dec("188.26"));
    let components: Vec<(String, Decimal)> =
        f.components.iter().map(|c| (c.modifier.to_string(), c.amounts[0].nonfacility.allowed)).collect();
    assert_eq!(components, [("26".to_owned(), dec("67.60")), ("TC".to_owned(), dec("120.65"))]);
    assert!(f.components.iter().all(|c| c.status == "A" && c.payable));
}

/// A component row has indicators of its own: CT of the abdomen and pelvis (74177) needs direct
/// supervision for its technical component (physician supervision 02 on the TC row, pfs_rvu_2025_oct.csv)
/// though the code's row says the concept does not apply (09).
#[test]
fn a_component_row_shows_its_own_indicators() {
    let p = profile("74177");
    let supervision = |indicators: &[cptkit_core::pfs::FeeIndicator]| {
        indicators.iter().find(|i| i.field == "supervision").map(|i| i.value.clone())
    };
    let f = fee(&p);
    assert_eq!(supervision(&f.indicators).as_deref(), Some("09"));
    let tc = f.components.iter().find(|c| c.modifier.as_str() == "TC").expect("TC row");
    assert_eq!(supervision(&tc.indicators).as_deref(), Some("02"));
    assert!(tc.indicators.iter().all(|i| !i.meaning.is_empty() && i.meaning != "unknown"));
    // Only where the row differs: the TC row's other indicators are the code's.
    assert!(tc.indicators.iter().all(|i| !f.indicators.contains(i)), "{:?}", tc.indicators);
}

#[test]
fn a_code_listed_only_with_a_modifier_is_described_by_that_row() {
    let f = fee(&profile("86153")).clone();
    assert_eq!(f.modifier.map(|m| m.to_string()).as_deref(), Some("26"));
    assert!(f.components.is_empty());
}

#[test]
fn endoscopy_family_lists_its_base_and_siblings() {
    let p = profile("43239");
    assert_eq!(
        fee(&p).indicators.iter().find(|i| i.field == "multiple_procedure").map(|i| i.value.as_str()),
        Some("3")
    );
    let of = |relation: Relation| -> Vec<&str> {
        p.related_codes.iter().filter(|r| r.relation == relation).map(|r| r.code.as_str()).collect()
    };
    assert_eq!(of(Relation::EndoscopicBase), ["43235"]);
    let family = of(Relation::EndoscopicFamily);
    for sibling in ["43236", "43237", "43238", "43240", "43259"] {
        assert!(family.contains(&sibling), "{sibling} in {family:?}");
    }
    assert!(!family.contains(&"43239") && !family.contains(&"43235"));

    // The base itself lists its family.
    let base = profile("43235");
    assert!(base.related_codes.iter().all(|r| r.relation == Relation::EndoscopicFamily));
    assert!(base.related_codes.iter().any(|r| r.code.as_str() == "43239"));
}

#[test]
fn add_on_code_says_so() {
    let f = fee(&profile("99292")).clone();
    assert!(f.add_on);
    assert_eq!(f.global_period.code, "ZZZ");
    assert!(f.global_period.meaning.starts_with("Add-on code"), "{}", f.global_period.meaning);
    // (2.25 + 1.11 + 0.21) x 32.3465 = 115.477005
    assert_eq!(f.amounts[0].nonfacility.allowed, dec("115.48"));
}

/// 99100-99140 are looked up for their anesthesia role: the profile says it, from cptkit's own table.
#[test]
fn a_qualifying_circumstance_says_what_it_does_for_anesthesia() {
    let p = profile("99100");
    assert!(
        p.description.starts_with("Anesthesia qualifying circumstance, add-on: patient of extreme age"),
        "{}",
        p.description
    );
    assert!(p.description.contains("commonly 1") && p.description.contains("status B"), "{}", p.description);
    assert!(p.description_source.contains("AAPC"), "{}", p.description_source);
    assert_eq!(fee(&p).status, "B");
}

#[test]
fn level2_codes_carry_cms_descriptors() {
    let j1100 = profile("J1100");
    assert_eq!(j1100.description, "Dexamethasone sodium phos");
    assert!(j1100.description_source.contains("CMS HCPCS Level II short descriptor"));
    assert_eq!(j1100.category, "HCPCS Level II: Drugs administered other than oral method; chemotherapy drugs");
    let f = fee(&j1100);
    assert_eq!((f.status.as_str(), f.payable), ("E", false));
    assert!(f.amounts.is_empty());
    assert!(f.amounts_note.contains("status E"), "{}", f.amounts_note);

    let a0021 = profile("A0021");
    assert_eq!(a0021.description, "Outside state ambulance serv");
    assert_eq!(fee(&a0021).status, "I");

    let dental = Reference::embedded().code_summaries().expect("index").find(|s| s.code.as_str().starts_with('D'));
    let dental = profile(dental.expect("a D code").code.as_str());
    assert!(dental.description.contains("ADA copyright"), "{}", dental.description);
}

#[test]
fn non_payable_statuses_are_worded() {
    let not_valid = profile("0001F");
    let f = fee(&not_valid);
    assert_eq!(f.status, "I");
    assert!(f.status_meaning.starts_with("Not valid for Medicare"));
    assert!(f.amounts.is_empty());
    assert_eq!(not_valid.category, "Category II", "0001F sorts among numeric codes but is Category II");

    let contractor = profile("0042T");
    let f = fee(&contractor);
    assert_eq!(f.status, "C");
    assert!(f.status_meaning.starts_with("Contractor priced"));
    assert!(f.amounts.is_empty() && f.amounts_note.contains("Contractor priced"));
    assert_eq!(contractor.category, "Category III");
    // 0042T sorts inside 00100-01999 character by character, but no anesthesia family applies to it.
    assert!(contractor.taxonomies.is_empty() && contractor.clinical_context.summary.is_empty());
}

#[test]
fn anesthesia_codes_keep_their_profile_and_gain_the_fee_schedule_row() {
    let p = profile("00632");
    assert_eq!((p.service_type, p.base_units), (ServiceType::Anesthesia, 7));
    let f = fee(&p);
    assert_eq!((f.status.as_str(), f.payable), ("J", false));
    assert!(f.status_meaning.starts_with("Anesthesia service"));
    assert!(f.amounts.is_empty());
}

#[derive(Debug, Deserialize)]
struct CmsFee {
    hcpcs: String,
    modifier: String,
    nonfacility_fee: Decimal,
    facility_fee: Decimal,
}

/// Rows whose RVUs changed between CMS's January file and the October release (see tests/cms_fees.rs).
const CHANGED_AFTER_JANUARY: [&str; 2] = ["0446T", "0448T"];

#[test]
fn alabama_amounts_are_cms_amounts() {
    let text = std::fs::read_to_string(fixtures().join("cms/cms_fees_2025A_alabama_sample.csv")).expect("fixture");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut checked = 0;
    for row in reader.deserialize::<CmsFee>() {
        let cms = row.expect("row");
        if CHANGED_AFTER_JANUARY.contains(&cms.hcpcs.as_str()) {
            continue;
        }
        let p = Reference::embedded().profile(code(&cms.hcpcs), &alabama()).expect(&cms.hcpcs);
        let f = fee(&p);
        let amounts = if f.modifier.map(|m| m.to_string()).unwrap_or_default() == cms.modifier {
            &f.amounts
        } else {
            let component = f.components.iter().find(|c| c.modifier.as_str() == cms.modifier);
            &component.unwrap_or_else(|| panic!("{} {}", cms.hcpcs, cms.modifier)).amounts
        };
        if amounts.is_empty() {
            continue; // a status that pays nothing in October (G9037, G9038)
        }
        let local = &amounts[1];
        assert_eq!(local.locality.as_ref().map(|l| l.id.to_string()).as_deref(), Some("10112-00"));
        let ours = (local.nonfacility.fee_schedule, local.facility.fee_schedule);
        assert_eq!(ours, (cms.nonfacility_fee, cms.facility_fee), "{} {}", cms.hcpcs, cms.modifier);
        checked += 1;
    }
    assert!(checked > 700, "{checked} rows checked");
}

#[test]
fn the_opps_cap_binds_where_it_is_lower() {
    let p = Reference::embedded().profile(code("70496"), &alabama()).expect("70496");
    let local = &fee(&p).amounts[1];
    // 1.75 x 1.000 + 6.56 x 0.869 + 0.11 x 0.575 = 7.51389 RVUs x 32.3465 = 243.05; CMS's OPPS cap is $230.40.
    assert_eq!(local.nonfacility.fee_schedule, dec("243.05"));
    assert_eq!((local.nonfacility.opps_cap, local.nonfacility.allowed), (Some(dec("230.40")), dec("230.40")));
    assert_eq!(local.nonfacility.limiting_charge, dec("251.71"), "230.40 x 1.0925 = 251.712");
    assert!(fee(&p).amounts[0].nonfacility.opps_cap.is_none(), "the cap is per locality");

    let all = ProfileOptions { localities: LocalitySelection::All };
    let every = Reference::embedded().profile(code("99213"), &all).expect("all");
    let ids: Vec<String> =
        fee(&every).amounts[1..].iter().filter_map(|a| a.locality.as_ref()).map(|l| l.id.to_string()).collect();
    assert_eq!(ids.len(), 109);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in locality order");

    let unknown = ProfileOptions { localities: LocalitySelection::Only(vec!["99999-99".parse().expect("id")]) };
    let err = Reference::embedded().profile(code("99213"), &unknown).expect_err("unknown locality");
    assert_eq!((err.kind(), err.field()), (ErrorKind::NotFound, Some("localities[0]")));
}

#[test]
fn every_code_profiles_and_every_non_dental_code_has_a_section() {
    let reference = Reference::embedded();
    let summaries: Vec<_> = reference.code_summaries().expect("index").cloned().collect();
    assert_eq!(summaries.len(), 16_852);
    for s in &summaries {
        let p = reference.profile(s.code, &ProfileOptions::default()).expect("profile");
        assert_eq!((&p.description, &p.category, p.service_type), (&s.description, &s.category, s.service_type));
        assert_eq!(fee(&p).status, s.status);
        if s.service_type == ServiceType::FeeSchedule {
            // cptkit's curated families are anesthesia families: none may reach another code.
            assert!(p.taxonomies.is_empty() && p.diagnoses.is_empty(), "{}", s.code);
        }
        if !s.code.as_str().starts_with('D') {
            let section = reference.section_of(s.code).unwrap_or_else(|| panic!("{} has no section", s.code));
            assert_eq!(section.section, s.section);
        }
    }
}

#[test]
fn search_by_range_status_section_and_words() {
    let range = search(CodeQuery { codes: "99202-99215".into(), ..CodeQuery::default() });
    assert_eq!(range, ["99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"]);
    let two = search(CodeQuery { codes: "72148, 99213".into(), ..CodeQuery::default() });
    assert_eq!(two, ["72148", "99213"]);

    let page = PageRequest::default();
    let reference = Reference::embedded();
    let contractor = CodeQuery { status: Some("c".into()), ..CodeQuery::default() };
    let found = reference.search_codes(&contractor, &page).expect("status");
    assert!(found.total_size > 1000 && found.items.iter().all(|s| s.status == "C"));

    let radiology = CodeQuery { section: Some("Radiology".into()), status: Some("A".into()), ..CodeQuery::default() };
    let found = reference.search_codes(&radiology, &page).expect("section");
    assert!(found.total_size > 500 && found.items.iter().all(|s| s.section == "Radiology"));
    let em = search(CodeQuery {
        section: Some("evaluation and management".into()),
        codes: "99211-99215".into(),
        ..CodeQuery::default()
    });
    assert_eq!(em.len(), 5);
    let digestive =
        CodeQuery { section: Some("Digestive System".into()), codes: "43200-43299".into(), ..CodeQuery::default() };
    assert!(search(digestive).contains(&"43239".to_owned()), "a subsection");

    let dexamethasone = search(CodeQuery { text: "dexamethasone".into(), ..CodeQuery::default() });
    assert!(dexamethasone.contains(&"J1100".to_owned()), "{dexamethasone:?}");
    assert!(
        search(CodeQuery { text: "descriptor".into(), ..CodeQuery::default() }).is_empty(),
        "placeholders are not searched"
    );
    let fee_codes =
        CodeQuery { service_type: Some(ServiceType::FeeSchedule), min_base_units: Some(0), ..CodeQuery::default() };
    assert_eq!(reference.search_codes(&fee_codes, &page).expect("units").total_size, 0, "base units are anesthesia's");

    for (query, field) in [
        (CodeQuery { status: Some("Q".into()), ..CodeQuery::default() }, "status"),
        (CodeQuery { status: Some("AB".into()), ..CodeQuery::default() }, "status"),
        (CodeQuery { codes: "99215-99202".into(), ..CodeQuery::default() }, "codes"),
        (CodeQuery { codes: "99202-J1100".into(), ..CodeQuery::default() }, "codes"),
        (CodeQuery { codes: "9920".into(), ..CodeQuery::default() }, "codes"),
    ] {
        let err = reference.search_codes(&query, &page).expect_err(field);
        assert_eq!((err.kind(), err.field()), (ErrorKind::InvalidInput, Some(field)), "{query:?}");
    }
}

#[test]
fn a_users_descriptor_file_names_cpt_codes() {
    let dir = std::env::temp_dir().join(format!("cptkit-descriptors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // Test text, not the AMA's descriptors.
    std::fs::write(dir.join("cpt_descriptors.csv"), "code,descriptor\n99213,Test descriptor for an office visit\n")
        .expect("write");
    let reference = Reference::from_dir(&dir).expect("load");
    let p = reference.profile(code("99213"), &ProfileOptions::default()).expect("profile");
    assert_eq!(p.description, "Test descriptor for an office visit");
    assert_eq!(p.description_source, "user-supplied descriptor file");
    let query = CodeQuery { text: "office visit".into(), ..CodeQuery::default() };
    let found = reference.search_codes(&query, &PageRequest::default()).expect("search");
    assert_eq!(found.items.iter().map(|s| s.code.as_str()).collect::<Vec<_>>(), ["99213"]);

    std::fs::write(dir.join("cpt_descriptors.csv"), "code,descriptor\n9921,broken\n").expect("write");
    let err = Reference::from_dir(&dir).expect_err("bad code");
    assert!(err.message().contains("cpt_descriptors.csv"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
