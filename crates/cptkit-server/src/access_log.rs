//! One log line per request: the RPC, the requested code (when a handler parsed one), the claim id
//! (unary ClaimService calls, once the claim parsed), the claim counts (ProcessClaims), the gRPC
//! status and the latency. Nothing else from the request is logged: claims carry patient data (member
//! ids, birth dates), which never reaches a log line.
//!
//! The line is written when the response ends (its trailers are sent), so the latency covers encoding
//! and the status is the one the client sees, including statuses that tonic produces before a handler
//! runs (a request over the size limit, an unknown method). A response the client abandons is logged
//! as CANCELLED.
//!
//! The same place records the request metrics ([`crate::metrics`]): the request in flight from its
//! arrival until its line is written, then its status and latency; and, as handlers judge claims, the
//! claims and lines judged.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use tonic::Code;

use crate::metrics::{self, InFlight, Method};
use crate::status::code_name;

/// Where a handler leaves what the log line may say about its request. Put in every request's
/// extensions by [`AccessLogLayer`]; a handler that finds none (called without the layer) records nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestLog(Arc<Fields>);

#[derive(Debug, Default)]
struct Fields {
    /// The request's method, for the metrics; `None` in a detached log.
    method: Option<&'static Method>,
    code: OnceLock<String>,
    claim_id: OnceLock<String>,
    /// Claims answered on a stream, and how many of those answers were errors.
    claims: AtomicU64,
    claim_errors: AtomicU64,
    streamed: AtomicBool,
}

/// Longest claim id written to the log; X12 CLM01 allows 38 characters.
const MAX_LOGGED_ID: usize = 64;

impl RequestLog {
    /// This request's log, or a detached one that nobody writes out.
    pub(crate) fn of(extensions: &http::Extensions) -> RequestLog {
        extensions.get::<RequestLog>().cloned().unwrap_or_default()
    }

    /// Records the requested code of this request. Only parsed codes are passed, never raw input.
    pub(crate) fn record_code(extensions: &http::Extensions, code: &impl std::fmt::Display) {
        if let Some(log) = extensions.get::<RequestLog>() {
            // A request has one code; a second call keeps the first.
            let _ = log.0.code.set(code.to_string());
        }
    }

    /// Records the id of the claim a unary call is about (only once the claim parsed), as
    /// [`loggable_id`] shows it.
    pub(crate) fn record_claim(extensions: &http::Extensions, claim_id: &str) {
        if let Some(log) = extensions.get::<RequestLog>() {
            let _ = log.0.claim_id.set(loggable_id(claim_id));
        }
    }

    /// Counts claims judged (validated or priced) for this request and their service lines; a metric,
    /// not part of the log line.
    pub(crate) fn count_judged(&self, claims: usize, lines: usize) {
        if let Some(method) = self.0.method {
            metrics::count_judged(method, claims, lines);
        }
    }

    /// Counts claims answered on a stream (`errors` of them with an error).
    pub(crate) fn count_claims(&self, claims: usize, errors: usize) {
        self.0.streamed.store(true, Ordering::Relaxed);
        self.0.claims.fetch_add(claims as u64, Ordering::Relaxed);
        self.0.claim_errors.fetch_add(errors as u64, Ordering::Relaxed);
    }
}

/// A claim id as it may be logged: free text from the caller, so control and non-ASCII characters
/// become `?` and it is cut at 64 characters; it cannot forge or flood a log line.
pub(crate) fn loggable_id(claim_id: &str) -> String {
    claim_id.chars().take(MAX_LOGGED_ID).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect()
}

/// A tower layer adding the access log to every service of the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer;

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for AccessLog<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<LoggedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        // "/cptkit.v1.CodeService/GetCode" -> "cptkit.v1.CodeService/GetCode"
        let rpc = request.uri().path().trim_start_matches('/').to_owned();
        let method = metrics::method(&rpc);
        let log = RequestLog(Arc::new(Fields { method: Some(method), ..Fields::default() }));
        request.extensions_mut().insert(log.clone());
        let entry = Entry { rpc, log, start: Instant::now(), in_flight: metrics::begin(method) };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            // A response without a body (an error) has its status in the headers ("trailers-only").
            let entry = match grpc_status(response.headers()) {
                Some(status) => {
                    entry.write(code_name(status));
                    None
                }
                None => Some(entry),
            };
            Ok(response.map(|inner| LoggedBody { inner, entry }))
        })
    }
}

/// A request whose line is not written yet.
#[derive(Debug)]
struct Entry {
    rpc: String,
    log: RequestLog,
    start: Instant,
    /// Counts the request in flight until the line is written (or the request is dropped unlogged).
    in_flight: InFlight,
}

impl Entry {
    fn write(self, status: &'static str) {
        let latency = self.start.elapsed();
        self.in_flight.finish(status, latency);
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let fields = &self.log.0;
        let code = fields.code.get().map(tracing::field::display);
        let claim_id = fields.claim_id.get().map(tracing::field::display);
        let streamed = fields.streamed.load(Ordering::Relaxed);
        let claims = streamed.then(|| fields.claims.load(Ordering::Relaxed));
        let claim_errors = streamed.then(|| fields.claim_errors.load(Ordering::Relaxed));
        tracing::info!(
            target: "cptkit_server::rpc",
            rpc = %self.rpc,
            code,
            claim_id,
            claims,
            claim_errors,
            status = %status,
            latency_us,
            "rpc"
        );
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    headers.get("grpc-status").map(|value| Code::from_bytes(value.as_bytes()))
}

/// A response body that writes the request's log line when its trailers go out.
#[derive(Debug)]
pub struct LoggedBody<B> {
    inner: B,
    entry: Option<Entry>,
}

impl<B> LoggedBody<B> {
    fn finish(&mut self, status: &'static str) {
        if let Some(entry) = self.entry.take() {
            entry.write(status);
        }
    }
}

impl<B: Body + Unpin> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(status) = frame.trailers_ref().and_then(grpc_status) {
                    this.finish(code_name(status));
                }
            }
            Poll::Ready(Some(Err(_))) => this.finish("UNKNOWN"),
            Poll::Ready(None) => this.finish("UNKNOWN"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for LoggedBody<B> {
    fn drop(&mut self) {
        // Dropped before its trailers were sent: the client went away or the connection closed.
        self.finish(code_name(Code::Cancelled));
    }
}
