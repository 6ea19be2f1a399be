//! Production limits and reloads: load shedding, deadlines, undecodable requests, hot reload by
//! SIGHUP and by `--watch`, and gRPC-Web.

use cptkit_proto::pb::claim_service_client::ClaimServiceClient;
use prost::Message as _;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use super::claims::{TODAY, acme_claim, acme_rule_set, medicare_claim, price, process_request, sixty, temp_file};
use super::*;

/// Opens a ProcessClaims stream, has one claim answered, and keeps the stream open: a request in
/// progress until `sender` is dropped.
async fn open_stream(
    client: &mut ClaimServiceClient<Channel>,
) -> (mpsc::Sender<pb::ProcessClaimsRequest>, tonic::Streaming<pb::ProcessClaimsResponse>) {
    let (sender, requests) = mpsc::channel(4);
    sender.send(process_request("open-1", medicare_claim("OPEN-1", 90), true)).await.expect("send");
    let mut answers = client.process_claims(ReceiverStream::new(requests)).await.expect("stream opens").into_inner();
    let first = tokio::time::timeout(HANG_GUARD, answers.next()).await.expect("an answer").expect("one").expect("ok");
    assert_eq!(first.request_id, "open-1");
    (sender, answers)
}

async fn health(server: &TestServer) -> i32 {
    let mut client = HealthClient::new(server.channel().await);
    client.check(HealthCheckRequest { service: String::new() }).await.expect("health answers").into_inner().status
}

#[tokio::test]
async fn requests_beyond_the_limit_are_shed_at_once_and_health_still_answers() {
    let config = Config { max_concurrent_requests: 1, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut claims = server.claims().await;
    let (sender, mut answers) = open_stream(&mut claims).await;

    let status = server.codes().await.get_code(get_code("00632", &[])).await.expect_err("shed");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit of 1 requests"), "{}", status.message());
    assert_eq!(health(&server).await, ServingStatus::Serving as i32);

    // The stream ends: its place is free again.
    drop(sender);
    assert!(tokio::time::timeout(HANG_GUARD, answers.next()).await.expect("stream ends").is_none());
    let profile = server.codes().await.get_code(get_code("00632", &[])).await.expect("served after the stream");
    assert_eq!(profile.into_inner().profile.expect("profile").base_units, 7);
    server.stop().await;
}

#[tokio::test]
async fn a_client_deadline_ends_a_stream_with_deadline_exceeded_and_frees_its_place() {
    // The ICD-10-CM index is built before the clock starts, so the first answer comes well in time.
    Reference::embedded().warm().expect("embedded data");
    let config = Config { max_concurrent_requests: 1, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut claims = server.claims().await;
    let (sender, requests) = mpsc::channel(4);
    sender.send(process_request("late-1", medicare_claim("LATE-1", 90), true)).await.expect("send");
    let mut request = tonic::Request::new(ReceiverStream::new(requests));
    request.set_timeout(Duration::from_secs(2));
    let mut answers = claims.process_claims(request).await.expect("stream opens").into_inner();
    assert_eq!(answers.next().await.expect("answer").expect("ok").request_id, "late-1");
    // The client keeps its side open; the deadline passes.
    let status =
        tokio::time::timeout(HANG_GUARD, answers.next()).await.expect("ends").expect("an item").expect_err("late");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    drop(sender);
    server.codes().await.get_code(get_code("99213", &[])).await.expect("the place is free again");
    server.stop().await;
}

#[tokio::test]
async fn the_server_request_timeout_ends_a_call_that_takes_too_long() {
    // A 1 ms server limit: ParseClaims of a large 837 cannot answer in time.
    let config = Config { request_timeout: Duration::from_millis(1), ..Config::default() };
    let server = TestServer::start(config).await;
    let x12 = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12/837p_two_interchanges.x12"),
    )
    .expect("fixture");
    let big: Vec<u8> = x12.iter().copied().cycle().take(x12.len() * 2000).collect();
    let mut client = pb::x12_service_client::X12ServiceClient::new(server.channel().await)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let request = pb::ParseClaimsRequest { x12: big, validate: true, ..Default::default() };
    let outcome = async {
        let mut stream = client.parse_claims(request).await?.into_inner();
        while stream.message().await?.is_some() {}
        Ok::<(), Status>(())
    };
    let status = tokio::time::timeout(HANG_GUARD, outcome).await.expect("ends").expect_err("too slow");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(health(&server).await, ServingStatus::Serving as i32, "health has no server timeout");
    server.stop().await;
}

/// Messages as their bytes, sent and received as they are.
#[derive(Debug, Clone, Default)]
struct RawCodec;
#[derive(Debug, Clone, Default)]
struct Raw;
impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}
impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}
impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = bytes::Buf::copy_to_bytes(src, bytes::Buf::remaining(src));
        Ok(Some(bytes.to_vec()))
    }
}

/// Sends `body` as the one message of a unary call to `path`, bytes as they are.
async fn raw_unary(channel: Channel, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body), path, RawCodec).await.map(tonic::Response::into_inner)
}

#[tokio::test]
async fn bytes_that_are_not_protobuf_are_invalid_argument() {
    let server = default_server().await;
    // Field 1 as a length-delimited value 100 bytes long, with 2 bytes present.
    let garbage = vec![0x0a, 0x64, 0x01, 0x02];
    for path in ["/cptkit.v1.ClaimService/PriceClaim", "/cptkit.v1.CodeService/GetCode", "/cptkit.v1.CodeService/Echo"]
    {
        let status = raw_unary(server.channel().await, path, garbage.clone()).await.expect_err("not protobuf");
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        assert!(status.message().contains("not valid protobuf"), "{path}: {}", status.message());
    }
    let echo = raw_unary(server.channel().await, "/cptkit.v1.CodeService/Echo", vec![0x0a, 0x02, b'h', b'i']).await;
    assert_eq!(echo.expect("a valid message still answers"), vec![0x0a, 0x02, b'h', b'i']);
    server.stop().await;
}

/// A string that is not UTF-8 makes the request not valid protobuf: INVALID_ARGUMENT with a
/// `BadRequest` violation on the field, in the request's terms, as any bad field gets, never the value.
#[tokio::test]
async fn a_string_that_is_not_utf8_is_a_field_violation() {
    let server = default_server().await;
    let mut claim = crate::claims::medicare_claim("U-1", 90);
    claim.patient.get_or_insert_default().member_id = "MEMBERXYZ".into();
    let mut bytes = pb::PriceClaimRequest { claim: Some(claim), ..Default::default() }.encode_to_vec();
    let at = bytes.windows(9).position(|w| w == b"MEMBERXYZ").expect("the member id");
    bytes[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
    let status = raw_unary(server.channel().await, "/cptkit.v1.ClaimService/PriceClaim", bytes).await.expect_err("bad");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let violations = crate::violations(&status);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].0, "claim.patient.member_id");
    assert!(status.message().starts_with("claim.patient.member_id: "), "{}", status.message());
    assert!(!status.message().contains("MBERXYZ"), "{}", status.message());
    server.stop().await;
}

/// A message of the stream that is not a request is answered with its own error, and the stream goes
/// on: a batch reports its bad rows and still answers the good ones.
#[tokio::test]
async fn bytes_that_are_not_a_request_get_their_own_error_and_the_stream_goes_on() {
    let server = default_server().await;
    let good = |id: &str| process_request(id, medicare_claim(id, 90), true).encode_to_vec();
    let requests = vec![good("s-1"), good("s-2"), vec![0x0a, 0x64, 0x01, 0x02], good("s-3")];
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/cptkit.v1.ClaimService/ProcessClaims");
    let mut answers = grpc
        .streaming(tonic::Request::new(tokio_stream::iter(requests)), path, RawCodec)
        .await
        .expect("opens")
        .into_inner();
    let mut next = async || {
        let answer = answers.next().await.expect("an answer").expect("ok");
        pb::ProcessClaimsResponse::decode(&answer[..]).expect("a response")
    };
    for id in ["s-1", "s-2"] {
        let answer = next().await;
        assert_eq!((answer.request_id.as_str(), answer.error), (id, None));
    }
    // Its request id is unreadable too (field 1 is what is cut short).
    let bad = next().await;
    let error = bad.error.expect("its own error");
    assert_eq!((bad.request_id.as_str(), error.code.as_str()), ("", "INVALID_ARGUMENT"));
    assert!(error.message.contains("not valid protobuf"), "{}", error.message);
    let after = next().await;
    assert_eq!((after.request_id.as_str(), after.error), ("s-3", None));
    assert!(answers.next().await.is_none(), "one answer a request");
    server.stop().await;
}

/// The acme claim's total (CF 60.00) as the server at `address` prices it now.
async fn acme_total(address: SocketAddr) -> i64 {
    let mut client = ClaimServiceClient::connect(format!("http://{address}")).await.expect("connect");
    let priced = client.price_claim(price(&acme_claim(), sixty(), TODAY)).await.expect("acme").into_inner();
    priced.priced.expect("priced").total_allowed_cents
}

fn acme_with_aa_share(share: &str) -> String {
    let mut rule_set: serde_json::Value = serde_json::from_str(&acme_rule_set()).expect("json");
    rule_set["shares"]["AA"] = share.into();
    rule_set.to_string()
}

async fn hangup(server: &Binary) {
    let pid = server.child.id().expect("running").to_string();
    let kill = tokio::process::Command::new("kill").args(["-HUP", &pid]).status().await.expect("kill");
    assert!(kill.success());
}

/// Waits until the acme total is `cents` (a reload is asynchronous), or fails after the guard.
async fn until_total(address: SocketAddr, cents: i64) {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while acme_total(address).await != cents {
        assert!(tokio::time::Instant::now() < deadline, "the total never became {cents}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server's stderr, read as it is written.
struct LogLines {
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    seen: String,
}

impl LogLines {
    fn of(server: &mut Binary) -> LogLines {
        let stderr = server.child.stderr.take().expect("stderr");
        LogLines { lines: BufReader::new(stderr).lines(), seen: String::new() }
    }

    /// Reads until a line containing `needle`, and returns it.
    async fn until(&mut self, needle: &str) -> String {
        loop {
            let line = tokio::time::timeout(HANG_GUARD, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no line with {needle:?} in:\n{}", self.seen))
                .expect("read stderr")
                .unwrap_or_else(|| panic!("stderr ended without {needle:?}:\n{}", self.seen));
            self.seen.push_str(&line);
            self.seen.push('\n');
            if line.contains(needle) {
                return line;
            }
        }
    }
}

#[tokio::test]
async fn sighup_reloads_a_changed_rule_set_and_keeps_the_old_one_when_the_file_is_broken() {
    let file = temp_file("reload-acme.json", &acme_with_aa_share("0.90"));
    let path = file.to_str().expect("utf-8 path");
    let mut server = Binary::start(&["--listen", "127.0.0.1:0", "--rule-set", path], &[]).await;
    let mut log = LogLines::of(&mut server);
    // (7 base + 6.0 time) x 60.00 x 0.90 = 702.00
    assert_eq!(acme_total(server.address).await, 70200);

    std::fs::write(&file, acme_with_aa_share("0.80")).expect("rewrite");
    hangup(&server).await;
    log.until("reload finished").await;
    assert_eq!(acme_total(server.address).await, 62400); // x 0.80

    std::fs::write(&file, "{ not a rule set").expect("break");
    hangup(&server).await;
    let failure = log.until("reload failed").await;
    assert!(failure.contains(path) && failure.contains("still serving the data loaded before"), "{failure}");
    assert!(log.until("reload finished").await.contains("ok=false"));
    assert_eq!(acme_total(server.address).await, 62400, "the broken file kept the old rules");
    let channel = Channel::from_shared(format!("http://{}", server.address)).expect("uri").connect().await;
    let mut health = HealthClient::new(channel.expect("connect"));
    let serving = health.check(HealthCheckRequest { service: String::new() }).await.expect("health").into_inner();
    assert_eq!(serving.status, ServingStatus::Serving as i32);

    let pid = server.child.id().expect("running").to_string();
    assert!(tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill").success());
    let status = tokio::time::timeout(HANG_GUARD, server.child.wait()).await.expect("exits").expect("wait");
    assert!(status.success(), "exit {status:?}");
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn watch_reloads_when_the_file_changes() {
    let file = temp_file("watch-acme.json", &acme_with_aa_share("0.90"));
    let path = file.to_str().expect("utf-8 path");
    let server = Binary::start(&["--listen", "127.0.0.1:0", "--rule-set", path, "--watch"], &[]).await;
    assert_eq!(acme_total(server.address).await, 70200);
    std::fs::write(&file, acme_with_aa_share("0.50")).expect("rewrite");
    until_total(server.address, 39000).await; // 13 x 60.00 x 0.50
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(stderr.contains("a watched file changed"), "{stderr}");
    let _ = std::fs::remove_file(file);
}

/// A gRPC-Web request over HTTP/1.1 for CodeService's `method`: head and body.
fn grpc_web_request(method: &str, message: &[u8]) -> (String, Vec<u8>) {
    // A gRPC-Web frame: flag 0, length (big-endian), message.
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    body.extend_from_slice(message);
    let head = format!(
        "POST /cptkit.v1.CodeService/{method} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    (head, body)
}

/// The whole answer to a gRPC-Web call, checked to be a 200 with the OK status in its body's trailers.
async fn grpc_web_call(address: std::net::SocketAddr, method: &str, message: &[u8]) -> String {
    let (head, body) = grpc_web_request(method, message);
    let mut socket = tokio::net::TcpStream::connect(address).await.expect("connect");
    socket.write_all(head.as_bytes()).await.expect("write head");
    socket.write_all(&body).await.expect("write body");
    let mut response = Vec::new();
    tokio::time::timeout(HANG_GUARD, socket.read_to_end(&mut response)).await.expect("answers").expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("application/grpc-web"), "{text}");
    assert!(text.contains("grpc-status:0"), "trailers in the body: {text}");
    text
}

#[tokio::test]
async fn grpc_web_over_http1_when_enabled() {
    let config = Config { grpc_web: true, ..Config::default() };
    let server = TestServer::start(config).await;
    // EchoRequest { payload: "hi" }: the echoed message comes back.
    let message = [0x0a, 0x02, b'h', b'i'];
    let text = grpc_web_call(server.address, "Echo", &message).await;
    assert!(text.contains("\n\u{2}hi"), "the echoed message: {text}");
    // GetCodeRequest { code: "00632" }, answered from prepared bytes: the profile comes back.
    let text = grpc_web_call(server.address, "GetCode", b"\x0a\x0500632").await;
    assert!(text.contains("lumbar sympathectomy"), "the profile: {text}");
    server.stop().await;

    // Off by default: HTTP/1.1 is not served.
    let (head, body) = grpc_web_request("Echo", &message);
    let server = default_server().await;
    let mut socket = tokio::net::TcpStream::connect(server.address).await.expect("connect");
    socket.write_all(head.as_bytes()).await.expect("write head");
    let _ = socket.write_all(&body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(HANG_GUARD, socket.read_to_end(&mut response)).await.expect("closes");
    assert!(!String::from_utf8_lossy(&response).contains("grpc-status:0"));
    server.stop().await;
}
