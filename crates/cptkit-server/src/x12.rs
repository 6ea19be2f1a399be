//! `cptkit.v1.X12Service`: 837P files in, claims (with where each finding came from) and
//! reconciliations against 835 remittances out. The X12 crate reads; the core validates and prices;
//! `cptkit-proto` converts. No domain logic lives here.
//!
//! **ParseClaims streams as it reads.** The reader runs on a blocking thread and hands each item to
//! a bounded channel of [`STREAM_ITEMS`] responses that the response stream drains: when the client
//! reads slowly the channel fills, the reader waits, and the server holds one transaction set's
//! claims plus the channel, not the whole file's. When the client goes away the channel closes and
//! the reader stops at its next item. The request itself (the file) is held whole: its size is
//! bounded by `--max-x12-bytes`.
//!
//! **Access log.** Counts only (claims read, and of those items how many were errors or rejected
//! claims): an 837 holds member ids, names and birth dates, none of which is logged.

use std::io::Cursor;

use cptkit_core::{Claim, Error, JudgeOptions};
use cptkit_proto::pb;
use cptkit_proto::pb::parse_claims_response::Item;
use cptkit_proto::pb::x12_service_server::X12Service;
use cptkit_x12::{ReadOptions, Reader837, ReconcileOptions, core_pricer, read_835, read_837, reconcile};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::access_log::RequestLog;
use crate::data::{DataStore, ServerData};
use crate::status::{to_claim_error, to_status};

/// Responses waiting for the client to read them, per ParseClaims stream.
pub const STREAM_ITEMS: usize = 64;

/// The X12Service handlers, over the current [`ServerData`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct X12ServiceImpl {
    store: DataStore,
}

/// The responses of one `ParseClaims` call, in file order.
pub type ParseClaimsStream = ReceiverStream<Result<pb::ParseClaimsResponse, Status>>;

fn item(item: Item) -> Result<pb::ParseClaimsResponse, Status> {
    Ok(pb::ParseClaimsResponse { item: Some(item) })
}

/// Panics in the reader or the core (a bug) end the call with INTERNAL; the server goes on.
fn internal(what: &str) -> Status {
    tracing::error!("{what} panicked");
    Status::internal(format!("cptkit failed while {what} (an internal error, logged on the server)"))
}

impl X12ServiceImpl {
    pub fn new(store: DataStore) -> Self {
        X12ServiceImpl { store }
    }
}

/// A request's read options, with the payer tables of the snapshot's reference data.
fn reader_options(data: &ServerData, options: Option<pb::X12ReadOptions>) -> cptkit_core::Result<ReadOptions> {
    let options = cptkit_proto::read_options(options)?;
    Ok(ReadOptions { payers: data.reference().payers().clone(), ..options })
}

impl ServerData {
    /// Reads the 837 and sends each item; returns early when the client has gone.
    fn parse_into<R: std::io::Read>(
        &self,
        x12: R,
        options: ReadOptions,
        validate: Option<JudgeOptions>,
        out: &mpsc::Sender<Result<pb::ParseClaimsResponse, Status>>,
        log: &RequestLog,
    ) {
        let send = |response: Result<pb::ParseClaimsResponse, Status>, claims: usize, errors: usize| {
            log.count_claims(claims, errors);
            out.blocking_send(response).is_ok()
        };
        // On this thread: the input arrives over the network, and each transaction is answered as soon
        // as it is read (the parallel reader holds a transaction until it sees what follows it).
        // Requests run side by side on the server's cores instead.
        for read in Reader837::with_threads(x12, options, 1) {
            match read {
                Err(error) => {
                    if !send(item(Item::Error(error.into())), 0, 1) {
                        return;
                    }
                }
                Ok(transaction) => {
                    let summary = cptkit_proto::transaction_summary(transaction.envelope, &transaction.body);
                    if !send(item(Item::Transaction(summary)), 0, 0) {
                        return;
                    }
                    let cptkit_x12::Claims837 { claims, rejected, problems: _ } = transaction.body;
                    for parsed in claims {
                        // A bug met on one claim is that claim's INTERNAL error; the stream goes on.
                        let judged = validate.as_ref().map(|o| {
                            log.count_judged(1, parsed.claim.lines.len());
                            self.judge(&parsed.claim, o)
                        });
                        let (report, error) = match judged {
                            None => (None, None),
                            Some(Ok(judgement)) => (Some(judgement.report), None),
                            Some(Err(error)) => (None, Some(to_claim_error(&error, None))),
                        };
                        let mut claim = cptkit_proto::parsed_claim(parsed, report);
                        claim.validation_error = error;
                        if !send(item(Item::Claim(claim)), 1, 0) {
                            return;
                        }
                    }
                    for claim in rejected {
                        if !send(item(Item::Rejected(claim.into())), 1, 1) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// `cancelled` says the caller went away (the deadline passed, or the client cancelled): the work
    /// stops after the file or claim in hand, and there is no answer.
    fn reconcile_answer(&self, request: ReconcileInput, cancelled: impl Fn() -> bool) -> Option<pb::ReconcileResponse> {
        let ReconcileInput { claims_837, remittance_835, judge, tolerance, read_options } = request;
        // The 835's payer is named as the 837's is: the same read options.
        let file = read_837(&claims_837[..], read_options.clone());
        drop(claims_837);
        if cancelled() {
            return None;
        }
        let remits = read_835(&remittance_835[..]);
        drop(remittance_835);
        if cancelled() {
            return None;
        }

        let mut errors_837: Vec<pb::X12Error> = file.errors.into_iter().map(Into::into).collect();
        let mut rejected = Vec::new();
        let mut claims = Vec::new();
        for transaction in file.transactions {
            let cptkit_x12::Claims837 { claims: parsed, rejected: bad, problems } = transaction.body;
            claims.extend(parsed);
            rejected.extend(bad.into_iter().map(pb::X12RejectedClaim::from));
            errors_837.extend(problems.into_iter().map(pb::X12Error::from));
        }
        let mut errors_835: Vec<pb::X12Error> = remits.errors.into_iter().map(Into::into).collect();
        let remittances: Vec<_> = remits.transactions.into_iter().map(|t| t.body).collect();

        let mut judge = core_pricer(self.reference(), &judge, &self.rules);
        // Once cancelled, the claims left are refused at once instead of judged; no one reads the result.
        let pricer =
            |claim: &Claim| if cancelled() { Err(Error::internal("the caller went away")) } else { judge(claim) };
        let result = reconcile(&claims, &remittances, pricer, &ReconcileOptions { tolerance, read_options });
        if cancelled() {
            return None;
        }
        let mut response = pb::ReconcileResponse::from(result);
        response.claims_837_errors = errors_837;
        response.rejected_claims = rejected;
        // The envelope errors first, then the problems inside the transactions (the result's).
        errors_835.append(&mut response.remittance_835_errors);
        response.remittance_835_errors = errors_835;
        Some(response)
    }
}

/// A Reconcile request, read.
struct ReconcileInput {
    claims_837: Vec<u8>,
    remittance_835: Vec<u8>,
    judge: JudgeOptions,
    tolerance: rust_decimal::Decimal,
    read_options: ReadOptions,
}

fn require_bytes(field: &str, bytes: &[u8]) -> Result<(), Status> {
    if bytes.is_empty() {
        return Err(to_status(&Error::invalid(field, "is required (the X12 file's bytes)")));
    }
    Ok(())
}

#[tonic::async_trait]
impl X12Service for X12ServiceImpl {
    type ParseClaimsStream = ParseClaimsStream;

    async fn parse_claims(
        &self,
        request: Request<pb::ParseClaimsRequest>,
    ) -> Result<Response<Self::ParseClaimsStream>, Status> {
        let (_, extensions, pb::ParseClaimsRequest { x12, read_options, today, validate }) = request.into_parts();
        require_bytes("x12", &x12)?;
        let data = self.store.current();
        let options = reader_options(&data, read_options).map_err(|e| to_status(&e))?;
        let judge = JudgeOptions::new(cptkit_proto::today(&today).map_err(|e| to_status(&e))?, None);
        let log = RequestLog::of(&extensions);
        log.count_claims(0, 0);

        let (out, responses) = mpsc::channel(STREAM_ITEMS);
        tokio::task::spawn_blocking(move || {
            let run = std::panic::AssertUnwindSafe(|| {
                data.parse_into(Cursor::new(x12), options, validate.then_some(judge), &out, &log)
            });
            if std::panic::catch_unwind(run).is_err() {
                let _ = out.blocking_send(Err(internal("reading the 837")));
            }
        });
        Ok(Response::new(ReceiverStream::new(responses)))
    }

    async fn reconcile(
        &self,
        request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        let (_, extensions, request) = request.into_parts();
        let pb::ReconcileRequest { claims_837, remittance_835, options, today, tolerance, read_options } = request;
        require_bytes("claims_837", &claims_837)?;
        require_bytes("remittance_835", &remittance_835)?;
        let data = self.store.current();
        let parse = || -> cptkit_core::Result<ReconcileInput> {
            Ok(ReconcileInput {
                claims_837,
                remittance_835,
                judge: JudgeOptions::new(cptkit_proto::today(&today)?, Some(cptkit_proto::price_options(options)?)),
                tolerance: cptkit_proto::tolerance(&tolerance)?,
                read_options: reader_options(&data, read_options)?,
            })
        };
        let input = parse().map_err(|e| to_status(&e))?;
        let log = RequestLog::of(&extensions);
        // The answer comes back through a channel whose receiver is this call: when the call is dropped
        // (its deadline passed, or the client cancelled), the worker sees the channel closed and stops.
        let (answer, answered) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let run = std::panic::AssertUnwindSafe(|| data.reconcile_answer(input, || answer.is_closed()));
            match std::panic::catch_unwind(run) {
                Ok(Some(response)) => _ = answer.send(Ok(response)),
                Ok(None) => tracing::debug!("reconcile stopped: the caller went away"),
                Err(_) => _ = answer.send(Err(internal("reconciling"))),
            }
        });
        let response = answered.await.map_err(|_| Status::internal("the reconcile worker gave no answer"))??;
        let lines: usize = response.claims.iter().map(|c| c.lines.len()).sum();
        let errors =
            response.rejected_claims.len() + response.claims_837_errors.len() + response.remittance_835_errors.len();
        // Claims here are the reconciled claim ids; errors, every error of both files and rejected claim.
        log.count_claims(response.claims.len(), errors);
        tracing::debug!(claims = response.claims.len(), lines, errors, "reconciled");
        Ok(Response::new(response))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Read;
    use std::time::Duration;

    use std::sync::Arc;

    use cptkit_core::{Reference, RuleBook};

    use super::*;

    fn embedded() -> ServerData {
        ServerData::new(Reference::embedded().into(), Arc::new(RuleBook::embedded().clone()), Arc::default())
    }

    /// Gives `first`, then blocks until the test sends the rest of the input.
    struct Gated {
        first: Cursor<Vec<u8>>,
        gate: std::sync::mpsc::Receiver<Vec<u8>>,
        rest: Option<Cursor<Vec<u8>>>,
    }

    impl Read for Gated {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.first.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            let gate = &self.gate;
            self.rest.get_or_insert_with(|| Cursor::new(gate.recv().unwrap_or_default())).read(buf)
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../tests/fixtures/x12/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[tokio::test]
    async fn claims_are_sent_before_the_rest_of_the_input_is_read() {
        let service = embedded();
        let bytes = fixture("837p_two_interchanges.x12");
        let (open, gate) = std::sync::mpsc::channel();
        let input = Gated { first: Cursor::new(bytes.clone()), gate, rest: None };
        let (out, mut responses) = mpsc::channel(STREAM_ITEMS);
        let reader = tokio::task::spawn_blocking(move || {
            service.parse_into(input, ReadOptions::default(), None, &out, &RequestLog::default())
        });
        // The reader is blocked on the rest of the input, yet the first claims are here.
        let guard = Duration::from_secs(60);
        let mut claims = 0;
        while claims < 2 {
            let response = tokio::time::timeout(guard, responses.recv()).await.unwrap().unwrap().unwrap();
            if let Some(Item::Claim(_)) = response.item {
                claims += 1;
            }
        }
        assert!(!reader.is_finished());
        open.send(bytes).unwrap();
        while let Some(response) = tokio::time::timeout(guard, responses.recv()).await.unwrap() {
            if let Some(Item::Claim(_)) = response.unwrap().item {
                claims += 1;
            }
        }
        assert_eq!(claims, 4);
        reader.await.unwrap();
    }

    #[tokio::test]
    async fn a_full_channel_holds_the_reader_back() {
        let service = embedded();
        let one = fixture("837p_two_interchanges.x12");
        let copies = STREAM_ITEMS * 4;
        let input = one.repeat(copies);
        let total = input.len();
        let (out, responses) = mpsc::channel(STREAM_ITEMS);
        let (read_tx, read_rx) = std::sync::mpsc::channel::<u64>();
        let reader = tokio::task::spawn_blocking(move || {
            let counted = Counted { inner: Cursor::new(input), read: 0, report: read_tx };
            service.parse_into(counted, ReadOptions::default(), None, &out, &RequestLog::default())
        });
        // Nobody reads: the channel fills and the reader waits with the input mostly unread.
        let guard = std::time::Instant::now();
        while responses.len() < STREAM_ITEMS {
            assert!(guard.elapsed() < Duration::from_secs(60), "the channel never filled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let read = read_rx.try_iter().last().unwrap_or(0);
        assert!(read < total as u64 / 2, "read {read} of {total} bytes with nobody reading");
        // Dropping the receiver (the client going away) ends the reader.
        drop(responses);
        tokio::time::timeout(Duration::from_secs(60), reader).await.unwrap().unwrap();
    }

    fn reconcile_input() -> ReconcileInput {
        ReconcileInput {
            claims_837: fixture("837p_two_interchanges.x12").repeat(20),
            remittance_835: fixture("835_commercial.x12"),
            judge: JudgeOptions::new(None, Some(cptkit_core::PriceOptions::default())),
            tolerance: rust_decimal::Decimal::ZERO,
            read_options: ReadOptions::default(),
        }
    }

    /// Answers `cancelled` as a caller that goes away at its `at`-th question would, counting them.
    fn gone_at(at: usize, asked: &std::cell::Cell<usize>) -> impl Fn() -> bool + '_ {
        move || {
            asked.set(asked.get() + 1);
            asked.get() >= at
        }
    }

    #[test]
    fn reconcile_answers_a_caller_that_stays() {
        let asked = std::cell::Cell::new(0);
        let response = embedded().reconcile_answer(reconcile_input(), gone_at(usize::MAX, &asked)).unwrap();
        // Twenty copies of an 837 of two claims: 40 claims under two claim ids.
        assert_eq!(response.claims.len(), 2);
        // Asked after each file, before each of the 40 claims is judged, and at the end.
        assert_eq!(asked.get(), 2 + 40 + 1);
    }

    #[test]
    fn reconcile_stops_when_the_caller_goes_away() {
        // Gone while the 837 was read: the 835 is not read, nothing is judged.
        let asked = std::cell::Cell::new(0);
        assert!(embedded().reconcile_answer(reconcile_input(), gone_at(1, &asked)).is_none());
        assert_eq!(asked.get(), 1);
        // Gone before the third claim is judged: two were, the other 38 are not, and there is no answer.
        let judged = std::cell::Cell::new(0);
        let gone = gone_at(2 + 3, &asked);
        asked.set(0);
        let counting = || {
            let gone = gone();
            judged.set(judged.get() + usize::from(!gone));
            gone
        };
        assert!(embedded().reconcile_answer(reconcile_input(), counting).is_none());
        assert_eq!(judged.get(), 2 + 2, "asked after both files, then two claims judged");
    }

    /// Reports how many bytes have been read.
    struct Counted {
        inner: Cursor<Vec<u8>>,
        read: u64,
        report: std::sync::mpsc::Sender<u64>,
    }

    impl Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // Small reads, so the count follows the reader closely.
            let len = buf.len().min(4096);
            let n = self.inner.read(&mut buf[..len])?;
            self.read += n as u64;
            let _ = self.report.send(self.read);
            Ok(n)
        }
    }
}
