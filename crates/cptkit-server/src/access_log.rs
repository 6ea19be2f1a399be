//! One log line per request: the RPC, the requested code (when a handler parsed one), the claim id
//! (unary ClaimService calls, once the claim parsed), the claim counts (ProcessClaims), the gRPC
//! status and the latency. Nothing else from the request is logged: claims carry patient data (member
//! ids, birth dates), which never reaches a log line.
//!
//! The line is written when the response ends (its trailers are sent), so the latency covers encoding
//! and the status is the one the client sees, including statuses that tonic produces before a handler
//! runs (a request over the size limit, an unknown method). A response the client abandons, or a
//! request dropped before it was answered (tonic's `--request-timeout`-style timeout, a closed
//! connection), is logged as CANCELLED; a request an inner layer fails with an error is logged with
//! the status tonic turns that error into.
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
use tonic::{Code, Status};

use crate::metrics::{self, InFlight, Method};
use crate::status::code_name;

/// Where a handler leaves what the log line may say about its request. Put in every request's
/// extensions by [`AccessLogLayer`]; a handler that finds none (called without the layer) records nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestLog(Arc<Fields>);

#[derive(Debug, Default)]
struct Fields {
    /// The tokens-file name of the authenticated caller (never the token).
    caller: OnceLock<String>,
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

    /// Records the name of the authenticated caller (a tokens-file entry's name).
    pub(crate) fn record_caller(extensions: &http::Extensions, name: &str) {
        if let Some(log) = extensions.get::<RequestLog>() {
            let _ = log.0.caller.set(name.to_owned());
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

/// A claim id (or any text from the caller: a request's path) as it may be logged: control and
/// non-ASCII characters become `?` and it is cut at 64 characters; it cannot forge or flood a log line.
pub(crate) fn loggable_id(claim_id: &str) -> String {
    claim_id.chars().take(MAX_LOGGED_ID).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect()
}

/// A request's path as the access log names its RPC: "/cptkit.v1.CodeService/GetCode" ->
/// "cptkit.v1.CodeService/GetCode". An unknown path is the caller's text, logged as a claim id is.
fn logged_rpc(path: &str) -> String {
    loggable_id(path.trim_start_matches('/'))
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
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    ResBody: Body<Data = bytes::Bytes> + Unpin + Send + 'static,
    ResBody::Error: Into<tonic::codegen::StdError>,
{
    // Boxed, so every layer outside (gRPC-Web, or none) sees one body type.
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let method = metrics::method(request.uri().path().trim_start_matches('/'));
        let rpc = logged_rpc(request.uri().path());
        let log = RequestLog(Arc::new(Fields { method: Some(method), ..Fields::default() }));
        request.extensions_mut().insert(log.clone());
        let entry = Entry { rpc, log, start: Instant::now(), in_flight: metrics::begin(method), written: false };
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut entry = entry;
            let response = match response.await {
                Ok(response) => response,
                Err(error) => {
                    // An inner layer failed the request (a load shed, a tower timeout): tonic answers
                    // with the status found in the error (its RecoverError), else resets the stream.
                    return Err(match Status::try_from_error(error.into()) {
                        Ok(status) => {
                            entry.write(code_name(status.code()));
                            Box::new(status) as BoxError
                        }
                        Err(error) => {
                            entry.write(code_name(Code::Unknown));
                            error
                        }
                    });
                }
            };
            // A response without a body (an error) has its status in the headers ("trailers-only").
            let entry = match grpc_status(response.headers()) {
                Some(status) => {
                    entry.write(code_name(status));
                    None
                }
                None => Some(entry),
            };
            Ok(response.map(|inner| tonic::body::Body::new(LoggedBody { inner, entry })))
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request whose line is not written yet; dropped unwritten, it is written as CANCELLED.
#[derive(Debug)]
struct Entry {
    rpc: String,
    log: RequestLog,
    start: Instant,
    /// Counts the request in flight until the entry drops.
    in_flight: InFlight,
    written: bool,
}

impl Entry {
    fn write(&mut self, status: &'static str) {
        if std::mem::replace(&mut self.written, true) {
            return;
        }
        let latency = self.start.elapsed();
        self.in_flight.finish(status, latency);
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let fields = &self.log.0;
        let caller = fields.caller.get().map(tracing::field::display);
        let code = fields.code.get().map(tracing::field::display);
        let claim_id = fields.claim_id.get().map(tracing::field::display);
        let streamed = fields.streamed.load(Ordering::Relaxed);
        let claims = streamed.then(|| fields.claims.load(Ordering::Relaxed));
        let claim_errors = streamed.then(|| fields.claim_errors.load(Ordering::Relaxed));
        tracing::info!(
            target: "cptkit_server::rpc",
            rpc = %self.rpc,
            caller,
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
        if let Some(mut entry) = self.entry.take() {
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

impl Drop for Entry {
    fn drop(&mut self) {
        // Dropped unwritten: the response was abandoned before its trailers were sent (the client went
        // away, the connection closed), or the request was dropped before it was answered (a timeout
        // around this layer).
        self.write(code_name(Code::Cancelled));
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Pending, Ready};

    use tower::{Layer as _, Service as _};

    use super::*;

    /// The inner service, answering every request with what `answer` gives.
    #[derive(Clone)]
    struct Answers(fn() -> Result<http::Response<tonic::body::Body>, BoxError>);

    impl tower::Service<http::Request<()>> for Answers {
        type Response = http::Response<tonic::body::Body>;
        type Error = BoxError;
        type Future = Ready<Result<http::Response<tonic::body::Body>, BoxError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready((self.0)())
        }
    }

    /// The inner service, never answering.
    #[derive(Clone)]
    struct Never;

    impl tower::Service<http::Request<()>> for Never {
        type Response = http::Response<tonic::body::Body>;
        type Error = BoxError;
        type Future = Pending<Result<http::Response<tonic::body::Body>, BoxError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::pending()
        }
    }

    #[test]
    fn an_unknown_path_is_logged_cut_and_cleaned() {
        assert_eq!(logged_rpc("/cptkit.v1.CodeService/GetCode"), "cptkit.v1.CodeService/GetCode");
        let caller = format!("/p/PATIENT\u{7}DOE{}JANE_DOB_19111111", "x".repeat(60));
        let logged = logged_rpc(&caller);
        assert_eq!(logged.len(), 64);
        assert!(logged.starts_with("p/PATIENT?DOExx") && !logged.contains("DOB"), "{logged}");
    }

    fn request(method: &str) -> http::Request<()> {
        http::Request::builder().uri(format!("/cptkit.v1.CodeService/{method}")).body(()).expect("request")
    }

    fn finished(method: &str, code: &str) -> f64 {
        let series = format!(
            r#"cptkit_grpc_requests_total{{grpc_service="cptkit.v1.CodeService",grpc_method="{method}",grpc_code="{code}"}}"#
        );
        metrics::sample(&series).unwrap_or(0.0)
    }

    // Each test uses its own method: the metrics are the process's, shared by the tests running at once.

    #[tokio::test]
    async fn an_inner_layers_error_is_counted_with_the_status_tonic_answers() {
        let mut service = AccessLogLayer.layer(Answers(|| Err(Box::new(Status::unavailable("shed")))));
        let error = service.call(request("GetTaxonomy")).await.expect_err("the inner error");
        let status = error.downcast::<Status>().expect("a status, as tonic answers it");
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(finished("GetTaxonomy", "UNAVAILABLE"), 1.0);
        assert!(metrics::sample(r#"cptkit_grpc_refused_total{grpc_code="UNAVAILABLE"}"#).is_some_and(|n| n >= 1.0));

        let mut service = AccessLogLayer.layer(Answers(|| Err("not a status".into())));
        service.call(request("GetModifier")).await.expect_err("the inner error");
        assert_eq!(finished("GetModifier", "UNKNOWN"), 1.0);
    }

    #[tokio::test]
    async fn a_request_dropped_before_its_answer_is_cancelled() {
        let mut service = AccessLogLayer.layer(Never);
        let pending = service.call(request("GetPlaceOfService"));
        // A timeout around this layer drops the request's future.
        drop(pending);
        assert_eq!(finished("GetPlaceOfService", "CANCELLED"), 1.0);
    }

    #[tokio::test]
    async fn a_trailers_only_answer_is_counted_once() {
        let mut service = AccessLogLayer.layer(Answers(|| {
            let mut response = http::Response::new(tonic::body::Body::empty());
            response.headers_mut().insert("grpc-status", http::HeaderValue::from_static("5"));
            Ok(response)
        }));
        let response = service.call(request("GetDiagnosis")).await.expect("answer");
        drop(response);
        assert_eq!(finished("GetDiagnosis", "NOT_FOUND"), 1.0);
        assert_eq!(finished("GetDiagnosis", "CANCELLED"), 0.0);
    }
}
