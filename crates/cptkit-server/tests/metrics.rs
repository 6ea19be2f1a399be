//! The Prometheus endpoint of the real binary (`--metrics-listen 127.0.0.1:0`): scraped over HTTP
//! before, during and after real gRPC traffic (GetCode, an error, PriceClaim, a ProcessClaims
//! stream), its counters and histograms must move by exactly the requests made, the in-flight
//! gauges must show the open stream and return to 0, and the build and data versions must be there.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;

use cptkit_proto::pb;
use cptkit_proto::pb::claim_service_client::ClaimServiceClient;
use cptkit_proto::pb::code_service_client::CodeServiceClient;
use support::{HANG_GUARD, Metrics, address_line, http_get, spawn_server};
use tokio::io::{AsyncReadExt, BufReader};
use tokio::process::Child;
use tonic::Code;

const CODE_SERVICE: &str = "cptkit.v1.CodeService";
const CLAIM_SERVICE: &str = "cptkit.v1.ClaimService";

struct Server {
    child: Child,
    grpc: SocketAddr,
    metrics: SocketAddr,
}

impl Server {
    async fn start() -> Server {
        let mut child = spawn_server(&["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"]);
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        // The first line is unchanged; the metrics address is the second.
        let grpc = address_line(&mut stdout, "cptkit-server listening on ").await;
        let metrics = address_line(&mut stdout, "cptkit-server metrics on ").await;
        assert_ne!(grpc.port(), metrics.port(), "the metrics endpoint has its own port");
        Server { child, grpc, metrics }
    }

    async fn scrape(&self) -> Metrics {
        Metrics::scrape(self.metrics).await
    }

    async fn terminate(mut self) -> String {
        let pid = self.child.id().expect("running").to_string();
        let kill = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
        assert!(kill.success());
        let status = tokio::time::timeout(HANG_GUARD, self.child.wait()).await.expect("exits").expect("wait");
        let mut stderr = String::new();
        self.child.stderr.take().expect("stderr").read_to_string(&mut stderr).await.expect("read stderr");
        assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
        stderr
    }
}

fn requests(service: &str, method: &str, code: &str) -> String {
    format!(r#"cptkit_grpc_requests_total{{grpc_service="{service}",grpc_method="{method}",grpc_code="{code}"}}"#)
}

fn by_method(name: &str, service: &str, method: &str) -> String {
    format!(r#"{name}{{grpc_service="{service}",grpc_method="{method}"}}"#)
}

/// The golden claim 00632-AA, 90 minutes, Manhattan, CY2025 (prices to 295.88).
fn golden_claim() -> pb::Claim {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/claims/medicare_00632_aa_90min_2025_manhattan/claim.json");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    cptkit_core::Claim::from_json(&json).expect("golden claim").into()
}

const TODAY: &str = "2026-11-27";

#[tokio::test]
async fn metrics_count_exactly_the_requests_made() {
    let server = Server::start().await;
    let before = server.scrape().await;

    // Build and data versions are there from the start.
    let version = format!(r#"cptkit_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION"));
    assert!(before.text.contains(&version), "{}", before.text);
    assert!(before.text.contains(r#"cptkit_data_version_info{table="fee_schedule",version="RVU"#), "{}", before.text);
    assert!(before.text.contains(r#"cptkit_data_version_info{table="rule_set",version=""#), "{}", before.text);
    assert!(before.get(r#"cptkit_data_entries{table="anesthesia_codes"}"#) > 0.0, "{}", before.text);
    assert!(before.get(r#"cptkit_data_entries{table="icd10cm_codes"}"#) > 0.0, "{}", before.text);
    assert_eq!(before.get("cptkit_grpc_requests_in_flight"), 0.0);
    assert_eq!(before.get("cptkit_log_lines_dropped_total"), 0.0);

    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut codes = CodeServiceClient::new(channel.clone());
    let mut claims = ClaimServiceClient::new(channel);

    for _ in 0..3 {
        let request = pb::GetCodeRequest { code: "00632".into(), localities: Vec::new(), ..Default::default() };
        codes.get_code(request).await.expect("GetCode");
    }
    let missing = pb::GetCodeRequest { code: "00101".into(), localities: Vec::new(), ..Default::default() };
    let status = codes.get_code(missing).await.expect_err("not found");
    assert_eq!(status.code(), Code::NotFound);

    let claim = golden_claim();
    let lines = claim.lines.len() as f64;
    let price = pb::PriceClaimRequest { claim: Some(claim.clone()), options: None, today: TODAY.into() };
    let priced = claims.price_claim(price).await.expect("PriceClaim").into_inner();
    assert_eq!(priced.priced.expect("priced").total_allowed_cents, 29588);

    // A ProcessClaims stream, scraped while it is open.
    let (send, inbound) = tokio::sync::mpsc::channel(4);
    let mut answers =
        claims.process_claims(tokio_stream::wrappers::ReceiverStream::new(inbound)).await.expect("stream").into_inner();
    for id in ["a", "b"] {
        let request = pb::ProcessClaimsRequest {
            request_id: id.into(),
            claim: Some(claim.clone()),
            price: true,
            options: None,
            today: TODAY.into(),
        };
        send.send(request).await.expect("send a claim");
        let answer = tokio::time::timeout(HANG_GUARD, answers.message()).await.expect("answer in time");
        let answer = answer.expect("answer").expect("not ended");
        assert_eq!(answer.request_id, id);
        assert!(answer.priced.is_some(), "{answer:?}");
    }
    let during = server.scrape().await;
    assert_eq!(during.get("cptkit_grpc_requests_in_flight"), 1.0, "{}", during.text);
    assert_eq!(during.get("cptkit_grpc_streams_in_flight"), 1.0, "{}", during.text);
    // Claims on an open stream are counted as they are judged, not when it ends.
    let judged = by_method("cptkit_claims_judged_total", CLAIM_SERVICE, "ProcessClaims");
    assert_eq!(during.delta(&before, &judged), 2.0, "{}", during.text);
    // The stream's request is counted once it ends.
    assert_eq!(during.delta(&before, &requests(CLAIM_SERVICE, "ProcessClaims", "OK")), 0.0);

    drop(send);
    let end = tokio::time::timeout(HANG_GUARD, answers.message()).await.expect("end in time").expect("clean end");
    assert!(end.is_none());
    let after = server.scrape().await;

    let moved = |series: &str| after.delta(&before, series);
    assert_eq!(moved(&requests(CODE_SERVICE, "GetCode", "OK")), 3.0, "{}", after.text);
    assert_eq!(moved(&requests(CODE_SERVICE, "GetCode", "NOT_FOUND")), 1.0, "{}", after.text);
    assert_eq!(moved(&requests(CLAIM_SERVICE, "PriceClaim", "OK")), 1.0, "{}", after.text);
    assert_eq!(moved(&requests(CLAIM_SERVICE, "ProcessClaims", "OK")), 1.0, "{}", after.text);
    let request_total: f64 =
        after.series.iter().filter(|(s, _)| s.starts_with("cptkit_grpc_requests_total{")).map(|(_, v)| v).sum();
    assert_eq!(request_total, 6.0, "no other request was counted:\n{}", after.text);

    let duration = "cptkit_grpc_request_duration_seconds_count";
    assert_eq!(moved(&by_method(duration, CODE_SERVICE, "GetCode")), 4.0, "{}", after.text);
    assert_eq!(moved(&by_method(duration, CLAIM_SERVICE, "PriceClaim")), 1.0, "{}", after.text);
    assert_eq!(moved(&by_method(duration, CLAIM_SERVICE, "ProcessClaims")), 1.0, "{}", after.text);
    let inf_bucket = r#"cptkit_grpc_request_duration_seconds_bucket{le="+Inf",grpc_service="cptkit.v1.CodeService",grpc_method="GetCode"}"#;
    assert_eq!(moved(inf_bucket), 4.0, "{}", after.text);

    assert_eq!(moved(&by_method("cptkit_claims_judged_total", CLAIM_SERVICE, "PriceClaim")), 1.0);
    assert_eq!(moved(&by_method("cptkit_claim_lines_judged_total", CLAIM_SERVICE, "PriceClaim")), lines);
    assert_eq!(moved(&judged), 2.0);
    assert_eq!(moved(&by_method("cptkit_claim_lines_judged_total", CLAIM_SERVICE, "ProcessClaims")), 2.0 * lines);

    assert_eq!(after.get("cptkit_grpc_requests_in_flight"), 0.0, "{}", after.text);
    assert_eq!(after.get("cptkit_grpc_streams_in_flight"), 0.0, "{}", after.text);
    assert!(!after.text.contains("cptkit_grpc_refused_total{"), "nothing refused:\n{}", after.text);
    assert_eq!(after.get("cptkit_log_lines_dropped_total"), 0.0);

    // Only /metrics is served.
    let (head, _) = http_get(server.metrics, "/").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    // The start-up log names the metrics address too.
    let metrics_address = format!("metrics_address={}", server.metrics);
    let stderr = server.terminate().await;
    assert!(stderr.contains(&metrics_address), "{stderr}");
}

#[tokio::test]
async fn a_taken_metrics_port_fails_the_start_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", &address])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(HANG_GUARD, output).await.expect("exits").expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen for metrics on {address}")), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout before both ports are bound");
}
