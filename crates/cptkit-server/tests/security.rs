//! TLS, mutual TLS, bearer tokens, the rate limit, the idle timeout and reloading, against the real
//! server (in-process on 127.0.0.1:0, and the real binary for its log and start-up errors) with
//! certificates generated at test time (rcgen) and real TLS clients (tonic's, and tokio-rustls to look
//! at the certificate the server presents).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

mod pki;

use cptkit_core::{Reference, RuleBook};
use cptkit_proto::pb;
use cptkit_proto::pb::claim_service_client::ClaimServiceClient;
use cptkit_proto::pb::code_service_client::CodeServiceClient;
use cptkit_server::{Config, DataStore, Security, ServeError, ServerData, serve_data};
use pki::{Ca, Issued, TempDir, sha256_hex};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Generous bound on anything that must finish, so a hang fails the test instead of stalling CI.
/// It is a guard, not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);

const API_TOKEN: &str = "s3cret-api-token-4f1d2c";
const OPS_TOKEN: &str = "s3cret-ops-token-77a0be";

// ---- certificates and files (tests/pki) ----

/// `billing-api` may call ClaimService and CodeService, `ops` everything; `batch-worker` is the
/// client certificate with that subject, for CodeService.
fn tokens_json() -> String {
    serde_json::json!({"tokens": [
        {"name": "billing-api", "sha256": sha256_hex(API_TOKEN), "services": ["cptkit.v1.ClaimService", "cptkit.v1.CodeService"]},
        {"name": "ops", "sha256": sha256_hex(OPS_TOKEN), "services": ["*"]},
        {"name": "batch-worker", "client_subject": "batch-worker", "services": ["cptkit.v1.CodeService"]},
    ]})
    .to_string()
}

/// A test directory with a CA, a server certificate and a `batch-worker` client certificate.
struct Pki {
    dir: TempDir,
    ca: Ca,
    server_cert: PathBuf,
    server_key: PathBuf,
    ca_file: PathBuf,
    client: Issued,
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new();
        let ca = Ca::new("cptkit test CA");
        let server = ca.server();
        Pki {
            server_cert: dir.write("server.pem", &server.cert),
            server_key: dir.write("server.key", &server.key),
            ca_file: dir.write("ca.pem", ca.pem()),
            client: ca.client("batch-worker"),
            ca,
            dir,
        }
    }

    fn tls_config(&self) -> Config {
        Config { tls_cert: Some(self.server_cert.clone()), tls_key: Some(self.server_key.clone()), ..Config::default() }
    }

    fn mtls_config(&self) -> Config {
        Config { tls_client_ca: Some(self.ca_file.clone()), ..self.tls_config() }
    }
}

// ---- server and clients ----

struct TestServer {
    address: SocketAddr,
    security: Arc<Security>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    async fn start(config: Config) -> TestServer {
        let security = Security::from_config(&config).expect("security files load");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let served = security.clone();
        let task = tokio::spawn(async move {
            let rules = Arc::new(RuleBook::embedded().clone());
            let store = DataStore::new(ServerData::new(Reference::embedded().into(), rules, Arc::default()));
            serve_data(listener, store, served, &config, async {
                let _ = signal.await;
            })
            .await
        });
        TestServer { address, security, shutdown: Some(shutdown), task }
    }

    async fn plain(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address)).expect("uri").connect().await.expect("connect")
    }

    /// A TLS channel trusting `ca`, with a client certificate if given.
    async fn tls(&self, ca: &str, identity: Option<&Issued>) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)).domain_name("localhost");
        if let Some(issued) = identity {
            tls = tls.identity(Identity::from_pem(&issued.cert, &issued.key));
        }
        Channel::from_shared(format!("https://{}", self.address)).expect("uri").tls_config(tls)?.connect().await
    }

    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let result = tokio::time::timeout(HANG_GUARD, self.task).await.expect("server stops").expect("task");
        result.expect("serve returns Ok");
    }
}

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ascii"));
    }
    request
}

async fn echo(channel: &Channel, token: Option<&str>) -> Result<String, Status> {
    let request = with_token(pb::EchoRequest { payload: "ping".into() }, token);
    CodeServiceClient::new(channel.clone()).echo(request).await.map(|r| r.into_inner().payload)
}

async fn validate(channel: &Channel, token: Option<&str>) -> Result<(), Status> {
    let request = with_token(pb::ValidateClaimRequest { claim: Some(claim("C1")), today: "2026-11-27".into() }, token);
    ClaimServiceClient::new(channel.clone()).validate_claim(request).await.map(drop)
}

async fn health(channel: &Channel) -> Result<(), Status> {
    HealthClient::new(channel.clone()).check(HealthCheckRequest { service: String::new() }).await.map(drop)
}

/// Lists services by reflection v1.
async fn reflection(channel: &Channel, token: Option<&str>) -> Result<(), Status> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_response::MessageResponse};
    let list = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let request = with_token(tokio_stream::iter([list]), token);
    let mut responses =
        ServerReflectionClient::new(channel.clone()).server_reflection_info(request).await?.into_inner();
    let response = responses.message().await?.expect("one response");
    assert!(matches!(response.message_response, Some(MessageResponse::ListServicesResponse(_))), "{response:?}");
    Ok(())
}

/// The golden Medicare claim with another id.
fn claim(id: &str) -> pb::Claim {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/claims/medicare_00632_aa_90min_2025/claim.json");
    let json = std::fs::read_to_string(path).expect("claim fixture");
    let mut claim: pb::Claim = cptkit_core::Claim::from_json(&json).expect("claim").into();
    claim.claim_id = id.to_owned();
    claim
}

fn code_of(result: Result<impl std::fmt::Debug, Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// The certificate the server presents to a new TLS connection, and the ALPN protocol it chose.
async fn presented_certificate(address: SocketAddr, ca_pem: &str) -> (CertificateDer<'static>, Option<Vec<u8>>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA pem")).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(address).await.expect("tcp connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS handshake");
    let connection = stream.get_ref().1;
    let certificate = connection.peer_certificates().and_then(|chain| chain.first()).expect("a certificate");
    (certificate.clone().into_owned(), connection.alpn_protocol().map(<[u8]>::to_vec))
}

fn der_of(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("certificate pem")
}

// ---- TLS and mutual TLS ----

#[tokio::test]
async fn tls_serves_grpc_over_h2() {
    let pki = Pki::new();
    let server = TestServer::start(pki.tls_config()).await;

    let channel = server.tls(&pki.ca.pem(), None).await.expect("TLS connect");
    assert_eq!(echo(&channel, None).await.expect("Echo over TLS"), "ping");
    health(&channel).await.expect("health over TLS");
    let (certificate, alpn) = presented_certificate(server.address, &pki.ca.pem()).await;
    assert_eq!(certificate, der_of(&std::fs::read_to_string(&pki.server_cert).expect("cert")));
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));

    // A plaintext client gets no answer from a TLS server.
    let plain = Channel::from_shared(format!("http://{}", server.address)).expect("uri").connect().await;
    if let Ok(plain) = plain {
        assert!(echo(&plain, None).await.is_err(), "plaintext answered by a TLS server");
    }
    // A client that does not trust the server's CA refuses it.
    let stranger = Ca::new("another CA");
    let untrusted = server.tls(&stranger.pem(), None).await;
    if let Ok(untrusted) = untrusted {
        assert!(echo(&untrusted, None).await.is_err(), "a certificate of an untrusted CA accepted");
    }
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_trusted_certificate() {
    let pki = Pki::new();
    let server = TestServer::start(pki.mtls_config()).await;

    let channel = server.tls(&pki.ca.pem(), Some(&pki.client)).await.expect("mTLS connect");
    assert_eq!(echo(&channel, None).await.expect("Echo with a client certificate"), "ping");

    // Without a certificate, and with one from another CA: the handshake is refused (TLS 1.3 reports
    // it on the first read, so the connect may succeed and the call fail).
    let stranger = Ca::new("another CA").client("batch-worker");
    for identity in [None, Some(&stranger)] {
        match server.tls(&pki.ca.pem(), identity).await {
            Err(_) => {}
            Ok(channel) => {
                let status = echo(&channel, None).await.expect_err("a client without a trusted certificate");
                assert!(matches!(status.code(), Code::Unavailable | Code::Unknown), "{status:?}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_tls_files_are_start_up_errors_naming_the_file() {
    let pki = Pki::new();
    let garbage = pki.dir.write("garbage.pem", "not a certificate");
    let other_key = pki.dir.write("other.key", pki.ca.server().key);
    let cases = [
        (Config { tls_cert: Some(garbage.clone()), ..pki.tls_config() }, "garbage.pem"),
        (Config { tls_key: Some(garbage.clone()), ..pki.tls_config() }, "garbage.pem"),
        (Config { tls_key: Some(other_key), ..pki.tls_config() }, "server.pem"),
        (Config { tls_client_ca: Some(garbage), ..pki.tls_config() }, "garbage.pem"),
        (Config { tls_key: None, ..pki.tls_config() }, "--tls-key"),
        (Config { tls_client_ca: Some(pki.ca_file.clone()), ..Config::default() }, "--tls-client-ca"),
    ];
    for (config, expected) in cases {
        let error = Security::from_config(&config).expect_err(expected);
        assert!(error.contains(expected), "{expected}: {error}");
    }
}

// ---- tokens ----

#[tokio::test]
async fn tokens_authenticate_and_authorize() {
    let dir = TempDir::new();
    let tokens_file = Some(dir.write("tokens.json", tokens_json()));
    let server = TestServer::start(Config { tokens_file: tokens_file.clone(), ..Config::default() }).await;
    let channel = server.plain().await;

    assert_eq!(code_of(echo(&channel, None).await), Code::Unauthenticated, "no token");
    assert_eq!(code_of(echo(&channel, Some("wrong")).await), Code::Unauthenticated, "wrong token");
    assert_eq!(code_of(echo(&channel, Some(&sha256_hex(API_TOKEN))).await), Code::Unauthenticated, "the hash");
    assert_eq!(code_of(echo(&channel, Some(API_TOKEN)).await), Code::Ok, "right token");
    assert_eq!(code_of(validate(&channel, Some(API_TOKEN)).await), Code::Ok, "right token, ClaimService");
    let request = pb::ParseClaimsRequest { x12: b"ISA".to_vec(), ..Default::default() };
    let x12 = pb::x12_service_client::X12ServiceClient::new(channel.clone())
        .parse_claims(with_token(request, Some(API_TOKEN)))
        .await;
    let status = x12.expect_err("billing-api may not call X12Service");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("billing-api") && status.message().contains("cptkit.v1.X12Service"),
        "{status:?}"
    );
    assert!(!status.message().contains(API_TOKEN));

    health(&channel).await.expect("health is open");
    assert_eq!(code_of(reflection(&channel, None).await), Code::Unauthenticated, "reflection needs a token");
    assert_eq!(code_of(reflection(&channel, Some(API_TOKEN)).await), Code::PermissionDenied, "not for billing-api");
    assert_eq!(code_of(reflection(&channel, Some(OPS_TOKEN)).await), Code::Ok, "ops may reflect");
    server.stop().await;

    let open = TestServer::start(Config { tokens_file, open_reflection: true, ..Config::default() }).await;
    let channel = open.plain().await;
    assert_eq!(code_of(reflection(&channel, None).await), Code::Ok, "--open-reflection");
    assert_eq!(code_of(echo(&channel, None).await), Code::Unauthenticated, "the rest stays closed");
    open.stop().await;
}

#[tokio::test]
async fn a_client_certificate_subject_names_the_caller() {
    let pki = Pki::new();
    let tokens_file = Some(pki.dir.write("tokens.json", tokens_json()));
    let server = TestServer::start(Config { tokens_file, ..pki.mtls_config() }).await;

    let worker = server.tls(&pki.ca.pem(), Some(&pki.client)).await.expect("mTLS connect");
    assert_eq!(code_of(echo(&worker, None).await), Code::Ok, "batch-worker by its certificate");
    assert_eq!(code_of(validate(&worker, None).await), Code::PermissionDenied, "batch-worker: CodeService only");
    assert_eq!(code_of(validate(&worker, Some(API_TOKEN)).await), Code::Ok, "a token wins over the certificate");

    let nobody = pki.ca.client("nobody");
    let stranger = server.tls(&pki.ca.pem(), Some(&nobody)).await.expect("mTLS connect");
    assert_eq!(code_of(echo(&stranger, None).await), Code::Unauthenticated, "a subject not in the tokens file");
    server.stop().await;
}

#[tokio::test]
async fn the_rate_limit_is_per_caller() {
    let dir = TempDir::new();
    let tokens_file = Some(dir.write("tokens.json", tokens_json()));
    let server = TestServer::start(Config { tokens_file, rate_limit: Some(1), ..Config::default() }).await;
    let channel = server.plain().await;

    // A burst of 1 per second: of 20 calls in a row, some are refused (unless each took a second).
    let mut refused = None;
    for _ in 0..20 {
        if let Err(status) = echo(&channel, Some(API_TOKEN)).await {
            refused = Some(status);
            break;
        }
    }
    let status = refused.expect("a call over the rate limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("rate limit of caller billing-api"), "{status:?}");
    assert_eq!(code_of(echo(&channel, Some(OPS_TOKEN)).await), Code::Ok, "ops has its own bucket");
    health(&channel).await.expect("health is not limited");
    server.stop().await;
}

// ---- idle timeout ----

#[tokio::test]
async fn idle_connections_close_and_busy_ones_stay() {
    let idle_timeout = Duration::from_secs(1);
    let server = TestServer::start(Config { idle_timeout, ..Config::default() }).await;

    // A client that opens HTTP/2 and sends nothing more: the server closes the connection.
    let mut idle = TcpStream::connect(server.address).await.expect("connect");
    idle.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await.expect("preface");
    let mut sink = Vec::new();
    tokio::time::timeout(HANG_GUARD, idle.read_to_end(&mut sink)).await.expect("closed by the server").ok();

    // A ProcessClaims stream held open for several idle timeouts is a request in progress: its
    // connection stays, and the stream answers the next claim.
    let mut client = ClaimServiceClient::new(server.plain().await);
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let request = |id: &str| pb::ProcessClaimsRequest {
        request_id: id.to_owned(),
        claim: Some(claim(id)),
        price: false,
        options: None,
        today: "2026-11-27".into(),
    };
    sender.send(request("first")).await.expect("send");
    let mut answers = client
        .process_claims(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .expect("ProcessClaims")
        .into_inner();
    let first = tokio::time::timeout(HANG_GUARD, answers.message()).await.expect("answer").expect("ok");
    assert_eq!(first.expect("first").request_id, "first");
    tokio::time::sleep(idle_timeout * 4).await;
    sender.send(request("second")).await.expect("send");
    let second = tokio::time::timeout(HANG_GUARD, answers.message()).await.expect("answer").expect("still open");
    assert_eq!(second.expect("second").request_id, "second");
    drop(sender);
    server.stop().await;
}

// ---- reload ----

#[tokio::test]
async fn reload_swaps_certificates_and_tokens_and_keeps_them_on_error() {
    let pki = Pki::new();
    let tokens_path = pki.dir.write("tokens.json", r#"{"tokens": []}"#);
    let server = TestServer::start(Config { tokens_file: Some(tokens_path.clone()), ..pki.tls_config() }).await;
    let old = server.tls(&pki.ca.pem(), None).await.expect("connect");
    assert_eq!(code_of(echo(&old, Some(OPS_TOKEN)).await), Code::Unauthenticated, "no tokens yet");

    let renewed = pki.ca.server();
    std::fs::write(&pki.server_cert, &renewed.cert).expect("write cert");
    std::fs::write(&pki.server_key, &renewed.key).expect("write key");
    std::fs::write(&tokens_path, tokens_json()).expect("write tokens");
    server.security.reload().expect("reload");
    let (certificate, _) = presented_certificate(server.address, &pki.ca.pem()).await;
    assert_eq!(certificate, der_of(&renewed.cert), "a new connection gets the new certificate");
    assert_eq!(code_of(echo(&old, Some(OPS_TOKEN)).await), Code::Ok, "the new tokens, on an old connection too");

    // A broken certificate file: reload fails naming it, and the server keeps the last good one.
    std::fs::write(&pki.server_cert, "-----BEGIN CERTIFICATE-----\nbroken\n").expect("write");
    let error = server.security.reload().expect_err("a broken certificate");
    assert!(error.contains(&pki.server_cert.display().to_string()), "{error}");
    let (certificate, _) = presented_certificate(server.address, &pki.ca.pem()).await;
    assert_eq!(certificate, der_of(&renewed.cert), "the last good certificate stays");
    let fresh = server.tls(&pki.ca.pem(), None).await.expect("connect after a failed reload");
    assert_eq!(code_of(echo(&fresh, Some(OPS_TOKEN)).await), Code::Ok);
    server.stop().await;
}

// ---- the real binary ----

/// Starts `cptkit-server` with `args`, returns it and its address (its stdout line).
async fn spawn_binary(args: &[&std::ffi::OsStr]) -> (tokio::process::Child, SocketAddr) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn cptkit-server");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    tokio::time::timeout(HANG_GUARD, BufReader::new(stdout).read_line(&mut line)).await.expect("a line").expect("read");
    let address = line.trim().strip_prefix("cptkit-server listening on ").unwrap_or_else(|| panic!("{line:?}"));
    (child, address.parse().expect("an address"))
}

/// SIGTERM, then the exit status and stderr.
async fn terminate(mut child: tokio::process::Child) -> (std::process::ExitStatus, String) {
    let pid = child.id().expect("running").to_string();
    assert!(tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill").success());
    let status = tokio::time::timeout(HANG_GUARD, child.wait()).await.expect("exits").expect("wait");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).await.expect("read stderr");
    (status, stderr)
}

#[tokio::test]
async fn the_binary_logs_the_caller_name_never_the_token() {
    let dir = TempDir::new();
    let tokens = dir.write("tokens.json", tokens_json());
    let (child, address) =
        spawn_binary(&["--listen".as_ref(), "127.0.0.1:0".as_ref(), "--tokens-file".as_ref(), tokens.as_os_str()])
            .await;
    let channel = Channel::from_shared(format!("http://{address}")).expect("uri").connect().await.expect("connect");
    echo(&channel, Some(API_TOKEN)).await.expect("Echo");
    assert_eq!(code_of(echo(&channel, Some("not-a-known-token")).await), Code::Unauthenticated);
    let (status, stderr) = terminate(child).await;
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("caller=billing-api") && stderr.contains("status=OK"), "{stderr}");
    assert!(stderr.contains("status=UNAUTHENTICATED"), "{stderr}");
    for secret in [API_TOKEN, "not-a-known-token", &sha256_hex(API_TOKEN)] {
        assert!(!stderr.contains(secret), "{secret} in the log: {stderr}");
    }
}

#[tokio::test]
async fn the_binary_refuses_a_malformed_tokens_file_naming_the_entry() {
    let dir = TempDir::new();
    let tokens = dir.write("tokens.json", r#"{"tokens": [{"name": "a", "sha256": "00ff", "services": ["*"]}]}"#);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(["--listen".as_ref(), "127.0.0.1:0".as_ref(), "--tokens-file".as_ref(), tokens.as_os_str()])
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(HANG_GUARD, output).await.expect("exits").expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("tokens file {}: tokens[0].sha256", tokens.display())), "{stderr}");
    assert!(output.stdout.is_empty(), "no listening line");
}

#[tokio::test]
async fn the_binary_warns_when_it_listens_beyond_loopback_without_tls() {
    let (child, _) = spawn_binary(&["--listen".as_ref(), "0.0.0.0:0".as_ref()]).await;
    let (status, stderr) = terminate(child).await;
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("WARN") && stderr.contains("WITHOUT TLS"), "{stderr}");
    assert!(stderr.contains("cptkit-server: WARNING:"), "{stderr}");
}
