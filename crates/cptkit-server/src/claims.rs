//! `cptkit.v1.ClaimService`: parse the claim (a malformed one names the request field, e.g.
//! `claim.lines[0].procedure_code`), let the core validate and price it, convert back. No domain
//! logic lives here.
//!
//! Field paths: a request the server cannot read names the request field (`claim.…`,
//! `options.conversion_factor`, `today`); a claim the core rejects names the claim field, as its
//! findings do (`lines[0].modifiers[1]`, or `conversion_factor` for the price options), so a client can match a
//! violation to a finding of `ValidateClaim`.

use std::sync::Arc;

use cptkit_core::{Claim, Error, PricedClaim, RuleBook, ValidationContext, ValidationReport};
use cptkit_proto::pb;
use cptkit_proto::pb::claim_service_server::ClaimService;
use time::Date;
use tonic::{Request, Response, Status, Streaming};

use crate::access_log::{RequestLog, loggable_id};
use crate::process::{self, ProcessClaimsStream};
use crate::service::SharedReference;
use crate::status::{to_claim_error, to_status};

/// Claims with more lines than this are judged on a blocking thread: validation compares lines
/// pairwise (duplicates), so a 4 MiB claim of tens of thousands of lines would hold a runtime worker.
const INLINE_LINES: usize = 32;

/// The ClaimService handlers, over the server's reference data and rule book. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClaimServiceImpl {
    reference: SharedReference,
    rules: Arc<RuleBook>,
}

/// A request's claim, read: the claim, its validation context and (when it is to be priced) its options.
struct Parsed {
    claim: Claim,
    context: ValidationContext,
    options: Option<cptkit_core::PriceOptions>,
}

/// What the core said about one claim.
struct Judged {
    report: ValidationReport,
    priced: Option<Result<PricedClaim, Error>>,
}

impl ClaimServiceImpl {
    pub fn new(reference: SharedReference, rules: Arc<RuleBook>) -> Self {
        ClaimServiceImpl { reference, rules }
    }

    /// Validates, and with options prices from that same report (the core never prices an invalid
    /// claim); the report is returned with its warnings.
    ///
    /// A panic in the core (a bug, e.g. an arithmetic overflow on an absurd input) is caught here and
    /// becomes an INTERNAL error for this claim alone: a stream goes on, a connection stays up.
    fn judge(&self, parsed: &Parsed) -> Result<Judged, Error> {
        let judge = || {
            let report = self.reference.validate(&parsed.claim, &parsed.context);
            let priced = parsed
                .options
                .as_ref()
                .map(|options| self.reference.price_validated(&parsed.claim, &report, options, &self.rules));
            Judged { report, priced }
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(judge)).map_err(|_| {
            tracing::error!(claim_id = %loggable_id(&parsed.claim.claim_id), "the core panicked on a claim");
            Error::internal("cptkit failed on this claim (an internal error, logged on the server)")
        })
    }

    /// Answers on this thread, or on a blocking one for a large claim (judging and converting
    /// thousands of lines, steps and all, is milliseconds).
    async fn answer<T: Send + 'static>(&self, parsed: Parsed, answer: fn(&Self, &Parsed) -> T) -> Result<T, Status> {
        if parsed.claim.lines.len() <= INLINE_LINES {
            return Ok(answer(self, &parsed));
        }
        let service = self.clone();
        tokio::task::spawn_blocking(move || answer(&service, &parsed))
            .await
            .map_err(|e| Status::internal(format!("claim worker failed: {e}")))
    }

    fn validate_answer(&self, parsed: &Parsed) -> Result<pb::ValidateClaimResponse, Status> {
        let Judged { report, .. } = self.judge(parsed).map_err(|e| to_status(&e))?;
        Ok(pb::ValidateClaimResponse { report: Some(report.into()) })
    }

    fn price_answer(&self, parsed: &Parsed) -> Result<pb::PriceClaimResponse, Status> {
        let Judged { report, priced } = self.judge(parsed).map_err(|e| to_status(&e))?;
        let priced = priced.ok_or_else(|| Status::internal("the claim was not priced"))?;
        let priced = priced.map_err(|e| to_status(&e))?;
        Ok(pb::PriceClaimResponse { priced: Some(priced.into()), report: Some(report.into()) })
    }

    /// One `ProcessClaims` request, answered. Never fails: a bad claim's answer carries its error.
    pub(crate) fn process(&self, request: pb::ProcessClaimsRequest, default_today: Date) -> pb::ProcessClaimsResponse {
        let pb::ProcessClaimsRequest { request_id, claim, price, options, today } = request;
        let mut response = pb::ProcessClaimsResponse { request_id, ..Default::default() };
        match parse(claim, &today, default_today, price.then_some(options)) {
            Err(error) => response.error = Some(to_claim_error(&error, None)),
            Ok(parsed) => match self.judge(&parsed) {
                Err(error) => response.error = Some(to_claim_error(&error, None)),
                Ok(Judged { report, priced }) => {
                    match priced {
                        Some(Ok(priced)) => response.priced = Some(priced.into()),
                        Some(Err(error)) => response.error = Some(to_claim_error(&error, Some(&report))),
                        None => {}
                    }
                    response.report = Some(report.into());
                }
            },
        }
        response
    }
}

/// The server's date, for requests that give no `today`: UTC, so every instance agrees.
pub(crate) fn server_today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// Reads a request's claim, `today` and (`Some` when pricing) options; errors name the request field.
fn parse(
    claim: Option<pb::Claim>,
    today: &str,
    default_today: Date,
    options: Option<Option<pb::PriceOptions>>,
) -> cptkit_core::Result<Parsed> {
    let claim = claim.ok_or_else(|| Error::invalid("claim", "is required"))?;
    let claim = Claim::try_from(claim).map_err(|e| e.at("claim"))?;
    let context = ValidationContext { today: cptkit_proto::today(today, default_today)? };
    let options = options.map(cptkit_proto::price_options).transpose()?;
    Ok(Parsed { claim, context, options })
}

#[tonic::async_trait]
impl ClaimService for ClaimServiceImpl {
    async fn validate_claim(
        &self,
        request: Request<pb::ValidateClaimRequest>,
    ) -> Result<Response<pb::ValidateClaimResponse>, Status> {
        let (_, extensions, pb::ValidateClaimRequest { claim, today }) = request.into_parts();
        let parsed = parse(claim, &today, server_today(), None).map_err(|e| to_status(&e))?;
        RequestLog::record_claim(&extensions, &parsed.claim.claim_id);
        self.answer(parsed, Self::validate_answer).await?.map(Response::new)
    }

    async fn price_claim(
        &self,
        request: Request<pb::PriceClaimRequest>,
    ) -> Result<Response<pb::PriceClaimResponse>, Status> {
        let (_, extensions, pb::PriceClaimRequest { claim, options, today }) = request.into_parts();
        let parsed = parse(claim, &today, server_today(), Some(options)).map_err(|e| to_status(&e))?;
        RequestLog::record_claim(&extensions, &parsed.claim.claim_id);
        self.answer(parsed, Self::price_answer).await?.map(Response::new)
    }

    type ProcessClaimsStream = ProcessClaimsStream;

    async fn process_claims(
        &self,
        request: Request<Streaming<pb::ProcessClaimsRequest>>,
    ) -> Result<Response<Self::ProcessClaimsStream>, Status> {
        let (_, extensions, inbound) = request.into_parts();
        let log = RequestLog::of(&extensions);
        Ok(Response::new(process::start(self.clone(), inbound, log)))
    }
}
