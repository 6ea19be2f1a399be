//! Authentication, authorization and the per-caller rate limit, as one tower layer in front of every
//! service.
//!
//! With `--tokens-file`, a request names its caller by `authorization: Bearer <token>` (or, under
//! mutual TLS, by a client certificate whose subject an entry lists). No or an unknown token is
//! UNAUTHENTICATED; a service the caller may not call is PERMISSION_DENIED. Health is always open;
//! reflection is open with `--open-reflection`. The caller's name (never the token) goes to the access
//! log. With `--rate-limit N`, each caller (by name; without one, by peer IP) has a token bucket of N
//! per second with a burst of N; beyond it, RESOURCE_EXHAUSTED.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::Status;

use crate::access_log::RequestLog;
use crate::conn::ConnInfo;
use crate::security::Security;

const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION: [&str; 2] = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

/// The tower layer; one [`RateLimiter`] shared by every connection.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    security: Arc<Security>,
    limiter: Option<Arc<RateLimiter>>,
}

impl AuthLayer {
    pub fn new(security: Arc<Security>) -> AuthLayer {
        let limiter = security.rate_limit.map(|per_second| Arc::new(RateLimiter::new(per_second)));
        AuthLayer { security, limiter }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth { inner, layer: self.clone() }
    }
}

#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for Auth<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        match self.layer.admit(&request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}

impl AuthLayer {
    fn admit<B>(&self, request: &http::Request<B>) -> Result<(), Status> {
        // "/cptkit.v1.CodeService/GetCode" -> "cptkit.v1.CodeService"
        let service = request.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
        if service == HEALTH {
            return Ok(());
        }
        let connection = request.extensions().get::<ConnInfo>();
        let caller = match self.security.tokens() {
            Some(_) if self.security.open_reflection && REFLECTION.contains(&service) => None,
            Some(tokens) => {
                let caller = identify(&tokens, request.headers(), connection)?;
                RequestLog::record_caller(request.extensions(), &caller.name);
                if !caller.may_call(service) {
                    return Err(Status::permission_denied(format!("caller {} may not call {service}", caller.name)));
                }
                Some(caller.name.clone())
            }
            None => None,
        };
        if let Some(limiter) = &self.limiter {
            let key = match (&caller, connection.and_then(|c| c.remote_addr)) {
                (Some(name), _) => name.clone(),
                (None, Some(remote)) => remote.ip().to_string(),
                (None, None) => String::new(),
            };
            if !limiter.try_take(&key, Instant::now()) {
                let who = caller.as_deref().map_or_else(|| format!("peer {key}"), |name| format!("caller {name}"));
                return Err(Status::resource_exhausted(format!(
                    "rate limit of {who} exceeded: {} requests per second",
                    limiter.per_second
                )));
            }
        }
        Ok(())
    }
}

/// The caller of a request: its bearer token's entry, else its verified client certificate's.
fn identify(
    tokens: &crate::tokens::Tokens,
    headers: &http::HeaderMap,
    connection: Option<&ConnInfo>,
) -> Result<Arc<crate::tokens::Caller>, Status> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| Status::unauthenticated("the authorization header must be `Bearer <token>`"))?;
        return tokens.by_token(token).cloned().ok_or_else(|| Status::unauthenticated("unknown bearer token"));
    }
    match connection.and_then(|c| c.client_subject.as_deref()) {
        Some(subject) => tokens.by_subject(subject).cloned().ok_or_else(|| {
            Status::unauthenticated(format!("client certificate subject {subject:?} is not in the tokens file"))
        }),
        None => Err(Status::unauthenticated("missing bearer token (authorization: Bearer <token>)")),
    }
}

/// Token buckets by caller: `per_second` tokens a second, holding at most `per_second`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Beyond this many callers (peers by IP without tokens), full buckets are forgotten.
const MAX_BUCKETS: usize = 10_000;

impl RateLimiter {
    pub(crate) fn new(per_second: u32) -> RateLimiter {
        RateLimiter { per_second: per_second.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token from `key`'s bucket, if it has one at `now`.
    pub(crate) fn try_take(&self, key: &str, now: Instant) -> bool {
        let rate = f64::from(self.per_second);
        let refill =
            |bucket: &Bucket| (bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * rate).min(rate);
        // A poisoned lock only means another request panicked mid-update; the counts are still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| refill(bucket) < rate);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: rate, at: now });
        let tokens = refill(bucket);
        let taken = tokens >= 1.0;
        *bucket = Bucket { tokens: if taken { tokens - 1.0 } else { tokens }, at: now };
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn token_bucket_bursts_then_refills() {
        let limiter = RateLimiter::new(3);
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.try_take("a", start)), "a burst of 3");
        assert!(!limiter.try_take("a", start), "the 4th at once");
        assert!(limiter.try_take("b", start), "another caller has its own bucket");
        let later = start + Duration::from_millis(400); // 1.2 tokens back
        assert!(limiter.try_take("a", later));
        assert!(!limiter.try_take("a", later));
        let much_later = start + Duration::from_secs(60); // never more than the burst
        assert!((0..3).all(|_| limiter.try_take("a", much_later)));
        assert!(!limiter.try_take("a", much_later));
    }
}
