//! Helpers shared by the tests that spawn the real binary with a metrics endpoint.
// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout};

/// Generous bound on anything that must finish, so a hang fails the test instead of stalling CI.
/// It is a guard, not a timing assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Starts the `cptkit-server` binary with `args` at log level info, stdout and stderr piped.
pub fn spawn_server(args: &[&str]) -> Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn cptkit-server")
}

/// Reads the next stdout line of the binary and the address after `prefix` on it.
pub async fn address_line(stdout: &mut BufReader<ChildStdout>, prefix: &str) -> SocketAddr {
    let mut line = String::new();
    tokio::time::timeout(HANG_GUARD, stdout.read_line(&mut line)).await.expect("a stdout line").expect("read");
    line.trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
        .parse()
        .expect("an address")
}

/// One HTTP/1.1 GET with `Connection: close`; the response head and body.
pub async fn http_get(address: SocketAddr, path: &str) -> (String, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect to metrics");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send request");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read response");
        response
    };
    let response = tokio::time::timeout(HANG_GUARD, exchange).await.expect("metrics answer");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end: {response}"));
    (head.to_owned(), body.to_owned())
}

/// A scrape of `/metrics`: each series (`name{labels}`) and its value, and the text.
#[derive(Debug)]
pub struct Metrics {
    pub series: HashMap<String, f64>,
    pub text: String,
}

impl Metrics {
    /// `GET /metrics` at `address`, checked to be an OpenMetrics exposition, parsed.
    pub async fn scrape(address: SocketAddr) -> Metrics {
        let (head, body) = http_get(address, "/metrics").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_lowercase().contains("content-type: application/openmetrics-text"), "{head}");
        assert!(body.ends_with("# EOF\n"), "{body}");
        let series = body
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample: {line}"));
                (series.to_owned(), value.parse().unwrap_or_else(|e| panic!("{e}: {line}")))
            })
            .collect();
        Metrics { series, text: body }
    }

    /// A series' value; a series not exposed yet is 0.
    pub fn get(&self, series: &str) -> f64 {
        self.series.get(series).copied().unwrap_or(0.0)
    }

    /// How much a series moved since `before`.
    pub fn delta(&self, before: &Metrics, series: &str) -> f64 {
        self.get(series) - before.get(series)
    }
}
