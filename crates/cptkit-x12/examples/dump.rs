//! Prints what the readers make of a file: `cargo run --example dump -- FILE.x12 [THREADS]` (THREADS as
//! for `read_837_threads`: 0, the default, one per core; 1 the sequential reader): the output does not
//! depend on THREADS, which is how the parallel reader is checked against the sequential one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: dump FILE.x12 [THREADS]";
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or(usage)?;
    let threads: usize = args.next().map_or(Ok(0), |t| t.parse()).map_err(|_| usage)?;
    let file = cptkit_x12::read_837_threads(std::fs::File::open(path)?, cptkit_x12::ReadOptions::default(), threads);
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
