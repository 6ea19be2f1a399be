//! Command-line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::logging::DEFAULT_LOG_BUFFER_LINES;

/// How the server is started. Every flag has an environment fallback (`CPTKIT_*`); the log level
/// comes from `RUST_LOG` (default `info`).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "cptkit-server", version, about = "cptkit gRPC server: anesthesia code intelligence")]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (printed on start-up).
    #[arg(long, env = "CPTKIT_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Directory whose table files replace the embedded reference data (same file names).
    #[arg(long, env = "CPTKIT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// A payer rule-set JSON file (the format of the embedded ones) to load beside the embedded rule
    /// sets at start-up. Repeat the flag, or separate files with commas (as in `CPTKIT_RULE_SETS`). A
    /// file whose `id` is an embedded rule set's replaces it.
    #[arg(long = "rule-set", env = "CPTKIT_RULE_SETS", value_name = "FILE", value_delimiter = ',')]
    pub rule_sets: Vec<PathBuf>,

    /// Directory of payer rate benchmark Parquet files (`cptkit ingest-tic --out DIR/x.parquet`): every
    /// `*.parquet` in it is loaded at start-up and served by GetBenchmarks and in GetCode profiles.
    #[arg(long, env = "CPTKIT_BENCHMARKS_DIR", value_name = "DIR")]
    pub benchmarks_dir: Option<PathBuf>,

    /// Largest request message accepted, in bytes; larger ones get OUT_OF_RANGE.
    #[arg(long, env = "CPTKIT_MAX_REQUEST_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_request_bytes: usize,

    /// Largest X12Service request (an 837/835 file, or both for Reconcile), in bytes; larger ones get
    /// OUT_OF_RANGE. Applies to X12Service only; every other service keeps `--max-request-bytes`.
    #[arg(long, env = "CPTKIT_MAX_X12_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_x12_bytes: usize,

    /// Log line format (logs go to stderr).
    #[arg(long, env = "CPTKIT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// After a shutdown signal, how long in-flight requests and open streams may take before the
    /// remaining connections are dropped, e.g. `10s` or `500ms`.
    #[arg(long, env = "CPTKIT_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Requests in progress at once, over all connections (a stream counts until it ends); one more is
    /// answered at once with RESOURCE_EXHAUSTED. Health checks are never refused. 0: no limit.
    #[arg(long, env = "CPTKIT_MAX_CONCURRENT_REQUESTS", default_value_t = 1024)]
    pub max_concurrent_requests: usize,

    /// The longest a request may take when its client sets no shorter `grpc-timeout`; then it ends
    /// with DEADLINE_EXCEEDED. 0: only the client's deadline. Health Watch streams are exempt.
    #[arg(long, env = "CPTKIT_REQUEST_TIMEOUT", default_value = "0", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Concurrent HTTP/2 streams (requests) per connection.
    #[arg(long, env = "CPTKIT_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    pub max_concurrent_streams: u32,

    /// How often the server pings an HTTP/2 connection to check its client is there. 0: never.
    #[arg(long, env = "CPTKIT_HTTP2_KEEPALIVE_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub http2_keepalive_interval: Duration,

    /// How long an unanswered ping may wait before the connection is closed.
    #[arg(long, env = "CPTKIT_HTTP2_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub http2_keepalive_timeout: Duration,

    /// A connection older than this is asked to go away (HTTP/2 GOAWAY; requests in progress finish),
    /// so clients reconnect, spread over replicas and pick up reloaded certificates. 0: never.
    #[arg(long, env = "CPTKIT_MAX_CONNECTION_AGE", default_value = "30m", value_parser = parse_duration)]
    pub max_connection_age: Duration,

    /// Also reload when a watched file changes (rule-set files, the data and benchmarks directories,
    /// TLS files, the tokens file), checked every 2 seconds; SIGHUP always reloads.
    #[arg(long, env = "CPTKIT_WATCH")]
    pub watch: bool,

    /// Also answer gRPC-Web (HTTP/1.1 and HTTP/2, for browsers) on the same port.
    #[arg(long, env = "CPTKIT_GRPC_WEB")]
    pub grpc_web: bool,

    /// TLS certificate chain (PEM). With `--tls-key`, every connection is TLS (ALPN h2).
    #[arg(long, env = "CPTKIT_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of `--tls-cert`.
    #[arg(long, env = "CPTKIT_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// CA certificates (PEM) that client certificates must chain to: mutual TLS, a client without a
    /// valid certificate is refused.
    #[arg(long, env = "CPTKIT_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,

    /// JSON file of callers (token SHA-256 hashes or client-certificate subjects) and the services
    /// each may call. Without it, no authentication.
    #[arg(long, env = "CPTKIT_TOKENS_FILE", value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Server reflection without a token (with `--tokens-file`; otherwise it is open anyway).
    #[arg(long, env = "CPTKIT_OPEN_REFLECTION")]
    pub open_reflection: bool,

    /// Requests per second per caller (token bucket, burst of N); beyond it, RESOURCE_EXHAUSTED.
    #[arg(long, env = "CPTKIT_RATE_LIMIT", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: Option<u32>,

    /// A connection with no request in progress for this long is closed, e.g. `300s`; `0` never.
    #[arg(long, env = "CPTKIT_IDLE_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Log lines queued for stderr; when its reader falls this far behind, new lines are dropped and
    /// counted (a warning every 10 s and `cptkit_log_lines_dropped_total`) instead of stalling requests.
    #[arg(long, env = "CPTKIT_LOG_BUFFER_LINES", value_name = "N", default_value_t = DEFAULT_LOG_BUFFER_LINES,
          value_parser = parse_buffer_lines)]
    pub log_buffer_lines: usize,

    /// Address of the Prometheus metrics endpoint (`GET /metrics`), apart from the gRPC port; off
    /// unless given. Port 0 picks a free port (printed on start-up).
    #[arg(long, env = "CPTKIT_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Config {
    /// The defaults of the command line, with no flags and no environment.
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: None,
            rule_sets: Vec::new(),
            benchmarks_dir: None,
            max_request_bytes: 4 * 1024 * 1024,
            max_x12_bytes: 64 * 1024 * 1024,
            log_format: LogFormat::Text,
            shutdown_grace: Duration::from_secs(10),
            max_concurrent_requests: 1024,
            request_timeout: Duration::ZERO,
            max_concurrent_streams: 256,
            http2_keepalive_interval: Duration::from_secs(60),
            http2_keepalive_timeout: Duration::from_secs(20),
            max_connection_age: Duration::from_secs(30 * 60),
            watch: false,
            grpc_web: false,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tokens_file: None,
            open_reflection: false,
            rate_limit: None,
            idle_timeout: Duration::from_secs(300),
            log_buffer_lines: DEFAULT_LOG_BUFFER_LINES,
            metrics_listen: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `250ms`, `10s`, `30m`, `1h` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, Duration::from_millis(1))
    } else if let Some(n) = text.strip_suffix('m') {
        (n, Duration::from_secs(60))
    } else if let Some(n) = text.strip_suffix('h') {
        (n, Duration::from_secs(3600))
    } else {
        (text.strip_suffix('s').unwrap_or(text), Duration::from_secs(1))
    };
    number
        .trim()
        .parse::<u32>()
        .map(|n| unit * n)
        .map_err(|_| format!("expected a duration such as 10s or 500ms, got {text:?}"))
}

/// A queue length of at least one line.
fn parse_buffer_lines(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(lines) if lines > 0 => Ok(lines),
        _ => Err(format!("expected a number of lines of at least 1, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_match_the_documented_ones() {
        let parsed = Config::try_parse_from(["cptkit-server"]).expect("defaults");
        let default = Config::default();
        assert_eq!(parsed.listen, default.listen);
        assert_eq!(parsed.data_dir, default.data_dir);
        assert_eq!(parsed.rule_sets, default.rule_sets);
        assert_eq!(parsed.benchmarks_dir, default.benchmarks_dir);
        assert_eq!(parsed.max_request_bytes, default.max_request_bytes);
        assert_eq!(parsed.max_x12_bytes, default.max_x12_bytes);
        assert_eq!(parsed.log_format, default.log_format);
        assert_eq!(parsed.shutdown_grace, default.shutdown_grace);
        assert_eq!(parsed.max_concurrent_requests, default.max_concurrent_requests);
        assert_eq!(parsed.request_timeout, default.request_timeout);
        assert_eq!(parsed.max_concurrent_streams, default.max_concurrent_streams);
        assert_eq!(parsed.http2_keepalive_interval, default.http2_keepalive_interval);
        assert_eq!(parsed.http2_keepalive_timeout, default.http2_keepalive_timeout);
        assert_eq!(parsed.max_connection_age, default.max_connection_age);
        assert_eq!(parsed.watch, default.watch);
        assert_eq!(parsed.grpc_web, default.grpc_web);
        assert_eq!(parsed.tls_cert, default.tls_cert);
        assert_eq!(parsed.tls_key, default.tls_key);
        assert_eq!(parsed.tls_client_ca, default.tls_client_ca);
        assert_eq!(parsed.tokens_file, default.tokens_file);
        assert_eq!(parsed.open_reflection, default.open_reflection);
        assert_eq!(parsed.rate_limit, default.rate_limit);
        assert_eq!(parsed.idle_timeout, default.idle_timeout);
        assert_eq!(parsed.log_buffer_lines, default.log_buffer_lines);
        assert_eq!(parsed.metrics_listen, default.metrics_listen);
    }

    #[test]
    fn flags_parse() {
        let config = Config::try_parse_from([
            "cptkit-server",
            "--listen",
            "127.0.0.1:0",
            "--max-request-bytes",
            "1024",
            "--max-x12-bytes",
            "2048",
            "--log-format",
            "json",
            "--shutdown-grace",
            "250ms",
            "--rule-set",
            "a.json",
            "--rule-set",
            "b.json,c.json",
            "--benchmarks-dir",
            "rates",
            "--log-buffer-lines",
            "100",
            "--metrics-listen",
            "127.0.0.1:9090",
        ])
        .expect("flags");
        let files: Vec<&str> = config.rule_sets.iter().filter_map(|p| p.to_str()).collect();
        assert_eq!(files, ["a.json", "b.json", "c.json"]);
        assert_eq!(config.benchmarks_dir, Some(PathBuf::from("rates")));
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.max_request_bytes, 1024);
        assert_eq!(config.max_x12_bytes, 2048);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.shutdown_grace, Duration::from_millis(250));
        assert_eq!(config.log_buffer_lines, 100);
        assert_eq!(config.metrics_listen, Some(SocketAddr::from(([127, 0, 0, 1], 9090))));
    }

    #[test]
    fn log_buffer_lines_must_be_positive() {
        for bad in ["0", "-1", "many"] {
            let flag = format!("--log-buffer-lines={bad}");
            let error = Config::try_parse_from(["cptkit-server", flag.as_str()]).expect_err(bad);
            assert!(error.to_string().contains("at least 1"), "{bad}: {error}");
        }
    }

    #[test]
    fn security_flags_parse() {
        let config = Config::try_parse_from([
            "cptkit-server",
            "--tls-cert",
            "server.pem",
            "--tls-key",
            "server.key",
            "--tls-client-ca",
            "ca.pem",
            "--tokens-file",
            "tokens.json",
            "--open-reflection",
            "--rate-limit",
            "50",
            "--idle-timeout",
            "0",
        ])
        .expect("flags");
        assert_eq!(config.tls_cert, Some(PathBuf::from("server.pem")));
        assert_eq!(config.tls_key, Some(PathBuf::from("server.key")));
        assert_eq!(config.tls_client_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(config.tokens_file, Some(PathBuf::from("tokens.json")));
        assert!(config.open_reflection);
        assert_eq!(config.rate_limit, Some(50));
        assert_eq!(config.idle_timeout, Duration::ZERO);
        assert!(Config::try_parse_from(["cptkit-server", "--rate-limit", "0"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
