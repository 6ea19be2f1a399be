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

/// `250ms`, `10s` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix("ms") {
        Some(n) => (n, Duration::from_millis(1)),
        None => (text.strip_suffix('s').unwrap_or(text), Duration::from_secs(1)),
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
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
