//! The parallel 837P reader answers exactly as the sequential one: the same transactions, claims,
//! rejected claims and errors (byte offsets and segment numbers included), in the same order, for a
//! many-transaction input with problems in some transactions, whatever the thread count and however
//! the input arrives.

#[path = "support/gen837.rs"]
mod gen837;

use std::io::Read;

use cptkit_x12::{ReadOptions, Reader837, Transaction837, X12Error, X12ErrorKind, read_837_threads};

use gen837::Chunks;

type Items = Vec<Result<Transaction837, X12Error>>;

fn items<R: Read>(src: R, threads: usize) -> Items {
    Reader837::with_threads(src, ReadOptions::default(), threads).collect()
}

fn assert_same(expected: &Items, got: &Items, what: &str) {
    assert_eq!(expected.len(), got.len(), "{what}: item count");
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        assert_eq!(e, g, "{what}: item {i}");
    }
}

#[test]
fn parallel_reads_equal_the_sequential_read() {
    let input = gen837::generate(300);
    let sequential = items(&input[..], 1);

    // The input has what the test is about: many claims, rejected claims, and every kind of error.
    let transactions: Vec<&Transaction837> = sequential.iter().filter_map(|i| i.as_ref().ok()).collect();
    let errors: Vec<&X12Error> = sequential.iter().filter_map(|i| i.as_ref().err()).collect();
    let claims: usize = transactions.iter().map(|t| t.body.claims.len()).sum();
    let rejected: usize = transactions.iter().map(|t| t.body.rejected.len()).sum();
    assert!(transactions.len() > 150 && claims > 1000 && rejected > 50, "{} {claims} {rejected}", transactions.len());
    for kind in [X12ErrorKind::Envelope, X12ErrorKind::Syntax, X12ErrorKind::Unsupported, X12ErrorKind::Truncated] {
        assert!(errors.iter().any(|e| e.kind == kind), "no {kind:?} error");
    }
    assert!(errors.iter().any(|e| e.message.contains("SE01")));
    assert!(transactions.iter().any(|t| t.body.rejected.iter().any(|r| r.errors.iter().any(|e| e.at.byte_offset > 0))));

    for threads in [2, 3, 8] {
        assert_same(&sequential, &items(&input[..], threads), &format!("{threads} threads"));
    }
    for chunk in [3, 4093, 1 << 20] {
        assert_same(&sequential, &items(Chunks(&input, chunk), 2), &format!("{chunk}-byte reads"));
    }
    assert_eq!(
        read_837_threads(&input[..], ReadOptions::default(), 1),
        read_837_threads(&input[..], ReadOptions::default(), 4)
    );
}

#[test]
fn every_fixture_reads_the_same_in_parallel() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12");
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the fixtures directory") {
        let path = entry.expect("a fixture").path();
        if path.extension().is_some_and(|e| e == "x12") {
            inputs.push(std::fs::read(&path).expect("a fixture file"));
        }
    }
    assert!(inputs.len() >= 5);
    // One at a time, and all of them back to back (several transactions: the workers start).
    let all: Vec<u8> = inputs.concat();
    inputs.push(all);
    for input in &inputs {
        let sequential = items(&input[..], 1);
        assert_same(&sequential, &items(&input[..], 2), "2 threads");
        assert_same(&sequential, &items(Chunks(input, 5), 4), "5-byte reads");
        // Cut anywhere: the same errors as the sequential reader.
        for cut in (0..input.len()).step_by(input.len() / 50 + 1) {
            assert_same(&items(&input[..cut], 1), &items(&input[..cut], 2), &format!("cut at {cut}"));
        }
    }
}

/// Reading stops early (the caller drops the reader mid-way): no hang, no leftover work.
#[test]
fn dropping_the_reader_mid_way_stops_the_workers() {
    let input = gen837::generate(200);
    let mut reader = Reader837::with_threads(&input[..], ReadOptions::default(), 2);
    let first: Items = reader.by_ref().take(5).collect();
    assert_eq!(first.len(), 5);
    drop(reader);
}

/// Damage anywhere (a byte changed, dropped, or a delimiter put in) leaves the two readers agreeing:
/// the splitter skims body segments with its own fast path, and every way that path can stop or
/// miss must end where the sequential reader's segment-by-segment checks do. `DAMAGE_ROUNDS=5000`
/// for a longer hunt (5,000 rounds in release and 3,000 in debug, where the workers also assert that
/// they meet no error the splitter missed, found no difference).
#[test]
fn damaged_inputs_read_the_same_in_parallel() {
    let clean = gen837::generate(12);
    let rounds: usize = std::env::var("DAMAGE_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let mut with_errors = 0;
    for (round, input) in gen837::damaged(&clean, rounds, 7).enumerate() {
        let sequential = items(&input[..], 1);
        with_errors += usize::from(sequential.iter().any(|item| item.is_err()));
        assert_same(&sequential, &items(&input[..], 2), &format!("round {round}"));
        assert_same(&sequential, &items(Chunks(&input, 61), 3), &format!("round {round}, 61-byte reads"));
    }
    // The damage reaches the envelope and the syntax checks, not only values inside claims.
    assert!(with_errors > rounds / 4, "{with_errors} of {rounds} rounds with errors");
}
