//! The fee schedule amounts cptkit computes against CMS's own published amounts, to the cent:
//! every row of CMS's January 2025 Alabama payment file sample (PFAL25A) and code 76145 in all 109
//! localities (PFREV25C, July). Both are priced with the embedded October release (RVU25D); rows
//! whose RVUs or status changed after the CMS file was published are listed below with the change.

use std::collections::BTreeMap;

use cptkit_core::pfs::fee_amount;
use cptkit_core::{CptCode, LocalityId, ModifierCode, Reference};
use rust_decimal::Decimal;
use serde::Deserialize;
use time::macros::date;

#[derive(Debug, Deserialize)]
struct CmsFee {
    carrier: String,
    locality: String,
    hcpcs: CptCode,
    modifier: Option<ModifierCode>,
    nonfacility_fee: Decimal,
    facility_fee: Decimal,
    status: String,
}

/// Rows of the January file that the October RVUs price differently, and why (CMS quarterly updates).
const CHANGED_AFTER_JANUARY: &[(&str, &str)] = &[
    ("0446T", "non-facility PE RVU raised in the April 2025 release (RVU25B)"),
    ("0448T", "non-facility PE RVU raised in the April 2025 release (RVU25B)"),
    ("G9037", "became status I (not valid for Medicare) in the July 2025 release (RVU25C)"),
    ("G9038", "status A in January, I (not valid for Medicare) in the October release (RVU25D); same amounts"),
];

fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/fixtures/cms/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every row of a CMS file priced by cptkit; returns the rows that differ, with both amounts.
fn mismatches(file: &str) -> (usize, BTreeMap<String, String>) {
    let reference = Reference::embedded();
    let in_force = reference.fee_schedule().in_force(date!(2025 - 10 - 01)).expect("RVU25D is embedded");
    let cf = in_force.release.info.conversion_factor;
    let text = fixture(file);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut count = 0;
    let mut differ = BTreeMap::new();
    for row in reader.deserialize::<CmsFee>() {
        let cms = row.expect("CMS row reads");
        count += 1;
        let locality = LocalityId::new(&cms.carrier, &cms.locality).expect("locality");
        let gpci = in_force.tables.gpci(&locality).unwrap_or_else(|| panic!("no GPCI for {locality}"));
        let key = format!("{}{} {locality}", cms.hcpcs, cms.modifier.map(|m| format!("-{m}")).unwrap_or_default());
        let Some(rvus) = in_force.tables.row(cms.hcpcs, cms.modifier) else {
            differ.insert(key, "not in RVU25D".to_owned());
            continue;
        };
        let nonfacility = fee_amount(rvus, gpci.values(), false, cf);
        let facility = fee_amount(rvus, gpci.values(), true, cf);
        let status = char::from(rvus.status).to_string();
        if (nonfacility, facility, status.as_str()) != (cms.nonfacility_fee, cms.facility_fee, cms.status.as_str()) {
            differ.insert(
                key,
                format!(
                    "CMS {} / {} status {}, cptkit {nonfacility} / {facility} status {status}",
                    cms.nonfacility_fee, cms.facility_fee, cms.status
                ),
            );
        }
    }
    (count, differ)
}

#[test]
fn every_row_of_the_cms_alabama_sample_reproduces_to_the_cent() {
    let (count, differ) = mismatches("cms_fees_2025A_alabama_sample.csv");
    assert_eq!(count, 719);
    let unexplained: Vec<_> =
        differ.iter().filter(|(key, _)| !CHANGED_AFTER_JANUARY.iter().any(|(code, _)| key.starts_with(code))).collect();
    assert!(unexplained.is_empty(), "rows that differ from CMS with no recorded change: {unexplained:#?}");
    // Each recorded change is real: the row does differ (else the list is stale).
    for (code, why) in CHANGED_AFTER_JANUARY {
        assert!(differ.keys().any(|k| k.starts_with(code)), "{code} ({why}) now matches: drop it from the list");
    }
}

#[test]
fn code_76145_reproduces_in_all_109_localities() {
    let (count, differ) = mismatches("cms_fees_2025_pfrev25c_76145.csv");
    assert_eq!(count, 109);
    assert!(differ.is_empty(), "{differ:#?}");
}

/// The two CMS data sets agree: each CY2025 anesthesia locality factor (ANES2025) is the national
/// anesthesia factor times the locality's GPCIs weighted by CMS's anesthesia shares (0.769 work, 0.166
/// PE, 0.065 MP), rounded to cents.
#[test]
fn anesthesia_locality_factors_follow_from_the_gpcis() {
    let reference = Reference::embedded();
    let in_force = reference.fee_schedule().in_force(date!(2025 - 10 - 01)).expect("RVU25D is embedded");
    let national = reference
        .national_conversion_factors()
        .find(|cf| cf.year == 2025)
        .expect("the CY2025 national anesthesia factor")
        .amount;
    let shares = [Decimal::new(769, 3), Decimal::new(166, 3), Decimal::new(65, 3)];
    let mut checked = 0;
    for cf in reference.locality_conversion_factors().filter(|cf| cf.year == 2025) {
        let locality = cf.locality.as_ref().expect("a locality factor names its locality");
        let gpci = in_force.tables.gpci(&locality.id).unwrap_or_else(|| panic!("no GPCI for {}", locality.id));
        let weighted: Decimal = gpci.values().iter().zip(shares).map(|(g, s)| *g * s).sum();
        let derived =
            (national * weighted).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        assert_eq!(derived, cf.amount, "{}: {national} x {weighted}", locality.id);
        checked += 1;
    }
    assert_eq!(checked, 109);
}

/// CMS marks 148 rows of RVU25D "not used for Medicare payment" with a `+`: each is read as marked, and
/// none is paid.
#[test]
fn rows_not_used_for_medicare_payment_are_read_and_not_paid() {
    let reference = Reference::embedded();
    let in_force = reference.fee_schedule().in_force(date!(2025 - 10 - 01)).expect("RVU25D is embedded");
    let marked: Vec<_> = in_force.tables.rows().filter(|row| row.not_used_for_medicare_payment).collect();
    assert_eq!(marked.len(), 148);
    assert!(marked.iter().all(|row| !row.is_payable_status()));
}
