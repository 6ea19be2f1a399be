//! A fixed amount of table work for instruction counting (`valgrind --tool=callgrind`): repeatable
//! on a shared machine where wall time is not. Not a timing benchmark. `DICTIONARY=1`: text columns
//! dictionary-encoded.
use cptkit_arrow::{TablePricing, claims_to_batch, price_batch};
use cptkit_core::synthetic::SyntheticClaims;
use cptkit_core::{Claim, PriceOptions, Reference, RuleBook};

#[path = "support/dictionary.rs"]
mod dictionary;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let today = time::macros::date!(2026 - 11 - 27);
    let claims: Vec<Claim> = SyntheticClaims::new(42)?.take(20_000).collect();
    let mut batch = claims_to_batch(&claims)?;
    if dictionary::wanted() {
        batch = dictionary::encoded(&batch)?;
    }
    let pricing = TablePricing { options: PriceOptions::contract("60".parse()?)?, explain: false };
    Reference::embedded().warm()?;
    let results = price_batch(&batch, Reference::embedded(), RuleBook::embedded(), &pricing, today)?;
    println!("{} result rows", results.iter().map(|b| b.num_rows()).sum::<usize>());
    Ok(())
}
