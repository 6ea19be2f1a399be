//! Overload protection and deadlines, one tower layer around every service.
//!
//! - **Load shedding.** At most `--max-concurrent-requests` requests are in progress at once, across
//!   all connections (a stream counts until it ends). One more is answered at once with
//!   RESOURCE_EXHAUSTED: nothing waits in a queue, so latency of the accepted requests stays bounded
//!   and a client can back off or go to another replica. Health checks are never shed.
//! - **Deadlines.** A request ends with DEADLINE_EXCEEDED when its `grpc-timeout` (or the server's
//!   `--request-timeout`, whichever is shorter) passes, also in the middle of a streamed response; the
//!   response body is dropped then, which stops the work behind it (a ProcessClaims stream's judging,
//!   a ParseClaims reader).
//!
//! tonic maps its own `grpc-timeout` expiry to CANCELLED; this layer sits inside it and its deadline
//! starts first, so the client gets DEADLINE_EXCEEDED.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::Status;
use tonic::body::Body;

const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// The limits of [`Limits`]: a global in-progress limit, and a default deadline.
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    permits: Arc<Semaphore>,
    max_in_progress: usize,
    request_timeout: Option<Duration>,
}

impl LimitsLayer {
    /// `max_in_progress` requests at once (0: no limit); `request_timeout` for requests without a
    /// shorter `grpc-timeout` (None: only the client's).
    pub fn new(max_in_progress: usize, request_timeout: Option<Duration>) -> Self {
        let permits = if max_in_progress == 0 { Semaphore::MAX_PERMITS } else { max_in_progress };
        LimitsLayer { permits: Arc::new(Semaphore::new(permits)), max_in_progress, request_timeout }
    }
}

impl<S> tower::Layer<S> for LimitsLayer {
    type Service = Limits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Limits { inner, limits: self.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Limits<S> {
    inner: S,
    limits: LimitsLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for Limits<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let health = request.uri().path().starts_with(HEALTH_PREFIX);
        let permit = if health {
            None
        } else {
            match Arc::clone(&self.limits.permits).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    let status = Status::resource_exhausted(format!(
                        "the server is at its limit of {} requests in progress; retry with backoff",
                        self.limits.max_in_progress
                    ));
                    return Box::pin(std::future::ready(Ok(status.into_http())));
                }
            }
        };
        let client = grpc_timeout(request.headers());
        // Health Watch streams live as long as their client wants: only a client deadline ends them.
        let server = if health { None } else { self.limits.request_timeout };
        let deadline = match (client, server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(|timeout| Instant::now() + timeout);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = match deadline {
                None => response.await?,
                Some(deadline) => match tokio::time::timeout_at(deadline, response).await {
                    Ok(response) => response?,
                    Err(_) => return Ok(deadline_exceeded().into_http()),
                },
            };
            if permit.is_none() && deadline.is_none() {
                return Ok(response);
            }
            let deadline = deadline.map(|d| Box::pin(tokio::time::sleep_until(d)));
            Ok(response.map(|inner| Body::new(LimitedBody { inner, deadline, _permit: permit, ended: false })))
        })
    }
}

fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the request's deadline passed before it finished")
}

/// A response body that holds its request's place in the limit until it ends, and ends with
/// DEADLINE_EXCEEDED when the deadline passes first.
struct LimitedBody {
    inner: Body,
    deadline: Option<Pin<Box<Sleep>>>,
    _permit: Option<OwnedSemaphorePermit>,
    ended: bool,
}

impl http_body::Body for LimitedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Status>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.ended = true;
            let mut trailers = http::HeaderMap::new();
            return Poll::Ready(Some(match deadline_exceeded().add_header(&mut trailers) {
                Ok(()) => Ok(Frame::trailers(trailers)),
                Err(status) => Err(status),
            }));
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The `grpc-timeout` header: at most 8 digits and a unit (H, M, S, m, u, n). A malformed one is
/// ignored, as tonic does.
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().expect("header value"));
        headers
    }

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(grpc_timeout(&header("5S")), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout(&header("250m")), Some(Duration::from_millis(250)));
        assert_eq!(grpc_timeout(&header("2H")), Some(Duration::from_secs(7200)));
        assert_eq!(grpc_timeout(&header("99999999n")), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "S", "5", "5s", "123456789S", "-1S", "1.5S"] {
            assert_eq!(grpc_timeout(&header(bad)), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }
}
