//! Validate + price throughput in claim lines per second, on one core, beside a baseline that only
//! reads the same claims from JSON (so the ratio says what scrubbing and pricing cost on top of I/O).
//! Run: `cargo bench -p cptkit-core --bench claims`.

use std::hint::black_box;

use cptkit_core::{Claim, PriceOptions, Reference, RuleBook, ValidationContext};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A day's worth of Medicare anesthesia claims: varied codes, modifiers, minutes and diagnoses.
pub fn sample_claims(count: usize) -> Vec<String> {
    let codes = ["00632", "00630", "00670", "00790", "00840", "01402", "01480", "00400", "00142", "01967"];
    let pairs = [
        ("AA", "207L00000X", "anesthesiologist"),
        ("QK", "207L00000X", "anesthesiologist"),
        ("QX", "367500000X", "crna"),
        ("QZ", "367500000X", "crna"),
    ];
    (0..count)
        .map(|i| {
            let (modifier, taxonomy, role) = pairs[i % pairs.len()];
            let minutes = 20 + (i * 7) % 200;
            format!(
                r#"{{"claim_id":"C{i}","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"21",
                "patient":{{"birth_date":"1950-01-01"}},"billing_provider_npi":"1234567893",
                "rendering_provider":{{"npi":"1558598797","taxonomy":"{taxonomy}","role":"{role}"}},
                "medicare_locality":"{locality}","diagnoses":["M54.50","M48.062"],
                "lines":[{{"procedure_code":"{code}","modifiers":["{modifier}","P2"],"unit_basis":"MJ","quantity":"{minutes}",
                "diagnosis_pointers":[1,2],"charge_cents":250000,"date_of_service":"2025-06-0{day}","case_id":"K{i}"}}]}}"#,
                code = codes[i % codes.len()],
                locality = if i % 2 == 0 { "13202-01" } else { "01182-18" },
                day = 1 + i % 9,
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let reference = Reference::embedded();
    reference.warm().expect("ICD-10-CM index");
    let rules = RuleBook::embedded();
    let context = ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
    let json = sample_claims(10_000);
    let claims: Vec<Claim> = json.iter().map(|j| Claim::from_json(j).expect("claim")).collect();
    let lines: u64 = claims.iter().map(|c| c.lines.len() as u64).sum();
    let options = PriceOptions::default();

    let mut group = c.benchmark_group("claim_lines");
    group.throughput(Throughput::Elements(lines));
    group.bench_function("baseline_read_json", |b| {
        b.iter(|| json.iter().map(|j| Claim::from_json(j).map(|c| c.lines.len()).unwrap_or(0)).sum::<usize>())
    });
    group.bench_function("validate", |b| {
        b.iter(|| claims.iter().map(|c| reference.validate(black_box(c), &context).findings.len()).sum::<usize>())
    });
    group.bench_function("validate_and_price", |b| {
        b.iter(|| {
            claims
                .iter()
                .map(|c| reference.price(black_box(c), &options, rules, &context).map(|p| p.lines.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
