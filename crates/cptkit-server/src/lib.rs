//! cptkit gRPC server: `cptkit.v1.CodeService`, `cptkit.v1.ClaimService` and `cptkit.v1.X12Service`
//! over the core, plus `grpc.health.v1`, server reflection, an access log, request-size limits and
//! graceful shutdown, and what production needs: TLS and mutual TLS ([`Security`]), bearer tokens and
//! a per-caller rate limit ([`AuthLayer`]), load shedding and deadlines ([`LimitsLayer`]), idle and
//! aged connections closed ([`ConnectionLayer`]), Prometheus metrics, non-blocking logs, hot reload
//! ([`Reloader`], [`DataStore`]) and gRPC-Web.
//!
//! Transport only: requests are parsed into core values (`cptkit-proto` conversions), the core
//! answers, and core errors become statuses in one place ([`status`]). No domain logic lives here.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = cptkit_server::Config::default();
//! let reference = cptkit_server::load_reference(None)?;
//! let rules = cptkit_server::load_rules(&config.rule_sets)?;
//! let benchmarks = cptkit_server::load_benchmarks(config.benchmarks_dir.as_deref())?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! cptkit_server::serve_with_benchmarks(listener, reference, rules, benchmarks, &config, shutdown).await?;
//! # Ok(())
//! # }
//! ```

mod access_log;
mod auth;
mod claims;
mod config;
mod conn;
mod data;
mod health;
mod limits;
mod logging;
mod metrics;
mod prepared;
pub mod process;
mod reload;
mod rules;
mod security;
mod service;
pub mod status;
mod tokens;
mod view;
pub mod x12;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use cptkit_core::{PayerBenchmarks, Reference, RuleBook};
use cptkit_proto::pb::claim_service_server::ClaimServiceServer;
use cptkit_proto::pb::code_service_server::CodeServiceServer;
use cptkit_proto::pb::x12_service_server::X12ServiceServer;
use tokio::net::TcpListener;
use tonic::server::NamedService as _;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::health::health_routes;

pub use access_log::{AccessLog, AccessLogLayer, LoggedBody};
pub use auth::{Auth, AuthLayer};
pub use claims::{ClaimServiceImpl, ClaimServiceRoutes};
pub use config::{Config, LogFormat};
pub use conn::{ActiveBody, Conn, ConnInfo, ConnectionLayer, ConnectionService};
pub use data::{DataStore, ServerData};
pub use limits::{Limits, LimitsLayer};
pub use logging::{DEFAULT_LOG_BUFFER_LINES, LogGuard, dropped_log_lines, init_tracing};
pub use metrics::{record_data_versions, record_reload, render as render_metrics, serve_metrics};
pub use prepared::{CodeServiceRoutes, PreparedRoutes};
pub use reload::{ReloadStep, Reloader};
pub use rules::{RuleSetError, load_rules};
pub use security::Security;
pub use service::{CodeServiceImpl, SharedReference};
pub use x12::X12ServiceImpl;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("{0}")]
    Security(String),
}

/// The reference data to serve: `data_dir`'s tables over the embedded ones, or the embedded set.
/// The ICD-10-CM index is built now, so the first diagnosis lookup is not slow.
pub fn load_reference(data_dir: Option<&Path>) -> cptkit_core::Result<SharedReference> {
    let reference: SharedReference = match data_dir {
        Some(dir) => Reference::from_dir(dir)?.into(),
        None => Reference::embedded().into(),
    };
    reference.warm()?;
    Ok(reference)
}

/// The payer rate benchmarks to serve: every `*.parquet` of `dir` (`cptkit_tic::read_dir`), or none.
/// A file that cannot be read is an error naming it.
pub fn load_benchmarks(dir: Option<&Path>) -> Result<Arc<PayerBenchmarks>, cptkit_tic::TicError> {
    let rows = match dir {
        Some(dir) => cptkit_tic::read_dir(dir)?,
        None => Vec::new(),
    };
    Ok(Arc::new(PayerBenchmarks::new(rows)))
}

/// Serves every service on `listener` until `shutdown` completes, then shuts down gracefully:
/// health turns NOT_SERVING, the listener closes, in-flight requests (and open `ProcessClaims`
/// streams) finish; connections still open after `config.shutdown_grace` (a health Watch stream, a
/// stuck client) are dropped. `rules` are the payer rule sets ClaimService prices with
/// ([`load_rules`]: the embedded ones plus `config.rule_sets`).
pub async fn serve(
    listener: TcpListener,
    reference: SharedReference,
    rules: Arc<RuleBook>,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_with_benchmarks(listener, reference, rules, Arc::default(), config, shutdown).await
}

/// [`serve`], with payer rate benchmarks ([`load_benchmarks`]) for GetBenchmarks and GetCode.
/// TLS and tokens come from `config`'s files ([`Security::from_config`]).
pub async fn serve_with_benchmarks(
    listener: TcpListener,
    reference: SharedReference,
    rules: Arc<RuleBook>,
    benchmarks: Arc<PayerBenchmarks>,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let security = Security::from_config(config).map_err(ServeError::Security)?;
    let store = DataStore::new(ServerData::new(reference, rules, benchmarks));
    serve_data(listener, store, security, config, shutdown).await
}

/// [`serve`], answering from `store`'s current data (a [`DataStore::replace`], a reload, takes effect
/// for the requests that start after it), with the TLS, tokens and connection limits of `security`
/// (which the caller may [`Security::reload`] while serving).
pub async fn serve_data(
    listener: TcpListener,
    store: DataStore,
    security: Arc<Security>,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let limit = config.max_request_bytes;
    let codes = CodeServiceRoutes::new(CodeServiceImpl::new(store.clone()), limit);
    let claims = ClaimServiceRoutes::new(ClaimServiceImpl::new(store.clone()), limit);
    // X12 files are larger than any other request: this service alone has its own limit.
    let x12 = X12ServiceServer::new(X12ServiceImpl::new(store)).max_decoding_message_size(config.max_x12_bytes);

    let (health_reporter, _) = tonic_health::server::health_reporter();
    health_reporter.set_service_status("", ServingStatus::Serving).await;
    health_reporter.set_serving::<CodeServiceServer<CodeServiceImpl>>().await;
    health_reporter.set_serving::<ClaimServiceServer<ClaimServiceImpl>>().await;
    health_reporter.set_serving::<X12ServiceServer<X12ServiceImpl>>().await;
    // tonic-health's service, read with cptkit's codec (bytes that are not a request: INVALID_ARGUMENT).
    let health = health_routes(health_reporter.clone(), limit);

    // Reflection advertises the services mounted here (a service of proto/ that this server does not
    // serve stays unlisted) and resolves every cptkit and grpc.health.v1 symbol.
    let reflection = |own_name: &str| {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(cptkit_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(CodeServiceRoutes::NAME)
            .with_service_name(ClaimServiceRoutes::NAME)
            .with_service_name(X12ServiceServer::<X12ServiceImpl>::NAME)
            .with_service_name(tonic_health::pb::health_server::SERVICE_NAME)
            .with_service_name(own_name)
    };
    let reflection_v1 = reflection(tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME)
        .build_v1()?
        .max_decoding_message_size(limit);
    let reflection_v1alpha = reflection(tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME)
        .build_v1alpha()?
        .max_decoding_message_size(limit);

    let (began, shutdown_began) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: health NOT_SERVING, finishing in-flight requests");
        health_reporter.set_service_status("", ServingStatus::NotServing).await;
        health_reporter.set_not_serving::<CodeServiceServer<CodeServiceImpl>>().await;
        health_reporter.set_not_serving::<ClaimServiceServer<ClaimServiceImpl>>().await;
        health_reporter.set_not_serving::<X12ServiceServer<X12ServiceImpl>>().await;
        let _ = began.send(());
    };

    let incoming = conn::incoming(listener, security.clone());
    let nonzero = |d: std::time::Duration| (!d.is_zero()).then_some(d);
    let mut builder = Server::builder()
        .max_concurrent_streams(config.max_concurrent_streams)
        .http2_keepalive_interval(nonzero(config.http2_keepalive_interval))
        .http2_keepalive_timeout(Some(config.http2_keepalive_timeout))
        .accept_http1(config.grpc_web);
    if let Some(age) = nonzero(config.max_connection_age) {
        // Requests in progress on an old connection get the shutdown grace to finish.
        builder = builder.max_connection_age(age).max_connection_age_grace(config.shutdown_grace);
    }
    let server = builder
        // Outermost first: a request counts as activity on its connection; gRPC-Web is translated
        // before the access log sees it; a caller is authenticated before it takes a place in the limit.
        .layer(ConnectionLayer)
        .layer(tower::util::option_layer(config.grpc_web.then(tonic_web::GrpcWebLayer::new)))
        .layer(AccessLogLayer)
        .layer(AuthLayer::new(security))
        .layer(LimitsLayer::new(config.max_concurrent_requests, nonzero(config.request_timeout)))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(codes)
        .add_service(claims)
        .add_service(x12)
        .serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);

    let finished = tokio::select! {
        result = &mut server => Some(result),
        _ = shutdown_began => None,
    };
    match finished {
        Some(result) => result?,
        None => match tokio::time::timeout(config.shutdown_grace, server).await {
            Ok(result) => result?,
            Err(_) => tracing::warn!(
                grace_ms = u64::try_from(config.shutdown_grace.as_millis()).unwrap_or(u64::MAX),
                "shutdown grace expired; dropping the connections still open"
            ),
        },
    }
    tracing::info!("stopped");
    Ok(())
}
