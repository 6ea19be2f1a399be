//! Load and correctness generator for `cptkit-server`.
//!
//! Runs a mix of GetCode, PriceClaim, ProcessClaims streams and X12 ParseClaims for a set time,
//! closed loop (`--concurrency` workers, each sending its next request when the last is answered) or
//! open loop (`--rate` requests a second, whatever the latency), checks every answer against the
//! repository's fixtures ([`expect`]), and reports throughput, latency percentiles (HdrHistogram),
//! statuses, wrong or hung answers and, given the server's pid, its RSS over time.
//!
//! ```no_run
//! # async fn run() -> Result<(), cptkit_loadgen::LoadError> {
//! use clap::Parser as _;
//! let options = cptkit_loadgen::Options::parse_from(["cptkit-loadgen", "--target", "http://127.0.0.1:50051"]);
//! let summary = cptkit_loadgen::run(&options).await?;
//! assert!(summary.is_clean(), "{summary}");
//! # Ok(())
//! # }
//! ```

pub mod expect;
mod rss;
mod summary;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cptkit_proto::pb;
use cptkit_proto::pb::claim_service_client::ClaimServiceClient;
use cptkit_proto::pb::code_service_client::CodeServiceClient;
use cptkit_proto::pb::x12_service_client::X12ServiceClient;
use tokio::task::JoinSet;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

pub use expect::{Expectations, FixtureError, Outcome};
pub use rss::{RssSample, read_rss_kib};
pub use summary::{KindSummary, Latency, RssReport, Summary};

/// What to run. Parsed from the command line by the binary; tests build it with `parse_from`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "cptkit-loadgen", version, about = "Mixed gRPC load against cptkit-server, every answer checked")]
pub struct Options {
    /// Server address: http://HOST:PORT, or https://HOST:PORT for TLS (with --ca-file).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub target: String,

    /// How long to send requests, e.g. 20s or 500ms (requests in flight at the end are awaited).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Closed loop: this many workers, each with one request in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,

    /// Open loop instead: start this many requests a second whatever the latency; latency counts from
    /// when a request was due, so a slow server is not hidden (no coordinated omission).
    #[arg(long)]
    pub rate: Option<f64>,

    /// Open loop: most requests in flight; a request due beyond it is counted as not sent.
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,

    /// Weights of the request kinds, e.g. get_code=4,price_claim=4,process_claims=1,parse_claims=1.
    #[arg(long, default_value = "get_code=4,price_claim=4,process_claims=1,parse_claims=1")]
    pub mix: Mix,

    /// HTTP/2 connections the requests are spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,

    /// Claims sent on each ProcessClaims stream (the golden claims, cycled).
    #[arg(long, default_value_t = 32)]
    pub stream_claims: usize,

    /// Each ParseClaims request holds its 837 fixture this many times over (heavier requests).
    #[arg(long, default_value_t = 1)]
    pub x12_repeat: usize,

    /// The repository's tests/fixtures directory (golden claims, X12 files, the 00632 profile).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures"))]
    pub fixtures: PathBuf,

    /// PEM CA certificate(s) that sign the server's certificate (TLS: an https:// target).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// PEM client certificate chain, for a server that asks for client certificates (with --client-key).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// PEM private key of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// Name the server's certificate must carry, when not the target's host (e.g. localhost).
    #[arg(long)]
    pub tls_domain: Option<String>,

    /// File holding a bearer token sent on every request (`authorization: Bearer ...`); read from a
    /// file so the token is not on the command line.
    #[arg(long, value_name = "FILE", env = "CPTKIT_LOADGEN_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Deadline sent with every request (grpc-timeout header), e.g. 5s; none by default.
    #[arg(long, value_parser = parse_duration)]
    pub grpc_timeout: Option<Duration>,

    /// Client-side guard: an answer not complete after this long counts as hung (lost).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub hang_after: Duration,

    /// The server's pid: its VmRSS (/proc/PID/status) is sampled during the run.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// How often RSS is sampled.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub rss_interval: Duration,

    /// Write the summary as JSON to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("fixtures: {0}")]
    Fixtures(#[from] FixtureError),
    #[error("--target {target}: {message}")]
    Target { target: String, message: String },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{0}")]
    Options(String),
}

/// A request kind of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    GetCode,
    PriceClaim,
    ProcessClaims,
    ParseClaims,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::GetCode, Kind::PriceClaim, Kind::ProcessClaims, Kind::ParseClaims];

    pub fn name(self) -> &'static str {
        match self {
            Kind::GetCode => "get_code",
            Kind::PriceClaim => "price_claim",
            Kind::ProcessClaims => "process_claims",
            Kind::ParseClaims => "parse_claims",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Weights of the request kinds; a kind with weight 0 is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 4],
}

impl Mix {
    /// One request of each kind in every `sum of weights`, interleaved by weight.
    fn schedule(&self) -> Vec<Kind> {
        let mut schedule = Vec::new();
        let most = self.weights.iter().copied().max().unwrap_or(0);
        for round in 0..most {
            for kind in Kind::ALL {
                if self.weights[kind.index()] > round {
                    schedule.push(kind);
                }
            }
        }
        schedule
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(text: &str) -> Result<Mix, String> {
        let mut weights = [0; 4];
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').ok_or_else(|| format!("expected KIND=WEIGHT, got {part:?}"))?;
            let kind = Kind::ALL.into_iter().find(|k| k.name() == name.trim()).ok_or_else(|| {
                format!("unknown request kind {name:?} (get_code, price_claim, process_claims, parse_claims)")
            })?;
            weights[kind.index()] =
                weight.trim().parse().map_err(|_| format!("{name}: weight {weight:?} is not a number"))?;
        }
        if weights.iter().all(|w| *w == 0) {
            return Err("the mix sends nothing: give at least one kind a weight".into());
        }
        Ok(Mix { weights })
    }
}

/// `250ms`, `10s`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("expected a duration such as 10s, 500ms or 2m, got {text:?}");
    let (number, unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, Duration::from_millis(1))
    } else if let Some(n) = text.strip_suffix('m') {
        (n, Duration::from_secs(60))
    } else {
        (text.strip_suffix('s').unwrap_or(text), Duration::from_secs(1))
    };
    number.trim().parse::<u32>().map(|n| unit * n).map_err(|_| bad())
}

/// Adds the bearer token and the deadline to every request.
#[derive(Clone)]
struct Credentials {
    authorization: Option<AsciiMetadataValue>,
    grpc_timeout: Option<Duration>,
}

impl std::fmt::Debug for Credentials {
    // Never the token itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("bearer_token", &self.authorization.is_some())
            .field("grpc_timeout", &self.grpc_timeout)
            .finish()
    }
}

impl tonic::service::Interceptor for Credentials {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        if let Some(timeout) = self.grpc_timeout {
            request.set_timeout(timeout);
        }
        Ok(request)
    }
}

type Service = InterceptedService<Channel, Credentials>;

/// The clients of one connection.
#[derive(Debug, Clone)]
struct Clients {
    codes: CodeServiceClient<Service>,
    claims: ClaimServiceClient<Service>,
    x12: X12ServiceClient<Service>,
}

impl Clients {
    fn new(channel: Channel, credentials: Credentials) -> Clients {
        // Answers may be large (a ParseClaims item of a big claim); requests are bounded by the server.
        let limit = 64 * 1024 * 1024;
        Clients {
            codes: CodeServiceClient::with_interceptor(channel.clone(), credentials.clone())
                .max_decoding_message_size(limit),
            claims: ClaimServiceClient::with_interceptor(channel.clone(), credentials.clone())
                .max_decoding_message_size(limit),
            x12: X12ServiceClient::with_interceptor(channel, credentials)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(usize::MAX),
        }
    }
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|e| LoadError::File { path: path.clone(), message: e.to_string() })
}

fn credentials(options: &Options) -> Result<Credentials, LoadError> {
    let authorization = match &options.token_file {
        Some(path) => {
            let token = String::from_utf8(read_file(path)?)
                .map_err(|_| LoadError::File { path: path.clone(), message: "token is not UTF-8".into() })?;
            let value = MetadataValue::try_from(format!("Bearer {}", token.trim())).map_err(|_| LoadError::File {
                path: path.clone(),
                message: "token holds characters a header cannot carry".into(),
            })?;
            Some(value)
        }
        None => None,
    };
    Ok(Credentials { authorization, grpc_timeout: options.grpc_timeout })
}

fn endpoint(options: &Options) -> Result<Endpoint, LoadError> {
    let target = &options.target;
    let bad = |message: String| LoadError::Target { target: target.clone(), message };
    let endpoint = Endpoint::from_shared(target.clone()).map_err(|e| bad(e.to_string()))?.tcp_nodelay(true);
    let https = target.starts_with("https://");
    if !https {
        if options.ca_file.is_some() || options.client_cert.is_some() {
            return Err(bad("TLS options given for a plain-text target: use https://".into()));
        }
        return Ok(endpoint);
    }
    let ca = options.ca_file.as_ref().ok_or_else(|| bad("an https:// target needs --ca-file".into()))?;
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read_file(ca)?));
    if let (Some(cert), Some(key)) = (&options.client_cert, &options.client_key) {
        tls = tls.identity(Identity::from_pem(read_file(cert)?, read_file(key)?));
    }
    if let Some(domain) = &options.tls_domain {
        tls = tls.domain_name(domain.clone());
    }
    endpoint.tls_config(tls).map_err(|e| bad(e.to_string()))
}

async fn connect(options: &Options) -> Result<Vec<Clients>, LoadError> {
    let endpoint = endpoint(options)?;
    let credentials = credentials(options)?;
    let mut clients = Vec::new();
    for _ in 0..options.connections.max(1) {
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| LoadError::Connect { target: options.target.clone(), message: error_chain(&e) })?;
        clients.push(Clients::new(channel, credentials.clone()));
    }
    Ok(clients)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What one request gave.
#[derive(Debug)]
struct Answer {
    kind: Kind,
    case: String,
    outcome: Answered,
    claims: u64,
    latency: Duration,
}

#[derive(Debug)]
enum Answered {
    Checked(Outcome),
    /// No complete answer within `--hang-after`.
    Hung,
}

/// Sends request number `n` of `kind` and checks its answer.
async fn send(kind: Kind, n: usize, mut clients: Clients, expect: &Expectations, options: &Options) -> Answer {
    let started = Instant::now();
    let (case, work) = request(kind, n, &mut clients, expect, options);
    let (outcome, claims) = match tokio::time::timeout(options.hang_after, work).await {
        Ok((outcome, claims)) => (Answered::Checked(outcome), claims),
        Err(_) => (Answered::Hung, 0),
    };
    Answer { kind, case, outcome, claims, latency: started.elapsed() }
}

type Work<'a> = std::pin::Pin<Box<dyn Future<Output = (Outcome, u64)> + Send + 'a>>;

fn request<'a>(
    kind: Kind,
    n: usize,
    clients: &'a mut Clients,
    expect: &'a Expectations,
    options: &'a Options,
) -> (String, Work<'a>) {
    match kind {
        Kind::GetCode => {
            let case = &expect.get_code[n % expect.get_code.len()];
            let work = async move {
                let answer = clients.codes.get_code(case.request.clone()).await.map(|r| r.into_inner());
                (case.check(answer), 0)
            };
            (case.name.clone(), Box::pin(work))
        }
        Kind::PriceClaim => {
            let case = &expect.claims[n % expect.claims.len()];
            let work = async move {
                let answer = clients.claims.price_claim(case.price_request()).await.map(|r| r.into_inner());
                (case.check_price(answer), 1)
            };
            (case.name.clone(), Box::pin(work))
        }
        Kind::ProcessClaims => {
            let count = options.stream_claims.max(1);
            (format!("stream of {count}"), Box::pin(process_stream(n, count, clients, expect)))
        }
        Kind::ParseClaims => {
            let case = &expect.x12[n % expect.x12.len()];
            let work = async move {
                let outcome = match parse_claims(clients, case).await {
                    Ok(parsed) => Outcome::from_check(case.check(&parsed)),
                    Err(status) => Outcome::from_status(&status, None),
                };
                (outcome, case.claims() as u64)
            };
            (case.name.clone(), Box::pin(work))
        }
    }
}

async fn parse_claims(clients: &mut Clients, case: &expect::X12Case) -> Result<expect::Parsed, Status> {
    let mut stream = clients.x12.parse_claims(case.request.clone()).await?.into_inner();
    let mut parsed = expect::Parsed::default();
    while let Some(item) = stream.message().await? {
        if let Err(why) = parsed.push(item) {
            return Err(Status::internal(why));
        }
    }
    Ok(parsed)
}

/// One ProcessClaims stream of `count` golden claims from case `n` on; every answer is checked, in
/// order, by request id. A missing or extra answer is wrong.
async fn process_stream(n: usize, count: usize, clients: &mut Clients, expect: &Expectations) -> (Outcome, u64) {
    let cases: Vec<&expect::ClaimCase> = (0..count).map(|i| &expect.claims[(n + i) % expect.claims.len()]).collect();
    let requests: Vec<pb::ProcessClaimsRequest> =
        cases.iter().enumerate().map(|(i, case)| case.process_request(format!("{n}-{i}"))).collect();
    let mut stream = match clients.claims.process_claims(tokio_stream::iter(requests)).await {
        Ok(response) => response.into_inner(),
        Err(status) => return (Outcome::from_status(&status, None), 0),
    };
    let mut answered = 0;
    loop {
        let response = match stream.message().await {
            Ok(Some(response)) => response,
            Ok(None) => break,
            Err(status) => return (Outcome::from_status(&status, None), answered as u64),
        };
        let Some(case) = cases.get(answered) else {
            return (Outcome::Wrong(format!("more than the {count} answers asked for")), answered as u64);
        };
        let id = format!("{n}-{answered}");
        if response.request_id != id {
            return (
                Outcome::Wrong(format!("answer {answered} has request id {:?}, want {id:?}", response.request_id)),
                0,
            );
        }
        if let Err(why) = case.check_process(&response) {
            return (Outcome::Wrong(format!("{}: {why}", case.name)), answered as u64);
        }
        answered += 1;
    }
    if answered != count {
        return (Outcome::Wrong(format!("{answered} answers of {count}")), answered as u64);
    }
    (Outcome::Right, count as u64)
}

/// Runs the load and returns its summary. Errors only when it cannot start (fixtures, target, TLS
/// files, connecting); failures during the run are counted in the summary.
pub async fn run(options: &Options) -> Result<Summary, LoadError> {
    if options.concurrency == 0 {
        return Err(LoadError::Options("--concurrency must be at least 1".into()));
    }
    if options.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(LoadError::Options("--rate must be a positive number of requests a second".into()));
    }
    let options = Arc::new(options.clone());
    let expect = Arc::new(Expectations::load(&options.fixtures, options.x12_repeat)?);
    let clients = connect(&options).await?;
    let sampler = options.server_pid.map(|pid| rss::Sampler::start(pid, options.rss_interval));
    let started = Instant::now();
    let mut stats = summary::Stats::default();
    match options.rate {
        None => closed_loop(&options, &expect, &clients, &mut stats).await,
        Some(rate) => open_loop(rate, &options, &expect, &clients, &mut stats).await,
    }
    let elapsed = started.elapsed();
    let rss = match sampler {
        Some(sampler) => Some(sampler.stop().await),
        None => None,
    };
    Ok(Summary::new(&options, stats, elapsed, rss))
}

async fn closed_loop(
    options: &Arc<Options>,
    expect: &Arc<Expectations>,
    clients: &[Clients],
    stats: &mut summary::Stats,
) {
    let deadline = Instant::now() + options.duration;
    let schedule = Arc::new(options.mix.schedule());
    let mut workers = JoinSet::new();
    for worker in 0..options.concurrency {
        let (options, expect, schedule) = (options.clone(), expect.clone(), schedule.clone());
        let clients = clients[worker % clients.len()].clone();
        workers.spawn(async move {
            let mut stats = summary::Stats::default();
            // Workers start at different points of the mix, so every kind is in flight at once.
            let mut n = worker;
            while Instant::now() < deadline {
                let kind = schedule[n % schedule.len()];
                stats.record(send(kind, n / schedule.len(), clients.clone(), &expect, &options).await);
                n += 1;
            }
            stats
        });
    }
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(worker) => stats.merge(worker),
            Err(e) => stats.worker_failed(e.to_string()),
        }
    }
}

async fn open_loop(
    rate: f64,
    options: &Arc<Options>,
    expect: &Arc<Expectations>,
    clients: &[Clients],
    stats: &mut summary::Stats,
) {
    let deadline = tokio::time::Instant::now() + options.duration;
    let schedule = options.mix.schedule();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut in_flight = JoinSet::new();
    let mut n = 0usize;
    loop {
        tokio::select! {
            due = ticks.tick() => {
                if due >= deadline {
                    break;
                }
                if in_flight.len() >= options.max_in_flight {
                    stats.not_sent += 1;
                } else {
                    let (options, expect) = (options.clone(), expect.clone());
                    let clients = clients[n % clients.len()].clone();
                    let kind = schedule[n % schedule.len()];
                    let number = n / schedule.len();
                    in_flight.spawn(async move {
                        let mut answer = send(kind, number, clients, &expect, &options).await;
                        // From when it was due, not when it was sent.
                        answer.latency = due.elapsed();
                        answer
                    });
                }
                n += 1;
            }
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => record(stats, done),
        }
    }
    while let Some(done) = in_flight.join_next().await {
        record(stats, done);
    }
}

fn record(stats: &mut summary::Stats, done: Result<Answer, tokio::task::JoinError>) {
    match done {
        Ok(answer) => stats.record(answer),
        Err(e) => stats.worker_failed(e.to_string()),
    }
}

/// gRPC's name of a status code, e.g. RESOURCE_EXHAUSTED.
pub fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn mixes_parse_and_interleave() {
        let mix: Mix = "get_code=2,parse_claims=1".parse().expect("mix");
        assert_eq!(mix.schedule(), [Kind::GetCode, Kind::ParseClaims, Kind::GetCode]);
        assert!("get_code=0".parse::<Mix>().is_err());
        assert!("codes=1".parse::<Mix>().is_err());
        assert!("get_code=x".parse::<Mix>().is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn code_names_are_grpc_names() {
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Code::Ok), "OK");
    }

    #[test]
    fn tls_options_need_an_https_target() {
        let options = Options::parse_from(["cptkit-loadgen", "--target", "http://127.0.0.1:1", "--ca-file", "ca.pem"]);
        assert!(matches!(endpoint(&options), Err(LoadError::Target { .. })));
        let options = Options::parse_from(["cptkit-loadgen", "--target", "https://127.0.0.1:1"]);
        assert!(matches!(endpoint(&options), Err(LoadError::Target { .. })));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let credentials =
            Credentials { authorization: Some(MetadataValue::from_static("Bearer s3cret")), grpc_timeout: None };
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }
}
