//! The real server, started in-process on 127.0.0.1:0 (and once as the real binary), called with the
//! generated clients. ClaimService's tests are in `grpc/claims.rs`, X12Service's in `grpc/x12.rs`, payer
//! rate benchmarks (GetBenchmarks, `--benchmarks-dir`) in `grpc/rates.rs`.

#[path = "grpc/claims.rs"]
mod claims;
#[path = "grpc/limits.rs"]
mod limits;
#[path = "grpc/lookups.rs"]
mod lookups;
#[path = "grpc/rates.rs"]
mod rates;
#[path = "grpc/x12.rs"]
mod x12;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cptkit_core::{PayerBenchmarks, Reference, RuleBook};
use cptkit_proto::pb;
use cptkit_proto::pb::code_service_client::CodeServiceClient;
use cptkit_server::{Config, ServeError, serve_with_benchmarks};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// Generous bound on anything that must finish, so a hang fails the test instead of stalling CI.
/// It is a guard, not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(60);

struct TestServer {
    address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    async fn start(config: Config) -> TestServer {
        TestServer::start_with_rules(config, Arc::new(RuleBook::embedded().clone())).await
    }

    async fn start_with_rules(config: Config, rules: Arc<RuleBook>) -> TestServer {
        TestServer::start_with_all(config, rules, Arc::default()).await
    }

    async fn start_with_all(config: Config, rules: Arc<RuleBook>, benchmarks: Arc<PayerBenchmarks>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve_with_benchmarks(listener, Reference::embedded().into(), rules, benchmarks, &config, async {
                let _ = signal.await;
            })
            .await
        });
        // The listener is bound already: connections queue until the server accepts them.
        TestServer { address, shutdown: Some(shutdown), task }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address)).expect("uri").connect().await.expect("connect")
    }

    async fn codes(&self) -> CodeServiceClient<Channel> {
        CodeServiceClient::new(self.channel().await)
    }

    fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).expect("server is running");
        }
    }

    /// Shuts down and waits for `serve` to return.
    async fn stop(mut self) {
        self.begin_shutdown();
        let result = tokio::time::timeout(HANG_GUARD, self.task).await.expect("server stops").expect("task");
        result.expect("serve returns Ok");
    }
}

async fn default_server() -> TestServer {
    TestServer::start(Config::default()).await
}

fn get_code(code: &str, localities: &[&str]) -> pb::GetCodeRequest {
    pb::GetCodeRequest {
        code: code.to_owned(),
        localities: localities.iter().map(|l| (*l).to_owned()).collect(),
        ..Default::default()
    }
}

/// The BadRequest field violations of a status, as (field, description).
fn violations(status: &Status) -> Vec<(String, String)> {
    let details = status.get_error_details();
    let bad_request = details.bad_request().unwrap_or_else(|| panic!("no BadRequest in {status:?}"));
    bad_request.field_violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect()
}

/// The field of the one `google.rpc.BadRequest` violation of an INVALID_ARGUMENT status.
fn violation_field(status: &Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad_request = details.bad_request().unwrap_or_else(|| panic!("no BadRequest in {status:?}"));
    assert_eq!(bad_request.field_violations.len(), 1, "{bad_request:?}");
    let violation = &bad_request.field_violations[0];
    assert!(!violation.description.is_empty());
    assert!(status.message().starts_with(&format!("{}: ", violation.field)), "{}", status.message());
    violation.field.clone()
}

/// What a NOT_FOUND status did not find, from its `google.rpc.ResourceInfo`: (resource type, resource
/// name). Its description is the message without the field; it carries no BadRequest.
fn not_found(status: &Status) -> (String, String) {
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let details = status.get_error_details();
    assert!(details.bad_request().is_none(), "{status:?}");
    let info = details.resource_info().unwrap_or_else(|| panic!("no ResourceInfo in {status:?}"));
    assert!(!info.description.is_empty() && status.message().ends_with(&info.description), "{status:?}");
    (info.resource_type.clone(), info.resource_name.clone())
}

/// The one `google.rpc.PreconditionFailure` violation of a FAILED_PRECONDITION status: (type, subject).
/// Its description is the message without the field.
fn precondition_failure(status: &Status) -> (String, String) {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let details = status.get_error_details();
    let failure = details.precondition_failure().unwrap_or_else(|| panic!("no PreconditionFailure in {status:?}"));
    assert_eq!(failure.violations.len(), 1, "{failure:?}");
    let violation = &failure.violations[0];
    assert!(status.message().ends_with(&violation.description), "{status:?}");
    (violation.r#type.clone(), violation.subject.clone())
}

/// The pair of owned strings a detail is compared with.
fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

// ---- GetCode ----

#[tokio::test]
async fn get_code_00632_matches_the_golden_profile() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let response = client.get_code(get_code("00632", &[])).await.expect("GetCode").into_inner();
    let profile = cptkit_core::CodeProfile::try_from(response.profile.expect("profile")).expect("converts back");
    let actual = serde_json::to_value(&profile).expect("json");

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/code_profile_00632/profile.json");
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).expect("golden json");
    assert_eq!(actual, golden);
    server.stop().await;
}

#[tokio::test]
async fn get_code_views_and_read_masks() {
    use prost::Message as _;
    let server = default_server().await;
    let mut client = server.codes().await;
    let full = client.get_code(get_code("00632", &[])).await.expect("full").into_inner();
    let view = |view: pb::CodeView| pb::GetCodeRequest { view: view.into(), ..get_code("00632", &[]) };
    let explicit = client.get_code(view(pb::CodeView::Full)).await.expect("FULL").into_inner();
    assert_eq!(explicit, full, "unspecified is FULL: clients from before views get the same answer");

    let basic = client.get_code(view(pb::CodeView::Basic)).await.expect("BASIC").into_inner();
    let profile = full.profile.clone().expect("profile");
    let expected = pb::CodeProfile {
        places_of_service: Vec::new(),
        clinical_context: None,
        modifiers: Vec::new(),
        taxonomies: Vec::new(),
        diagnoses: Vec::new(),
        payers: Vec::new(),
        benchmarks: Vec::new(),
        related_codes: Vec::new(),
        policy_updates: Vec::new(),
        payer_benchmarks: Vec::new(),
        ..profile.clone()
    };
    assert_eq!(basic.profile, Some(expected));
    assert!(basic.encoded_len() < 16 * 1024 / 4, "BASIC well under one frame: {} bytes", basic.encoded_len());
    assert!(full.encoded_len() > 16 * 1024, "the full 00632 profile spans frames: {}", full.encoded_len());

    let mask = |paths: &[&str]| pb::GetCodeRequest {
        read_mask: Some(prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() }),
        ..view(pb::CodeView::Basic)
    };
    let masked = client.get_code(mask(&["base_units", "modifiers"])).await.expect("mask").into_inner();
    let expected =
        pb::CodeProfile { base_units: 7, modifiers: profile.modifiers.clone(), ..pb::CodeProfile::default() };
    assert_eq!(masked.profile, Some(expected), "the read mask wins over the view");

    // With localities (assembled per request) the view applies too.
    let manhattan = pb::GetCodeRequest { view: pb::CodeView::Basic.into(), ..get_code("99213", &["13202-01"]) };
    let answer = client.get_code(manhattan).await.expect("99213 BASIC").into_inner().profile.expect("profile");
    assert!(answer.modifiers.is_empty() && answer.fee_schedule.expect("fee schedule").amounts.len() == 2);

    let status = client.get_code(mask(&["code", "fee_schedule.status"])).await.expect_err("nested path");
    assert_eq!(violation_field(&status), "read_mask.paths[1]");
    // `*` is every field (AIP-157); every bad path is named, not only the first.
    let every = client.get_code(mask(&["code", "*"])).await.expect("*").into_inner();
    assert_eq!(every, full);
    let status = client.get_code(mask(&["*", "bogus"])).await.expect_err("* beside a bad path");
    assert_eq!(violation_field(&status), "read_mask.paths[1]");
    let status = client.get_code(mask(&["nope", "code", "Code"])).await.expect_err("two bad paths");
    let fields: Vec<String> = violations(&status).into_iter().map(|(field, _)| field).collect();
    assert_eq!(fields, ["read_mask.paths[0]", "read_mask.paths[2]"]);
    server.stop().await;
}

/// A bad input of any size is INVALID_ARGUMENT naming its field, with a short message: quoted whole, a
/// long one filled the trailers past what clients accept (grpcio: 8-16 KiB), which they report as
/// RESOURCE_EXHAUSTED instead.
#[tokio::test]
async fn get_code_quotes_long_bad_input_briefly() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let long = "x".repeat(100_000);
    let mask = pb::GetCodeRequest {
        read_mask: Some(prost_types::FieldMask { paths: vec![long.clone(); 30] }),
        ..get_code("00632", &[])
    };
    for (request, field) in [(get_code(&long, &[]), "code"), (mask, "read_mask.paths[0]")] {
        let status = client.get_code(request).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violations(&status)[0].0, field);
        let trailer = status.message().len() + status.details().len();
        assert!(trailer <= cptkit_server::status::MAX_STATUS_TEXT_BYTES + 1024, "{field}: {trailer} bytes");
    }
    server.stop().await;
}

#[tokio::test]
async fn get_code_not_found() {
    let server = default_server().await;
    let mut client = server.codes().await;
    for code in ["00101", "99999"] {
        let status = client.get_code(get_code(code, &[])).await.expect_err(code);
        assert_eq!(status.code(), Code::NotFound, "{code}: {status:?}");
        assert!(status.message().contains(code), "{}", status.message());
        assert_eq!(not_found(&status), pair("procedure code", code));
    }
    server.stop().await;
}

#[tokio::test]
async fn get_code_malformed_names_the_field() {
    let server = default_server().await;
    let mut client = server.codes().await;
    for code in ["0063", "ABCDE", ""] {
        let status = client.get_code(get_code(code, &[])).await.expect_err(code);
        assert_eq!(violation_field(&status), "code", "{code}");
        assert!(status.message().contains("CPT"), "{}", status.message());
    }
    let status = client.get_code(get_code("", &[])).await.expect_err("empty");
    assert!(status.message().contains("empty"), "{}", status.message());
    server.stop().await;
}

#[tokio::test]
async fn get_code_locality_benchmarks() {
    let server = default_server().await;
    let mut client = server.codes().await;

    let profile = client.get_code(get_code("00632", &["13202-01"])).await.expect("Manhattan").into_inner().profile;
    let benchmarks = profile.expect("profile").benchmarks;
    assert_eq!(benchmarks.len(), 3 + 1);
    let manhattan = benchmarks.iter().find(|b| b.locality.is_some()).expect("Manhattan row");
    assert_eq!(manhattan.locality.as_ref().map(|l| l.id.as_str()), Some("13202-01"));
    assert_eq!(manhattan.conversion_factor, "22.76");
    let ninety = manhattan.amounts.iter().find(|a| a.minutes == 90).expect("90 minutes");
    assert_eq!((ninety.total_units.as_str(), ninety.allowed_cents), ("13.0", 29588));

    let all = client.get_code(get_code("00632", &["*"])).await.expect("all").into_inner().profile;
    assert_eq!(all.expect("profile").benchmarks.len(), 3 + 109);

    let status = client.get_code(get_code("00632", &["13202"])).await.expect_err("malformed");
    assert_eq!(violation_field(&status), "localities[0]");
    let status = client.get_code(get_code("00632", &["13202-01", "1320201"])).await.expect_err("second");
    assert_eq!(violation_field(&status), "localities[1]");

    let status = client.get_code(get_code("00632", &["99999-99"])).await.expect_err("unknown locality");
    assert_eq!(not_found(&status), pair("Medicare locality", "99999-99"));
    server.stop().await;
}

// ---- SearchCodes, ListCodes ----

#[tokio::test]
async fn search_codes() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let request = pb::SearchCodesRequest { text: "lumbar".into(), ..Default::default() };
    let response = client.search_codes(request).await.expect("search").into_inner();
    let codes: Vec<&str> = response.codes.iter().map(|c| c.code.as_str()).collect();
    for code in ["00630", "00632", "00635"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert_eq!(response.total_size as usize, codes.len());

    let spine = pb::SearchCodesRequest {
        category: "spine and spinal cord".into(),
        min_base_units: Some(13),
        ..Default::default()
    };
    let response = client.search_codes(spine).await.expect("filters").into_inner();
    let codes: Vec<&str> = response.codes.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["00604", "00625", "00626", "00670"]);

    let inverted = pb::SearchCodesRequest { min_base_units: Some(10), max_base_units: Some(5), ..Default::default() };
    let status = client.search_codes(inverted).await.expect_err("min > max");
    assert_eq!(violation_field(&status), "max_base_units");

    let bad_type = pb::SearchCodesRequest { service_type: 42, ..Default::default() };
    let status = client.search_codes(bad_type).await.expect_err("unknown enum value");
    assert_eq!(violation_field(&status), "service_type");
    server.stop().await;
}

/// Every anesthesia code and every code of the fee schedule (RVU25D's distinct codes).
const EVERY_CODE: u32 = 16_852;

#[tokio::test]
async fn get_code_for_a_fee_schedule_code() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let wire = client.get_code(get_code("99213", &["10112-00"])).await.expect("GetCode").into_inner().profile;
    let wire = wire.expect("profile");
    assert_eq!(wire.service_type, pb::ServiceType::FeeSchedule as i32);
    let fee = wire.fee_schedule.clone().expect("fee schedule");
    assert_eq!((fee.status.as_str(), fee.rvus.as_ref().map(|r| r.work.as_str())), ("A", Some("1.30")));
    let national = fee.amounts[0].nonfacility.as_ref().expect("non-facility");
    // (1.30 + 1.35 + 0.10) x 32.3465 = 88.952875 -> $88.95; x 1.0925 = $97.18
    assert_eq!((national.allowed_cents, national.limiting_charge_cents), (8895, 9718));
    assert_eq!(fee.amounts[1].locality.as_ref().map(|l| l.id.as_str()), Some("10112-00"));

    // The wire form converts back to the core's profile, unchanged.
    let reference = Reference::embedded();
    let options = cptkit_core::ProfileOptions {
        localities: cptkit_core::LocalitySelection::Only(vec!["10112-00".parse().expect("locality")]),
    };
    let expected = reference.profile("99213".parse().expect("code"), &options).expect("profile");
    assert_eq!(cptkit_core::CodeProfile::try_from(wire).expect("converts back"), expected);

    // 72148's components, from the prepared bytes of the default options.
    let mri = client.get_code(get_code("72148", &[])).await.expect("72148").into_inner().profile.expect("profile");
    let components: Vec<String> =
        mri.fee_schedule.expect("fee schedule").components.into_iter().map(|c| c.modifier).collect();
    assert_eq!(components, ["26", "TC"]);
    let j1100 = client.get_code(get_code("j1100", &[])).await.expect("J1100").into_inner().profile.expect("profile");
    assert_eq!(j1100.description, "Dexamethasone sodium phos");
    server.stop().await;
}

#[tokio::test]
async fn search_codes_by_range_status_and_section() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let range = pb::SearchCodesRequest { codes: "99202-99215".into(), ..Default::default() };
    let response = client.search_codes(range).await.expect("range").into_inner();
    let codes: Vec<&str> = response.codes.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"]);
    assert!(response.codes.iter().all(|c| c.status == "A" && c.section == "Evaluation and Management"));

    let radiology_c = pb::SearchCodesRequest { section: "radiology".into(), status: "C".into(), ..Default::default() };
    let response = client.search_codes(radiology_c).await.expect("section and status").into_inner();
    assert!(response.total_size > 0);
    assert!(response.codes.iter().all(|c| c.status == "C" && c.section == "Radiology"));

    let words = pb::SearchCodesRequest { text: "dexamethasone".into(), ..Default::default() };
    let response = client.search_codes(words).await.expect("words").into_inner();
    assert!(response.codes.iter().any(|c| c.code == "J1100"));

    let bad = pb::SearchCodesRequest { status: "Q".into(), ..Default::default() };
    assert_eq!(violation_field(&client.search_codes(bad).await.expect_err("status")), "status");
    let bad = pb::SearchCodesRequest { codes: "99215-99202".into(), ..Default::default() };
    assert_eq!(violation_field(&client.search_codes(bad).await.expect_err("codes")), "codes");
    server.stop().await;
}

#[tokio::test]
async fn list_codes_pages_through_every_code() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let mut seen = Vec::new();
    let mut page = pb::PageRequest { page_size: 500, page_token: String::new() };
    loop {
        let response = client.list_codes(pb::ListCodesRequest { page: Some(page.clone()) }).await.expect("list");
        let response = response.into_inner();
        assert_eq!(response.total_size, EVERY_CODE);
        seen.extend(response.codes.into_iter().map(|c| c.code));
        if response.next_page_token.is_empty() {
            break;
        }
        page.page_token = response.next_page_token;
    }
    assert_eq!(seen.len(), EVERY_CODE as usize);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in code order");

    let first = client.list_codes(pb::ListCodesRequest { page: None }).await.expect("default page").into_inner();
    assert_eq!(first.codes.len(), 50);

    let bad_token = pb::PageRequest { page_size: 10, page_token: "abc".into() };
    let status = client.list_codes(pb::ListCodesRequest { page: Some(bad_token) }).await.expect_err("token");
    assert_eq!(violation_field(&status), "page_token");
    let too_big = pb::PageRequest { page_size: 501, page_token: String::new() };
    let status = client.list_codes(pb::ListCodesRequest { page: Some(too_big) }).await.expect_err("size");
    assert_eq!(violation_field(&status), "page_size");
    server.stop().await;
}

// ---- lookups ----

#[tokio::test]
async fn get_modifier() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let request = |code: &str| pb::GetModifierRequest { code: code.into() };
    let modifier = client.get_modifier(request("qs")).await.expect("QS").into_inner().modifier.expect("modifier");
    assert_eq!(modifier.code, "QS");
    assert!(modifier.meaning.contains("monitored anesthesia care"), "{}", modifier.meaning);
    assert_eq!(not_found(&client.get_modifier(request("59")).await.expect_err("59")), pair("modifier", "59"));
    let status = client.get_modifier(request("Q")).await.expect_err("Q");
    assert_eq!(violation_field(&status), "code");
    server.stop().await;
}

#[tokio::test]
async fn get_diagnosis() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let request = |code: &str| pb::GetDiagnosisRequest { code: code.into() };
    let dx = client.get_diagnosis(request("m5450")).await.expect("M54.50").into_inner().diagnosis.expect("dx");
    assert_eq!((dx.code.as_str(), dx.title.as_str(), dx.billable), ("M54.50", "Low back pain, unspecified", true));
    let deleted = client.get_diagnosis(request("M54.5")).await.expect("M54.5").into_inner().diagnosis.expect("dx");
    assert_eq!((deleted.billable, deleted.valid_through.as_str()), (false, "2021-09-30"));
    assert_eq!(deleted.replaced_by.len(), 3);
    let status = client.get_diagnosis(request("m99.99")).await.expect_err("absent");
    assert_eq!(not_found(&status), pair("diagnosis code", "M99.99"));
    let status = client.get_diagnosis(request("54.50")).await.expect_err("malformed");
    assert_eq!(violation_field(&status), "code");
    server.stop().await;
}

#[tokio::test]
async fn get_taxonomy() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let request = |code: &str| pb::GetTaxonomyRequest { code: code.into() };
    let crna = client.get_taxonomy(request("367500000X")).await.expect("CRNA").into_inner().taxonomy.expect("tx");
    assert_eq!(crna.provider_role, "CRNA");
    let status = client.get_taxonomy(request("208D00000X")).await.expect_err("general practice");
    assert_eq!(not_found(&status), pair("taxonomy", "208D00000X"));
    let status = client.get_taxonomy(request("207L00000")).await.expect_err("9 characters");
    assert_eq!(violation_field(&status), "code");
    server.stop().await;
}

#[tokio::test]
async fn get_place_of_service() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let request = |code: &str| pb::GetPlaceOfServiceRequest { code: code.into() };
    let pos = client.get_place_of_service(request("21")).await.expect("21").into_inner();
    assert_eq!(pos.place_of_service.expect("pos").name, "Inpatient Hospital");
    let status = client.get_place_of_service(request("30")).await.expect_err("30");
    assert_eq!(not_found(&status), pair("place of service", "30"));
    let status = client.get_place_of_service(request("2A")).await.expect_err("2A");
    assert_eq!(violation_field(&status), "code");
    server.stop().await;
}

#[tokio::test]
async fn echo_returns_its_payload() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let payload = "ping \u{1F600}".to_owned();
    let response = client.echo(pb::EchoRequest { payload: payload.clone() }).await.expect("echo").into_inner();
    assert_eq!(response.payload, payload);
    server.stop().await;
}

// ---- limits ----

#[tokio::test]
async fn an_oversized_request_is_rejected_and_the_server_keeps_serving() {
    let config = Config { max_request_bytes: 64 * 1024, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut client = server.codes().await;

    let big = pb::EchoRequest { payload: "x".repeat(100 * 1024) };
    let status = client.echo(big).await.expect_err("over the limit");
    assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");

    let big_code = pb::GetCodeRequest { code: "0".repeat(100 * 1024), localities: Vec::new(), ..Default::default() };
    let status = client.get_code(big_code).await.expect_err("over the limit");
    assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");

    // The same connection, then a new one.
    let ok = pb::EchoRequest { payload: "y".repeat(32 * 1024) };
    assert_eq!(client.echo(ok).await.expect("under the limit").into_inner().payload.len(), 32 * 1024);
    client.get_code(get_code("00632", &[])).await.expect("same connection");
    server.codes().await.get_code(get_code("00632", &[])).await.expect("new connection");
    server.stop().await;
}

// ---- health, reflection ----

#[tokio::test]
async fn health_reports_serving() {
    let server = default_server().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in ["", "cptkit.v1.CodeService", "cptkit.v1.ClaimService", "cptkit.v1.X12Service"] {
        let response = health.check(HealthCheckRequest { service: service.into() }).await.expect(service);
        assert_eq!(response.into_inner().status(), ServingStatus::Serving, "{service:?}");
    }
    let status = health.check(HealthCheckRequest { service: "no.such.Service".into() }).await.expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn health_turns_not_serving_when_shutdown_begins() {
    let config = Config { shutdown_grace: Duration::from_millis(200), ..Config::default() };
    let mut server = TestServer::start(config).await;
    let mut health = HealthClient::new(server.channel().await);
    let request = HealthCheckRequest { service: "cptkit.v1.CodeService".into() };
    let mut watch = health.watch(request).await.expect("watch").into_inner();
    let first = watch.message().await.expect("first update").expect("open");
    assert_eq!(first.status(), ServingStatus::Serving);

    server.begin_shutdown();
    let next = tokio::time::timeout(HANG_GUARD, watch.message()).await.expect("an update").expect("update");
    assert_eq!(next.expect("open").status(), ServingStatus::NotServing);
    // The watch stream never ends by itself: the grace period bounds the shutdown.
    server.stop().await;
}

mod reflection {
    use super::*;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    async fn ask(channel: Channel, request: MessageRequest) -> MessageResponse {
        let mut client = ServerReflectionClient::new(channel);
        let request = ServerReflectionRequest { host: String::new(), message_request: Some(request) };
        let mut responses =
            client.server_reflection_info(tokio_stream::once(request)).await.expect("reflection").into_inner();
        let ServerReflectionResponse { message_response, .. } =
            responses.message().await.expect("response").expect("one response");
        message_response.expect("message")
    }

    #[tokio::test]
    async fn lists_and_describes_code_claim_and_health_services() {
        let server = default_server().await;
        let MessageResponse::ListServicesResponse(list) =
            ask(server.channel().await, MessageRequest::ListServices(String::new())).await
        else {
            panic!("not a service list");
        };
        let mut names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        // The services this server mounts, and no other (proto/ may declare services not served yet).
        assert_eq!(
            names,
            [
                "cptkit.v1.ClaimService",
                "cptkit.v1.CodeService",
                "cptkit.v1.X12Service",
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection"
            ]
        );

        // What grpcurl does before a call: fetch the file declaring the symbol.
        for symbol in [
            "cptkit.v1.CodeService",
            "cptkit.v1.ClaimService",
            "grpc.health.v1.Health",
            "cptkit.v1.CodeProfile",
            "cptkit.v1.ProcessClaimsRequest",
            "cptkit.v1.X12Service",
            "cptkit.v1.ReconcileResponse",
        ] {
            let response = ask(server.channel().await, MessageRequest::FileContainingSymbol(symbol.into())).await;
            let MessageResponse::FileDescriptorResponse(files) = response else {
                panic!("{symbol}: {response:?}");
            };
            assert!(!files.file_descriptor_proto.is_empty(), "{symbol}");
        }
        server.stop().await;
    }

    #[tokio::test]
    async fn v1alpha_lists_the_services_too() {
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

        let server = default_server().await;
        let mut client = ServerReflectionClient::new(server.channel().await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses =
            client.server_reflection_info(tokio_stream::once(request)).await.expect("reflection").into_inner();
        let response = responses.message().await.expect("response").expect("one response");
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("not a service list");
        };
        assert!(list.service.iter().any(|s| s.name == "cptkit.v1.CodeService"));
        assert!(list.service.iter().any(|s| s.name == "cptkit.v1.ClaimService"));
        assert!(list.service.iter().any(|s| s.name == "cptkit.v1.X12Service"));
        server.stop().await;
    }
}

// ---- shutdown ----

#[tokio::test]
async fn graceful_shutdown_completes_with_a_client_connected() {
    // A grace longer than the hang guard: finishing in time means the graceful path finished.
    let config = Config { shutdown_grace: HANG_GUARD * 2, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut client = server.codes().await;
    client.get_code(get_code("00632", &[])).await.expect("before shutdown");
    server.stop().await;
    assert!(client.get_code(get_code("00632", &[])).await.is_err(), "no answers after shutdown");
}

// ---- the real binary ----

struct Binary {
    child: tokio::process::Child,
    address: SocketAddr,
}

impl Binary {
    /// Starts `cptkit-server` and reads its "listening on" line.
    async fn start(args: &[&str], env: &[(&str, &str)]) -> Binary {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"));
        command
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn cptkit-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        tokio::time::timeout(HANG_GUARD, BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("a listening line")
            .expect("read stdout");
        let address = line
            .trim()
            .strip_prefix("cptkit-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("an address");
        Binary { child, address }
    }

    /// Sends SIGTERM, waits for the exit and returns the exit status and stderr.
    async fn terminate(self) -> (std::process::ExitStatus, String) {
        self.signal("-TERM").await
    }

    /// Sends a signal (`-TERM`, `-INT`) with `kill`, waits for the exit, returns it and stderr.
    async fn signal(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("running").to_string();
        let kill = tokio::process::Command::new("kill").args([signal, &pid]).status().await.expect("kill");
        assert!(kill.success());
        wait(&mut self.child).await
    }
}

async fn wait(child: &mut tokio::process::Child) -> (std::process::ExitStatus, String) {
    let status = tokio::time::timeout(HANG_GUARD, child.wait()).await.expect("exits").expect("wait");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).await.expect("read stderr");
    (status, stderr)
}

#[tokio::test]
async fn the_binary_serves_and_exits_cleanly_on_sigterm() {
    let server = Binary::start(&["--listen", "127.0.0.1:0"], &[]).await;
    let mut client = CodeServiceClient::connect(format!("http://{}", server.address)).await.expect("connect");
    let profile = client.get_code(get_code("00632", &[])).await.expect("GetCode").into_inner().profile;
    assert_eq!(profile.expect("profile").base_units, 7);

    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("rpc=cptkit.v1.CodeService/GetCode"), "{stderr}");
    assert!(stderr.contains("code=00632") && stderr.contains("status=OK"), "{stderr}");
}

#[tokio::test]
async fn the_binary_exits_cleanly_on_ctrl_c() {
    let server = Binary::start(&["--listen", "127.0.0.1:0"], &[]).await;
    let channel = Channel::from_shared(format!("http://{}", server.address)).expect("uri");
    let mut health = HealthClient::new(channel.connect().await.expect("connect"));
    let request = HealthCheckRequest { service: String::new() };
    assert_eq!(health.check(request).await.expect("check").into_inner().status(), ServingStatus::Serving);
    let (status, stderr) = server.signal("-INT").await;
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(stderr.contains("Ctrl-C received"), "{stderr}");
}

#[tokio::test]
async fn the_binary_logs_json_from_the_environment_and_never_the_payload() {
    let env = [("CPTKIT_LISTEN", "127.0.0.1:0"), ("CPTKIT_LOG_FORMAT", "json")];
    let server = Binary::start(&[], &env).await;
    let mut client = CodeServiceClient::connect(format!("http://{}", server.address)).await.expect("connect");
    client.get_code(get_code("00101", &[])).await.expect_err("not found");
    // Malformed input is not a code: it is not logged, whatever it holds.
    client.get_code(get_code("JANE DOE 1970-01-01", &[])).await.expect_err("malformed");
    client
        .search_codes(pb::SearchCodesRequest { text: "jane doe".into(), ..Default::default() })
        .await
        .expect("search");
    client.echo(pb::EchoRequest { payload: "member id W123456789".into() }).await.expect("echo");

    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(!stderr.to_lowercase().contains("doe") && !stderr.contains("W123456789"), "{stderr}");
    let lines: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let rpcs: Vec<(&str, Option<&str>, &str)> = lines
        .iter()
        .filter(|l| l["target"] == "cptkit_server::rpc")
        .map(|l| {
            (
                l["rpc"].as_str().expect("rpc").trim_start_matches("cptkit.v1.CodeService/"),
                l["code"].as_str(),
                l["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        rpcs,
        [
            ("GetCode", Some("00101"), "NOT_FOUND"),
            ("GetCode", None, "INVALID_ARGUMENT"),
            ("SearchCodes", None, "OK"),
            ("Echo", None, "OK"),
        ]
    );
    assert!(lines.iter().filter(|l| l["target"] == "cptkit_server::rpc").all(|l| l["latency_us"].is_u64()));
}

#[tokio::test]
async fn the_binary_fails_clearly_when_the_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(["--listen", &address])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let (status, stderr) = wait(&mut child).await;
    assert!(!status.success());
    assert!(stderr.contains(&format!("cannot listen on {address}")), "{stderr}");
}

#[tokio::test]
async fn the_binary_fails_clearly_on_a_bad_data_dir() {
    let missing = std::env::temp_dir().join(format!("cptkit-no-such-dir-{}", std::process::id()));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&missing)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let (status, stderr) = wait(&mut child).await;
    assert!(!status.success());
    assert!(stderr.contains("cannot load data dir") && stderr.contains("no such directory"), "{stderr}");
}
