#![allow(clippy::unwrap_used)]
//! The fee schedule edits (PFS001-PFS020) on real claims, with codes whose indicators were read from the
//! embedded CMS RVU25D file (`data/pfs/rvu25d/pfs_rvu.csv`), and the anesthesia edits kept off
//! ordinary office claims.

use std::collections::BTreeSet;

use cptkit_core::{Claim, Reference, Severity, ValidationContext, ValidationReport, edit};
use serde_json::{Value, json};

/// One line: code, modifiers, quantity (units), date of service.
type Line<'a> = (&'a str, &'a [&'a str], &'a str, &'a str);

const DOS: &str = "2025-11-03";
/// The first line's code and first modifier: where most findings point.
const CODE: &str = "lines[0].procedure_code";
const M0: &str = "lines[0].modifiers[0]";

fn line<'a>(code: &'a str, modifiers: &'a [&'a str]) -> Line<'a> {
    (code, modifiers, "1", DOS)
}

/// A family physician's claim (taxonomy 207Q00000X) to the given plan, at the given place of service.
fn claim(plan: &str, pos: &str, lines: &[Line]) -> Claim {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(code, modifiers, quantity, date)| {
            json!({"procedure_code": code, "modifiers": modifiers, "unit_basis": "UN", "quantity": quantity,
                   "diagnosis_pointers": [1], "charge_cents": 50000, "date_of_service": date})
        })
        .collect();
    let claim = json!({
        "claim_id": "PFS", "payer": {"id": "medicare", "plan_type": plan}, "place_of_service": pos,
        "patient": {"birth_date": "1950-01-01"}, "billing_provider_npi": "1234567893",
        "rendering_provider": {"npi": "1558598797", "taxonomy": "207Q00000X"}, "medicare_locality": "10112-00",
        "diagnoses": ["M54.16"], "lines": lines,
    });
    Claim::from_json(&claim.to_string()).unwrap()
}

fn validate(claim: &Claim) -> ValidationReport {
    let context = ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
    Reference::embedded().validate(claim, &context)
}

/// Every finding as (edit id, field).
fn findings(claim: &Claim) -> BTreeSet<(String, String)> {
    let report = validate(claim);
    for f in &report.findings {
        assert!(!f.message.is_empty() && !f.hint.is_empty(), "{f:?}");
    }
    report.findings.iter().map(|f| (f.edit_id.clone(), f.field())).collect()
}

fn set(expected: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    expected.iter().map(|(id, field)| ((*id).to_owned(), (*field).to_owned())).collect()
}

/// (what the case shows, claim, every finding it must give).
type Case = (&'static str, Claim, &'static [(&'static str, &'static str)]);

fn cases() -> Vec<Case> {
    let ffs = "medicare_ffs";
    let commercial = "commercial";
    vec![
        // The office visit of the brief: a visit, an injection and a lumbar MRI read, for a family physician.
        ("office claim", claim(ffs, "11", &[line("99213", &[]), line("96372", &[]), line("72148", &["26"])]), &[]),
        ("unknown code", claim(ffs, "11", &[line("99999", &[])]), &[("PFS001", CODE)]),
        ("DME code outside the fee schedule", claim(ffs, "11", &[line("E0100", &[])]), &[("PFS001", CODE)]),
        ("unknown for every payer", claim(commercial, "11", &[line("99999", &[])]), &[("PFS001", CODE)]),
        // Status I (a Category II CODE): not valid for Medicare; other payers may take it.
        ("status I", claim(ffs, "11", &[line("0001F", &[])]), &[("PFS002", CODE)]),
        ("status I, Medicare Advantage", claim("medicare_advantage", "11", &[line("0001F", &[])]), &[("PFS002", CODE)]),
        ("status I, commercial", claim(commercial, "11", &[line("0001F", &[])]), &[]),
        ("status E", claim(ffs, "11", &[line("J1100", &[])]), &[("PFS004", CODE)]),
        ("status X", claim(ffs, "11", &[line("36415", &[])]), &[("PFS004", CODE)]),
        ("status N", claim(ffs, "11", &[line("0469T", &[])]), &[("PFS004", CODE)]),
        ("status M", claim(ffs, "11", &[line("0500F", &[])]), &[("PFS004", CODE)]),
        ("status X, commercial", claim(commercial, "11", &[line("36415", &[])]), &[]),
        (
            "status B",
            claim(ffs, "11", &[line("99213", &[]), line("99072", &[])]),
            &[("PFS005", "lines[1].procedure_code")],
        ),
        ("status P", claim(ffs, "11", &[line("A4211", &[])]), &[("PFS005", CODE)]),
        ("status C", claim(ffs, "22", &[line("0042T", &[])]), &[("PFS006", CODE)]),
        ("status C, commercial", claim(commercial, "22", &[line("0042T", &[])]), &[]),
        // Status T: paid alone, bundled beside another payable service (not beside another T).
        ("status T alone", claim(ffs, "11", &[line("36591", &[])]), &[]),
        (
            "status T beside a visit",
            claim(ffs, "11", &[line("99213", &[]), line("36591", &[])]),
            &[("PFS007", "lines[1].procedure_code")],
        ),
        ("status T beside status T", claim(ffs, "11", &[line("36591", &[]), line("36592", &[])]), &[]),
        (
            "status T beside a visit, commercial",
            claim(commercial, "11", &[line("99213", &[]), line("36591", &[])]),
            &[],
        ),
        (
            "status T beside a visit another day",
            claim(ffs, "11", &[("99213", &[], "1", "2025-11-04"), line("36591", &[])]),
            &[],
        ),
        // PC/TC: 99213 is 0 (physician service), 93010 is 2 (professional only), 96372 is 5 (incident to),
        // 83020-26 is 6 (lab interpretation: no TC; the test itself is status X), 85060 is 8.
        ("26 on a physician service", claim(ffs, "11", &[line("99213", &["26"])]), &[("PFS008", M0)]),
        ("TC on a professional-only code", claim(ffs, "11", &[line("93010", &["TC"])]), &[("PFS008", M0)]),
        ("26 on an incident-to code", claim(commercial, "11", &[line("96372", &["26"])]), &[("PFS008", M0)]),
        ("26 on a lab interpretation code", claim(ffs, "22", &[line("83020", &["26"])]), &[]),
        (
            "TC on a lab interpretation code",
            claim(ffs, "22", &[line("83020", &["TC"])]),
            &[("PFS004", CODE), ("PFS008", M0)],
        ),
        (
            "TC on a lab interpretation code, commercial",
            claim(commercial, "22", &[line("83020", &["TC"])]),
            &[("PFS008", M0)],
        ),
        ("TC on an abnormal smear read", claim(ffs, "21", &[line("85060", &["TC"])]), &[("PFS008", M0)]),
        (
            "26 and TC on a diagnostic test",
            claim(ffs, "11", &[line("72148", &["26", "TC"])]),
            &[("PFS009", "lines[0].modifiers[1]")],
        ),
        (
            "both components on a visit",
            claim(ffs, "11", &[line("99213", &["TC", "26"])]),
            &[("PFS008", M0), ("PFS008", "lines[0].modifiers[1]"), ("PFS009", "lines[0].modifiers[0]")],
        ),
        // Bilateral: 11300 is 9, 47562 is 0, 11010 is 2, 20610 is 1.
        ("50 where bilateral does not apply", claim(commercial, "11", &[line("11300", &["50"])]), &[("PFS010", M0)]),
        ("50 on a code paid once for both sides", claim(ffs, "22", &[line("47562", &["50"])]), &[("PFS011", M0)]),
        ("50 on a code already bilateral", claim(ffs, "11", &[line("11010", &["50"])]), &[("PFS011", M0)]),
        ("50 on a bilateral procedure", claim(ffs, "11", &[line("20610", &["50"])]), &[]),
        // Assistant at surgery: 11042 is 1 (statutory), 27447 is 2.
        ("80 where Medicare never pays an assistant", claim(ffs, "22", &[line("11042", &["80"])]), &[("PFS012", M0)]),
        ("AS where Medicare never pays an assistant", claim(ffs, "22", &[line("11042", &["AS"])]), &[("PFS012", M0)]),
        ("80, commercial", claim(commercial, "22", &[line("11042", &["80"])]), &[]),
        ("80 where an assistant may be paid", claim(ffs, "21", &[line("27447", &["80"])]), &[]),
        // Co-surgeons: 11042 is 0, 27447 is 1. Team surgery: 11042 is 0, 32851 is 2.
        ("62 where co-surgeons are not permitted", claim(ffs, "22", &[line("11042", &["62"])]), &[("PFS013", M0)]),
        ("62 where co-surgeons may be paid", claim(ffs, "21", &[line("27447", &["62"])]), &[]),
        ("66 where team surgery is not permitted", claim(ffs, "22", &[line("11042", &["66"])]), &[("PFS014", M0)]),
        ("66 where team surgery is permitted", claim(ffs, "21", &[line("32851", &["66"])]), &[]),
        // Facility only (non-facility NA): 27447 and 99221.
        ("knee replacement in the office", claim(ffs, "11", &[line("27447", &[])]), &[("PFS015", CODE)]),
        ("hospital visit in the office", claim(commercial, "11", &[line("99221", &[])]), &[("PFS015", CODE)]),
        ("knee replacement inpatient", claim(ffs, "21", &[line("27447", &[])]), &[]),
        // Add-ons (global ZZZ): 11045 with 11042, 99292 with 99291, 64484 with 64483.
        ("add-on alone", claim(ffs, "22", &[line("11045", &[])]), &[("PFS016", CODE)]),
        ("add-on with its primary", claim(ffs, "22", &[line("11042", &[]), line("11045", &[])]), &[]),
        ("critical care add-on with its primary", claim(ffs, "21", &[line("99291", &[]), line("99292", &[])]), &[]),
        (
            "add-on with its primary on another day",
            claim(ffs, "22", &[("11042", &[], "1", "2025-11-02"), line("11045", &[])]),
            &[("PFS016", "lines[1].procedure_code")],
        ),
        (
            "add-on beside another add-on only",
            claim(ffs, "22", &[line("11045", &[]), line("64484", &[])]),
            &[("PFS016", "lines[0].procedure_code"), ("PFS016", "lines[1].procedure_code")],
        ),
        // Units.
        ("half a unit", claim(ffs, "11", &[("99213", &[], "1.5", DOS)]), &[("PFS017", "lines[0].quantity")]),
        ("no units", claim(commercial, "11", &[("99213", &[], "0", DOS)]), &[("PFS017", "lines[0].quantity")]),
        ("two injections", claim(ffs, "11", &[("96372", &[], "2", DOS)]), &[]),
        ("50 with two units", claim(ffs, "11", &[("20610", &["50"], "2", DOS)]), &[("PFS018", "lines[0].quantity")]),
        (
            "RT and LT on one line",
            claim(ffs, "11", &[line("20610", &["RT", "LT"])]),
            &[("PFS019", "lines[0].modifiers[1]")],
        ),
        ("RT and LT on two lines", claim(ffs, "11", &[line("20610", &["RT"]), line("20610", &["LT"])]), &[]),
        // 53: only 44388, 45378, G0105 and G0121 have a discontinued row in RVU25D.
        ("53 with no discontinued amount", claim(ffs, "11", &[line("20610", &["53"])]), &[("PFS020", M0)]),
        ("53 on a colonoscopy", claim(ffs, "22", &[line("45378", &["53"])]), &[]),
        // No release covers 2026: nothing about the fee schedule, but units and modifiers still contradict.
        (
            "a year with no release",
            claim(ffs, "11", &[("99999", &[], "1", "2026-06-01"), ("72148", &["26", "TC"], "1.5", "2026-06-01")]),
            &[("PFS009", "lines[1].modifiers[1]"), ("PFS017", "lines[1].quantity")],
        ),
        // Modifiers valid on fee schedule lines are not anesthesia findings.
        (
            "payment and informational modifiers",
            claim(
                ffs,
                "22",
                &[
                    line("99213", &["25", "95", "GT"]),
                    line("20610", &["59", "RT", "XS"]),
                    line("72148", &["26", "GC", "76"]),
                    line("11042", &["51", "79", "XU"]),
                ],
            ),
            &[],
        ),
        // Still refused: an anesthesia modifier on a fee schedule line; a fee schedule line in minutes.
        ("anesthesia modifier on a visit", claim(ffs, "11", &[line("99213", &["AA"])]), &[("MOD006", M0)]),
    ]
}

#[test]
fn each_fee_schedule_edit_fires_on_its_claim_and_nothing_else_does() {
    let mut seen = BTreeSet::new();
    for (name, claim, expected) in cases() {
        let actual = findings(&claim);
        assert_eq!(actual, set(expected), "{name}: {:#?}", validate(&claim).findings);
        seen.extend(actual.into_iter().map(|(id, _)| id));
    }
    // Statuses D, F, G and H do not occur in RVU25D (CMS dropped them from the files in 2006): PFS003 is
    // checked by the status table in validate.rs's unit test.
    let untested: Vec<&str> = edit::ALL
        .iter()
        .map(|e| e.id)
        .filter(|id| id.starts_with("PFS") && *id != "PFS003" && !seen.contains(*id))
        .collect();
    assert!(untested.is_empty(), "no case for {untested:?}");
}

#[test]
fn a_stand_in_release_says_so() {
    // RVU25D is in force from October 2025; a March claim is judged by it, and the finding says so.
    let report = validate(&claim("medicare_ffs", "11", &[("0001F", &[], "1", "2025-03-04")]));
    let [finding] = report.findings.as_slice() else { panic!("{:#?}", report.findings) };
    assert_eq!(finding.edit_id, "PFS002");
    assert!(
        finding.message.contains("RVU25D (standing in for the release in force on 2025-03-04"),
        "{}",
        finding.message
    );
    let october = validate(&claim("medicare_ffs", "11", &[line("0001F", &[])]));
    assert!(!october.findings[0].message.contains("standing in"), "{}", october.findings[0].message);
}

#[test]
fn a_fee_schedule_line_in_minutes_is_cpt002_only() {
    let mut claim = claim("medicare_ffs", "11", &[line("99213", &[])]);
    claim.lines[0].unit_basis = cptkit_core::UnitBasis::Minutes;
    claim.lines[0].quantity = rust_decimal::Decimal::from(15);
    assert_eq!(findings(&claim), set(&[("CPT002", "lines[0].unit_basis")]));
}

#[test]
fn the_brief_visit_claim_has_no_anesthesia_findings() {
    let json = r#"{"claim_id":"PFS-1","payer":{"id":"medicare","plan_type":"medicare_ffs"},"place_of_service":"11",
        "patient":{"birth_date":"1950-01-01","member_id":"X"},"billing_provider_npi":"1234567893",
        "rendering_provider":{"npi":"1558598797","taxonomy":"207Q00000X"},"medicare_locality":"10112-00",
        "diagnoses":["M54.16"],
        "lines":[{"procedure_code":"99213","unit_basis":"UN","quantity":"1","diagnosis_pointers":[1],"charge_cents":20000,"date_of_service":"2025-11-03"},
        {"procedure_code":"96372","unit_basis":"UN","quantity":"1","diagnosis_pointers":[1],"charge_cents":5000,"date_of_service":"2025-11-03"},
        {"procedure_code":"72148","modifiers":["26"],"unit_basis":"UN","quantity":"1","diagnosis_pointers":[1],"charge_cents":30000,"date_of_service":"2025-11-03"}]}"#;
    let report = validate(&Claim::from_json(json).unwrap());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    // Without a taxonomy either: PRV004 is about anesthesia roles.
    let no_taxonomy = json.replace(r#","taxonomy":"207Q00000X""#, "");
    assert!(validate(&Claim::from_json(&no_taxonomy).unwrap()).findings.is_empty());
}

#[test]
fn anesthesia_claims_keep_their_provider_edits() {
    // The same family physician billing anesthesia: the taxonomy is judged again.
    let mut claim = claim("medicare_ffs", "21", &[line("99213", &[])]);
    claim.lines[0].procedure_code = "00632".parse().unwrap();
    claim.lines[0].modifiers = cptkit_core::smallvec!["AA".parse().unwrap()];
    claim.lines[0].unit_basis = cptkit_core::UnitBasis::Minutes;
    claim.lines[0].quantity = rust_decimal::Decimal::from(60);
    let ids: BTreeSet<String> = findings(&claim).into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains("PRV002"), "{ids:?}");
    assert!(!ids.iter().any(|id| id.starts_with("PFS")), "{ids:?}");
}

#[test]
fn the_catalogue_is_in_id_order_and_severities_match_the_brief() {
    let ids: Vec<&str> = edit::ALL.iter().map(|e| e.id).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate edit ids");
    // Each prefix is one block, its ids ascending.
    let prefix = |id: &str| id.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned();
    let mut blocks: Vec<String> = Vec::new();
    for pair in ids.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if prefix(a) == prefix(b) {
            assert!(a < b, "{a} before {b}");
        } else {
            blocks.push(prefix(a));
            assert!(!blocks.contains(&prefix(b)), "{b} is apart from its block");
        }
    }
    let pfs: Vec<&cptkit_core::Edit> = edit::ALL.iter().filter(|e| e.id.starts_with("PFS")).collect();
    assert_eq!(pfs.len(), 20);
    for warning in ["PFS004", "PFS005", "PFS006", "PFS007", "PFS011", "PFS015", "PFS018", "PFS019", "PFS020"] {
        assert!(pfs.iter().any(|e| e.id == warning && e.severity == Severity::Warning), "{warning}");
    }
    assert_eq!(pfs.iter().filter(|e| e.severity == Severity::Error).count(), 11);
}
