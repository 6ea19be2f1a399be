//! `PricedClaim` encoded straight from the core's answer, for a stream that answers a hundred thousand
//! claims a second: building the `pb::PricedClaim` first costs a String per number, per step name and
//! per code, and prost measures nested messages again at every level. The bytes are exactly those of
//! `pb::PricedClaim::from(priced).encode(..)` (tested below and in the server on large mixed inputs);
//! the field numbers are those of `proto/cptkit/v1/claims.proto`.

use std::fmt::{self, Write as _};
use std::ops::Range;

use cptkit_core as core;
use cptkit_core::cents_count;
use prost::bytes::BufMut;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use crate::pb;

/// Writes priced claims as prost writes them, reusing its buffers from claim to claim (a stream writes
/// thousands of claims, each with a kilobyte or so of steps).
#[derive(Debug, Default)]
pub struct PricedClaimEncoder {
    steps: StepBytes,
}

impl PricedClaimEncoder {
    /// Writes `priced` as field `tag` of the message being encoded into `buf` (a `pb::PricedClaim`, as
    /// prost writes an optional message field).
    pub fn encode(&mut self, tag: u32, priced: &core::PricedClaim, buf: &mut impl BufMut) {
        let steps = &mut self.steps;
        steps.start(priced.lines.len());
        let lines: Vec<Line<'_>> = priced.lines.iter().map(|l| Line::new(l, steps)).collect();
        let total_charge = cents_count(priced.total_charge);
        let total_allowed = cents_count(priced.total_allowed);
        let body = string_len(1, &priced.claim_id)
            + lines.iter().map(|l| message_len(2, l.len)).sum::<usize>()
            + int64_len(3, total_charge)
            + int64_len(4, total_allowed);
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(body as u64, buf);
        string(1, &priced.claim_id, buf);
        for line in &lines {
            line.encode(2, &steps.bytes, buf);
        }
        int64(3, total_charge, buf);
        int64(4, total_allowed, buf);
    }
}

/// A priced line's fields as they go on the wire, and its encoded length.
struct Line<'a> {
    line: u32,
    procedure_code: &'a str,
    status: i32,
    rule_set: &'a str,
    /// base, time, modifying and total units, conversion factor, share (fields 5-10), as text.
    numbers: [core::DecimalDigits; 6],
    /// fee schedule, charge, allowed (fields 11-13).
    cents: [i64; 3],
    /// The line's steps, encoded, in the claim's [`StepBytes`].
    steps: Range<usize>,
    len: usize,
}

impl<'a> Line<'a> {
    fn new(l: &'a core::PricedLine, steps: &mut StepBytes) -> Self {
        let from = steps.bytes.len();
        l.write_steps(steps);
        let numbers = [l.base_units, l.time_units, l.modifying_units, l.total_units, l.conversion_factor, l.share]
            .map(|n| core::DecimalText(n).digits());
        let mut line = Line {
            line: l.line,
            procedure_code: l.procedure_code.as_str(),
            status: pb::LineStatus::from(l.status).into(),
            rule_set: &l.rule.id,
            numbers,
            cents: [cents_count(l.fee_schedule), cents_count(l.charge), cents_count(l.allowed)],
            steps: from..steps.bytes.len(),
            len: 0,
        };
        line.len = uint_len(1, line.line.into())
            + string_len(2, line.procedure_code)
            + int64_len(3, line.status.into())
            + string_len(4, line.rule_set)
            + (5..).zip(&line.numbers).map(|(tag, n)| bytes_len(tag, n.as_bytes())).sum::<usize>()
            + (11..).zip(line.cents).map(|(tag, c)| int64_len(tag, c)).sum::<usize>()
            + line.steps.len();
        line
    }

    fn encode(&self, tag: u32, steps: &[u8], buf: &mut impl BufMut) {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(self.len as u64, buf);
        uint(1, self.line.into(), buf);
        string(2, self.procedure_code, buf);
        int64(3, self.status.into(), buf);
        string(4, self.rule_set, buf);
        for (tag, number) in (5..).zip(&self.numbers) {
            bytes(tag, number.as_bytes(), buf);
        }
        for (tag, cents) in (11..).zip(self.cents) {
            int64(tag, cents, buf);
        }
        buf.put_slice(&steps[self.steps.clone()]);
    }
}

/// A claim's steps encoded as `PricedLine.steps` (field 14) one after another, each worded straight
/// into the bytes: no String per step, and no copy of its text.
#[derive(Debug, Default)]
struct StepBytes {
    bytes: Vec<u8>,
}

impl StepBytes {
    /// Emptied for a claim of `lines` lines, and sized for them: an anesthesia line's nine or so steps
    /// take about a kilobyte, and growing copies.
    fn start(&mut self, lines: usize) {
        self.bytes.clear();
        self.bytes.reserve(1_280 * lines);
    }

    /// A step (a `pb::PriceStep`) whose value `value` writes. Its length and its detail's take two bytes
    /// (128 bytes to 16 KB), as they most often do.
    fn write(&mut self, step: &'static str, detail: &dyn fmt::Display, value: impl FnOnce(&mut Vec<u8>)) {
        delimited(14, 2, &mut self.bytes, |bytes| {
            string(1, step, bytes);
            text(2, 2, detail, bytes);
            value(bytes);
        });
    }
}

impl core::StepSink for StepBytes {
    fn step(&mut self, step: &'static str, detail: &dyn fmt::Display, value: &dyn fmt::Display) {
        // A value worded as text is a short one ("0.00", an id).
        self.write(step, detail, |bytes| text(3, 1, value, bytes));
    }

    fn number_step(&mut self, step: &'static str, detail: &dyn fmt::Display, value: rust_decimal::Decimal) {
        self.write(step, detail, |out| bytes(3, core::DecimalText(value).digits().as_bytes(), out));
    }
}

/// A string field worded by `Display` straight into `bytes`.
fn text(tag: u32, room: usize, value: &dyn fmt::Display, bytes: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    delimited(tag, room, bytes, |bytes| {
        let _ = write!(Utf8Bytes(bytes), "{value}");
    });
}

/// Field `tag`, a length-delimited one whose content `write` appends to `bytes`. Its length is known only
/// once written, so the varint gets `room` bytes first, and the content is moved if it needs another
/// number (prost writes the shortest varint). Empty, it is not written (proto3).
fn delimited(tag: u32, room: usize, bytes: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let start = bytes.len();
    encode_key(tag, WireType::LengthDelimited, bytes);
    let at = bytes.len();
    bytes.resize(at + room, 0);
    write(bytes);
    let len = bytes.len() - at - room;
    if len == 0 {
        bytes.truncate(start);
        return;
    }
    let needed = encoded_len_varint(len as u64);
    if needed != room {
        let end = at + needed + len;
        bytes.resize(end.max(bytes.len()), 0);
        bytes.copy_within(at + room..at + room + len, at + needed);
        bytes.truncate(end);
    }
    encode_varint(len as u64, &mut &mut bytes[at..at + needed]);
}

/// Text written into bytes (as UTF-8).
struct Utf8Bytes<'a>(&'a mut Vec<u8>);

impl fmt::Write for Utf8Bytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// proto3: a field at its default (empty, zero) is not written.

fn string_len(tag: u32, s: &str) -> usize {
    bytes_len(tag, s.as_bytes())
}

/// A string field given as its bytes (known to be ASCII, such as a number's text).
fn bytes_len(tag: u32, b: &[u8]) -> usize {
    if b.is_empty() { 0 } else { message_len(tag, b.len()) }
}

fn message_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn uint_len(tag: u32, v: u64) -> usize {
    if v == 0 { 0 } else { key_len(tag) + encoded_len_varint(v) }
}

/// int64 and enum fields: a negative value is written as its 64-bit two's complement.
fn int64_len(tag: u32, v: i64) -> usize {
    uint_len(tag, v as u64)
}

fn string(tag: u32, s: &str, buf: &mut impl BufMut) {
    bytes(tag, s.as_bytes(), buf);
}

fn bytes(tag: u32, b: &[u8], buf: &mut impl BufMut) {
    if !b.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(b.len() as u64, buf);
        buf.put_slice(b);
    }
}

fn uint(tag: u32, v: u64, buf: &mut impl BufMut) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v, buf);
    }
}

fn int64(tag: u32, v: i64, buf: &mut impl BufMut) {
    uint(tag, v as u64, buf);
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use rust_decimal::Decimal;

    use super::*;

    /// Every golden claim that prices, and each again with values that stress the encoding (negative
    /// cents, zero fields, long ids, numbers too long to stay inline): the same bytes as the message.
    #[test]
    fn priced_claims_encode_as_the_message_does() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/claims");
        let reference = core::Reference::embedded();
        let mut priced_count = 0;
        // One encoder for every claim, as a stream uses it: nothing of a claim is left for the next.
        let mut encoder = PricedClaimEncoder::default();
        for entry in std::fs::read_dir(root).expect("fixtures") {
            let dir = entry.expect("entry").path();
            let Ok(json) = std::fs::read_to_string(dir.join("claim.json")) else { continue };
            let Ok(claim) = core::Claim::from_json(&json) else { continue };
            let options = core::JudgeOptions {
                today: time::macros::date!(2026 - 11 - 27),
                pricing: Some(core::PriceOptions::default()),
            };
            let Ok(judgement) = reference.judge(&claim, &options, core::RuleBook::embedded()) else { continue };
            let Ok(mut priced) = judgement.into_priced() else { continue };
            priced_count += 1;
            for variant in 0..2 {
                if variant == 1 {
                    priced.claim_id = "C".repeat(300).into();
                    priced.total_charge = Decimal::new(-123_456, 2);
                    priced.total_allowed = Decimal::ZERO;
                    for line in &mut priced.lines {
                        line.line = 200;
                        line.charge = Decimal::new(-1, 2);
                        line.share = Decimal::new(-5, 1);
                        // Numbers too long to stay inline: their text spills, whole.
                        line.conversion_factor =
                            Decimal::from_i128_with_scale(-1_234_567_890_123_456_789_012_345_678, 28);
                        line.time_units = Decimal::new(1, 28);
                    }
                }
                let message = pb::PriceClaimResponse { priced: Some(priced.clone().into()), report: None };
                let mut direct = Vec::new();
                encoder.encode(1, &priced, &mut direct);
                assert_eq!(direct, message.encode_to_vec(), "{}", dir.display());
            }
        }
        assert!(priced_count >= 20, "only {priced_count} golden claims priced");
    }

    /// A field written before its length is known: prost's bytes for every length's varint, whatever
    /// room it was given, and nothing for an empty one.
    #[test]
    fn delimited_fields_are_written_as_prost_writes_them() {
        for len in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let content = "x".repeat(len);
            for room in 1..=3 {
                let mut ours = vec![7];
                text(2, room, &content, &mut ours);
                let mut theirs = vec![7];
                if len > 0 {
                    prost::encoding::string::encode(2, &content, &mut theirs);
                }
                assert_eq!(ours, theirs, "{len} bytes, room for {room}");
            }
        }
    }
}
