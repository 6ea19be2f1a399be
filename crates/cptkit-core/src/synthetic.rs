//! Deterministic synthetic claims for benchmarks and demos: Medicare anesthesia claims with ten
//! codes, AA/QK/QX/QZ lines from a matching provider, 20-219 minutes, two localities, one line each.
//! Not real patients: fixed dates of birth and test NPIs with valid check digits.

use crate::claim::Claim;

const CODES: [&str; 10] = ["00632", "00630", "00670", "00790", "00840", "01402", "01480", "00400", "00142", "01967"];
const PROVIDERS: [(&str, &str, &str); 4] = [
    ("AA", "207L00000X", "anesthesiologist"),
    ("QK", "207L00000X", "anesthesiologist"),
    ("QX", "367500000X", "crna"),
    ("QZ", "367500000X", "crna"),
];

/// The claim JSON of synthetic claim number `i`.
pub fn medicare_claim_json(i: usize) -> String {
    let (modifier, taxonomy, role) = PROVIDERS[i % PROVIDERS.len()];
    format!(
        r#"{{"claim_id":"C{i}","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"21",
        "patient":{{"birth_date":"1950-01-01"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797","taxonomy":"{taxonomy}","role":"{role}"}},
        "medicare_locality":"{locality}","diagnoses":["M54.50","M48.062"],
        "lines":[{{"procedure_code":"{code}","modifiers":["{modifier}","P2"],"unit_basis":"MJ","quantity":"{minutes}",
        "diagnosis_pointers":[1,2],"charge_cents":250000,"date_of_service":"2025-06-0{day}","case_id":"K{i}"}}]}}"#,
        code = CODES[i % CODES.len()],
        locality = if i.is_multiple_of(2) { "13202-01" } else { "01182-18" },
        minutes = 20 + (i * 7) % 200,
        day = 1 + i % 9,
    )
}

/// Synthetic claims 0..count, read with the claim JSON reader.
pub fn medicare_claims(count: usize) -> Vec<Claim> {
    // The template is fixed and covered by a test, so every claim reads.
    (0..count).filter_map(|i| Claim::from_json(&medicare_claim_json(i)).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PriceOptions, Reference, RuleBook, ValidationContext};

    #[test]
    fn every_synthetic_claim_reads_validates_and_prices() {
        let context = ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
        let claims = medicare_claims(40);
        assert_eq!(claims.len(), 40);
        for claim in &claims {
            let priced = Reference::embedded().price(claim, &PriceOptions::default(), RuleBook::embedded(), &context);
            assert!(priced.is_ok(), "{}: {:?}", claim.claim_id, priced.err());
        }
    }
}
