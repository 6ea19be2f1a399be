//! `cptkit.v1.ClaimService`: parse the claim (a malformed one names the request field, e.g.
//! `claim.lines[0].procedure_code`), let the core validate and price it, convert back. No domain
//! logic lives here.
//!
//! Field paths: a request the server cannot read names the request field (`claim.…`,
//! `options.conversion_factor`, `today`); a claim the core rejects names the claim field, as its
//! findings do (`lines[0].modifiers[1]`, or `conversion_factor` for the price options), so a client can match a
//! violation to a finding of `ValidateClaim`.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use cptkit_core::{Claim, Error, JudgeOptions, Judgement, PriceOptions, Verdict, today_utc};
use cptkit_proto::codec::RawDecoder;
use cptkit_proto::pb::claim_service_server::{ClaimService, ClaimServiceServer};
use cptkit_proto::{PricedClaimEncoder, pb};
use prost::{EncodeError, Message as _};
use time::Date;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status, Streaming};

use crate::access_log::{RequestLog, loggable_id};
use crate::data::{DataStore, ServerData};
use crate::prepared::{BoxFuture, PreparedCodec, PreparedRoutes};
use crate::process::{self, ProcessClaimsStream};
use crate::status::{to_claim_error, to_status};

const PROCESS_CLAIMS_PATH: &str = "/cptkit.v1.ClaimService/ProcessClaims";

/// tonic's response buffer for ProcessClaims: room for the default 32 KiB it hands to HTTP/2 at a
/// time plus one more answer, so it does not grow (and copy itself) on the way.
const STREAM_BUFFER: usize = 40 * 1024;
const STREAM_YIELD: usize = 32 * 1024;

/// Claims with more lines than this are judged on a blocking thread: validation compares lines
/// pairwise (duplicates), so a 4 MiB claim of tens of thousands of lines would hold a runtime worker.
const INLINE_LINES: usize = 32;

/// The ClaimService handlers, over the current [`ServerData`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClaimServiceImpl {
    store: DataStore,
}

/// A request's claim, read, with what to do with it.
struct Parsed {
    claim: Claim,
    options: JudgeOptions,
}

impl ClaimServiceImpl {
    pub fn new(store: DataStore) -> Self {
        ClaimServiceImpl { store }
    }

    /// A `ProcessClaims` call over its requests' bytes, answered with each response's encoded bytes.
    fn process_encoded(&self, extensions: &http::Extensions, inbound: impl process::Requests) -> ProcessClaimsStream {
        process::start(self.store.current(), inbound, RequestLog::of(extensions))
    }

    /// Answers on this thread, or on a blocking one for a large claim (judging and converting
    /// thousands of lines, steps and all, is milliseconds).
    async fn answer<T: Send + 'static>(
        &self,
        parsed: Parsed,
        answer: fn(&ServerData, &Parsed) -> T,
    ) -> Result<T, Status> {
        let data = self.store.current();
        if parsed.claim.lines.len() <= INLINE_LINES {
            return Ok(answer(&data, &parsed));
        }
        tokio::task::spawn_blocking(move || answer(&data, &parsed))
            .await
            .map_err(|e| Status::internal(format!("claim worker failed: {e}")))
    }
}

/// The core's one judge. A bug met on this claim is its INTERNAL error (logged here with the claim id
/// only): a stream goes on, a connection stays up.
fn judge(data: &ServerData, claim: &Claim, options: &JudgeOptions) -> Result<Judgement, Error> {
    data.judge(claim, options).inspect_err(|_| {
        tracing::error!(claim_id = %loggable_id(&claim.claim_id), "the core failed on a claim");
    })
}

fn validate_answer(data: &ServerData, parsed: &Parsed) -> Result<pb::ValidateClaimResponse, Status> {
    let Judgement { report, .. } = judge(data, &parsed.claim, &parsed.options).map_err(|e| to_status(&e))?;
    Ok(pb::ValidateClaimResponse { report: Some(report.into()) })
}

/// A claim rejected for its findings is INVALID_ARGUMENT with one violation per error finding.
fn price_answer(data: &ServerData, parsed: &Parsed) -> Result<pb::PriceClaimResponse, Status> {
    let judgement = judge(data, &parsed.claim, &parsed.options).map_err(|e| to_status(&e))?;
    let report = judgement.report.clone();
    let priced = judgement.into_priced().map_err(|e| to_status(&in_request(e)))?;
    Ok(pb::PriceClaimResponse { priced: Some(priced.into()), report: Some(report.into()) })
}

/// What the requests of one `ProcessClaims` chunk reuse, one after another: the previous request's
/// claim (the next one is read into it), the priced-claim encoder's buffers, and the tally of claims
/// judged, which goes into the metrics once a chunk rather than once a claim.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    claim: Option<Claim>,
    encoder: PricedClaimEncoder,
    judged: Judged,
}

/// Claims judged, and their lines.
#[derive(Debug, Default)]
struct Judged {
    claims: usize,
    lines: usize,
}

impl Judged {
    fn count(&mut self, claim: &Claim) {
        self.claims += 1;
        self.lines += claim.lines.len();
    }
}

impl Scratch {
    /// Counts the claims judged with this scratch (and their lines) for the request `log` is about.
    pub(crate) fn count_judged(&self, log: &RequestLog) {
        let Judged { claims, lines } = self.judged;
        if claims > 0 {
            log.count_judged(claims, lines);
        }
    }
}

/// One `ProcessClaims` request, answered into `buf` as an encoded `pb::ProcessClaimsResponse` (and
/// counted in `scratch` when judged). Never fails on a claim: a bad claim's answer carries its error;
/// the answer is whether it does.
pub(crate) fn process(
    data: &ServerData,
    request: pb::ProcessClaimsRequest,
    stream_today: Date,
    scratch: &mut Scratch,
    buf: &mut BytesMut,
) -> Result<bool, EncodeError> {
    let pb::ProcessClaimsRequest { request_id, claim, price, options, today } = request;
    let judged = parse(claim, &today, stream_today, price.then_some(options)).and_then(|parsed| {
        scratch.judged.count(&parsed.claim);
        judge(data, &parsed.claim, &parsed.options)
    });
    answer(request_id, judged, &mut scratch.encoder, buf)
}

/// One `ProcessClaims` request as its encoded bytes, answered as [`process`] answers it: read by the
/// fast reader into the scratch's claim (the previous request's, reused) when it is plainly
/// well-formed, else decoded with prost. Bytes that are not a request are the stream's
/// INVALID_ARGUMENT, as the generated decoder's. A request without `today` is judged against
/// `stream_today`, the date its stream began, as one batch is judged against one date.
pub(crate) fn process_encoded(
    data: &ServerData,
    bytes: &[u8],
    stream_today: Date,
    scratch: &mut Scratch,
    buf: &mut BytesMut,
) -> Result<bool, Status> {
    if let Some(request) = cptkit_proto::read_process_claims_request(bytes, &mut scratch.claim, stream_today)
        && let Some(claim) = scratch.claim.as_ref()
    {
        scratch.judged.count(claim);
        let judged = judge(data, claim, &request.options);
        return answer(request.request_id.to_owned(), judged, &mut scratch.encoder, buf).map_err(cannot_encode);
    }
    match pb::ProcessClaimsRequest::decode(bytes) {
        Ok(request) => process(data, request, stream_today, scratch, buf).map_err(cannot_encode),
        Err(error) => undecodable(bytes, &error, buf).map_err(cannot_encode),
    }
}

/// A message of the stream that is not a request (a string that is not UTF-8, a truncated field) gets
/// its own error, under its request id when that much reads; the stream goes on, its framing whole.
pub(crate) fn undecodable(bytes: &[u8], error: &prost::DecodeError, buf: &mut BytesMut) -> Result<bool, EncodeError> {
    // An error answer: no priced claim, so the encoder is never used (and an empty one allocates nothing).
    let error = Err(cptkit_proto::codec::not_protobuf_error(error));
    answer(request_id_of(bytes), error, &mut PricedClaimEncoder::default(), buf)
}

/// The request id (field 1) of a message that does not decode, read field by field from its start: a
/// field cut short or not UTF-8 after it does not hide it. Empty when the id itself does not read.
fn request_id_of(mut bytes: &[u8]) -> String {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    while !bytes.is_empty() {
        let Ok((tag, wire_type)) = decode_key(&mut bytes) else { break };
        if tag == 1 && wire_type == WireType::LengthDelimited {
            let id = decode_varint(&mut bytes).ok().and_then(|len| bytes.get(..usize::try_from(len).ok()?));
            return id.and_then(|id| std::str::from_utf8(id).ok()).unwrap_or_default().to_owned();
        }
        if skip_field(wire_type, tag, &mut bytes, DecodeContext::default()).is_err() {
            break;
        }
    }
    String::new()
}

pub(crate) fn cannot_encode(error: EncodeError) -> Status {
    Status::internal(format!("cannot encode an answer: {error}"))
}

/// A judged (or unreadable) claim's answer, encoded into `buf`; whether it carries an error.
fn answer(
    request_id: String,
    judged: Result<Judgement, Error>,
    encoder: &mut PricedClaimEncoder,
    buf: &mut BytesMut,
) -> Result<bool, EncodeError> {
    let mut response = pb::ProcessClaimsResponse { request_id, ..Default::default() };
    let mut priced = None;
    match judged {
        Err(error) => response.error = Some(to_claim_error(&error, None)),
        Ok(Judgement { report, verdict }) => {
            match verdict {
                Verdict::Priced(answer) => priced = Some(answer),
                Verdict::Validated => {}
                Verdict::Rejected => {
                    let error = in_request(cptkit_core::rejection(&report));
                    response.error = Some(to_claim_error(&error, Some(&report)));
                }
                Verdict::NotPriced(error) => response.error = Some(to_claim_error(&in_request(error), Some(&report))),
            }
            response.report = Some(report.into());
        }
    }
    response.encode(buf)?;
    // The priced claim is written straight from the core's answer, as field 3 (`priced`): after
    // `request_id` and `report` (1, 2), where prost would put it; a priced answer has no `error` (4).
    if let Some(priced) = priced {
        encoder.encode(3, &priced, buf);
    }
    Ok(response.error.is_some())
}

/// The requests' field that holds the claim. Errors name their fields in the request (AIP-193), so a
/// claim's own fields are named under it (`claim.lines[0].modifiers[1]`): a claim that cannot be read,
/// one rejected for its findings and one that cannot be priced alike. The validation report names
/// them in the claim, as every face's report does.
const CLAIM: &str = "claim";

/// A judged claim's error named in the request: under `options` when it names a price option (no
/// contract conversion factor given), else under `claim`; one that names no field stays so.
fn in_request(error: Error) -> Error {
    if error.violations().is_empty() {
        return error;
    }
    let root = if PriceOptions::names(error.loc()) { "options" } else { CLAIM };
    error.at(root)
}

/// Reads a request's claim, `today` (none: `default_today`) and (`Some` when pricing) options; errors
/// name the request field.
fn parse(
    claim: Option<pb::Claim>,
    today: &str,
    default_today: Date,
    options: Option<Option<pb::PriceOptions>>,
) -> cptkit_core::Result<Parsed> {
    let claim = claim.ok_or_else(|| Error::invalid(CLAIM, "is required"))?;
    let claim = Claim::try_from(claim).map_err(|e| e.at(CLAIM))?;
    let today = cptkit_proto::today(today)?.unwrap_or(default_today);
    let options = JudgeOptions { today, pricing: options.map(cptkit_proto::price_options).transpose()? };
    Ok(Parsed { claim, options })
}

#[tonic::async_trait]
impl ClaimService for ClaimServiceImpl {
    async fn validate_claim(
        &self,
        request: Request<pb::ValidateClaimRequest>,
    ) -> Result<Response<pb::ValidateClaimResponse>, Status> {
        let (_, extensions, pb::ValidateClaimRequest { claim, today }) = request.into_parts();
        let parsed = parse(claim, &today, today_utc(), None).map_err(|e| to_status(&e))?;
        RequestLog::record_claim(&extensions, &parsed.claim.claim_id);
        RequestLog::of(&extensions).count_judged(1, parsed.claim.lines.len());
        self.answer(parsed, validate_answer).await?.map(Response::new)
    }

    async fn price_claim(
        &self,
        request: Request<pb::PriceClaimRequest>,
    ) -> Result<Response<pb::PriceClaimResponse>, Status> {
        let (_, extensions, pb::PriceClaimRequest { claim, options, today }) = request.into_parts();
        let parsed = parse(claim, &today, today_utc(), Some(options)).map_err(|e| to_status(&e))?;
        RequestLog::record_claim(&extensions, &parsed.claim.claim_id);
        RequestLog::of(&extensions).count_judged(1, parsed.claim.lines.len());
        self.answer(parsed, price_answer).await?.map(Response::new)
    }

    type ProcessClaimsStream = Pin<Box<dyn Stream<Item = Result<pb::ProcessClaimsResponse, Status>> + Send>>;

    /// The generated server's path (for a caller that mounts `ClaimServiceServer` itself):
    /// [`ClaimServiceRoutes`] sends the encoded answers as they are; this decodes them back.
    async fn process_claims(
        &self,
        request: Request<Streaming<pb::ProcessClaimsRequest>>,
    ) -> Result<Response<Self::ProcessClaimsStream>, Status> {
        let (_, extensions, inbound) = request.into_parts();
        // Decoded by the generated server: encoded again for the one reader (decoding gives them back).
        let inbound = inbound.map(|request| request.map(|r| Bytes::from(r.encode_to_vec())));
        let answers = self.process_encoded(&extensions, inbound).map(|answer| {
            answer.and_then(|bytes| {
                pb::ProcessClaimsResponse::decode(bytes)
                    .map_err(|e| Status::internal(format!("cannot decode an answer: {e}")))
            })
        });
        Ok(Response::new(Box::pin(answers)))
    }
}

/// The ClaimService routes: ProcessClaims answers with the bytes its workers encoded, the rest
/// (ValidateClaim, PriceClaim) come from the generated server.
pub type ClaimServiceRoutes = PreparedRoutes<ClaimServiceServer<ClaimServiceImpl>>;

impl ClaimServiceRoutes {
    pub fn new(claims: ClaimServiceImpl, max_request_bytes: usize) -> Self {
        let generated = ClaimServiceServer::new(claims.clone()).max_decoding_message_size(max_request_bytes);
        let method = move |request| {
            let method = ProcessClaims(claims.clone());
            Box::pin(async move {
                // Each request's bytes go to the job undecoded: it reads them straight into a claim.
                let codec = PreparedCodec::<RawDecoder>::with_buffers(STREAM_BUFFER, STREAM_YIELD);
                let mut grpc =
                    tonic::server::Grpc::new(codec).apply_max_message_size_config(Some(max_request_bytes), None);
                grpc.streaming(method, request).await
            }) as BoxFuture<_>
        };
        PreparedRoutes::with_method(generated, PROCESS_CLAIMS_PATH, method)
    }
}

struct ProcessClaims(ClaimServiceImpl);

impl tonic::server::StreamingService<Bytes> for ProcessClaims {
    type Response = Bytes;
    type ResponseStream = ProcessClaimsStream;
    type Future = std::future::Ready<Result<Response<ProcessClaimsStream>, Status>>;

    fn call(&mut self, request: Request<Streaming<Bytes>>) -> Self::Future {
        let (_, extensions, inbound) = request.into_parts();
        std::future::ready(Ok(Response::new(self.0.process_encoded(&extensions, inbound))))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cptkit_core::synthetic::SyntheticClaims;
    use cptkit_core::{Reference, RuleBook};

    use super::*;

    /// The date the test streams began: what a request without `today` is judged against.
    const STREAM_DAY: Date = time::macros::date!(2026 - 11 - 27);

    /// The answer `process_encoded` gives (its bytes, or the stream's status as code and message).
    fn encoded_answer(data: &ServerData, bytes: &[u8], scratch: &mut Scratch) -> Result<Vec<u8>, String> {
        let mut buf = BytesMut::new();
        match process_encoded(data, bytes, STREAM_DAY, scratch, &mut buf) {
            Ok(_) => Ok(buf.to_vec()),
            Err(status) => Err(format!("{:?} {}", status.code(), status.message())),
        }
    }

    /// Today's path: the generated decoder, then `process`.
    fn decoded_answer(data: &ServerData, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut buf = BytesMut::new();
        match pb::ProcessClaimsRequest::decode(bytes) {
            Ok(request) => process(data, request, STREAM_DAY, &mut Scratch::default(), &mut buf).expect("encodes"),
            Err(error) => undecodable(bytes, &error, &mut buf).expect("encodes"),
        };
        Ok(buf.to_vec())
    }

    #[test]
    fn a_message_cut_short_keeps_its_request_id() {
        let request = pb::ProcessClaimsRequest {
            request_id: "r-7".to_owned(),
            claim: Some(SyntheticClaims::new(7).expect("synthetic claims").next().expect("a claim").into()),
            ..Default::default()
        };
        let bytes = request.encode_to_vec();
        // Cut inside the claim, after the id; the id first or after another field; no id.
        assert_eq!(request_id_of(&bytes[..bytes.len() / 2]), "r-7");
        let claim_first = pb::ProcessClaimsRequest { request_id: String::new(), ..request.clone() }.encode_to_vec();
        let id_after = [&claim_first[..], &[0x0a, 3], b"r-8"].concat();
        assert_eq!(request_id_of(&id_after), "r-8");
        assert_eq!(request_id_of(&claim_first[..claim_first.len() / 2]), "");
        assert_eq!(request_id_of(&[0x0a, 9, b'r']), "", "the id itself cut short");
    }

    #[test]
    fn a_request_without_today_is_judged_against_its_streams_date() {
        let data =
            ServerData::new(Reference::embedded().into(), Arc::new(RuleBook::embedded().clone()), Arc::default());
        let mut claim = SyntheticClaims::new(7).expect("synthetic claims").next().expect("a claim");
        // The day after the stream began: in the future for the stream, in the past for the clock.
        let next_day = STREAM_DAY.next_day().expect("a date");
        assert!(next_day < today_utc());
        for line in &mut claim.lines {
            line.date_of_service = next_day;
        }
        let request = pb::ProcessClaimsRequest { claim: Some(claim.into()), ..Default::default() };
        let bytes = request.encode_to_vec();
        for answer in [encoded_answer(&data, &bytes, &mut Scratch::default()), decoded_answer(&data, &bytes)] {
            let answer = pb::ProcessClaimsResponse::decode(answer.expect("an answer").as_slice()).expect("decodes");
            let findings = answer.report.expect("a report").findings;
            assert!(findings.iter().any(|f| f.edit_id == "DAT001"), "{findings:?}");
        }
    }

    /// A message of the stream that is not valid protobuf (a member id that is not UTF-8) is answered
    /// with its own error naming the field, under its request id, never quoting the value.
    #[test]
    fn a_message_that_is_not_protobuf_gets_its_own_error() {
        let data =
            ServerData::new(Reference::embedded().into(), Arc::new(RuleBook::embedded().clone()), Arc::default());
        let mut claim = SyntheticClaims::new(7).expect("synthetic claims").next().expect("a claim");
        claim.patient.member_id = "MEMBERXYZ".into();
        let request =
            pb::ProcessClaimsRequest { request_id: "r1".into(), claim: Some(claim.into()), ..Default::default() };
        let mut bytes = request.encode_to_vec();
        let at = bytes.windows(9).position(|w| w == b"MEMBERXYZ").expect("the member id");
        bytes[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
        let answer = encoded_answer(&data, &bytes, &mut Scratch::default()).expect("an answer, not a stream error");
        let answer = pb::ProcessClaimsResponse::decode(answer.as_slice()).expect("decodes");
        assert_eq!(answer.request_id, "r1");
        let error = answer.error.expect("its own error");
        assert_eq!(error.code, "INVALID_ARGUMENT");
        assert_eq!(error.violations[0].field, "claim.patient.member_id", "{error:?}");
        assert!(!error.message.contains("MBERXYZ"), "{}", error.message);
    }

    #[test]
    fn answers_from_the_bytes_are_the_answers_from_the_decoded_request() {
        let data =
            ServerData::new(Reference::embedded().into(), Arc::new(RuleBook::embedded().clone()), Arc::default());
        let mut scratch = Scratch::default();
        let (mut fast, mut seed) = (0, 0x13u64);
        for (i, claim) in SyntheticClaims::new(7).expect("synthetic claims").take(400).enumerate() {
            let request = pb::ProcessClaimsRequest {
                request_id: format!("r{i}"),
                claim: Some(claim.into()),
                price: i % 3 != 1,
                options: (i % 2 == 0)
                    .then(|| pb::PriceOptions { conversion_factor: "61.25".into(), ..Default::default() }),
                today: if i % 4 == 0 { "2026-02-01".into() } else { String::new() },
            };
            let bytes = request.encode_to_vec();
            fast += usize::from(cptkit_proto::read_process_claims_request(&bytes, &mut None, STREAM_DAY).is_some());
            assert_eq!(encoded_answer(&data, &bytes, &mut scratch), decoded_answer(&data, &bytes), "request {i}");
            // A truncated or altered request: the same answer or the same stream error.
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let at = usize::try_from(seed >> 33).expect("fits") % bytes.len();
            let mut altered = bytes.clone();
            altered[at] ^= 0x5a;
            for odd in [&bytes[..at], &altered[..]] {
                assert_eq!(encoded_answer(&data, odd, &mut scratch), decoded_answer(&data, odd), "request {i} at {at}");
            }
        }
        assert_eq!(fast, 400, "every well-formed request takes the fast reader");
    }
}
