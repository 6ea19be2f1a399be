#![allow(clippy::unwrap_used)]
//! Fee-schedule payment rules on small Medicare claims in Alabama (locality 10112-00: GPCI work 1.000,
//! PE 0.869, MP 0.575; CY2025 conversion factor 32.3465), each amount worked by hand from the
//! embedded CMS RVU25D file (`data/pfs/rvu25d/pfs_rvu.csv`) and the rule's source.

use cptkit_core::{Claim, LineStatus, PriceOptions, PricedLine, Reference, RuleBook};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// One line: code, modifiers, quantity (units), charge in cents.
type Line<'a> = (&'a str, &'a [&'a str], &'a str, i64);

/// A claim of the given lines on 2025-11-03 to the payer (id, plan type), at the place of service.
fn claim(payer: (&str, &str), pos: &str, lines: &[Line]) -> Claim {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(code, modifiers, quantity, charge)| {
            json!({"procedure_code": code, "modifiers": modifiers, "unit_basis": "UN", "quantity": quantity,
                   "diagnosis_pointers": [1], "charge_cents": charge, "date_of_service": "2025-11-03"})
        })
        .collect();
    let claim = json!({
        "claim_id": "PFS", "payer": {"id": payer.0, "plan_type": payer.1}, "place_of_service": pos,
        "patient": {"birth_date": "1950-01-01"}, "billing_provider_npi": "1234567893",
        "rendering_provider": {"npi": "1558598797", "taxonomy": "207RG0100X"}, "medicare_locality": "10112-00",
        "diagnoses": ["K92.2"], "lines": lines,
    });
    Claim::from_json(&claim.to_string()).unwrap()
}

fn price_with(claim: &Claim, options: &PriceOptions) -> Vec<PricedLine> {
    let today = Some(time::macros::date!(2026 - 11 - 27));
    let priced = Reference::embedded().price(claim, options, RuleBook::embedded(), today);
    priced.unwrap_or_else(|e| panic!("{claim:?}: {e}")).lines
}

/// The lines of a Medicare fee-for-service claim, priced.
fn price(pos: &str, lines: &[Line]) -> Vec<PricedLine> {
    price_with(&claim(("medicare", "medicare_ffs"), pos, lines), &PriceOptions::default())
}

/// Each line's allowed amount, as text ("222.10").
fn allowed(pos: &str, lines: &[Line]) -> Vec<String> {
    price(pos, lines).iter().map(|l| l.allowed.to_string()).collect()
}

const CHARGE: i64 = 100_000;

/// RVU file documentation, multiple procedure indicator 3: "If an endoscopic procedure is reported
/// with only its base procedure, do not pay separately for the base procedure." 43200 (base, 1.42 +
/// 6.16 + 0.21 non-facility RVUs) is worth more than 43201 (its family member), and is still $0:
/// 43201 = (1.72 + 5.77 x 0.869 + 0.23 x 0.575) x 32.3465 = 222.103360670 -> 222.10.
#[test]
fn endoscopic_base_is_not_paid_even_when_worth_more_than_its_family_member() {
    let lines = [("43200", &[][..], "1", CHARGE), ("43201", &[][..], "1", CHARGE)];
    assert_eq!(allowed("11", &lines), ["0.00", "222.10"]);
    // The order of the lines changes nothing.
    let lines = [lines[1], lines[0]];
    assert_eq!(allowed("11", &lines), ["222.10", "0.00"]);
}

/// The same in a facility (POS 22): 31525 (base, 142.64) with 31528 (its member):
/// 31528 = (2.37 + 1.62 x 0.869 + 0.35 x 0.575) x 32.3465 = 128.707693895 -> 128.71; 31525 $0.
#[test]
fn endoscopic_base_31525_billed_with_31528_in_a_facility_is_not_paid() {
    let lines = [("31525", &[][..], "1", CHARGE), ("31528", &[][..], "1", CHARGE)];
    assert_eq!(allowed("22", &lines), ["0.00", "128.71"]);
}

/// RVU file documentation, bilateral indicator 9: "Concept does not apply." 11300 (multiple procedure
/// indicator 2, bilateral 9) on an RT line and an LT line is two procedures, ranked as 11300 and
/// 11300-59 are: 84.893712715 -> 84.89 at 100%, then 84.89 x 50% = 42.445 -> 42.45.
#[test]
fn rt_and_lt_with_bilateral_indicator_9_are_two_procedures_ranked() {
    let sides = allowed("11", &[("11300", &["RT"][..], "1", CHARGE), ("11300", &["LT"][..], "1", CHARGE)]);
    let distinct = allowed("11", &[("11300", &[][..], "1", CHARGE), ("11300", &["59"][..], "1", CHARGE)]);
    assert_eq!(sides, ["84.89", "42.45"]);
    assert_eq!(sides, distinct);
}

/// Indicator 0 (RVU file documentation): "If procedure is reported with modifier -50 or with
/// modifiers RT and LT, base the payment for the two sides on ... 100% of the fee schedule amount for
/// a single code": one procedure, half on each line. 43200 = 222.989978235 -> 222.99; 111.495 -> 111.50.
#[test]
fn rt_and_lt_with_bilateral_indicator_0_are_one_procedure_at_100_percent() {
    let lines = [("43200", &["RT"][..], "1", CHARGE), ("43200", &["LT"][..], "1", CHARGE)];
    assert_eq!(allowed("11", &lines), ["111.50", "111.50"]);
}

/// A quantity beyond the 28 digits of a decimal is not priced, with the reason, rather than a panic
/// (caught and reported as a bug in cptkit).
#[test]
fn a_quantity_too_large_to_multiply_is_not_priced() {
    let lines = price("11", &[("99213", &[][..], "79228162514264337593543950335", CHARGE)]);
    assert_eq!(lines[0].status, LineStatus::NotPriced);
    assert_eq!(lines[0].allowed, Decimal::ZERO);
    let steps = lines[0].steps();
    let why = steps.iter().find(|s| s.step == "not_priced").unwrap_or_else(|| panic!("{steps:#?}"));
    assert!(why.detail.contains("79228162514264337593543950335"), "{why:?}");
}

/// An amount within a decimal's 28 digits but past what a signed 64-bit count of cents holds (the
/// wire's and the tables' money, 92233720368547758.07 dollars) is not priced, with the reason, on every
/// face: never shown whole by Python and the CLI and cut short to that largest count by gRPC and the
/// tables. 99213 is 81.86 a unit in Alabama: 1e15 units are 8.186e16 dollars and fit; 1e16 do not.
#[test]
fn an_amount_past_what_every_face_carries_is_not_priced() {
    let fits = price("11", &[("99213", &[][..], "1000000000000000", CHARGE)]);
    assert_eq!(fits[0].status, LineStatus::Priced);
    assert_eq!(fits[0].fee_schedule.to_string(), "81860000000000000.00");
    assert_eq!(fits[0].allowed, Decimal::new(CHARGE, 2), "the lesser of the charge");
    let past = price("11", &[("99213", &[][..], "10000000000000000", CHARGE)]);
    assert_eq!(
        (past[0].status, past[0].fee_schedule, past[0].allowed),
        (LineStatus::NotPriced, Decimal::ZERO, Decimal::ZERO)
    );
    let steps = past[0].steps();
    let why = steps.iter().find(|s| s.step == "not_priced").unwrap_or_else(|| panic!("{steps:#?}"));
    assert!(why.detail.contains("818600000000000000.00 is more than the 92233720368547758.07 dollars"), "{why:?}");
}

/// A contract's percentage of Medicare (at most 10000%) on an amount that fits but whose product
/// does not: 99213 is 81.86 a unit, x 1e26 units = 8.2e27, x 100 = 8.2e29.
#[test]
fn a_contract_percentage_too_large_to_apply_is_not_priced() {
    let claim = claim(("cigna", "commercial"), "11", &[("99213", &[][..], "100000000000000000000000000", CHARGE)]);
    let options = PriceOptions { percent_of_medicare: Some(Decimal::from(10_000)), ..PriceOptions::default() };
    let lines = price_with(&claim, &options);
    assert_eq!((lines[0].status, lines[0].allowed), (LineStatus::NotPriced, Decimal::ZERO));
}

/// Two lines each within the limit whose sum is not: an endoscopy family is ranked at its lines'
/// total (43201 and 43202 share the base 43200), and 2e26 units of each are 4.4e28 and 6.7e28.
#[test]
fn two_huge_quantities_in_one_endoscopy_family_do_not_panic() {
    let huge = "200000000000000000000000000";
    let lines = price("11", &[("43201", &[][..], huge, CHARGE), ("43202", &[][..], huge, CHARGE)]);
    assert_eq!(lines.len(), 2);
}

/// RVU file documentation, bilateral indicator 1: both sides are paid the lower of "the total actual
/// charge for both sides" and 150% of one side, as one line with 50 is. 20610 = (0.79 + 1.04 x 0.869
/// + 0.13 x 0.575) x 32.3465 = 57.205108715 -> 57.21; 150% = 85.815, 42.9075 -> 42.91 a side.
#[test]
fn rt_and_lt_sides_are_paid_the_lower_of_both_charges_together_and_the_bilateral_amount() {
    // $20 + $300 is above 85.82: each side its amount, as 20610-50 at $320 is paid 85.82.
    let sides = allowed("11", &[("20610", &["RT"][..], "1", 2_000), ("20610", &["LT"][..], "1", 30_000)]);
    assert_eq!(sides, ["42.91", "42.91"]);
    assert_eq!(allowed("11", &[("20610", &["50"][..], "1", 32_000)]), ["85.82"]);
    // $20 + $30 is below 85.82: each side its charge.
    let sides = allowed("11", &[("20610", &["RT"][..], "1", 2_000), ("20610", &["LT"][..], "1", 3_000)]);
    assert_eq!(sides, ["20.00", "30.00"]);
}

/// RVU file documentation, OPPSCAP: "For carrier price codes, the field only contains the OPPS based
/// payment caps. Carrier prices cannot exceed the OPPS based payment caps." A status C line is not
/// priced, and says the cap of its locality and setting (78814 in Alabama: 1360.32 global, 1267.34 TC).
#[test]
fn a_contractor_priced_line_tells_its_opps_cap() {
    let lines =
        price("11", &[("78814", &[], "1", CHARGE), ("78814", &["TC"][..], "1", CHARGE), ("0042T", &[], "1", CHARGE)]);
    let why = |line: &PricedLine| line.steps().iter().map(|s| s.detail.clone()).collect::<Vec<_>>().join(" | ");
    assert!(lines.iter().all(|l| l.status == LineStatus::NotPriced));
    assert!(
        why(&lines[0]).contains("may not exceed CMS's OPPS cap, 1360.32 outside a facility in locality 10112-00"),
        "{}",
        why(&lines[0])
    );
    assert!(why(&lines[1]).contains("OPPS cap, 1267.34"), "{}", why(&lines[1]));
    // A contractor-priced code with no cap in CMS's file says only that the contractor prices it.
    assert!(!why(&lines[2]).contains("OPPS cap"), "{}", why(&lines[2]));
    // The code's profile says the caps of the localities asked for, else that there are some.
    let note = |localities: cptkit_core::LocalitySelection| {
        let options = cptkit_core::ProfileOptions { localities };
        let profile = Reference::embedded().profile("78814".parse().unwrap(), &options).unwrap();
        profile.fee_schedule.expect("a fee schedule row").amounts_note
    };
    let alabama = note(cptkit_core::LocalitySelection::Only(vec!["10112-00".parse().unwrap()]));
    assert!(alabama.ends_with("OPPSCAP): 10112-00 1360.32 outside a facility, 1360.32 in a facility."), "{alabama}");
    assert!(note(cptkit_core::LocalitySelection::None).contains("ask for localities to see it"));
}

/// RVU file documentation, Attachment A: "R = Restricted Coverage ... If covered, the service is
/// contractor priced." An R code without RVUs (15824) is not priced, as a C code is, and validation
/// says so (PFS006); an R code with RVUs (11055) is paid from them, as CMS's payment file shows
/// (Alabama, 2025: 60.23 non-facility).
#[test]
fn a_status_r_code_without_rvus_is_contractor_priced() {
    let lines = price("11", &[("15824", &[], "1", CHARGE), ("11055", &[], "1", CHARGE)]);
    assert_eq!(lines[0].status, LineStatus::NotPriced);
    assert!(lines[0].steps().iter().any(|s| s.detail.contains("contractor prices it")), "{:?}", lines[0].steps());
    assert_eq!((lines[1].status, lines[1].allowed.to_string()), (LineStatus::Priced, "60.23".to_owned()));
    let claim = claim(("medicare", "medicare_ffs"), "11", &[("15824", &[], "1", CHARGE)]);
    let report = Reference::embedded()
        .validate(&claim, &cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) });
    assert!(report.findings.iter().any(|f| f.edit_id == "PFS006"), "{:#?}", report.findings);
    let profile = Reference::embedded().profile("15824".parse().unwrap(), &cptkit_core::ProfileOptions::default());
    let fee = profile.unwrap().fee_schedule.expect("a fee schedule row");
    assert!(!fee.payable && fee.amounts.is_empty(), "{fee:?}");
    assert!(fee.status_meaning.contains("contractor priced"), "{}", fee.status_meaning);
}
