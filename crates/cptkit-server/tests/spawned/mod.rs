//! Shared by `tests/load.rs` and `tests/faults.rs`: the real `cptkit-server` binary on 127.0.0.1:0,
//! its stderr drained (so a chatty log can never block it), signals sent with `kill`, and the load
//! generator pointed at it.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser as _;
use cptkit_loadgen::{Options, Summary};
use cptkit_proto::pb;
use cptkit_proto::pb::code_service_client::CodeServiceClient;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Generous bound on anything that must finish, so a hang fails the test instead of stalling CI.
/// It is a guard, not a timing assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Stderr kept for assertions and failure messages: the last this many bytes.
const STDERR_TAIL: usize = 256 * 1024;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// A running `cptkit-server`.
pub struct Server {
    child: Child,
    pub address: SocketAddr,
    stderr: Arc<Mutex<String>>,
    drain: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts the binary on 127.0.0.1:0 with `args` (log level warn unless `RUST_LOG` is in `env`)
    /// and reads its "listening on" line.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cptkit-server"));
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn cptkit-server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let drain = tokio::spawn(drain(child.stderr.take().expect("stderr"), stderr.clone()));
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let read = tokio::time::timeout(HANG_GUARD, BufReader::new(stdout).read_line(&mut line)).await;
        read.expect("a listening line in time").expect("read stdout");
        let Some(address) = line.trim().strip_prefix("cptkit-server listening on ") else {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let _ = drain.await;
            panic!("unexpected first line {line:?}; stderr:\n{}", stderr.lock().expect("stderr lock"));
        };
        let address = address.parse().expect("an address");
        Server { child, address, stderr, drain }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url()).expect("uri").connect().await.expect("connect")
    }

    /// What the server wrote on stderr so far (the last 256 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    pub fn rss_kib(&self) -> u64 {
        cptkit_loadgen::read_rss_kib(self.pid()).expect("server VmRSS")
    }

    /// Sends a signal (`-TERM`, `-HUP`) with `kill`.
    pub async fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let kill = Command::new("kill").args([signal, &pid]).status().await.expect("run kill");
        assert!(kill.success(), "kill {signal} {pid}");
    }

    /// Waits for the exit; returns the status and stderr.
    pub async fn wait(mut self) -> (ExitStatus, String) {
        let status = tokio::time::timeout(HANG_GUARD, self.child.wait()).await.expect("exits in time").expect("wait");
        let _ = tokio::time::timeout(HANG_GUARD, &mut self.drain).await;
        let stderr = self.stderr();
        (status, stderr)
    }

    /// SIGTERM, then [`Server::wait`].
    pub async fn terminate(self) -> (ExitStatus, String) {
        self.signal("-TERM").await;
        self.wait().await
    }

    /// Health says SERVING, on a new connection.
    pub async fn assert_serving_health(&self) {
        let channel = tokio::time::timeout(HANG_GUARD, self.channel()).await.expect("connects in time");
        let mut client = HealthClient::new(channel);
        let health = client.check(HealthCheckRequest { service: String::new() });
        let health = tokio::time::timeout(HANG_GUARD, health).await.expect("health in time").expect("health");
        assert_eq!(health.into_inner().status(), ServingStatus::Serving);
    }

    /// Health says SERVING and GetCode 00632 answers, on a new connection.
    pub async fn assert_serving(&self) {
        self.assert_serving_health().await;
        let channel = tokio::time::timeout(HANG_GUARD, self.channel()).await.expect("connects in time");
        let request = pb::GetCodeRequest { code: "00632".into(), localities: Vec::new(), ..Default::default() };
        let mut client = CodeServiceClient::new(channel);
        let answer = tokio::time::timeout(HANG_GUARD, client.get_code(request)).await;
        let profile = answer.expect("GetCode in time").expect("GetCode").into_inner().profile.expect("profile");
        assert_eq!(profile.code, "00632");
    }

    /// Load generator options against this server (its pid for RSS), then `extra` flags.
    pub fn load(&self, extra: &[&str]) -> Options {
        let pid = self.pid().to_string();
        let fixtures = fixtures();
        let base = ["cptkit-loadgen", "--target", &self.url(), "--server-pid", &pid, "--rss-interval", "250ms"];
        let fixtures = ["--fixtures", fixtures.to_str().expect("utf-8 path")];
        Options::parse_from(base.iter().chain(&fixtures).chain(extra))
    }

    /// Runs the load generator against this server and prints its summary.
    pub async fn run_load(&self, extra: &[&str]) -> Summary {
        run_load(self.load(extra)).await
    }
}

/// Runs the generator with `options` and prints the summary (numbers for the log, never asserted).
pub async fn run_load(options: Options) -> Summary {
    let guard = options.duration + HANG_GUARD;
    let summary = tokio::time::timeout(guard, cptkit_loadgen::run(&options)).await.expect("load ends").expect("load");
    println!("{summary}");
    summary
}

async fn drain(mut stderr: tokio::process::ChildStderr, into: Arc<Mutex<String>>) {
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(n) = stderr.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let mut kept = into.lock().expect("stderr lock");
        kept.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if kept.len() > STDERR_TAIL {
            let cut = kept.len() - STDERR_TAIL;
            let cut = (cut..kept.len()).find(|i| kept.is_char_boundary(*i)).unwrap_or(kept.len());
            kept.drain(..cut);
        }
    }
}
