//! Prints what the readers make of a file: `cargo run --example dump -- FILE.x12`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: dump FILE.x12")?;
    let file = cptkit_x12::read_837(std::fs::File::open(path)?, cptkit_x12::ReadOptions::default());
    for t in &file.transactions {
        println!("transaction {} ({})", t.envelope.transaction_control, t.envelope.implementation);
        for c in &t.body.claims {
            println!("  {}", c.claim.to_json());
            for f in &c.findings {
                println!("    finding {} {} {} -> {}", f.edit_id, f.loc, f.message, c.locate(f));
            }
        }
        for r in &t.body.rejected {
            println!("  rejected {}: {:?}", r.claim_id, r.errors.iter().map(ToString::to_string).collect::<Vec<_>>());
        }
        for p in &t.body.problems {
            println!("  problem {p}");
        }
    }
    for e in &file.errors {
        println!("error {e}");
    }
    Ok(())
}
