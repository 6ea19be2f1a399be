//! The fast `ProcessClaimsRequest` reader against prost + the conversion (what the server falls back
//! to): on every well-formed request it reads the same claim and options, and on mutated bytes it
//! either declines or agrees with prost + the conversion. Deterministic: a fixed seed.

use cptkit_core::synthetic::{SyntheticClaims, medicare_claims};
use cptkit_core::{Claim, JudgeOptions};
use cptkit_proto::pb;
use cptkit_proto::{ClaimRequest, read_process_claims_request};
use prost::Message as _;
use time::Date;

/// The date the stream began: what a request without `today` is judged against.
const STREAM_DAY: Date = time::macros::date!(2026 - 11 - 27);

/// What the server's fallback reads from a request: prost, then the conversion.
fn reference(bytes: &[u8]) -> Option<(String, Claim, JudgeOptions)> {
    let pb::ProcessClaimsRequest { request_id, claim, price, options, today } =
        pb::ProcessClaimsRequest::decode(bytes).ok()?;
    let claim = Claim::try_from(claim?).ok()?;
    let pricing = price.then_some(options).map(cptkit_proto::price_options).transpose().ok()?;
    let options = JudgeOptions { today: cptkit_proto::today(&today).ok()?.unwrap_or(STREAM_DAY), pricing };
    Some((request_id, claim, options))
}

/// Checks one input; true when the fast reader took it.
fn check(bytes: &[u8], scratch: &mut Option<Claim>) -> bool {
    let Some(ClaimRequest { request_id, options }) = read_process_claims_request(bytes, scratch, STREAM_DAY) else {
        return false;
    };
    let (want_id, want_claim, want_options) =
        reference(bytes).unwrap_or_else(|| panic!("read fast but prost + conversion reject {bytes:?}"));
    let claim = scratch.as_ref().expect("a claim read");
    assert_eq!(request_id, want_id);
    assert_eq!(options, want_options);
    assert_eq!(claim, &want_claim);
    // Equal decimals may differ in scale ("90" and "90.0"): the JSON form shows it.
    assert_eq!(claim.to_json(), want_claim.to_json());
    true
}

/// Xorshift64: enough to pick mutations, the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).expect("below n")
    }
}

fn fixture_claims() -> Vec<Claim> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/claims");
    let mut claims = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("fixture").path();
        if let Ok(json) = std::fs::read_to_string(path.join("claim.json")) {
            // A fixture whose JSON the core cannot read is no well-formed request.
            claims.extend(Claim::from_json(&json).ok());
        }
        if let Ok(json) = std::fs::read_to_string(path.join("claims.json")) {
            let list: Vec<serde_json::Value> = serde_json::from_str(&json).expect("a list of claims");
            claims.extend(list.iter().filter_map(|c| Claim::from_json(&c.to_string()).ok()));
        }
    }
    assert!(claims.len() > 40, "the golden claims are found");
    claims
}

/// A request around `claim`, with the options and flags varied by `i`.
fn request(i: usize, claim: Claim) -> pb::ProcessClaimsRequest {
    let options = match i % 4 {
        0 => None,
        1 => Some(pb::PriceOptions::default()),
        2 => Some(pb::PriceOptions {
            conversion_factor: "62.50".into(),
            payer_conversion_factors: [("cigna".to_owned(), "70".to_owned())].into(),
            percent_of_medicare: "125".into(),
            ..Default::default()
        }),
        _ => Some(pb::PriceOptions { rule_set: "medicare-ffs".into(), ..Default::default() }),
    };
    pb::ProcessClaimsRequest {
        request_id: if i.is_multiple_of(5) { String::new() } else { format!("req-{i}") },
        claim: Some(claim.into()),
        price: !i.is_multiple_of(3),
        options,
        today: if i.is_multiple_of(2) { String::new() } else { "2026-03-01".into() },
    }
}

fn inputs() -> Vec<Vec<u8>> {
    let synthetic = SyntheticClaims::new(13).expect("synthetic claims").take(600);
    let claims = fixture_claims().into_iter().chain(medicare_claims(50)).chain(synthetic);
    claims.enumerate().map(|(i, claim)| request(i, claim).encode_to_vec()).collect()
}

/// Each field of an encoded message: its key and value bytes, as a slice of `bytes`.
fn records(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let start = rest;
        let (_, wire_type) = prost::encoding::decode_key(&mut rest).ok()?;
        let len = match wire_type {
            prost::encoding::WireType::Varint => {
                prost::encoding::decode_varint(&mut rest).ok()?;
                0
            }
            prost::encoding::WireType::LengthDelimited => {
                usize::try_from(prost::encoding::decode_varint(&mut rest).ok()?).ok()?
            }
            prost::encoding::WireType::SixtyFourBit => 8,
            prost::encoding::WireType::ThirtyTwoBit => 4,
            _ => return None,
        };
        rest = rest.get(len..)?;
        out.push(&start[..start.len() - rest.len()]);
    }
    Some(out)
}

fn key(tag: u32, wire_type: u32, out: &mut Vec<u8>) {
    prost::encoding::encode_varint(u64::from(tag << 3 | wire_type), out);
}

/// A random field: a known or unknown number, any wire type, a plausible or odd value.
fn random_field(rng: &mut Rng, out: &mut Vec<u8>) {
    let tag = if rng.below(3) == 0 { 13 + rng.below(200) as u32 } else { 1 + rng.below(12) as u32 };
    match rng.below(6) {
        0 | 1 => {
            key(tag, 0, out);
            let value = [0, 1, 2, 3, 4, 5, 1 << 32 | 1, u64::MAX][rng.below(8)];
            prost::encoding::encode_varint(value, out);
        }
        2 | 3 => {
            key(tag, 2, out);
            let texts: [&[u8]; 9] =
                [b"", b"21", b"00632", b"2025-03-04", b"QK", b"1234567893", b"\xff\xfe", b"M54.16", b"\x08\x01"];
            let text = texts[rng.below(texts.len())];
            prost::encoding::encode_varint(text.len() as u64, out);
            out.extend_from_slice(text);
        }
        4 => {
            key(tag, 5, out);
            out.extend_from_slice(&[1, 2, 3, 4]);
        }
        _ => {
            key(tag, [1, 3, 4, 6, 7][rng.below(5)], out);
            out.extend_from_slice(&[0; 8]);
        }
    }
}

/// One structural change to a message: a field duplicated, dropped, moved or added, or (recursively)
/// a change inside a length-delimited field (a sub-message, or a string made odd).
fn mutate_message(bytes: &[u8], rng: &mut Rng, depth: usize) -> Vec<u8> {
    let Some(mut fields) = records(bytes) else { return bytes.to_vec() };
    let mut changed: Option<(usize, Vec<u8>)> = None;
    let mut extra = Vec::new();
    let n = fields.len();
    match rng.below(6) {
        0 if n > 0 => {
            let i = rng.below(n);
            fields.insert(rng.below(n + 1), fields[i]);
        }
        1 if n > 0 => {
            fields.remove(rng.below(n));
        }
        2 if n > 1 => {
            let (a, b) = (rng.below(n), rng.below(n));
            fields.swap(a, b);
        }
        3 => random_field(rng, &mut extra),
        _ if n > 0 && depth < 3 => {
            let i = rng.below(n);
            let mut inner = fields[i];
            if let (Ok((tag, prost::encoding::WireType::LengthDelimited)), Ok(len)) =
                (prost::encoding::decode_key(&mut inner), prost::encoding::decode_varint(&mut inner))
            {
                debug_assert_eq!(inner.len() as u64, len);
                let mutated = mutate_message(inner, rng, depth + 1);
                let mut field = Vec::new();
                key(tag, 2, &mut field);
                prost::encoding::encode_varint(mutated.len() as u64, &mut field);
                field.extend_from_slice(&mutated);
                changed = Some((i, field));
            }
        }
        _ => random_field(rng, &mut extra),
    }
    let at = rng.below(fields.len() + 1);
    let mut out = Vec::with_capacity(bytes.len() + extra.len());
    for (i, field) in fields.iter().enumerate() {
        if i == at {
            out.extend_from_slice(&extra);
        }
        match &changed {
            Some((c, new)) if *c == i => out.extend_from_slice(new),
            _ => out.extend_from_slice(field),
        }
    }
    if at == fields.len() {
        out.extend_from_slice(&extra);
    }
    out
}

/// A byte-level or structural mutation of a well-formed request.
fn mutate(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = rng.below(out.len());
    match rng.below(8) {
        0 => out.truncate(at),
        1 => out[at] ^= 1 << rng.below(8),
        2 => out[at] = rng.next() as u8,
        3 => {
            out.remove(at);
        }
        4 => out.insert(at, rng.next() as u8),
        _ => out = mutate_message(bytes, rng, 0),
    }
    out
}

#[test]
fn every_well_formed_request_is_read_as_prost_and_the_conversion_read_it() {
    let mut scratch = None;
    let inputs = inputs();
    for bytes in &inputs {
        assert!(check(bytes, &mut scratch), "a well-formed request takes the fast path: {bytes:?}");
    }
    // Unpacked diagnosis pointers are read too (prost accepts both forms).
    let mut claim = pb::Claim::from(fixture_claims().remove(0));
    claim.lines[0].diagnosis_pointers = vec![1, 2];
    let mut line = claim.lines[0].clone();
    line.diagnosis_pointers.clear();
    let mut line_bytes = line.encode_to_vec();
    for pointer in [1u64, 2] {
        key(7, 0, &mut line_bytes);
        prost::encoding::encode_varint(pointer, &mut line_bytes);
    }
    let packed = request(1, Claim::try_from(claim.clone()).expect("claim")).encode_to_vec();
    claim.lines.remove(0);
    let mut claim_bytes = claim.encode_to_vec();
    key(10, 2, &mut claim_bytes);
    prost::encoding::encode_varint(line_bytes.len() as u64, &mut claim_bytes);
    claim_bytes.extend_from_slice(&line_bytes);
    let mut unpacked = Vec::new();
    key(2, 2, &mut unpacked);
    prost::encoding::encode_varint(claim_bytes.len() as u64, &mut unpacked);
    unpacked.extend_from_slice(&claim_bytes);
    assert!(check(&unpacked, &mut scratch), "unpacked pointers");
    let pointers = |s: &Option<Claim>| s.as_ref().map(|c| c.lines.last().map(|l| l.diagnosis_pointers.to_vec()));
    assert_eq!(pointers(&scratch), Some(Some(vec![1, 2])));
    assert!(check(&packed, &mut scratch), "packed pointers");
}

#[test]
fn mutated_requests_are_declined_or_read_as_prost_and_the_conversion_read_them() {
    let mut rng = Rng(0x5eed_0013);
    let mut scratch = None;
    let (mut taken, mut declined) = (0, 0);
    let inputs = inputs();
    for _ in 0..6000 {
        let bytes = mutate(&inputs[rng.below(inputs.len())], &mut rng);
        if check(&bytes, &mut scratch) {
            taken += 1;
        } else {
            declined += 1;
            // Whatever the reader declined, the fallback still answers (or names the error).
            let _ = reference(&bytes);
        }
    }
    // Both outcomes are exercised: the mutations are neither all harmless nor all fatal.
    assert!(taken > 1000 && declined > 1000, "taken {taken}, declined {declined}");
}

#[test]
fn declined_requests_are_the_ones_prost_or_the_conversion_reject_or_protobuf_merges() {
    let mut scratch = None;
    let claim = fixture_claims().remove(0);
    let good = request(1, claim.clone()).encode_to_vec();
    // A second claim field merges into the first in protobuf: left to prost.
    let mut twice = good.clone();
    twice.extend_from_slice(&request(1, claim.clone()).encode_to_vec());
    assert!(read_process_claims_request(&twice, &mut scratch, STREAM_DAY).is_none());
    assert!(reference(&twice).is_some(), "prost merges it");
    // A value the conversion rejects.
    let mut bad = request(1, claim.clone());
    bad.claim.as_mut().expect("claim").lines[0].procedure_code = "0063".into();
    assert!(read_process_claims_request(&bad.encode_to_vec(), &mut scratch, STREAM_DAY).is_none());
    // No claim.
    let none = pb::ProcessClaimsRequest { request_id: "x".into(), ..Default::default() };
    assert!(read_process_claims_request(&none.encode_to_vec(), &mut scratch, STREAM_DAY).is_none());
    // Truncated.
    assert!(read_process_claims_request(&good[..good.len() - 1], &mut scratch, STREAM_DAY).is_none());
    // And the reused claim reads a good request again afterwards.
    assert!(check(&good, &mut scratch));
}
