//! Deterministic synthetic claims for benchmarks, demos and notebooks. Not real patients: made-up
//! member ids and birth dates, test NPIs with valid check digits, and charges from a made-up charge
//! master. Codes, modifiers, diagnoses, places of service and localities come from the embedded
//! reference data, so every claim is judged against real rules.
//!
//! Two generators: [`medicare_claim_json`] (a fixed Medicare template, for the JSON benchmarks) and
//! [`SyntheticClaims`] (a realistic mix: six payers, every anesthesia code, medically directed cases
//! billed as a physician claim plus an anesthetist claim, qualifying-circumstance add-on lines,
//! fee-schedule claims (visits, surgery, imaging, therapy), and a few claims with the mistakes billing
//! offices see, so validation has something to find).

use rust_decimal::Decimal;
use time::{Date, Duration, PrimitiveDateTime, Time};

use compact_str::format_compact;
use smallvec::smallvec;

use crate::claim::{
    Claim, ClaimLine, Diagnoses, Location, Modifiers, Patient, Payer, PlanType, ProviderRole, RenderingProvider,
    UnitBasis,
};
use crate::ids::{CptCode, DiagnosisCode, LocalityId, ModifierCode, Npi, PosCode, TaxonomyCode, UsState};
use crate::model::ServiceType;
use crate::reference::Reference;

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

/// Fee-schedule claims for the mixed benchmarks: an office visit with an injection, surgery with
/// multiple procedures and an add-on, imaging with 26 and TC, and therapy units.
const FEE_CLAIMS: [(&str, &str, &str); 4] = [
    (
        "11",
        "207Q00000X",
        r#"{"procedure_code":"99214","unit_basis":"UN","quantity":"1"},
        {"procedure_code":"96372","unit_basis":"UN","quantity":"1"}"#,
    ),
    (
        "22",
        "207X00000X",
        r#"{"procedure_code":"64721","modifiers":["RT"],"unit_basis":"UN","quantity":"1"},
        {"procedure_code":"20610","unit_basis":"UN","quantity":"1"},
        {"procedure_code":"11042","unit_basis":"UN","quantity":"1"},
        {"procedure_code":"11045","unit_basis":"UN","quantity":"1"}"#,
    ),
    (
        "22",
        "2085R0202X",
        r#"{"procedure_code":"72148","modifiers":["26"],"unit_basis":"UN","quantity":"1"},
        {"procedure_code":"72141","modifiers":["26"],"unit_basis":"UN","quantity":"1"},
        {"procedure_code":"70450","modifiers":["TC"],"unit_basis":"UN","quantity":"1"}"#,
    ),
    (
        "11",
        "225100000X",
        r#"{"procedure_code":"97110","unit_basis":"UN","quantity":"3"},
        {"procedure_code":"97140","unit_basis":"UN","quantity":"2"}"#,
    ),
];

/// The claim JSON of synthetic fee-schedule claim number `i` (visits, surgery, imaging, therapy).
pub fn fee_schedule_claim_json(i: usize) -> String {
    let (place, taxonomy, lines) = FEE_CLAIMS[i % FEE_CLAIMS.len()];
    // Every line of a claim shares the pointers, charge and date.
    let common =
        format!(r#","diagnosis_pointers":[1],"charge_cents":90000,"date_of_service":"2025-11-0{}"}}"#, 1 + i % 9);
    let lines = lines.replace('}', &common);
    format!(
        r#"{{"claim_id":"F{i}","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"{place}",
        "patient":{{"birth_date":"1950-01-01"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797","taxonomy":"{taxonomy}"}},
        "medicare_locality":"{locality}","diagnoses":["M54.50"],"lines":[{lines}]}}"#,
        locality = if i.is_multiple_of(2) { "13202-01" } else { "01182-18" },
    )
}

/// Synthetic claims 0..count, read with the claim JSON reader.
pub fn medicare_claims(count: usize) -> Vec<Claim> {
    // The template is fixed and covered by a test, so every claim reads.
    (0..count).filter_map(|i| Claim::from_json(&medicare_claim_json(i)).ok()).collect()
}

/// The realistic mix: an endless, deterministic stream of claims (`.take(n)` what you need). The same
/// seed always gives the same claims, on every platform.
#[derive(Debug)]
pub struct SyntheticClaims {
    rng: Rng,
    mix: Mix,
    case: usize,
    pending: std::vec::IntoIter<Claim>,
}

impl SyntheticClaims {
    pub fn new(seed: u64) -> crate::Result<SyntheticClaims> {
        Ok(SyntheticClaims { rng: Rng(seed), mix: Mix::new()?, case: 0, pending: Vec::new().into_iter() })
    }
}

impl Iterator for SyntheticClaims {
    type Item = Claim;

    fn next(&mut self) -> Option<Claim> {
        loop {
            if let Some(claim) = self.pending.next() {
                return Some(claim);
            }
            self.case += 1;
            self.pending = self.mix.case(&mut self.rng, self.case).into_iter();
        }
    }
}

/// SplitMix64: tiny and well mixed; enough for test data, and the same everywhere.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *self.pick_ref(items)
    }

    fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A payer by its share of claims.
fn pick_payer(rng: &mut Rng) -> (&'static str, PlanType) {
    let mut roll = rng.below(100);
    PAYERS
        .iter()
        .find_map(|&(id, plan, share)| {
            let hit = roll < share;
            roll = roll.saturating_sub(share);
            hit.then_some((id, plan))
        })
        .unwrap_or((PAYERS[0].0, PAYERS[0].1))
}

/// Payers with their share of claims in percent (summing to 100). Aetna has no public anesthesia rule
/// set in the embedded data, so its claims come back "not priced", as some payers do in real tables.
const PAYERS: [(&str, PlanType, usize); 6] = [
    ("medicare", PlanType::MedicareFfs, 45),
    ("humana-ma", PlanType::MedicareAdvantage, 10),
    ("cigna", PlanType::Commercial, 15),
    ("bcbs-ok", PlanType::Commercial, 12),
    ("uhc", PlanType::Commercial, 10),
    ("aetna", PlanType::Commercial, 8),
];

/// Billable ICD-10-CM (April 2026) codes that anesthesia claims commonly carry.
const DIAGNOSES: [&str; 12] = [
    "M54.50", "M54.16", "M54.17", "M48.061", "M48.062", "M51.16", "M51.17", "K80.20", "M17.11", "Z30.2", "O80",
    "K35.80",
];

/// Billing provider states: some where payers' rules differ by state (UHC's QZ exemptions, Anthem's
/// QZ states), some where they do not.
const STATES: [&str; 8] = ["NY", "OH", "CA", "TX", "FL", "TN", "GA", "PA"];

/// Test NPIs with valid check digits.
const BILLING_NPI: &str = "1234567893";
const PHYSICIAN_NPI: &str = "1558598797";
const ANESTHETIST_NPI: &str = "1245319599";

/// The parsed building blocks, read once.
#[derive(Debug)]
struct Mix {
    codes: Vec<(CptCode, u32)>,
    localities: Vec<LocalityId>,
    diagnoses: Vec<DiagnosisCode>,
    states: Vec<UsState>,
    places: [PosCode; 3],
    physical_status: [ModifierCode; 6],
    billing: Npi,
    physician: (Npi, TaxonomyCode),
    anesthetist: (Npi, TaxonomyCode),
    modifiers: [ModifierCode; 4],
    extreme_age: CptCode,
    retired_diagnosis: DiagnosisCode,
    /// The fee-schedule claims of [`fee_schedule_claim_json`], read once: each fee-schedule case
    /// copies one and gives it its own payer, patient, dates and charges.
    fee_templates: Vec<Claim>,
}

/// Which provider bills a claim of a case, under which modifier.
#[derive(Debug, Clone, Copy)]
enum Biller {
    Physician(usize),
    Anesthetist(usize),
}

impl Mix {
    fn new() -> crate::Result<Mix> {
        let reference = Reference::embedded();
        let [p1, p2, p3, p4] = ["P1", "P2", "P3", "P4"].map(|m| m.parse::<ModifierCode>());
        let (p1, p2, p3, p4) = (p1?, p2?, p3?, p4?);
        let [aa, qk, qx, qz] = ["AA", "QK", "QX", "QZ"].map(|m| m.parse::<ModifierCode>());
        Ok(Mix {
            // Base codes only: an unlisted code is priced by report, and an add-on alone is CPT006.
            codes: reference
                .codes()
                .filter(|c| c.service_type == ServiceType::Anesthesia)
                .map(|c| (c.code, c.base_units))
                .collect(),
            localities: reference
                .locality_conversion_factors()
                .filter(|cf| cf.year == 2025)
                .filter_map(|cf| cf.locality.as_ref().map(|l| l.id))
                .collect(),
            diagnoses: DIAGNOSES.iter().map(|c| c.parse()).collect::<crate::Result<_>>()?,
            states: STATES.iter().map(|s| s.parse()).collect::<crate::Result<_>>()?,
            places: ["21".parse()?, "22".parse()?, "24".parse()?],
            physical_status: [p1, p2, p2, p3, p3, p4],
            billing: BILLING_NPI.parse()?,
            physician: (PHYSICIAN_NPI.parse()?, "207L00000X".parse()?),
            anesthetist: (ANESTHETIST_NPI.parse()?, "367500000X".parse()?),
            modifiers: [aa?, qk?, qx?, qz?],
            extreme_age: "99100".parse()?,
            retired_diagnosis: "M54.5".parse()?,
            fee_templates: (0..FEE_CLAIMS.len())
                .map(|i| Claim::from_json(&fee_schedule_claim_json(i)))
                .collect::<crate::Result<_>>()?,
        })
    }

    /// The claims of case number `case`: 30% a fee-schedule claim, the rest an anesthetic.
    fn case(&self, rng: &mut Rng, case: usize) -> Vec<Claim> {
        let (payer_id, plan_type) = pick_payer(rng);
        let mut claims = if rng.chance(30) {
            vec![self.fee_schedule_claim(rng, case, payer_id, plan_type)]
        } else {
            self.anesthesia_claims(rng, case, payer_id, plan_type)
        };
        if rng.chance(3) {
            self.add_mistake(rng, &mut claims[0]);
        }
        claims
    }

    /// An office visit, surgery, imaging or therapy claim for one patient on one day.
    fn fee_schedule_claim(&self, rng: &mut Rng, case: usize, payer_id: &str, plan_type: PlanType) -> Claim {
        let mut claim = rng.pick_ref(&self.fee_templates).clone();
        let date_of_service = day_of_2025(rng.below(365));
        let diagnoses: Diagnoses = (0..1 + rng.below(3)).map(|_| rng.pick(&self.diagnoses)).collect();
        for line in &mut claim.lines {
            line.date_of_service = date_of_service;
            line.diagnosis_pointers = (1..=diagnoses.len() as u32).collect();
            // A made-up charge master: $40 to $490 a line.
            line.charge_cents = 4_000 + 5_000 * rng.below(10) as i64;
        }
        claim.claim_id = format_compact!("S{case:07}F");
        claim.payer = Payer { id: payer_id.into(), plan_type };
        claim.patient = Patient {
            birth_date: date_of_service - Duration::days(365 * (20 + rng.below(70) as i64)),
            member_id: format_compact!("SYN{:09}", rng.below(1_000_000_000)),
        };
        claim.medicare_locality = (plan_type == PlanType::MedicareFfs).then(|| rng.pick(&self.localities));
        claim.billing_provider_location = Some(Location { state: Some(rng.pick(&self.states)), zip: None });
        claim.diagnoses = diagnoses;
        // As the table and X12 readers fill it in.
        claim.rendering_provider.role = claim.rendering_provider.taxonomy.and_then(ProviderRole::implied_by);
        claim
    }

    /// One anesthetic: 40% personally performed (AA), 45% medically directed (a QK physician claim and a
    /// QX anesthetist claim), 15% a CRNA without direction (QZ).
    fn anesthesia_claims(&self, rng: &mut Rng, case: usize, payer_id: &str, plan_type: PlanType) -> Vec<Claim> {
        let [aa, qk, qx, qz] = [0, 1, 2, 3];
        let billers = match rng.below(100) {
            0..40 => vec![Biller::Physician(aa)],
            40..85 => vec![Biller::Physician(qk), Biller::Anesthetist(qx)],
            _ => vec![Biller::Anesthetist(qz)],
        };
        let (code, base_units) = rng.pick(&self.codes);
        let minutes = 15 + rng.below(226) as i64;
        let date_of_service = day_of_2025(rng.below(365));
        let start = PrimitiveDateTime::new(date_of_service, Time::MIDNIGHT)
            + Duration::minutes(7 * 60 + 15 * rng.below(40) as i64);
        let timed = rng.chance(60);
        let birth_date = day_of_2025(rng.below(365)) - Duration::days(365 * (20 + rng.below(70) as i64));
        let diagnoses: Diagnoses = (0..1 + rng.below(3)).map(|_| rng.pick(&self.diagnoses)).collect();
        let place_of_service = rng.pick(&self.places);
        let physical_status = rng.pick(&self.physical_status);
        let locality = (plan_type == PlanType::MedicareFfs).then(|| rng.pick(&self.localities));
        let billing_location = Location { state: Some(rng.pick(&self.states)), zip: None };
        // A made-up charge master: $95 to $140 a unit, over base units plus started 15-minute units.
        let charge_per_unit = 9_500 + 500 * rng.below(10) as i64;
        let charge_cents = (i64::from(base_units) + (minutes + 14) / 15) * charge_per_unit;
        let extreme_age = rng.chance(5);
        let member_id = format_compact!("SYN{:09}", rng.below(1_000_000_000));

        let anesthesia_line = |modifier: ModifierCode| ClaimLine {
            procedure_code: code,
            modifiers: smallvec![modifier, physical_status],
            unit_basis: UnitBasis::Minutes,
            quantity: Decimal::from(minutes),
            start_time: timed.then_some(start),
            end_time: timed.then(|| start + Duration::minutes(minutes)),
            diagnosis_pointers: (1..=diagnoses.len() as u32).collect(),
            charge_cents,
            date_of_service,
            case_id: format_compact!("K{case}"),
            present_at_induction: false,
        };
        billers
            .iter()
            .map(|&biller| {
                let (suffix, modifier, (npi, taxonomy), role) = match biller {
                    Biller::Physician(m) => ("P", m, self.physician, ProviderRole::Anesthesiologist),
                    Biller::Anesthetist(m) => ("A", m, self.anesthetist, ProviderRole::Crna),
                };
                let mut lines = vec![anesthesia_line(self.modifiers[modifier])];
                if extreme_age && matches!(biller, Biller::Physician(_)) {
                    // Qualifying circumstance 99100 as an add-on line, in units.
                    lines.push(ClaimLine {
                        procedure_code: self.extreme_age,
                        modifiers: Modifiers::new(),
                        unit_basis: UnitBasis::Units,
                        quantity: Decimal::ONE,
                        start_time: None,
                        end_time: None,
                        charge_cents: charge_per_unit,
                        ..anesthesia_line(self.modifiers[modifier])
                    });
                }
                Claim {
                    claim_id: format_compact!("S{case:07}{suffix}"),
                    payer: Payer { id: payer_id.into(), plan_type },
                    place_of_service,
                    frequency_code: "1".into(),
                    patient: Patient { birth_date, member_id: member_id.clone() },
                    billing_provider_npi: self.billing,
                    rendering_provider: RenderingProvider {
                        npi,
                        taxonomy: Some(taxonomy),
                        role: Some(role),
                        qualifying_apm: false,
                    },
                    medicare_locality: locality,
                    diagnoses: diagnoses.clone(),
                    lines,
                    service_facility_location: None,
                    billing_provider_location: Some(billing_location),
                }
            })
            .collect()
    }

    /// Mistakes billing offices make: a diagnosis retired before the date of service, a mistyped NPI,
    /// a line with no minutes or units, a pointer past the diagnosis list, an anesthetist's modifier on
    /// a physician.
    fn add_mistake(&self, rng: &mut Rng, claim: &mut Claim) {
        let line = &mut claim.lines[0];
        match rng.below(5) {
            0 => claim.diagnoses[0] = self.retired_diagnosis,
            1 => claim.rendering_provider.npi = mistyped(&claim.rendering_provider.npi),
            2 => line.quantity = Decimal::ZERO,
            4 if !line.modifiers.is_empty() => line.modifiers[0] = self.modifiers[2],
            _ => line.diagnosis_pointers.push(9),
        }
    }
}

fn day_of_2025(offset: usize) -> Date {
    time::macros::date!(2025 - 01 - 01) + Duration::days(offset as i64)
}

/// The same NPI with its check digit off by one.
fn mistyped(npi: &Npi) -> Npi {
    let text = npi.as_str();
    let last = (text.as_bytes()[9] - b'0' + 1) % 10;
    format!("{}{last}", &text[..9]).parse().unwrap_or(*npi)
}

/// Decimals at the edges of what conversions of amounts meet: i64's ends, the 96-bit mantissa's, the
/// cent's half, at every scale money takes and some it does not, each sign. For tests of those
/// conversions in every crate.
pub fn edge_decimals() -> Vec<Decimal> {
    let magnitudes: [u128; 16] = [
        0,
        1,
        5,
        15,
        99_999,
        10u128.pow(14) - 1,
        10u128.pow(14),
        10u128.pow(18) - 1,
        10u128.pow(18),
        (1 << 63) - 1,
        1 << 63,
        (1 << 63) + 1,
        (1 << 64) - 1,
        1 << 64,
        10u128.pow(21) + 5,
        (1 << 96) - 1,
    ];
    let mut decimals = Vec::new();
    for magnitude in magnitudes {
        for scale in [0, 1, 2, 3, 4, 5, 6, 28] {
            for negative in [false, true] {
                let part = |shift: u32| (magnitude >> shift) as u32;
                decimals.push(Decimal::from_parts(part(0), part(32), part(64), negative, scale));
            }
        }
    }
    decimals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PriceOptions, Reference, RuleBook};

    #[test]
    fn the_mix_is_deterministic_varied_and_mostly_valid() {
        let today = time::macros::date!(2026 - 11 - 27);
        let first: Vec<Claim> = SyntheticClaims::new(7).into_iter().flatten().take(2_000).collect();
        let again: Vec<Claim> = SyntheticClaims::new(7).into_iter().flatten().take(2_000).collect();
        assert_eq!(first, again);
        let other: Vec<Claim> = SyntheticClaims::new(8).into_iter().flatten().take(2_000).collect();
        assert_ne!(first, other);
        let reports = Reference::embedded().validate_batch(&first, today);
        let invalid = reports.iter().filter(|r| !r.as_ref().unwrap().is_valid()).count();
        // Errors come from the mistakes made on purpose (`add_mistake`: a retired diagnosis, a mistyped
        // NPI, zero minutes or units, a directing modifier by the wrong provider, a pointer past the
        // diagnoses) and from what they lead to, nothing else.
        let intended = ["DX004", "NPI001", "UNT002", "PFS017", "PRV001", "MOD006", "DX005", "DX007"];
        let errors: std::collections::BTreeSet<String> = reports
            .iter()
            .flat_map(|r| r.as_ref().unwrap().findings.iter())
            .filter(|f| f.severity == crate::Severity::Error)
            .map(|f| f.edit_id.clone())
            .collect();
        assert!(errors.iter().all(|e| intended.contains(&e.as_str())), "{errors:?}");
        // About 3% of cases carry a mistake (each makes one claim invalid); the rest are clean.
        assert!((20..=120).contains(&invalid), "{invalid} invalid claims");
        let payers: std::collections::BTreeSet<&str> = first.iter().map(|c| c.payer.id.as_str()).collect();
        assert_eq!(payers.len(), PAYERS.len());
        let codes: std::collections::BTreeSet<_> = first.iter().map(|c| c.lines[0].procedure_code).collect();
        assert!(codes.len() > 150, "{} codes", codes.len());
        // About 30% of cases are fee-schedule claims, mostly valid too.
        let fee: Vec<usize> = (0..first.len()).filter(|&i| first[i].claim_id.ends_with('F')).collect();
        assert!((350..=650).contains(&fee.len()), "{} fee-schedule claims", fee.len());
        let fee_invalid = fee.iter().filter(|&&i| !reports[i].as_ref().unwrap().is_valid()).count();
        assert!(fee_invalid * 20 < fee.len(), "{fee_invalid} of {} fee-schedule claims invalid", fee.len());
    }

    #[test]
    fn every_synthetic_claim_reads_validates_and_prices() {
        let today = time::macros::date!(2026 - 11 - 27);
        let claims = medicare_claims(40);
        assert_eq!(claims.len(), 40);
        for claim in &claims {
            let priced =
                Reference::embedded().price(claim, &PriceOptions::default(), RuleBook::embedded(), Some(today));
            assert!(priced.is_ok(), "{}: {:?}", claim.claim_id, priced.err());
        }
    }
}
