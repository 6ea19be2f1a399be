//! ClaimService: every golden claim case (`tests/fixtures/claims/`) through ValidateClaim, PriceClaim
//! and ProcessClaims; malformed wire claims; mixed, ping-pong, over-limit and never-read streams; user
//! rule sets in-process and through the binary's `--rule-set`; the access log of claim calls.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use cptkit_proto::pb::claim_service_client::ClaimServiceClient;
use prost::Message as _;
use serde_json::Value;
use tokio_stream::StreamExt as _;

use super::*;

/// The date every golden case is judged on (`today` in each expected.json).
pub(crate) const TODAY: &str = "2026-11-27";

fn claims_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/claims")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A golden case: its claim (read with the core's JSON reader, then converted to the wire) and
/// what it must give.
struct Case {
    name: String,
    claim: pb::Claim,
    expected: Value,
}

impl Case {
    fn today(&self) -> String {
        self.expected["today"].as_str().expect("today").to_owned()
    }

    fn options(&self) -> pb::PriceOptions {
        let text = |key: &str| self.expected["price_options"][key].as_str().unwrap_or_default().to_owned();
        let payer_conversion_factors = self.expected["price_options"]["payer_conversion_factors"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(payer, cf)| (payer.clone(), cf.as_str().unwrap_or_default().to_owned()))
            .collect();
        pb::PriceOptions {
            rule_set: text("rule_set"),
            conversion_factor: text("conversion_factor"),
            payer_conversion_factors,
            percent_of_medicare: text("percent_of_medicare"),
        }
    }

    fn findings(&self) -> BTreeSet<(String, String)> {
        finding_set(&self.expected["findings"])
    }
}

/// Every case folder with a claim.json (the batch folder has claims.json and is read on its own).
fn golden_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(claims_dir()).expect("claims dir") {
        let dir = entry.expect("entry").path();
        if !dir.join("claim.json").exists() {
            continue;
        }
        let name = dir.file_name().expect("name").to_string_lossy().into_owned();
        let json = std::fs::read_to_string(dir.join("claim.json")).expect("claim.json");
        let claim = cptkit_core::Claim::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        cases.push(Case { name, claim: claim.into(), expected: read_json(&dir.join("expected.json")) });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(cases.len() >= 19, "found {} cases", cases.len());
    cases
}

fn finding_set(findings: &Value) -> BTreeSet<(String, String)> {
    findings
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| (f["edit_id"].as_str().expect("edit_id").to_owned(), f["field"].as_str().expect("field").to_owned()))
        .collect()
}

fn report_set(report: &pb::ValidationReport) -> BTreeSet<(String, String)> {
    report.findings.iter().map(|f| (f.edit_id.clone(), f.field.clone())).collect()
}

fn error_findings(report: &pb::ValidationReport) -> Vec<&pb::Finding> {
    report.findings.iter().filter(|f| f.severity() == pb::Severity::Error).collect()
}

/// "264.13" -> 26413: expected amounts are decimal strings with two places.
fn cents(amount: &str) -> i64 {
    let (units, fraction) = amount.split_once('.').unwrap_or_else(|| panic!("{amount}: no cents"));
    assert_eq!(fraction.len(), 2, "{amount}");
    units.parse::<i64>().expect("units") * 100 + fraction.parse::<i64>().expect("cents")
}

fn code_for_kind(kind: &str) -> Code {
    match kind {
        "invalid_input" => Code::InvalidArgument,
        "not_found" => Code::NotFound,
        "unsupported" | "conflict" => Code::FailedPrecondition,
        other => panic!("unknown error kind {other}"),
    }
}

impl TestServer {
    pub(crate) async fn claims(&self) -> ClaimServiceClient<Channel> {
        ClaimServiceClient::new(self.channel().await)
    }
}

fn validate(claim: &pb::Claim, today: &str) -> pb::ValidateClaimRequest {
    pb::ValidateClaimRequest { claim: Some(claim.clone()), today: today.to_owned() }
}

pub(crate) fn price(claim: &pb::Claim, options: pb::PriceOptions, today: &str) -> pb::PriceClaimRequest {
    pb::PriceClaimRequest { claim: Some(claim.clone()), options: Some(options), today: today.to_owned() }
}

/// The golden Medicare claim (00632-AA, 90 minutes, CY2025: 264.13) with another id and minutes.
pub(crate) fn medicare_claim(id: &str, minutes: u32) -> pb::Claim {
    let json = std::fs::read_to_string(claims_dir().join("medicare_00632_aa_90min_2025/claim.json")).expect("claim");
    let mut claim: pb::Claim = cptkit_core::Claim::from_json(&json).expect("claim").into();
    claim.claim_id = id.to_owned();
    let line = &mut claim.lines[0];
    line.quantity = minutes.to_string();
    line.start_time = String::new();
    line.end_time = String::new();
    claim
}

pub(crate) fn process_request(id: &str, claim: pb::Claim, price: bool) -> pb::ProcessClaimsRequest {
    pb::ProcessClaimsRequest {
        request_id: id.to_owned(),
        claim: Some(claim),
        price,
        options: None,
        today: TODAY.to_owned(),
    }
}

// ---- golden cases, unary ----

#[tokio::test]
async fn golden_cases_validate_and_price_as_the_core_does() {
    let server = default_server().await;
    let mut client = server.claims().await;
    for case in golden_cases() {
        let name = &case.name;
        let today = case.today();

        let report =
            client.validate_claim(validate(&case.claim, &today)).await.unwrap_or_else(|s| panic!("{name}: {s:?}"));
        let report = report.into_inner().report.expect("report");
        assert_eq!(report_set(&report), case.findings(), "{name}: {:#?}", report.findings);
        assert_eq!(report.valid, error_findings(&report).is_empty(), "{name}");
        assert_eq!(report.claim_id, case.claim.claim_id, "{name}");
        for finding in &report.findings {
            assert!(!finding.message.is_empty() && !finding.hint.is_empty(), "{name}: {finding:?}");
        }

        let priced = client.price_claim(price(&case.claim, case.options(), &today)).await;
        match (&case.expected["priced"], &case.expected["price_error"]) {
            (Value::Object(want), Value::Null) => {
                let response = priced.unwrap_or_else(|s| panic!("{name}: {s:?}")).into_inner();
                let warnings = response.report.expect("report with the warnings");
                assert!(warnings.valid, "{name}");
                assert_eq!(report_set(&warnings), case.findings(), "{name}");
                let priced = response.priced.expect("priced");
                assert_eq!(priced.total_allowed_cents, cents(want["total_allowed"].as_str().expect("total")), "{name}");
                let lines = want["lines"].as_array().expect("lines");
                assert_eq!(priced.lines.len(), lines.len(), "{name}");
                for (line, want) in priced.lines.iter().zip(lines) {
                    assert_eq!(line.allowed_cents, cents(want["allowed"].as_str().expect("allowed")), "{name}");
                    assert_eq!(line.total_units, want["total_units"].as_str().expect("units"), "{name}");
                    assert_eq!(line.conversion_factor, want["conversion_factor"].as_str().expect("cf"), "{name}");
                    assert_eq!(line.share, want["share"].as_str().expect("share"), "{name}");
                    // A line's own status, else the case's, else priced.
                    let status = want["status"].as_str().or(case.expected["status"].as_str()).unwrap_or("priced");
                    assert_eq!(line.status().as_str_name(), format!("LINE_STATUS_{}", status.to_uppercase()), "{name}");
                    assert!(line.steps.len() >= 2, "{name}: every step explained: {:#?}", line.steps);
                }
            }
            (Value::Null, Value::Object(want)) => {
                let status = priced.expect_err(name);
                let kind = want["kind"].as_str().expect("kind");
                assert_eq!(status.code(), code_for_kind(kind), "{name}: {status:?}");
                // The server names fields in the request: the claim's under `claim`, a price option's
                // (no contract conversion factor given) under `options`.
                let in_request = |field: &str| match field {
                    "conversion_factor" => format!("options.{field}"),
                    _ => format!("claim.{field}"),
                };
                match want.get("field").and_then(Value::as_str).map(in_request) {
                    Some(field) if status.code() == Code::InvalidArgument => {
                        let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
                        assert_eq!(fields, [field.as_str()], "{name}");
                        assert!(status.message().starts_with(&format!("{field}: ")), "{name}: {}", status.message());
                    }
                    Some(field) => {
                        assert!(status.get_error_details().bad_request().is_none(), "{name}");
                        assert!(status.message().starts_with(&format!("{field}: ")), "{name}: {}", status.message());
                        // The details say the same as data: what was not found (a payer's rule set by
                        // the payer id), or the field a precondition failed on.
                        if field == "claim.payer.id" {
                            let payer = &case.claim.payer.as_ref().expect("payer").id;
                            assert_eq!(not_found(&status), pair("payer rule set", payer), "{name}");
                        } else if status.code() == Code::FailedPrecondition {
                            assert_eq!(precondition_failure(&status).1, field, "{name}");
                        }
                    }
                    None => {
                        // Rejected for its findings: one violation per error finding, "EDIT: message".
                        let listed = violations(&status);
                        let wanted: Vec<(String, String)> = error_findings(&report)
                            .iter()
                            .map(|f| (format!("claim.{}", f.field), format!("{}: {}", f.edit_id, f.message)))
                            .collect();
                        assert!(!wanted.is_empty(), "{name}");
                        assert_eq!(listed, wanted, "{name}");
                    }
                }
            }
            other => panic!("{name}: expected.json needs priced or price_error, got {other:?}"),
        }
    }
    server.stop().await;
}

// ---- golden cases, streamed: the same answers as the unary calls ----

#[tokio::test]
async fn golden_cases_stream_with_the_unary_answers() {
    let server = default_server().await;
    let mut client = server.claims().await;
    let cases = golden_cases();
    let requests: Vec<pb::ProcessClaimsRequest> = cases
        .iter()
        .map(|case| pb::ProcessClaimsRequest {
            request_id: case.name.clone(),
            claim: Some(case.claim.clone()),
            price: true,
            options: Some(case.options()),
            today: case.today(),
        })
        .collect();
    let responses = client.process_claims(tokio_stream::iter(requests)).await.expect("stream").into_inner();
    let responses: Vec<pb::ProcessClaimsResponse> =
        tokio::time::timeout(HANG_GUARD, responses.collect::<Result<_, _>>()).await.expect("in time").expect("ok");
    assert_eq!(responses.len(), cases.len());

    for (case, response) in cases.iter().zip(responses) {
        let name = &case.name;
        assert_eq!(&response.request_id, name);
        let report = client.validate_claim(validate(&case.claim, &case.today())).await.expect("validate");
        assert_eq!(response.report.as_ref(), report.get_ref().report.as_ref(), "{name}");
        match client.price_claim(price(&case.claim, case.options(), &case.today())).await {
            Ok(unary) => {
                assert_eq!(response.priced, unary.into_inner().priced, "{name}");
                assert_eq!(response.error, None, "{name}");
            }
            Err(status) => {
                let error = response.error.unwrap_or_else(|| panic!("{name}: no error"));
                assert_eq!(error.code, cptkit_server::status::code_name(status.code()), "{name}");
                assert_eq!(error.message, status.message(), "{name}");
                assert_eq!(response.priced, None, "{name}");
                // The same google.rpc details (BadRequest, ResourceInfo, PreconditionFailure) as data.
                let details = tonic_types::Status::decode(status.details()).expect("details").details;
                assert!(!details.is_empty(), "{name}");
                assert_eq!(error.details, details, "{name}");
                if status.code() == Code::InvalidArgument {
                    // The same fields; the stream's violations are whole findings (edit id, hint).
                    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
                    let streamed: Vec<String> = error.violations.iter().map(|f| f.field.clone()).collect();
                    assert_eq!(streamed, fields, "{name}");
                    if case.expected["price_error"].get("field").is_none() {
                        assert!(error.violations.iter().all(|f| !f.edit_id.is_empty() && !f.hint.is_empty()));
                    }
                }
            }
        }
    }
    server.stop().await;
}

// ---- malformed wire claims ----

#[tokio::test]
async fn malformed_claims_name_the_request_field() {
    let server = default_server().await;
    let mut client = server.claims().await;
    let good = medicare_claim("M-1", 90);
    type Break = Box<dyn Fn(&mut pb::Claim)>;
    let broken: Vec<(&str, Break)> = vec![
        ("claim.lines[0].procedure_code", Box::new(|c| c.lines[0].procedure_code = "ABCDE".into())),
        ("claim.lines[0].date_of_service", Box::new(|c| c.lines[0].date_of_service = "2025-13-01".into())),
        ("claim.lines[0].modifiers[1]", Box::new(|c| c.lines[0].modifiers[1] = "P".into())),
        ("claim.lines[0].quantity", Box::new(|c| c.lines[0].quantity = "ninety".into())),
        ("claim.lines[0].start_time", Box::new(|c| c.lines[0].start_time = "08:00".into())),
        ("claim.lines[0].unit_basis", Box::new(|c| c.lines[0].unit_basis = 0)),
        ("claim.payer.plan_type", Box::new(|c| c.payer.as_mut().expect("payer").plan_type = 0)),
        ("claim.payer", Box::new(|c| c.payer = None)),
        (
            "claim.patient.birth_date",
            Box::new(|c| c.patient.as_mut().expect("patient").birth_date = "14/06/1958".into()),
        ),
        ("claim.rendering_provider.role", Box::new(|c| c.rendering_provider.as_mut().expect("provider").role = 99)),
        ("claim.billing_provider_npi", Box::new(|c| c.billing_provider_npi = "1234567893123456789".into())),
        ("claim.diagnoses[1]", Box::new(|c| c.diagnoses[1] = "M48.062 1".into())),
        ("claim.place_of_service", Box::new(|c| c.place_of_service = "2".into())),
        // An empty (absent) id is no id, as in JSON, tables and X12.
        ("claim.claim_id", Box::new(|c| c.claim_id = String::new())),
        ("claim.payer.id", Box::new(|c| c.payer.as_mut().expect("payer").id = String::new())),
    ];
    for (field, break_it) in &broken {
        let mut claim = good.clone();
        break_it(&mut claim);
        let status = client.validate_claim(validate(&claim, TODAY)).await.expect_err(field);
        assert_eq!(&violation_field(&status), field);
        let status = client.price_claim(price(&claim, pb::PriceOptions::default(), TODAY)).await.expect_err(field);
        assert_eq!(&violation_field(&status), field);
        // The stream names the same field (its fast reader gives every one of these to prost).
        let stream = tokio_stream::iter([process_request("m", claim, true)]);
        let mut answers = client.process_claims(stream).await.expect("stream").into_inner();
        let answer = answers.next().await.expect("an answer").expect("ok");
        let streamed: Vec<String> = answer.error.expect(field).violations.into_iter().map(|f| f.field).collect();
        assert_eq!(streamed, [*field], "ProcessClaims");
    }

    let status = client.validate_claim(pb::ValidateClaimRequest { claim: None, today: TODAY.into() }).await;
    assert_eq!(violation_field(&status.expect_err("no claim")), "claim");
    let status = client.validate_claim(validate(&good, "27/11/2026")).await.expect_err("today");
    assert_eq!(violation_field(&status), "today");
    let options = pb::PriceOptions { rule_set: String::new(), conversion_factor: "sixty".into(), ..Default::default() };
    let status = client.price_claim(price(&good, options, TODAY)).await.expect_err("conversion factor");
    assert_eq!(violation_field(&status), "options.conversion_factor");
    // A payer's factor out of range is named where the request holds it, as the request keys it, not
    // where the core keeps it; a factor keyed by no payer id is that map entry, not `conversion_factor`.
    for (payer, field) in
        [("Cigna", "options.payer_conversion_factors.Cigna"), ("", r#"options.payer_conversion_factors[""]"#)]
    {
        let factor = if payer.is_empty() { "62.50" } else { "0" };
        let payer_conversion_factors = [(payer.to_owned(), factor.to_owned())].into();
        let options =
            pb::PriceOptions { conversion_factor: "60".into(), payer_conversion_factors, ..Default::default() };
        let status = client.price_claim(price(&good, options.clone(), TODAY)).await.expect_err(field);
        assert_eq!(violation_field(&status), field);
        assert!(status.message().starts_with(&format!("{field}: ")), "{}", status.message());
        let request = pb::ProcessClaimsRequest { options: Some(options), ..process_request("f", good.clone(), true) };
        let mut answers = client.process_claims(tokio_stream::iter([request])).await.expect("stream").into_inner();
        let error = answers.next().await.expect("an answer").expect("ok").error.expect(field);
        let streamed: Vec<String> = error.violations.into_iter().map(|f| f.field).collect();
        assert_eq!(streamed, [field], "ProcessClaims");
    }

    // Well-formed text that breaks a billing rule is kept on the claim and reported, not refused.
    let mut kept = good.clone();
    kept.billing_provider_npi = "123".into();
    kept.diagnoses[1] = "36616".into();
    let report = client.validate_claim(validate(&kept, TODAY)).await.expect("kept").into_inner();
    let found = report_set(&report.report.expect("report"));
    assert!(found.contains(&("NPI002".into(), "billing_provider_npi".into())), "{found:?}");
    assert!(found.contains(&("DX009".into(), "diagnoses[1]".into())), "{found:?}");

    // A well-formed claim judged on the server's date (no `today`): 2025 is in the past.
    let report = client.validate_claim(validate(&good, "")).await.expect("today from the server").into_inner();
    assert!(report.report.expect("report").valid);
    server.stop().await;
}

#[tokio::test]
async fn rejected_claims_list_every_error_finding_up_to_the_cap() {
    let server = default_server().await;
    let mut client = server.claims().await;
    // 40 and 150 copies of one line: every copy after the first is a duplicate (CPT005). Over 32
    // lines, the server judges the claim on a blocking thread.
    // 150 lines are also CLM007 (an 837P claim holds at most 50), first; its 150 violations are more
    // than fit the trailer's budget: as many as fit are listed, in order.
    for (lines, listed) in [(40, 39), (150, 66)] {
        let mut claim = medicare_claim("DUP", 90);
        claim.lines = vec![claim.lines[0].clone(); lines];
        let too_many = usize::from(lines > 50);
        let errors = lines - 1 + too_many;
        let report = client.validate_claim(validate(&claim, TODAY)).await.expect("report").into_inner();
        let report = report.report.expect("report");
        assert_eq!(error_findings(&report).len(), errors);
        let status = client.price_claim(price(&claim, pb::PriceOptions::default(), TODAY)).await.expect_err("dups");
        let violations = violations(&status);
        assert_eq!(violations.len(), listed);
        assert_eq!(
            violations[too_many],
            ("claim.lines[1].procedure_code".into(), "CPT005: line 1 repeats line 0".into())
        );
        // A stream names them alike, each a whole finding (edit id, hint).
        let stream = tokio_stream::iter([process_request("dups", claim.clone(), true)]);
        let mut answers = client.process_claims(stream).await.expect("stream").into_inner();
        let error = answers.next().await.expect("an answer").expect("ok").error.expect("rejected");
        assert_eq!(error.violations.len(), errors);
        let first = &error.violations[too_many];
        assert_eq!((first.field.as_str(), first.edit_id.as_str()), ("claim.lines[1].procedure_code", "CPT005"));
        assert!(!first.hint.is_empty());
        assert_eq!(status.message().contains("field violations"), errors > listed, "{}", status.message());
        let text: usize = status.message().len() + violations.iter().map(|(f, d)| f.len() + d.len()).sum::<usize>();
        assert!(text <= cptkit_server::status::MAX_STATUS_TEXT_BYTES, "{text} bytes");
    }
    server.stop().await;
}

#[tokio::test]
async fn pricing_errors_map_to_their_codes() {
    let server = default_server().await;
    let mut client = server.claims().await;
    let claim = medicare_claim("R-1", 90);
    let unknown =
        pb::PriceOptions { rule_set: "no-such-rules".into(), conversion_factor: String::new(), ..Default::default() };
    let status = client.price_claim(price(&claim, unknown, TODAY)).await.expect_err("unknown rule set");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(not_found(&status), pair("rule set", "no-such-rules"));
    let negative = pb::PriceOptions { rule_set: String::new(), conversion_factor: "-1".into(), ..Default::default() };
    let status = client.price_claim(price(&claim, negative, TODAY)).await.expect_err("negative cf");
    assert_eq!(violation_field(&status), "options.conversion_factor");
    let mut far = claim.clone();
    far.lines[0].date_of_service = "2019-03-04".into();
    let status = client.price_claim(price(&far, pb::PriceOptions::default(), TODAY)).await.expect_err("CY2019");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // The subject is the field in the request, as the message names it.
    assert_eq!(precondition_failure(&status), pair("UNSUPPORTED", "claim.lines[0].date_of_service"));
    assert!(status.message().starts_with("claim.lines[0].date_of_service: "), "{}", status.message());
    server.stop().await;
}

// ---- ProcessClaims ----

/// Sends `pb::ProcessClaimsRequest`s and keeps each answer's bytes as they came off the wire.
#[derive(Debug, Clone, Copy, Default)]
struct RawAnswers;

impl tonic::codec::Codec for RawAnswers {
    type Encode = pb::ProcessClaimsRequest;
    type Decode = bytes::Bytes;
    type Encoder = tonic_prost::ProstEncoder<pb::ProcessClaimsRequest>;
    type Decoder = RawAnswers;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawAnswers
    }
}

impl tonic::codec::Decoder for RawAnswers {
    type Item = bytes::Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<bytes::Bytes>, Status> {
        use bytes::Buf as _;
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// The stream's answers, byte for byte, are the messages the unary calls answer with: every golden
/// case (not-priced lines, rejected and malformed claims among them) and a thousand mixed requests
/// (malformed, invalid, validated only, priced at many durations), in request order.
#[tokio::test]
async fn streamed_answers_are_the_unary_answers_byte_for_byte() {
    let server = default_server().await;
    let mut client = server.claims().await;
    let mut requests: Vec<pb::ProcessClaimsRequest> = golden_cases()
        .into_iter()
        .map(|case| pb::ProcessClaimsRequest {
            options: Some(case.options()),
            today: case.today(),
            ..process_request(&case.name, case.claim.clone(), true)
        })
        .collect();
    requests.extend((0..1000).map(mixed_request));

    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/cptkit.v1.ClaimService/ProcessClaims");
    let answers = grpc
        .streaming(tonic::Request::new(tokio_stream::iter(requests.clone())), path, RawAnswers)
        .await
        .expect("stream")
        .into_inner();
    let answers: Vec<bytes::Bytes> =
        tokio::time::timeout(HANG_GUARD, answers.collect::<Result<_, _>>()).await.expect("in time").expect("ok");
    assert_eq!(answers.len(), requests.len());

    let (mut priced, mut failed) = (0, 0);
    for (request, bytes) in requests.into_iter().zip(answers) {
        let pb::ProcessClaimsRequest { request_id, claim, price: pricing, options, today } = request;
        let claim = claim.expect("claim");
        let answer = pb::ProcessClaimsResponse::decode(bytes.clone()).expect("an answer");
        let report = client.validate_claim(validate(&claim, &today)).await.map(|r| r.into_inner().report);
        let unary = if pricing {
            client.price_claim(price(&claim, options.unwrap_or_default(), &today)).await.map(|r| r.into_inner().priced)
        } else {
            Ok(None)
        };
        match (report, unary) {
            (Ok(report), Ok(priced_claim)) => {
                priced += usize::from(priced_claim.is_some());
                let expected = pb::ProcessClaimsResponse { request_id, report, priced: priced_claim, error: None };
                assert_eq!(bytes, expected.encode_to_vec(), "{}", expected.request_id);
            }
            (_, Err(status)) | (Err(status), _) => {
                failed += 1;
                let error = answer.error.unwrap_or_else(|| panic!("{request_id}: no error"));
                assert_eq!(error.message, status.message(), "{request_id}");
                assert_eq!(answer.priced, None, "{request_id}");
                // The rest of the answer (report, error) is prost's own encoding of the message.
                assert_eq!(bytes, pb::ProcessClaimsResponse { error: Some(error), ..answer }.encode_to_vec());
            }
        }
    }
    assert!(priced > 600 && failed > 100, "{priced} priced, {failed} failed");
    server.stop().await;
}

/// A caller that mounts the generated `ClaimServiceServer` itself (not the server's routes) gets the
/// same answers: the trait's ProcessClaims decodes the answers the workers encoded.
#[tokio::test]
async fn the_generated_service_streams_the_same_answers() {
    use cptkit_proto::pb::claim_service_server::ClaimServiceServer;
    use cptkit_server::{ClaimServiceImpl, DataStore, ServerData};

    let data = ServerData::new(Reference::embedded().into(), Arc::new(RuleBook::embedded().clone()), Arc::default());
    let generated = ClaimServiceServer::new(ClaimServiceImpl::new(DataStore::new(data)));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let served = tokio::spawn(tonic::transport::Server::builder().add_service(generated).serve_with_incoming(incoming));
    let mut direct = ClaimServiceClient::connect(format!("http://{address}")).await.expect("connect");
    let server = default_server().await;
    let mut routed = server.claims().await;

    let requests: Vec<_> = (0..300).map(mixed_request).collect();
    let mut answers = Vec::new();
    for client in [&mut direct, &mut routed] {
        let stream = client.process_claims(tokio_stream::iter(requests.clone())).await.expect("stream").into_inner();
        let stream = tokio::time::timeout(HANG_GUARD, stream.collect::<Result<Vec<_>, _>>()).await.expect("in time");
        answers.push(stream.expect("answers"));
    }
    assert_eq!(answers[0].len(), requests.len());
    assert_eq!(answers[0], answers[1]);
    served.abort();
    server.stop().await;
}

/// Every 7th request is bad: malformed on the wire (even sevens) or invalid (odd sevens: no pricing
/// modifier, MOD001). Every 5th good one is validated only.
fn mixed_request(i: usize) -> pb::ProcessClaimsRequest {
    let mut claim = medicare_claim(&format!("C{i}"), 15 + (i % 180) as u32);
    let price = i % 5 != 1;
    match (i % 7, (i / 7) % 2) {
        (0, 0) => claim.lines[0].procedure_code = format!("X{i}"),
        (0, _) => claim.lines[0].modifiers = vec!["P2".into()],
        _ => {}
    }
    process_request(&format!("r{i}"), claim, price)
}

fn check_mixed(i: usize, response: &pb::ProcessClaimsResponse) {
    assert_eq!(response.request_id, format!("r{i}"), "in request order");
    let price = i % 5 != 1;
    match (i % 7, (i / 7) % 2) {
        (0, 0) => {
            let error = response.error.as_ref().unwrap_or_else(|| panic!("r{i}: no error"));
            assert_eq!(error.code, "INVALID_ARGUMENT");
            let fields: Vec<&str> = error.violations.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(fields, ["claim.lines[0].procedure_code"]);
            assert!(error.message.starts_with("claim.lines[0].procedure_code: "), "{}", error.message);
            assert_eq!((response.report.as_ref(), response.priced.as_ref()), (None, None));
        }
        (0, _) => {
            let report = response.report.as_ref().expect("report");
            assert!(!report.valid);
            assert_eq!(report.claim_id, format!("C{i}"));
            if price {
                let error = response.error.as_ref().unwrap_or_else(|| panic!("r{i}: no error"));
                assert_eq!(error.code, "INVALID_ARGUMENT");
                let edits: Vec<&str> = error.violations.iter().map(|v| v.edit_id.as_str()).collect();
                assert_eq!(edits, ["MOD001"]);
            } else {
                assert_eq!(response.error, None, "findings are data, not errors");
            }
            assert_eq!(response.priced, None);
        }
        _ => {
            assert_eq!(response.error, None, "r{i}");
            assert!(response.report.as_ref().expect("report").valid);
            if price {
                let priced = response.priced.as_ref().expect("priced");
                assert_eq!(priced.claim_id, format!("C{i}"));
                assert!(priced.total_allowed_cents > 0);
                assert!(priced.lines[0].steps.len() >= 5);
            } else {
                assert_eq!(response.priced, None);
            }
        }
    }
}

#[tokio::test]
async fn a_mixed_stream_answers_every_request_in_order() {
    const CLAIMS: usize = 1000;
    let server = default_server().await;
    let mut client = server.claims().await;
    let requests = tokio_stream::iter((0..CLAIMS).map(mixed_request));
    let mut responses = client.process_claims(requests).await.expect("stream").into_inner();
    let mut count = 0;
    while let Some(response) =
        tokio::time::timeout(HANG_GUARD, responses.message()).await.expect("in time").expect("ok")
    {
        check_mixed(count, &response);
        count += 1;
    }
    assert_eq!(count, CLAIMS);

    // The 90-minute claim prices as the golden case does, streamed or not.
    let request = process_request("golden", medicare_claim("G", 90), true);
    let mut one = client.process_claims(tokio_stream::once(request)).await.expect("stream").into_inner();
    let response = one.message().await.expect("ok").expect("one");
    assert_eq!(response.priced.expect("priced").total_allowed_cents, 26413);
    assert!(one.message().await.expect("ok").is_none(), "exactly one answer");

    // An empty stream is answered with an empty stream.
    let mut none = client.process_claims(tokio_stream::empty()).await.expect("stream").into_inner();
    assert!(none.message().await.expect("ok").is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_client_waiting_for_each_answer_gets_it_at_once() {
    let server = default_server().await;
    let mut client = server.claims().await;
    let (requests, inbound) = tokio::sync::mpsc::channel(1);
    let mut responses =
        client.process_claims(tokio_stream::wrappers::ReceiverStream::new(inbound)).await.expect("stream").into_inner();
    for i in 0..20 {
        requests.send(mixed_request(i)).await.expect("send");
        // The server must not wait for a chunk to fill before answering.
        let response = tokio::time::timeout(HANG_GUARD, responses.message()).await.expect("an answer").expect("ok");
        check_mixed(i, &response.expect("open"));
    }
    drop(requests);
    assert!(tokio::time::timeout(HANG_GUARD, responses.message()).await.expect("end").expect("ok").is_none());
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_request_ends_the_stream_after_the_answers_before_it() {
    let config = Config { max_request_bytes: 64 * 1024, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut client = server.claims().await;
    let mut huge = medicare_claim("BIG", 90);
    huge.claim_id = "x".repeat(100 * 1024);
    let requests = (0..3)
        .map(|i| process_request(&format!("r{i}"), medicare_claim(&format!("C{i}"), 90), true))
        .chain([process_request("huge", huge, true), process_request("after", medicare_claim("A", 90), true)]);
    let mut responses = client.process_claims(tokio_stream::iter(requests)).await.expect("stream").into_inner();
    for i in 0..3 {
        let response = responses.message().await.expect("answered").expect("open");
        assert_eq!(response.request_id, format!("r{i}"));
        assert!(response.priced.is_some());
    }
    let status = responses.message().await.expect_err("over the limit");
    assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");
    // The server goes on serving.
    client.price_claim(price(&medicare_claim("N", 90), pb::PriceOptions::default(), TODAY)).await.expect("next call");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_back_the_stream_and_can_cancel_it() {
    const CLAIMS: usize = 50_000;
    // A grace longer than the hang guard: stopping in time means the stream ended on cancellation.
    let config = Config { shutdown_grace: HANG_GUARD * 2, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut client = server.claims().await;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    // The requests come from a producer task, as in a client that reads them from somewhere; the
    // counter counts the ones the client's HTTP/2 stream has taken.
    let (requests, inbound) = tokio::sync::mpsc::channel(1);
    let claim = medicare_claim("B", 90);
    let producer = tokio::spawn(async move {
        for i in 0..CLAIMS {
            if requests.send(process_request(&format!("r{i}"), claim.clone(), true)).await.is_err() {
                break;
            }
        }
    });
    let requests = tokio_stream::wrappers::ReceiverStream::new(inbound).map(move |request| {
        counter.fetch_add(1, Ordering::Relaxed);
        request
    });
    let mut responses = client.process_claims(requests).await.expect("stream").into_inner();

    // Read nothing until the client has stopped being able to send: HTTP/2 flow control and the
    // server's bounded buffers hold it back.
    let plateau = async {
        let (mut last, mut unchanged) = (0, 0);
        while unchanged < 5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = pulled.load(Ordering::Relaxed);
            unchanged = if now == last && now > 0 { unchanged + 1 } else { 0 };
            last = now;
        }
        last
    };
    let held_at = tokio::time::timeout(HANG_GUARD, plateau).await.expect("the client is held back");
    assert!(held_at < CLAIMS / 2, "the server took {held_at} of {CLAIMS} claims from a client that reads nothing");

    // Reading lets the stream go on, in order.
    for i in 0..2_000 {
        let response = tokio::time::timeout(HANG_GUARD, responses.message()).await.expect("in time").expect("ok");
        assert_eq!(response.expect("open").request_id, format!("r{i}"));
    }
    let resumed = async {
        while pulled.load(Ordering::Relaxed) <= held_at {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(HANG_GUARD, resumed).await.expect("the client may send again");

    // Cancel: the client drops the call (its requests and its responses), which resets the HTTP/2
    // stream. The server keeps serving, and its graceful shutdown is not held up by the stream.
    producer.abort();
    drop(responses);
    client.price_claim(price(&medicare_claim("N", 90), pb::PriceOptions::default(), TODAY)).await.expect("next call");
    server.stop().await;
}

// ---- user rule sets ----

/// A commercial rule set for payer "acme", made from the embedded Cigna one with a 0.90 AA share.
pub(crate) fn acme_rule_set() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cptkit-core/data/rulesets/cigna_2023.json");
    let mut rule_set = read_json(&path);
    rule_set["id"] = "acme-2025".into();
    rule_set["payer"] = "Acme Health".into();
    rule_set["selects"]["payer_ids"] = serde_json::json!(["acme"]);
    rule_set["shares"]["AA"] = "0.90".into();
    rule_set.to_string()
}

pub(crate) fn acme_claim() -> pb::Claim {
    let mut claim = medicare_claim("ACME-1", 90);
    claim.payer = Some(pb::Payer { id: "acme".into(), plan_type: pb::PlanType::Commercial.into() });
    claim.medicare_locality = String::new();
    claim
}

pub(crate) fn sixty() -> pb::PriceOptions {
    pb::PriceOptions { rule_set: String::new(), conversion_factor: "60.00".into(), ..Default::default() }
}

pub(crate) fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("cptkit-server-test-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path
}

#[tokio::test]
async fn a_user_rule_set_prices_its_payer() {
    let file = temp_file("acme-in-process.json", &acme_rule_set());
    let rules = cptkit_server::load_rules(std::slice::from_ref(&file)).expect("loads");
    let server = TestServer::start_with_rules(Config::default(), rules).await;
    let mut client = server.claims().await;
    let priced = client.price_claim(price(&acme_claim(), sixty(), TODAY)).await.expect("acme").into_inner();
    let priced = priced.priced.expect("priced");
    // (7 base + 6.0 time) x 60.00 x 0.90 = 702.00
    assert_eq!(priced.total_allowed_cents, 70200);
    assert_eq!(priced.lines[0].rule_set, "acme-2025");

    let default = default_server().await;
    let status = default.claims().await.price_claim(price(&acme_claim(), sixty(), TODAY)).await.expect_err("no rules");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(not_found(&status), pair("payer rule set", &acme_claim().payer.expect("payer").id));
    default.stop().await;
    server.stop().await;
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn the_binary_loads_rule_sets_from_the_flag_and_the_environment() {
    let file = temp_file("acme-binary.json", &acme_rule_set());
    let path = file.to_str().expect("utf-8 path");
    let from_flag = Binary::start(&["--listen", "127.0.0.1:0", "--rule-set", path], &[]).await;
    let from_env = Binary::start(&["--listen", "127.0.0.1:0"], &[("CPTKIT_RULE_SETS", path)]).await;
    for server in [from_flag, from_env] {
        let mut client = ClaimServiceClient::connect(format!("http://{}", server.address)).await.expect("connect");
        let priced = client.price_claim(price(&acme_claim(), sixty(), TODAY)).await.expect("acme").into_inner();
        assert_eq!(priced.priced.expect("priced").total_allowed_cents, 70200);
        let (status, stderr) = server.terminate().await;
        assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
        assert!(stderr.contains("rule set loaded") && stderr.contains("acme-2025"), "{stderr}");
    }
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn the_binary_refuses_a_bad_rule_set_naming_the_file_and_field() {
    let mut bad: Value = serde_json::from_str(&acme_rule_set()).expect("json");
    bad["time_units"]["unit_minutes"] = "fifteen".into();
    let file = temp_file("bad-rule-set.json", &bad.to_string());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(["--listen", "127.0.0.1:0", "--rule-set"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let (status, stderr) = wait(&mut child).await;
    assert!(!status.success());
    let wanted = format!("cannot load rule set {}: time_units.unit_minutes: ", file.display());
    assert!(stderr.contains(&wanted), "{stderr}");
    let _ = std::fs::remove_file(file);
}

// ---- access log ----

#[tokio::test]
async fn the_binary_logs_claim_ids_and_counts_never_patient_data() {
    let env = [("CPTKIT_LISTEN", "127.0.0.1:0"), ("CPTKIT_LOG_FORMAT", "json")];
    let server = Binary::start(&[], &env).await;
    let mut client = ClaimServiceClient::connect(format!("http://{}", server.address)).await.expect("connect");
    // The claims carry member id 1EG4TE5MK73 and birth date 1958-06-14.
    let claim = medicare_claim("CLM-0001", 90);
    client.validate_claim(validate(&claim, TODAY)).await.expect("validate");
    client.price_claim(price(&claim, pb::PriceOptions::default(), TODAY)).await.expect("price");
    let mut malformed = claim.clone();
    malformed.claim_id = "JANE DOE\n1958-06-14".into();
    malformed.lines[0].procedure_code = "JANE DOE".into();
    client.validate_claim(validate(&malformed, TODAY)).await.expect_err("malformed");
    let mut odd_id = claim.clone();
    odd_id.claim_id = "A\nB".into();
    client.validate_claim(validate(&odd_id, TODAY)).await.expect("odd id");
    let requests = (0..14).map(mixed_request);
    let responses = client.process_claims(tokio_stream::iter(requests)).await.expect("stream").into_inner();
    let responses: Vec<_> = responses.collect::<Result<_, _>>().await.expect("answers");
    assert_eq!(responses.len(), 14);
    // A stream the client cancels after 10 answers (of 100,000 it meant to send).
    let (requests, inbound) = tokio::sync::mpsc::channel(1);
    let producer = tokio::spawn(async move {
        for i in 0..100_000 {
            if requests.send(mixed_request(i)).await.is_err() {
                break;
            }
        }
    });
    let mut cancelled =
        client.process_claims(tokio_stream::wrappers::ReceiverStream::new(inbound)).await.expect("stream").into_inner();
    for _ in 0..10 {
        cancelled.message().await.expect("answer").expect("open");
    }
    producer.abort();
    drop(cancelled);
    // Another call on the same connection, so the cancellation has reached the server.
    client.validate_claim(validate(&claim, TODAY)).await.expect("after the cancelled stream");

    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(!stderr.contains("1EG4TE5MK73") && !stderr.contains("1958-06-14"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("jane"), "{stderr}");
    let lines: Vec<Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    // (rpc, claim_id, claims, claim_errors, status)
    type Line<'a> = (&'a str, Option<&'a str>, Option<u64>, Option<u64>, &'a str);
    let mut rpcs: Vec<Line<'_>> = lines
        .iter()
        .filter(|l| l["target"] == "cptkit_server::rpc")
        .map(|l| {
            (
                l["rpc"].as_str().expect("rpc").trim_start_matches("cptkit.v1.ClaimService/"),
                l["claim_id"].as_str(),
                l["claims"].as_u64(),
                l["claim_errors"].as_u64(),
                l["status"].as_str().expect("status"),
            )
        })
        .collect();
    // The cancelled stream's line: written when the server dropped it, with the answers sent by then
    // (10 or more, far from 100,000). Its place among the last lines depends on timing.
    let at = rpcs.iter().position(|r| r.4 == "CANCELLED").unwrap_or_else(|| panic!("no CANCELLED line: {rpcs:?}"));
    let (rpc, claim_id, claims, _, _) = rpcs.remove(at);
    assert_eq!((rpc, claim_id), ("ProcessClaims", None));
    assert!(claims.is_some_and(|n| (10..50_000).contains(&n)), "{claims:?}");
    // Of 14 mixed requests, r0 (malformed) and r7 (invalid, priced) are errors.
    assert_eq!(
        rpcs,
        [
            ("ValidateClaim", Some("CLM-0001"), None, None, "OK"),
            ("PriceClaim", Some("CLM-0001"), None, None, "OK"),
            ("ValidateClaim", None, None, None, "INVALID_ARGUMENT"),
            ("ValidateClaim", Some("A?B"), None, None, "OK"),
            ("ProcessClaims", None, Some(14), Some(2), "OK"),
            ("ValidateClaim", Some("CLM-0001"), None, None, "OK"),
        ]
    );
}

// ---- the batch fixture: streamed claims are judged one by one ----

#[tokio::test]
async fn streamed_claims_are_judged_one_by_one() {
    let dir = claims_dir().join("batch_medical_direction");
    let claims: Vec<pb::Claim> = read_json(&dir.join("claims.json"))
        .as_array()
        .expect("claims")
        .iter()
        .map(|c| cptkit_core::Claim::from_json(&c.to_string()).expect("claim").into())
        .collect();
    let server = default_server().await;
    let mut client = server.claims().await;
    let requests: Vec<_> = claims.iter().map(|c| process_request(&c.claim_id, c.clone(), false)).collect();
    let responses = client.process_claims(tokio_stream::iter(requests)).await.expect("stream").into_inner();
    let responses: Vec<pb::ProcessClaimsResponse> = responses.collect::<Result<_, _>>().await.expect("answers");
    assert_eq!(responses.len(), claims.len());
    for (claim, response) in claims.iter().zip(responses) {
        let unary = client.validate_claim(validate(claim, TODAY)).await.expect("validate").into_inner();
        assert_eq!(response.report, unary.report, "{}", claim.claim_id);
        // The cross-claim edits (BAT001-BAT009) need the whole batch at once: not on a stream.
        let report = response.report.expect("report");
        assert!(report.findings.iter().all(|f| !f.edit_id.starts_with("BAT")), "{:?}", report.findings);
    }
    server.stop().await;
}

// ---- absurd input ----

/// An absurd conversion factor (one that would overflow a decimal) is refused for that claim alone,
/// and the stream goes on.
#[tokio::test]
async fn an_absurd_conversion_factor_fails_that_claim_alone() {
    let server = default_server().await;
    let mut client = server.claims().await;
    let huge = pb::PriceOptions {
        rule_set: String::new(),
        conversion_factor: "79228162514264337593543950335".into(),
        ..Default::default()
    };
    let status = client.price_claim(price(&medicare_claim("H", 90), huge.clone(), TODAY)).await.expect_err("overflow");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violation_field(&status), "options.conversion_factor");
    let requests = [
        pb::ProcessClaimsRequest { options: Some(huge), ..process_request("huge", medicare_claim("H", 90), true) },
        process_request("next", medicare_claim("N", 90), true),
    ];
    let responses = client.process_claims(tokio_stream::iter(requests)).await.expect("stream").into_inner();
    let responses: Vec<pb::ProcessClaimsResponse> = responses.collect::<Result<_, _>>().await.expect("answers");
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].error.as_ref().map(|e| e.code.as_str()), Some("INVALID_ARGUMENT"));
    assert!(responses[1].priced.is_some());
    client.price_claim(price(&medicare_claim("N", 90), pb::PriceOptions::default(), TODAY)).await.expect("next call");
    server.stop().await;
}
