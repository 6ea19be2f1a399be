//! Validates and prices a claim JSON file with the embedded data: `cargo run --example price -- FILE [CF]`.

use cptkit_core::{Claim, ConversionFactors, JudgeOptions, PriceOptions, Reference, RuleBook, Verdict};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: price CLAIM.json [CONVERSION_FACTOR]")?;
    let claim = Claim::from_json(&std::fs::read_to_string(path)?)?;
    let cf = args.next().map(|cf| cf.parse()).transpose()?;
    let pricing = PriceOptions { conversion_factors: ConversionFactors::new(cf, [])?, ..PriceOptions::default() };
    let options = JudgeOptions::new(None, Some(pricing));
    let judgement = Reference::embedded().judge(&claim, &options, RuleBook::embedded())?;
    println!("{}", serde_json::to_string_pretty(&judgement.report)?);
    match judgement.verdict {
        Verdict::Priced(priced) => println!("{}", serde_json::to_string_pretty(&priced)?),
        Verdict::Rejected => println!("not priced: the claim has error findings"),
        Verdict::NotPriced(e) => println!("not priced: {e}"),
        Verdict::Validated => {}
    }
    Ok(())
}
