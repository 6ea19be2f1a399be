//! Logging never stalls serving: the real binary, its stderr a pipe that nobody reads (a stuck log
//! collector), answers thousands of requests, then a health check on a new connection, then exits 0
//! on SIGTERM. Log lines that do not fit are dropped and counted (`cptkit_log_lines_dropped_total`),
//! never waited for.

mod support;

use std::net::SocketAddr;

use cptkit_proto::pb;
use cptkit_proto::pb::code_service_client::CodeServiceClient;
use support::{HANG_GUARD, Metrics, address_line, spawn_server};
use tokio::io::BufReader;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Far more access-log lines than a pipe holds (64 KiB is a few hundred lines).
const REQUESTS: usize = 5_000;
const CONNECTIONS: usize = 4;

async fn connect(address: SocketAddr) -> Channel {
    let endpoint = Channel::from_shared(format!("http://{address}")).expect("uri");
    tokio::time::timeout(HANG_GUARD, endpoint.connect()).await.expect("connects in time").expect("connect")
}

/// Echo and GetCode in turn on one connection; each answer must come.
async fn traffic(address: SocketAddr, requests: usize) -> usize {
    let mut client = CodeServiceClient::new(connect(address).await);
    for i in 0..requests {
        if i % 2 == 0 {
            client.echo(pb::EchoRequest { payload: "ping".into() }).await.expect("Echo");
        } else {
            let request = pb::GetCodeRequest { code: "00632".into(), localities: Vec::new(), ..Default::default() };
            client.get_code(request).await.expect("GetCode");
        }
    }
    requests
}

#[tokio::test]
async fn a_log_reader_that_never_reads_does_not_stall_the_server() {
    let mut child =
        spawn_server(&["--listen", "127.0.0.1:0", "--log-buffer-lines", "256", "--metrics-listen", "127.0.0.1:0"]);
    // Held open and never read: once the pipe is full, every write to it would block.
    let stuck_stderr = child.stderr.take().expect("stderr");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let address = address_line(&mut stdout, "cptkit-server listening on ").await;
    let metrics = address_line(&mut stdout, "cptkit-server metrics on ").await;

    let clients: Vec<_> = (0..CONNECTIONS).map(|_| tokio::spawn(traffic(address, REQUESTS / CONNECTIONS))).collect();
    let mut answered = 0;
    for client in clients {
        answered += tokio::time::timeout(HANG_GUARD, client)
            .await
            .expect("every request is answered: a stuck log reader must not stall the server")
            .expect("client task");
    }
    assert_eq!(answered, REQUESTS);

    // A new connection is still accepted and answered.
    let mut health = HealthClient::new(connect(address).await);
    let check = tokio::time::timeout(HANG_GUARD, health.check(HealthCheckRequest { service: String::new() }))
        .await
        .expect("health answers in time")
        .expect("health check");
    assert_eq!(check.into_inner().status(), ServingStatus::Serving);
    drop(health);

    // The lines that did not fit were counted, not waited for.
    let scrape = Metrics::scrape(metrics).await;
    assert!(scrape.get("cptkit_log_lines_dropped_total") > 0.0, "{}", scrape.text);
    assert_eq!(scrape.get("cptkit_grpc_requests_in_flight"), 0.0, "{}", scrape.text);

    let pid = child.id().expect("running").to_string();
    let kill = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
    assert!(kill.success());
    let status = tokio::time::timeout(HANG_GUARD, child.wait())
        .await
        .expect("exits after SIGTERM although its log reader is stuck")
        .expect("wait");
    assert!(status.success(), "exit {status:?}");
    drop(stuck_stderr);
}
