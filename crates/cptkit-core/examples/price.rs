//! Validates and prices a claim JSON file with the embedded data: `cargo run --example price -- FILE [CF]`.

use cptkit_core::{Claim, PriceOptions, Reference, RuleBook, ValidationContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: price CLAIM.json [CONVERSION_FACTOR]")?;
    let claim = Claim::from_json(&std::fs::read_to_string(path)?)?;
    let today = time::OffsetDateTime::now_utc().date();
    let context = ValidationContext { today };
    let reference = Reference::embedded();
    let report = reference.validate(&claim, &context);
    println!("{}", serde_json::to_string_pretty(&report)?);
    let options = PriceOptions { rule_set: None, conversion_factor: args.next().map(|cf| cf.parse()).transpose()? };
    match reference.price(&claim, &options, RuleBook::embedded(), &context) {
        Ok(priced) => println!("{}", serde_json::to_string_pretty(&priced)?),
        Err(e) => println!("not priced: {e} {:?}", e.violations()),
    }
    Ok(())
}
