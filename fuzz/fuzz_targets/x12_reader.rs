//! Arbitrary bytes through the 837P and 835 readers: no input may panic, and every 837 claim that
//! the writer accepts must read back the same (write -> read round trip).
#![no_main]

use cptkit_core::{FieldPath, Location};
use cptkit_x12::{ReadOptions, Reader835, Reader837, WriteOptions, write_837_to_vec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut claims = Vec::new();
    for item in Reader837::with_options(data, ReadOptions::default()) {
        let Ok(transaction) = item else { continue };
        for parsed in &transaction.body.claims {
            for finding in &parsed.findings {
                let _ = parsed.source.locate(&finding.loc);
            }
            let _ = parsed.source.locate(&FieldPath::parse("lines[0].modifiers[3]"));
            claims.push(parsed.claim.clone());
        }
        for rejected in &transaction.body.rejected {
            for e in &rejected.errors {
                let _ = e.to_string();
            }
        }
    }
    // A claim read without a billing location (N4 missing or unreadable) gets the one given to write.
    let options = WriteOptions { billing_location: Some(billed_somewhere()), ..WriteOptions::default() };
    if !claims.is_empty()
        && let Ok(bytes) = write_837_to_vec(&claims, &options)
    {
        for claim in claims.iter_mut().filter(|c| c.billing_provider_location.is_none()) {
            claim.billing_provider_location = options.billing_location;
        }
        let mut again = Vec::new();
        for item in Reader837::new(&bytes[..]) {
            let transaction = item.expect("what the writer wrote reads back without envelope errors");
            assert!(transaction.body.rejected.is_empty(), "written claims read back: {:?}", transaction.body.rejected);
            again.extend(transaction.body.claims.into_iter().map(|c| c.claim));
        }
        assert_eq!(again, claims, "read -> write -> read gives the same claims");
    }
    for item in Reader835::new(data) {
        if let Ok(t) = item {
            let _ = t.body.balances();
        }
    }
});

fn billed_somewhere() -> Location {
    Location { state: "NY".parse().ok(), zip: "100010001".parse().ok() }
}
