//! Prometheus metrics, served on their own address (`--metrics-listen`, off by default) at
//! `GET /metrics` in the OpenMetrics text format (`prometheus-client`, the Prometheus project's crate).
//!
//! Requests are observed in one place, the access log ([`crate::access_log`]), when each response
//! ends; handlers add the claims they judged. Reloads ([`record_reload`]) and the versions of the data
//! served ([`record_data_versions`]) are set by whoever loads them. Labels come from fixed sets (the
//! methods of the served protos, status names, table names), never from request content: a client
//! cannot grow the series, and nothing from a claim reaches them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use cptkit_core::{PayerBenchmarks, Reference, RuleBook};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use prost::Message as _;
use tokio::net::TcpListener;

/// The content type of the OpenMetrics text exposition (Prometheus scrapes it natively).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets, in seconds: 100 µs (an Echo on loopback) to a minute (a stream's whole life).
const LATENCY_BUCKETS: [f64; 18] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Statuses that mean a request was shed or refused before any work (limits, auth).
const REFUSED: [&str; 4] = ["RESOURCE_EXHAUSTED", "UNAVAILABLE", "UNAUTHENTICATED", "PERMISSION_DENIED"];

/// A gRPC method this server may answer, from the descriptors of the protos it serves.
#[derive(Debug)]
pub(crate) struct Method {
    service: String,
    method: String,
    /// Client or server streaming (ProcessClaims, ParseClaims, health Watch, reflection).
    streaming: bool,
}

impl Method {
    fn labels(&'static self) -> Rpc {
        Rpc { grpc_service: &self.service, grpc_method: &self.method }
    }
}

/// Any path that is not a method of the served protos: one series for all, whatever the path.
static UNKNOWN: LazyLock<Method> =
    LazyLock::new(|| Method { service: "unknown".into(), method: "unknown".into(), streaming: false });

/// `package.Service/Method` -> the method, for every service in the descriptor sets the server mounts.
static METHODS: LazyLock<HashMap<String, Method>> = LazyLock::new(|| {
    let sets = [
        cptkit_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashMap::new();
    for bytes in sets {
        // Compiled-in descriptors; one that did not decode would only leave its methods "unknown".
        let Ok(set) = prost_types::FileDescriptorSet::decode(bytes) else { continue };
        for file in set.file {
            let package = file.package().to_owned();
            for service in file.service {
                let service_name = match package.as_str() {
                    "" => service.name().to_owned(),
                    package => format!("{package}.{}", service.name()),
                };
                for method in service.method {
                    let streaming = method.client_streaming() || method.server_streaming();
                    let entry = Method { service: service_name.clone(), method: method.name().to_owned(), streaming };
                    methods.insert(format!("{service_name}/{}", method.name()), entry);
                }
            }
        }
    }
    methods
});

/// The method of a request path without its leading `/` (`cptkit.v1.CodeService/GetCode`).
pub(crate) fn method(rpc: &str) -> &'static Method {
    METHODS.get(rpc).unwrap_or(&UNKNOWN)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rpc {
    grpc_service: &'static str,
    grpc_method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcStatus {
    grpc_service: &'static str,
    grpc_method: &'static str,
    grpc_code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Code {
    grpc_code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reload {
    what: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DataVersion {
    table: &'static str,
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Table {
    table: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

#[derive(Debug)]
struct Metrics {
    registry: Registry,
    requests: Family<RpcStatus, Counter>,
    latency: HistogramFamily<Rpc>,
    in_flight: Gauge,
    streams_in_flight: Gauge,
    claims: Family<Rpc, Counter>,
    claim_lines: Family<Rpc, Counter>,
    refused: Family<Code, Counter>,
    reloads: Family<Reload, Counter>,
    data_versions: Family<DataVersion, Gauge>,
    data_entries: Family<Table, Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::default();
        let latency: HistogramFamily<Rpc> = Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        let in_flight = Gauge::default();
        let streams_in_flight = Gauge::default();
        let claims = Family::default();
        let claim_lines = Family::default();
        let refused = Family::default();
        let reloads = Family::default();
        let data_versions = Family::default();
        let data_entries = Family::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register("cptkit_grpc_requests", "gRPC requests finished, by method and status", requests.clone());
        registry.register(
            "cptkit_grpc_request_duration_seconds",
            "Time from a request's arrival to the end of its response (a stream's whole life), by method",
            latency.clone(),
        );
        registry.register(
            "cptkit_grpc_requests_in_flight",
            "gRPC requests begun and not yet finished (streams included)",
            in_flight.clone(),
        );
        registry.register(
            "cptkit_grpc_streams_in_flight",
            "Streaming gRPC calls (ProcessClaims, ParseClaims, health Watch, reflection) open now",
            streams_in_flight.clone(),
        );
        registry.register(
            "cptkit_claims_judged",
            "Claims validated or priced (ClaimService, X12Service), by method",
            claims.clone(),
        );
        registry.register(
            "cptkit_claim_lines_judged",
            "Service lines of the claims judged, by method",
            claim_lines.clone(),
        );
        registry.register(
            "cptkit_grpc_refused",
            "Requests shed or refused: RESOURCE_EXHAUSTED, UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED answers",
            refused.clone(),
        );
        registry.register("cptkit_reloads", "Reloads, by what was reloaded and outcome (ok, error)", reloads.clone());
        registry.register(
            "cptkit_data_version_info",
            "Reference data served: one series per fee schedule release and rule set (1 = loaded)",
            data_versions.clone(),
        );
        registry.register("cptkit_data_entries", "Entries of the reference tables served", data_entries.clone());
        registry.register("cptkit_build", "The server's build", Info::new([("version", env!("CARGO_PKG_VERSION"))]));
        registry.register_collector(Box::new(DroppedLogLines));
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            streams_in_flight,
            claims,
            claim_lines,
            refused,
            reloads,
            data_versions,
            data_entries,
        }
    }
}

/// The log writer's count, read at each scrape.
#[derive(Debug)]
struct DroppedLogLines;

impl Collector for DroppedLogLines {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counter = ConstCounter::new(crate::logging::dropped_log_lines());
        let metric = encoder.encode_descriptor(
            "cptkit_log_lines_dropped",
            "Log lines dropped because stderr was not read fast enough (--log-buffer-lines)",
            None,
            counter.metric_type(),
        )?;
        counter.encode(metric)
    }
}

/// A request begun: counted in flight until the returned guard drops.
pub(crate) fn begin(method: &'static Method) -> InFlight {
    let metrics = &*METRICS;
    metrics.in_flight.inc();
    if method.streaming {
        metrics.streams_in_flight.inc();
    }
    InFlight { method }
}

/// A request in flight; dropping it (the request ended, however) takes it out.
#[derive(Debug)]
pub(crate) struct InFlight {
    method: &'static Method,
}

impl InFlight {
    /// The request ended with `status` (a code name) after `latency`.
    pub(crate) fn finish(&self, status: &'static str, latency: Duration) {
        let metrics = &*METRICS;
        let rpc = self.method.labels();
        metrics.latency.get_or_create(&rpc).observe(latency.as_secs_f64());
        let labels = RpcStatus { grpc_service: rpc.grpc_service, grpc_method: rpc.grpc_method, grpc_code: status };
        metrics.requests.get_or_create(&labels).inc();
        if REFUSED.contains(&status) {
            metrics.refused.get_or_create(&Code { grpc_code: status }).inc();
        }
    }
}

/// Counts `claims` judged for a request of `method`, and their `lines`.
pub(crate) fn count_judged(method: &'static Method, claims: usize, lines: usize) {
    let metrics = &*METRICS;
    let rpc = method.labels();
    metrics.claims.get_or_create(&rpc).inc_by(claims as u64);
    metrics.claim_lines.get_or_create(&rpc).inc_by(lines as u64);
}

impl Drop for InFlight {
    fn drop(&mut self) {
        METRICS.in_flight.dec();
        if self.method.streaming {
            METRICS.streams_in_flight.dec();
        }
    }
}

/// Counts a reload of `what` (e.g. `rule_sets`, `data_dir`, `benchmarks`, `tls`, `tokens`) and
/// whether it succeeded: `cptkit_reloads_total{what, outcome="ok"|"error"}`. `what` is a label: pass
/// one of a few fixed names, never a path or user input.
pub fn record_reload(what: &str, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    METRICS.reloads.get_or_create(&Reload { what: what.to_owned(), outcome }).inc();
}

/// Sets the data-version series to the data now served: one `cptkit_data_version_info` series per fee
/// schedule release (`table="fee_schedule"`, CMS's release name) and per rule set (`table="rule_set"`,
/// its id), and `cptkit_data_entries` per table. Call at start-up and again after each reload: the
/// series of data no longer served disappear.
pub fn record_data_versions(reference: &Reference, rules: &RuleBook, benchmarks: &PayerBenchmarks) {
    let metrics = &*METRICS;
    metrics.data_versions.clear();
    let releases: Vec<&str> = reference.fee_schedule().releases().map(|r| r.info.release.as_str()).collect();
    for release in &releases {
        metrics.data_versions.get_or_create(&DataVersion { table: "fee_schedule", version: (*release).into() }).set(1);
    }
    let mut rule_sets = 0;
    for rule_set in rules.rule_sets() {
        metrics.data_versions.get_or_create(&DataVersion { table: "rule_set", version: rule_set.id.clone() }).set(1);
        rule_sets += 1;
    }
    let entries = |table: &'static str, count: usize| {
        metrics.data_entries.get_or_create(&Table { table }).set(i64::try_from(count).unwrap_or(i64::MAX));
    };
    entries("anesthesia_codes", reference.codes().len());
    entries("fee_schedule_releases", releases.len());
    entries("rule_sets", rule_sets);
    entries("payer_benchmarks", benchmarks.len());
    // Built at start-up by `load_reference` (warm), so this only reads the count.
    if let Ok(count) = reference.diagnosis_count() {
        entries("icd10cm_codes", count);
    }
}

/// The metrics exposition as served at `/metrics`.
pub fn render() -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &METRICS.registry)?;
    Ok(text)
}

/// Serves `GET /metrics` on `listener` (HTTP/1.1) until `shutdown` completes. Any other path is 404.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route("/metrics", axum::routing::get(scrape));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

async fn scrape() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match render() {
        Ok(text) => ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot encode the metrics");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The value of one series (`name{labels}`) in the exposition, if exposed.
#[cfg(test)]
pub(crate) fn sample(series: &str) -> Option<f64> {
    let text = render().ok()?;
    let line = text.lines().find(|line| line.rsplit_once(' ').is_some_and(|(name, _)| name == series))?;
    line.rsplit_once(' ')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_method_is_known_and_others_are_one_series() {
        let get_code = method("cptkit.v1.CodeService/GetCode");
        assert_eq!((get_code.service.as_str(), get_code.method.as_str()), ("cptkit.v1.CodeService", "GetCode"));
        assert!(!get_code.streaming);
        assert!(method("cptkit.v1.ClaimService/ProcessClaims").streaming);
        assert!(method("cptkit.v1.X12Service/ParseClaims").streaming);
        assert!(method("grpc.health.v1.Health/Watch").streaming);
        assert!(!method("grpc.health.v1.Health/Check").streaming);
        assert!(method("grpc.reflection.v1.ServerReflection/ServerReflectionInfo").streaming);
        assert!(method("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo").streaming);
        for path in ["cptkit.v1.CodeService/Nope", "x/y", "", "JANE DOE/1970-01-01"] {
            assert_eq!(method(path).method, "unknown", "{path}");
        }
    }

    #[test]
    fn renders_every_family() {
        record_reload("unit_test", false);
        let text = render().expect("encodes");
        for name in ["cptkit_build_info{version=", "cptkit_log_lines_dropped_total 0", "what=\"unit_test\""] {
            assert!(text.contains(name), "{name} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn refused_answers_are_counted_by_status() {
        for status in ["UNAUTHENTICATED", "RESOURCE_EXHAUSTED", "OK"] {
            begin(method("cptkit.v1.ClaimService/ValidateClaim")).finish(status, Duration::from_millis(1));
        }
        let text = render().expect("encodes");
        for series in [
            "cptkit_grpc_refused_total{grpc_code=\"UNAUTHENTICATED\"}",
            "cptkit_grpc_refused_total{grpc_code=\"RESOURCE_EXHAUSTED\"}",
            "grpc_method=\"ValidateClaim\",grpc_code=\"UNAUTHENTICATED\"}",
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
        assert!(!text.contains("cptkit_grpc_refused_total{grpc_code=\"OK\"}"), "{text}");
    }
}
