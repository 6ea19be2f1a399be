//! Validate + price throughput in claim lines per second, on one core, beside a baseline that only
//! reads the same claims from JSON (so the ratio says what scrubbing and pricing cost on top of I/O).
//! Run: `cargo bench -p cptkit-core --bench claims`.

use std::hint::black_box;

use cptkit_core::{Claim, PriceOptions, Reference, RuleBook, ValidationContext};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let reference = Reference::embedded();
    reference.warm().expect("ICD-10-CM index");
    let rules = RuleBook::embedded();
    let today = Some(time::macros::date!(2026 - 11 - 27));
    let context = ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
    let json: Vec<String> = (0..10_000).map(cptkit_core::synthetic::medicare_claim_json).collect();
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
                .map(|c| reference.price(black_box(c), &options, rules, today).map(|p| p.lines.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.finish();

    // The mixed table of issue 11: half anesthesia claims, half fee-schedule claims (visits, surgery with
    // multiple procedures, imaging with 26/TC, therapy), judged by the one entry point.
    let mixed: Vec<Claim> = (0..10_000)
        .map(|i| {
            if i % 2 == 0 {
                cptkit_core::synthetic::medicare_claim_json(i)
            } else {
                cptkit_core::synthetic::fee_schedule_claim_json(i)
            }
        })
        .map(|j| Claim::from_json(&j).expect("claim"))
        .collect();
    let mixed_lines: u64 = mixed.iter().map(|c| c.lines.len() as u64).sum();
    let fee_only: Vec<&Claim> = mixed.iter().filter(|c| c.claim_id.starts_with('F')).collect();
    let fee_lines: u64 = fee_only.iter().map(|c| c.lines.len() as u64).sum();
    let mut group = c.benchmark_group("mixed_lines");
    group.throughput(Throughput::Elements(mixed_lines));
    group.bench_function("validate_and_price_mixed", |b| {
        b.iter(|| {
            mixed
                .iter()
                .map(|c| reference.price(black_box(c), &options, rules, today).map(|p| p.lines.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.finish();
    let mut group = c.benchmark_group("fee_schedule_lines");
    group.throughput(Throughput::Elements(fee_lines));
    group.bench_function("validate_and_price_fee_schedule", |b| {
        b.iter(|| {
            fee_only
                .iter()
                .map(|c| reference.price(black_box(c), &options, rules, today).map(|p| p.lines.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
