//! The protobuf codec of every cptkit service: prost's, except that a message that is not valid
//! protobuf is INVALID_ARGUMENT (the caller sent bad bytes) rather than prost's INTERNAL (which says
//! the server failed).

use std::marker::PhantomData;

use prost::Message;
use prost::bytes::Buf as _;
use tonic::codec::{DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::ProstEncoder;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Encodes `T`, decodes `U`.
#[derive(Debug, Clone)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = MessageDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder::default()
    }
}

/// Decodes one `U`; bytes that are not a `U` are INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct MessageDecoder<U>(PhantomData<U>);

impl<U> Default for MessageDecoder<U> {
    fn default() -> Self {
        MessageDecoder(PhantomData)
    }
}

impl<U: Message + Default> Decoder for MessageDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(not_protobuf)
    }
}

/// The status of request bytes that are not the message: INVALID_ARGUMENT with prost's reason, and a
/// `google.rpc.BadRequest` violation on the field when prost names one (as every bad field gets).
pub fn not_protobuf(error: prost::DecodeError) -> Status {
    let error = not_protobuf_error(&error);
    match error.field() {
        Some(field) => {
            let violation = FieldViolation::new(field, error.message());
            Status::with_error_details(
                Code::InvalidArgument,
                error.to_string(),
                ErrorDetails::with_bad_request(vec![violation]),
            )
        }
        None => Status::invalid_argument(error.to_string()),
    }
}

/// Request bytes that are not the message, as a core error: invalid input on the field prost names,
/// in the request's terms (`claim.patient.member_id`), with prost's reason (never a value).
pub fn not_protobuf_error(error: &prost::DecodeError) -> cptkit_core::Error {
    let message = format!("the message is not valid protobuf: {error}");
    match decode_error_field(error) {
        Some(field) => cptkit_core::Error::invalid(field, message),
        None => cptkit_core::Error::new(cptkit_core::ErrorKind::InvalidInput, message),
    }
}

/// The field a decode error is about, as the request names it; None when prost names none. prost lists
/// each `Message.field` it was in, innermost first, before its reason.
fn decode_error_field(error: &prost::DecodeError) -> Option<String> {
    let text = error.to_string();
    let is_name = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let mut fields: Vec<String> = text
        .strip_prefix("failed to decode Protobuf message: ")?
        .split(": ")
        .map_while(|part| part.split_once('.').filter(|(m, f)| is_name(m) && is_name(f)).map(|(_, f)| f.to_owned()))
        .collect();
    fields.reverse();
    (!fields.is_empty()).then(|| fields.join("."))
}

/// Yields each message's bytes as they are (no copy: they share tonic's buffer), for a handler that
/// reads them itself and decodes with [`MessageDecoder`]'s rules ([`not_protobuf`]) what it cannot.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = prost::bytes::Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<prost::bytes::Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}
