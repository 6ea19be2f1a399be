//! A fast reader of an encoded `ProcessClaimsRequest`: from the request's bytes straight into the core
//! claim, strings borrowed from the input and the caller's previous claim reused (its lines `Vec`,
//! its diagnoses; its short texts are inline up to 24 bytes, so made anew at no cost), so a claim
//! costs no allocation per field where prost's owned message costs two dozen.
//!
//! It is an accelerator, never a second judge of the input. It reads only plainly well-formed requests
//! and answers `None` for anything else: bytes prost would reject (a truncation, bad UTF-8, a wrong wire
//! type, an overlong varint), a group (deprecated: prost's reading decides), a singular message field
//! given twice (protobuf merges the two), a missing claim, a value the conversion would reject. The
//! caller then decodes with prost and converts as usual, which gives the canonical answer or error.
//! What it does accept it reads as prost does: unknown fields are skipped, a scalar or string field
//! given twice keeps its last value, repeated pointers may be packed or not, varints are truncated to
//! the field's type. Every value goes through the same conversion helpers as `TryFrom<pb::Claim>`.

use cptkit_core::{Claim, ClaimLine, Diagnoses, DiagnosisPointers, JudgeOptions, Modifiers};
use prost::Message as _;
use time::Date;

use crate::claims::{
    frequency_code, location, optional_parse, optional_role, optional_time, parse_as, plan_type, price_options,
    required_date, today, unit_basis,
};
use crate::convert::parse_decimal;
use crate::pb;

/// What [`read_process_claims_request`] read beside the claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRequest<'a> {
    pub request_id: &'a str,
    /// The request's `today` (`stream_today` when it gives none), and its price options when it asks
    /// for a price (`price`), as the conversion of the decoded request gives them.
    pub options: JudgeOptions,
}

/// Reads an encoded `pb::ProcessClaimsRequest` into `claim` (reusing what it held), or `None` when the
/// request is not plainly well-formed: then `claim` holds nothing meaningful and the caller decodes
/// the bytes with prost. A request without `today` is judged against `stream_today`, the date its
/// stream began.
pub fn read_process_claims_request<'a>(
    bytes: &'a [u8],
    claim: &mut Option<Claim>,
    stream_today: Date,
) -> Option<ClaimRequest<'a>> {
    let (mut request_id, mut claim_bytes, mut price, mut options, mut today_text) = ("", None, false, None, "");
    let mut fields = Fields(bytes);
    while let Some((tag, value)) = fields.next()? {
        match (tag, value) {
            (1, Value::Bytes(b)) => request_id = text(b)?,
            (2, Value::Bytes(b)) => once(&mut claim_bytes, b)?,
            (3, Value::Varint(v)) => price = v != 0,
            (4, Value::Bytes(b)) => once(&mut options, b)?,
            (5, Value::Bytes(b)) => today_text = text(b)?,
            (1..=5, _) => return None,
            _ => {}
        }
    }
    // The options are small and rare: prost decodes them (even unpriced, they must be valid protobuf).
    let options = options.map(pb::PriceOptions::decode).transpose().ok()?;
    let pricing = if price { Some(price_options(options).ok()?) } else { None };
    let options = JudgeOptions { today: today(today_text).ok()?.unwrap_or(stream_today), pricing };
    let (lines, diagnoses) = claim.take().map(|c| (c.lines, c.diagnoses)).unwrap_or_default();
    *claim = Some(read_claim(claim_bytes?, lines, diagnoses)?);
    Some(ClaimRequest { request_id, options })
}

fn read_claim(bytes: &[u8], mut lines: Vec<ClaimLine>, mut diagnoses: Diagnoses) -> Option<Claim> {
    lines.clear();
    diagnoses.clear();
    let (mut claim_id, mut place_of_service, mut frequency, mut billing_npi, mut locality) = ("", "", "", "", "");
    let (mut payer, mut patient, mut provider, mut facility, mut billing_location) = (None, None, None, None, None);
    let mut fields = Fields(bytes);
    while let Some((tag, value)) = fields.next()? {
        match (tag, value) {
            (1, Value::Bytes(b)) => claim_id = text(b)?,
            (2, Value::Bytes(b)) => once(&mut payer, b)?,
            (3, Value::Bytes(b)) => place_of_service = text(b)?,
            (4, Value::Bytes(b)) => frequency = text(b)?,
            (5, Value::Bytes(b)) => once(&mut patient, b)?,
            (6, Value::Bytes(b)) => billing_npi = text(b)?,
            (7, Value::Bytes(b)) => once(&mut provider, b)?,
            (8, Value::Bytes(b)) => locality = text(b)?,
            (9, Value::Bytes(b)) => diagnoses.push(text(b)?.parse().ok()?),
            (10, Value::Bytes(b)) => lines.push(read_line(b)?),
            (11, Value::Bytes(b)) => once(&mut facility, b)?,
            (12, Value::Bytes(b)) => once(&mut billing_location, b)?,
            (1..=12, _) => return None,
            _ => {}
        }
    }
    let payer = read_payer(payer?)?;
    let [birth_date, member_id] = read_texts(patient?)?;
    let provider = read_provider(provider?)?;
    // A location given, even an empty one, is a location.
    let location_at = |field: &str, bytes: Option<&[u8]>| match bytes {
        None => Some(None),
        Some(b) => read_texts(b).and_then(|[state, zip]| location(field, state, zip).ok()).map(Some),
    };
    Some(Claim {
        claim_id: cptkit_core::required_id(claim_id).ok()?,
        payer,
        place_of_service: parse_as("place_of_service", place_of_service).ok()?,
        frequency_code: frequency_code(frequency),
        patient: cptkit_core::Patient {
            birth_date: required_date("patient.birth_date", birth_date).ok()?,
            member_id: member_id.into(),
        },
        billing_provider_npi: parse_as("billing_provider_npi", billing_npi).ok()?,
        rendering_provider: provider,
        medicare_locality: optional_parse("medicare_locality", locality).ok()?,
        diagnoses,
        lines,
        service_facility_location: location_at("service_facility_location", facility)?,
        billing_provider_location: location_at("billing_provider_location", billing_location)?,
    })
}

/// Fields 1 and 2 of Patient or Location: two strings.
fn read_texts(bytes: &[u8]) -> Option<[&str; 2]> {
    let mut texts = ["", ""];
    let mut fields = Fields(bytes);
    while let Some((tag, value)) = fields.next()? {
        match (tag, value) {
            (1 | 2, Value::Bytes(b)) => texts[usize::from(tag == 2)] = text(b)?,
            (1 | 2, _) => return None,
            _ => {}
        }
    }
    Some(texts)
}

fn read_payer(bytes: &[u8]) -> Option<cptkit_core::Payer> {
    let (mut id, mut raw_plan) = ("", 0);
    let mut fields = Fields(bytes);
    while let Some((tag, value)) = fields.next()? {
        match (tag, value) {
            (1, Value::Bytes(b)) => id = text(b)?,
            (2, Value::Varint(v)) => raw_plan = truncate32(v),
            (1 | 2, _) => return None,
            _ => {}
        }
    }
    Some(cptkit_core::Payer { id: cptkit_core::required_id(id).ok()?, plan_type: plan_type(raw_plan).ok()? })
}

fn read_provider(bytes: &[u8]) -> Option<cptkit_core::RenderingProvider> {
    let (mut npi, mut taxonomy, mut raw_role, mut qualifying_apm) = ("", "", 0, false);
    let mut fields = Fields(bytes);
    while let Some((tag, value)) = fields.next()? {
        match (tag, value) {
            (1, Value::Bytes(b)) => npi = text(b)?,
            (2, Value::Bytes(b)) => taxonomy = text(b)?,
            (3, Value::Varint(v)) => raw_role = truncate32(v),
            (4, Value::Varint(v)) => qualifying_apm = v != 0,
            (1..=4, _) => return None,
            _ => {}
        }
    }
    Some(cptkit_core::RenderingProvider {
        npi: parse_as("rendering_provider.npi", npi).ok()?,
        taxonomy: optional_parse("rendering_provider.taxonomy", taxonomy).ok()?,
        role: optional_role(raw_role).ok()?,
        qualifying_apm,
    })
}

fn read_line(bytes: &[u8]) -> Option<ClaimLine> {
    let (mut procedure_code, mut quantity, mut start, mut end, mut date, mut case_id) = ("", "", "", "", "", "");
    let (mut raw_basis, mut charge_cents, mut present_at_induction) = (0, 0, false);
    let (mut modifiers, mut pointers) = (Modifiers::new(), DiagnosisPointers::new());
    let mut fields = Fields(bytes);
    while let Some((tag, value)) = fields.next()? {
        match (tag, value) {
            (1, Value::Bytes(b)) => procedure_code = text(b)?,
            (2, Value::Bytes(b)) => modifiers.push(text(b)?.parse().ok()?),
            (3, Value::Varint(v)) => raw_basis = truncate32(v),
            (4, Value::Bytes(b)) => quantity = text(b)?,
            (5, Value::Bytes(b)) => start = text(b)?,
            (6, Value::Bytes(b)) => end = text(b)?,
            // uint32, as prost reads it: the low 32 bits.
            (7, Value::Varint(v)) => pointers.push(v as u32),
            (7, Value::Bytes(packed)) => {
                let mut values = Fields(packed);
                while !values.0.is_empty() {
                    pointers.push(values.varint()? as u32);
                }
            }
            // int64, as prost reads it.
            (8, Value::Varint(v)) => charge_cents = v as i64,
            (9, Value::Bytes(b)) => date = text(b)?,
            (10, Value::Bytes(b)) => case_id = text(b)?,
            (11, Value::Varint(v)) => present_at_induction = v != 0,
            (1..=11, _) => return None,
            _ => {}
        }
    }
    Some(ClaimLine {
        procedure_code: parse_as("procedure_code", procedure_code).ok()?,
        modifiers,
        unit_basis: unit_basis(raw_basis).ok()?,
        quantity: cptkit_core::quantity(parse_decimal("quantity", quantity).ok()?),
        start_time: optional_time("start_time", start).ok()?,
        end_time: optional_time("end_time", end).ok()?,
        diagnosis_pointers: pointers,
        charge_cents,
        date_of_service: required_date("date_of_service", date).ok()?,
        case_id: case_id.into(),
        present_at_induction,
    })
}

/// One field's value. Fixed-width values are skipped: no field read here has one.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// A string field: valid UTF-8, as prost requires.
fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// An int32 as prost reads it from a varint: the low 32 bits.
fn truncate32(v: u64) -> i32 {
    v as i32
}

/// A singular message field, once: a second one merges into the first in protobuf, left to prost.
fn once<'a>(slot: &mut Option<&'a [u8]>, bytes: &'a [u8]) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(bytes);
            Some(())
        }
    }
}

/// The fields of one message, in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    /// The next field's number and value; `Some(None)` at the end, `None` where prost would fail or a
    /// group begins.
    fn next(&mut self) -> Option<Option<(u32, Value<'a>)>> {
        if self.0.is_empty() {
            return Some(None);
        }
        let key = u32::try_from(self.varint()?).ok()?;
        let tag = key >> 3;
        if tag == 0 {
            return None;
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => self.take(8).map(|_| Value::Fixed)?,
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                Value::Bytes(self.take(len)?)
            }
            5 => self.take(4).map(|_| Value::Fixed)?,
            _ => return None,
        };
        Some(Some((tag, value)))
    }

    /// A base-128 varint of at most 10 bytes whose value fits 64 bits, as prost accepts them.
    #[inline]
    fn varint(&mut self) -> Option<u64> {
        // Keys, lengths and small numbers: one byte, nearly every varint of a claim.
        if let [byte @ 0..0x80, rest @ ..] = self.0 {
            self.0 = rest;
            return Some(u64::from(*byte));
        }
        self.long_varint()
    }

    /// [`Fields::varint`] of two bytes or more.
    fn long_varint(&mut self) -> Option<u64> {
        let mut value = 0;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return None;
                }
                self.0 = &self.0[i + 1..];
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(head)
    }
}
