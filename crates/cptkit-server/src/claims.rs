//! `cptkit.v1.ClaimService`: parse the claim (a malformed one names the request field, e.g.
//! `claim.lines[0].procedure_code`), let the core validate and price it, convert back. No domain
//! logic lives here.
//!
//! Field paths: a request the server cannot read names the request field (`claim.…`,
//! `options.conversion_factor`, `today`); a claim the core rejects names the claim field, as its
//! findings do (`lines[0].modifiers[1]`, or `conversion_factor` for the price options), so a client can match a
//! violation to a finding of `ValidateClaim`.

use cptkit_core::{Claim, Error, JudgeOptions, Judgement, Verdict};
use cptkit_proto::pb;
use cptkit_proto::pb::claim_service_server::ClaimService;
use tonic::{Request, Response, Status, Streaming};

use crate::access_log::{RequestLog, loggable_id};
use crate::data::{DataStore, ServerData};
use crate::process::{self, ProcessClaimsStream};
use crate::status::{to_claim_error, to_status};

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
fn judge(data: &ServerData, parsed: &Parsed) -> Result<Judgement, Error> {
    data.judge(&parsed.claim, &parsed.options).inspect_err(|_| {
        tracing::error!(claim_id = %loggable_id(&parsed.claim.claim_id), "the core failed on a claim");
    })
}

fn validate_answer(data: &ServerData, parsed: &Parsed) -> Result<pb::ValidateClaimResponse, Status> {
    let Judgement { report, .. } = judge(data, parsed).map_err(|e| to_status(&e))?;
    Ok(pb::ValidateClaimResponse { report: Some(report.into()) })
}

/// A claim rejected for its findings is INVALID_ARGUMENT with one violation per error finding.
fn price_answer(data: &ServerData, parsed: &Parsed) -> Result<pb::PriceClaimResponse, Status> {
    let judgement = judge(data, parsed).map_err(|e| to_status(&e))?;
    let report = judgement.report.clone();
    let priced = judgement.into_priced().map_err(|e| to_status(&e))?;
    Ok(pb::PriceClaimResponse { priced: Some(priced.into()), report: Some(report.into()) })
}

/// One `ProcessClaims` request, answered (and counted in `log` when judged). Never fails: a bad claim's
/// answer carries its error.
pub(crate) fn process(
    data: &ServerData,
    request: pb::ProcessClaimsRequest,
    log: &RequestLog,
) -> pb::ProcessClaimsResponse {
    let pb::ProcessClaimsRequest { request_id, claim, price, options, today } = request;
    let mut response = pb::ProcessClaimsResponse { request_id, ..Default::default() };
    let judged = parse(claim, &today, price.then_some(options)).and_then(|parsed| {
        log.count_judged(1, parsed.claim.lines.len());
        judge(data, &parsed)
    });
    match judged {
        Err(error) => response.error = Some(to_claim_error(&error, None)),
        Ok(Judgement { report, verdict }) => {
            match verdict {
                Verdict::Priced(priced) => response.priced = Some(priced.into()),
                Verdict::Validated => {}
                Verdict::Rejected => {
                    response.error = Some(to_claim_error(&cptkit_core::rejection(&report), Some(&report)));
                }
                Verdict::NotPriced(error) => response.error = Some(to_claim_error(&error, Some(&report))),
            }
            response.report = Some(report.into());
        }
    }
    response
}

/// Reads a request's claim, `today` (none: the core's default, today in UTC) and (`Some` when
/// pricing) options; errors name the request field.
fn parse(
    claim: Option<pb::Claim>,
    today: &str,
    options: Option<Option<pb::PriceOptions>>,
) -> cptkit_core::Result<Parsed> {
    let claim = claim.ok_or_else(|| Error::invalid("claim", "is required"))?;
    let claim = Claim::try_from(claim).map_err(|e| e.at("claim"))?;
    let options = JudgeOptions {
        today: cptkit_proto::today(today)?,
        pricing: options.map(cptkit_proto::price_options).transpose()?,
    };
    Ok(Parsed { claim, options })
}

#[tonic::async_trait]
impl ClaimService for ClaimServiceImpl {
    async fn validate_claim(
        &self,
        request: Request<pb::ValidateClaimRequest>,
    ) -> Result<Response<pb::ValidateClaimResponse>, Status> {
        let (_, extensions, pb::ValidateClaimRequest { claim, today }) = request.into_parts();
        let parsed = parse(claim, &today, None).map_err(|e| to_status(&e))?;
        RequestLog::record_claim(&extensions, &parsed.claim.claim_id);
        RequestLog::of(&extensions).count_judged(1, parsed.claim.lines.len());
        self.answer(parsed, validate_answer).await?.map(Response::new)
    }

    async fn price_claim(
        &self,
        request: Request<pb::PriceClaimRequest>,
    ) -> Result<Response<pb::PriceClaimResponse>, Status> {
        let (_, extensions, pb::PriceClaimRequest { claim, options, today }) = request.into_parts();
        let parsed = parse(claim, &today, Some(options)).map_err(|e| to_status(&e))?;
        RequestLog::record_claim(&extensions, &parsed.claim.claim_id);
        RequestLog::of(&extensions).count_judged(1, parsed.claim.lines.len());
        self.answer(parsed, price_answer).await?.map(Response::new)
    }

    type ProcessClaimsStream = ProcessClaimsStream;

    async fn process_claims(
        &self,
        request: Request<Streaming<pb::ProcessClaimsRequest>>,
    ) -> Result<Response<Self::ProcessClaimsStream>, Status> {
        let (_, extensions, inbound) = request.into_parts();
        let log = RequestLog::of(&extensions);
        Ok(Response::new(process::start(self.store.current(), inbound, log)))
    }
}
