//! GetCode's response views (AIP-157): `view` BASIC or FULL, or a `read_mask` of top-level
//! `CodeProfile` fields.
//!
//! A view is applied to the encoded answer, not to the message: the fields it leaves out are skipped
//! in the bytes, so the BASIC answer of a code is prepared once from its full answer and a read mask
//! costs one pass over bytes already prepared. The bytes are exactly what encoding the message with
//! those fields cleared would give (prost writes fields in number order, and skipping whole fields
//! keeps that order).

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::{BufMut, Bytes};
use cptkit_core::{Error, Violation};
use cptkit_proto::pb;
use prost::Message as _;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};
use tonic::Status;

use crate::prepared::Framed;
use crate::status::to_status;

/// The `CodeProfile` fields of the BASIC view: code, description and its source, service type,
/// category, base units and their source, Medicare inpatient-only and its source, the fee schedule.
const BASIC: [u32; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 20];

/// BASIC when localities are asked for: also `benchmarks` (16), with only those localities' rows.
const BASIC_WITH_LOCALITIES: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 20];

/// Which top-level `CodeProfile` fields an answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fields {
    All,
    Basic,
    /// By field number, as a read mask names them.
    Only(Vec<u32>),
}

impl Fields {
    /// A request's view and read mask; a read mask with paths wins over the view, and `*` in it is
    /// every field (AIP-157). Paths that are no top-level `CodeProfile` field are INVALID_ARGUMENT, each
    /// named (`read_mask.paths[1]`).
    pub(crate) fn of(view: i32, read_mask: Option<&prost_types::FieldMask>) -> Result<Fields, Status> {
        if let Some(mask) = read_mask.filter(|m| !m.paths.is_empty()) {
            let numbers = profile_field_numbers();
            let (mut only, mut unknown) = (Vec::with_capacity(mask.paths.len()), Vec::new());
            for (i, path) in mask.paths.iter().enumerate() {
                match numbers.get(path.as_str()) {
                    Some(&number) => only.push(number),
                    None if path == "*" => {}
                    None => unknown.push(Violation {
                        loc: format!("read_mask.paths[{i}]").into(),
                        message: format!(
                            "{path:?} is not a CodeProfile field (top-level fields only, e.g. \"base_units\")"
                        ),
                    }),
                }
            }
            match unknown.len() {
                0 => {}
                1 => {
                    let Violation { loc, message } = unknown.remove(0);
                    return Err(to_status(&Error::invalid(loc, message)));
                }
                n => {
                    let message = format!("{n} read_mask paths are not CodeProfile fields");
                    return Err(to_status(&Error::with_violations(message, unknown)));
                }
            }
            if mask.paths.iter().any(|p| p == "*") {
                return Ok(Fields::All);
            }
            only.sort_unstable();
            only.dedup();
            return Ok(Fields::Only(only));
        }
        match pb::CodeView::try_from(view) {
            Ok(pb::CodeView::Basic) => Ok(Fields::Basic),
            Ok(pb::CodeView::Unspecified | pb::CodeView::Full) => Ok(Fields::All),
            Err(_) => Err(to_status(&Error::invalid("view", format!("unknown view {view}")))),
        }
    }

    fn keeps(&self, number: u32) -> bool {
        match self {
            Fields::All => true,
            Fields::Basic => BASIC.contains(&number),
            Fields::Only(only) => only.binary_search(&number).is_ok(),
        }
    }

    /// The encoded `GetCodeResponse` with only these profile fields, framed for the wire: what GetCode
    /// sends.
    pub(crate) fn framed(&self, response: &Bytes) -> Result<Framed, Status> {
        Framed::new(&self.apply(response)?)
    }

    /// The answer to a request that asks for localities, framed for the wire. The localities asked for
    /// add their rows in any view (codes.proto): BASIC also keeps the benchmark rows of those localities,
    /// but not the national ones, so it stays small. Every other view is as [`Fields::framed`].
    pub(crate) fn framed_with_localities(&self, mut response: pb::GetCodeResponse) -> Result<Framed, Status> {
        if *self != Fields::Basic {
            return self.framed(&response.encode_to_vec().into());
        }
        if let Some(profile) = response.profile.as_mut() {
            profile.benchmarks.retain(|b| b.locality.is_some());
        }
        Fields::Only(BASIC_WITH_LOCALITIES.to_vec()).framed(&response.encode_to_vec().into())
    }

    /// The encoded `GetCodeResponse` with only these profile fields.
    fn apply(&self, response: &Bytes) -> Result<Bytes, Status> {
        if *self == Fields::All {
            return Ok(response.clone());
        }
        let mut rest: &[u8] = response;
        let mut kept = Vec::with_capacity(response.len().min(16 * 1024));
        while !rest.is_empty() {
            let (number, wire_type) = decode_key(&mut rest).map_err(broken)?;
            let length = decode_varint(&mut rest).map_err(broken)?;
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            if number != 1 || wire_type != WireType::LengthDelimited || length > rest.len() {
                return Err(Status::internal("a prepared GetCode answer is not a GetCodeResponse"));
            }
            let (profile, after) = rest.split_at(length);
            rest = after;
            self.keep_fields(profile, &mut kept).map_err(broken)?;
        }
        let mut out = Vec::with_capacity(kept.len() + 6);
        encode_key(1, WireType::LengthDelimited, &mut out);
        encode_varint(kept.len() as u64, &mut out);
        out.put_slice(&kept);
        Ok(out.into())
    }

    /// Copies the fields of an encoded `CodeProfile` that these fields keep.
    fn keep_fields(&self, mut profile: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        while !profile.is_empty() {
            let start = profile;
            let (number, wire_type) = decode_key(&mut profile).map_err(|e| e.to_string())?;
            let skip = match wire_type {
                WireType::Varint => {
                    decode_varint(&mut profile).map_err(|e| e.to_string())?;
                    0
                }
                WireType::SixtyFourBit => 8,
                WireType::ThirtyTwoBit => 4,
                WireType::LengthDelimited => {
                    usize::try_from(decode_varint(&mut profile).map_err(|e| e.to_string())?).unwrap_or(usize::MAX)
                }
                WireType::StartGroup | WireType::EndGroup => return Err("groups are not used by cptkit".into()),
            };
            if skip > profile.len() {
                return Err(format!("field {number} runs past the end of the profile"));
            }
            profile = &profile[skip..];
            if self.keeps(number) {
                out.extend_from_slice(&start[..start.len() - profile.len()]);
            }
        }
        Ok(())
    }
}

/// A prepared answer that does not decode: a bug, this request's INTERNAL error.
fn broken(error: impl std::fmt::Display) -> Status {
    Status::internal(format!("a prepared GetCode answer does not decode: {error}"))
}

/// `CodeProfile`'s field names and numbers, from the served file descriptor set.
fn profile_field_numbers() -> &'static HashMap<String, u32> {
    static NUMBERS: OnceLock<HashMap<String, u32>> = OnceLock::new();
    NUMBERS.get_or_init(|| {
        let files = prost_types::FileDescriptorSet::decode(cptkit_proto::FILE_DESCRIPTOR_SET).unwrap_or_default();
        files
            .file
            .iter()
            .filter(|file| file.package() == "cptkit.v1")
            .flat_map(|file| &file.message_type)
            .filter(|message| message.name() == "CodeProfile")
            .flat_map(|message| &message.field)
            .filter_map(|field| Some((field.name().to_owned(), u32::try_from(field.number()).ok()?)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> pb::CodeProfile {
        pb::CodeProfile {
            code: "00632".into(),
            description: "lumbar".into(),
            base_units: 7,
            modifiers: vec![pb::Modifier { code: "AA".into(), ..Default::default() }],
            fee_schedule: Some(pb::FeeScheduleProfile { status: "J".into(), ..Default::default() }),
            ..Default::default()
        }
    }

    fn encoded(profile: pb::CodeProfile) -> Bytes {
        pb::GetCodeResponse { profile: Some(profile) }.encode_to_vec().into()
    }

    #[test]
    fn a_view_is_the_message_with_the_other_fields_cleared() {
        let basic = Fields::Basic.apply(&encoded(profile())).expect("basic");
        let expected = pb::CodeProfile { modifiers: Vec::new(), ..profile() };
        assert_eq!(basic, encoded(expected));

        let mask = prost_types::FieldMask { paths: vec!["base_units".into(), "code".into()] };
        let only = Fields::of(0, Some(&mask)).expect("mask").apply(&encoded(profile())).expect("only");
        let expected = pb::CodeProfile { code: "00632".into(), base_units: 7, ..Default::default() };
        assert_eq!(only, encoded(expected));

        assert_eq!(Fields::All.apply(&encoded(profile())).expect("all"), encoded(profile()));
    }

    #[test]
    fn views_and_masks_are_read_from_the_request() {
        assert_eq!(Fields::of(pb::CodeView::Unspecified as i32, None).expect("unspecified"), Fields::All);
        assert_eq!(Fields::of(pb::CodeView::Full as i32, None).expect("full"), Fields::All);
        assert_eq!(Fields::of(pb::CodeView::Basic as i32, None).expect("basic"), Fields::Basic);
        let empty = prost_types::FieldMask { paths: Vec::new() };
        assert_eq!(Fields::of(pb::CodeView::Basic as i32, Some(&empty)).expect("empty mask"), Fields::Basic);
        let bad = prost_types::FieldMask { paths: vec!["code".into(), "fee_schedule.status".into()] };
        let status = Fields::of(0, Some(&bad)).expect_err("nested path");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().starts_with("read_mask.paths[1]: "), "{}", status.message());
        assert_eq!(Fields::of(9, None).expect_err("unknown view").code(), tonic::Code::InvalidArgument);
    }
}
