//! Table validate + price throughput in Rust, without Python (a benchmark, not a test):
//! `cargo run --release -p cptkit-arrow --example table_throughput -- [LINES=1000000]`.
//! The Python figures (bench/python/bench_table.py) add only the Arrow C-stream hand-over.
//! `DICTIONARY=1`: every text column dictionary-encoded (as pandas categoricals arrive).

use std::time::Instant;

use cptkit_arrow::{TablePricing, claims_to_batch, price_batch, validate_batch};
use cptkit_core::synthetic::SyntheticClaims;
use cptkit_core::{Claim, JudgeOptions, PriceOptions, Reference, RuleBook, Verdict};

#[path = "support/dictionary.rs"]
mod dictionary;
#[path = "../../../bench/proc_stats.rs"]
mod proc_stats;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lines: usize = std::env::args().nth(1).map_or(Ok(1_000_000), |n| n.parse())?;
    let today = time::macros::date!(2026 - 11 - 27);
    // Whole claims, at least `lines` lines (the synthetic mix has 1.42 lines a claim).
    let mut taken = 0;
    let claims: Vec<Claim> = SyntheticClaims::new(42)?
        .take_while(|claim| {
            let more = taken < lines;
            taken += claim.lines.len();
            more
        })
        .collect();
    let mut batches: Vec<_> = claims.chunks(65_536).map(claims_to_batch).collect::<Result<_, _>>()?;
    if dictionary::wanted() {
        batches = batches.iter().map(dictionary::encoded).collect::<Result<_, _>>()?;
    }
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let pricing = TablePricing { options: PriceOptions::contract("60".parse()?)?, explain: false };
    for round in 0..3 {
        let (start, cpu) = (Instant::now(), proc_stats::process_cpu_seconds());
        for batch in &batches {
            validate_batch(batch, Reference::embedded(), RuleBook::embedded(), today)?;
        }
        let (validate, validate_cpu) = (start.elapsed().as_secs_f64(), proc_stats::process_cpu_seconds() - cpu);
        let (start, cpu) = (Instant::now(), proc_stats::process_cpu_seconds());
        for batch in &batches {
            price_batch(batch, Reference::embedded(), RuleBook::embedded(), &pricing, today)?;
        }
        let (price, price_cpu) = (start.elapsed().as_secs_f64(), proc_stats::process_cpu_seconds() - cpu);
        // Baseline: the core alone on the same claims as structs, one thread, no table.
        let start = Instant::now();
        let options = JudgeOptions { today, pricing: Some(pricing.options.clone()) };
        let mut priced = 0usize;
        for claim in &claims {
            let judgement = Reference::embedded().judge(claim, &options, RuleBook::embedded())?;
            priced += matches!(judgement.verdict, Verdict::Priced(_)) as usize;
        }
        let core = start.elapsed().as_secs_f64();
        println!(
            "round {round}: {rows} lines: table validate {:.0} lines/s ({:.0} per CPU-second), \
             table validate + price {:.0} lines/s ({:.0} per CPU-second); \
             core alone on structs, one thread: {:.0} lines/s ({priced} claims priced)",
            rows as f64 / validate,
            rows as f64 / validate_cpu,
            rows as f64 / price,
            rows as f64 / price_cpu,
            rows as f64 / core,
        );
    }
    Ok(())
}
