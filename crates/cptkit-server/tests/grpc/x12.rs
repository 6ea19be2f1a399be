//! X12Service: ParseClaims over every 837 fixture (`tests/fixtures/x12/`) against `cptkit_x12::read_837`
//! of the same bytes; errors with their locations and the good transactions' claims of the broken and
//! truncated files; validation findings located in the file; Reconcile against the Medicare 835 with
//! the x12 crate's hand sums; the X12-only request limit; bad requests; a client that stops reading.

use std::collections::HashMap;

use cptkit_proto::pb::parse_claims_response::Item;
use cptkit_proto::pb::x12_service_client::X12ServiceClient;
use cptkit_x12::{ReadOptions, read_837};

use super::*;

const TODAY: &str = "2026-11-27";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixtures_837() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("837p_"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    names.into_iter().map(|n| (n.clone(), fixture(&n))).collect()
}

fn wire_options() -> pb::X12ReadOptions {
    pb::X12ReadOptions {
        medicare_locality: String::new(),
        payer_ids: HashMap::from([("BCBSOK".to_owned(), "bcbs-ok".to_owned())]),
        qualifying_apm_npis: Vec::new(),
    }
}

fn core_options() -> ReadOptions {
    let mut o = ReadOptions::default();
    o.payer_ids.insert("BCBSOK".into(), "bcbs-ok".into());
    o
}

fn parse_request(x12: Vec<u8>, validate: bool) -> pb::ParseClaimsRequest {
    pb::ParseClaimsRequest { x12, read_options: Some(wire_options()), today: TODAY.into(), validate }
}

impl TestServer {
    async fn x12(&self) -> X12ServiceClient<Channel> {
        X12ServiceClient::new(self.channel().await)
    }
}

/// Every item of one ParseClaims call, split by kind (order kept within each kind).
#[derive(Debug, Default)]
struct Parsed {
    transactions: Vec<pb::X12Transaction>,
    claims: Vec<pb::X12ParsedClaim>,
    rejected: Vec<pb::X12RejectedClaim>,
    errors: Vec<pb::X12Error>,
}

async fn parse(client: &mut X12ServiceClient<Channel>, request: pb::ParseClaimsRequest) -> Parsed {
    let mut stream = client.parse_claims(request).await.expect("ParseClaims").into_inner();
    let mut out = Parsed::default();
    while let Some(response) = tokio::time::timeout(HANG_GUARD, stream.message()).await.expect("no hang").expect("item")
    {
        match response.item.expect("an item") {
            Item::Transaction(t) => out.transactions.push(t),
            Item::Claim(c) => out.claims.push(c),
            Item::Rejected(r) => out.rejected.push(r),
            Item::Error(e) => out.errors.push(e),
        }
    }
    out
}

fn location(at: &Option<pb::X12Location>) -> &pb::X12Location {
    at.as_ref().expect("a location")
}

#[tokio::test]
async fn parse_claims_gives_what_read_837_gives_for_every_fixture() {
    let server = default_server().await;
    let mut client = server.x12().await;
    for (name, bytes) in fixtures_837() {
        let file = read_837(&bytes[..], core_options());
        let got = parse(&mut client, parse_request(bytes.clone(), false)).await;
        let want_claims: Vec<pb::X12ParsedClaim> = file.claims().cloned().map(Into::into).collect();
        assert_eq!(got.claims, want_claims, "{name}");
        let want_rejected: Vec<pb::X12RejectedClaim> = file.rejected().cloned().map(Into::into).collect();
        assert_eq!(got.rejected, want_rejected, "{name}");
        let want_errors: Vec<pb::X12Error> = file.errors.iter().cloned().map(Into::into).collect();
        assert_eq!(got.errors, want_errors, "{name}");
        assert_eq!(got.transactions.len(), file.transactions.len(), "{name}");
        // The core claim converts back unchanged.
        for (claim, parsed) in got.claims.iter().zip(file.claims()) {
            let core = cptkit_core::Claim::try_from(claim.claim.clone().expect("claim")).expect("converts back");
            assert_eq!(core, parsed.claim, "{name}");
            assert!(!claim.validated);
            assert!(location(&claim.location).segment_id == "CLM", "{name}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn the_clean_medicare_837_yields_its_claims_and_located_findings() {
    let server = default_server().await;
    let mut client = server.x12().await;
    let bytes = fixture("837p_medicare_star_crlf.x12");
    let got = parse(&mut client, parse_request(bytes.clone(), true)).await;
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    let ids: Vec<&str> = got.claims.iter().map(|c| c.claim.as_ref().expect("claim").claim_id.as_str()).collect();
    // C1002 is split in two (physician + CRNA); C1007 is kept with its bad rendering NPI (a finding);
    // C1009 is rejected (its service date is not a date).
    assert_eq!(ids, ["C1001", "C1002", "C1002", "C1003", "C1004", "C1005", "C1006", "C1007", "C1008"]);
    assert_eq!(got.rejected.iter().map(|r| r.claim_id.as_str()).collect::<Vec<_>>(), ["C1009"]);
    assert!(!got.rejected[0].errors.is_empty());
    assert_eq!(got.transactions.len(), 1);
    assert_eq!(got.transactions[0].claims, 9);
    let c1007 = &got.claims[7];
    let npi = c1007.validation_findings.iter().find(|f| f.finding.as_ref().is_some_and(|f| f.edit_id == "NPI002"));
    let npi = npi.expect("NPI002 on C1007");
    assert_eq!(npi.location.as_ref().map(|l| l.element_name.as_str()), Some("NM109"));

    let c1001 = &got.claims[0];
    assert!(c1001.validated);
    assert!(c1001.findings.is_empty() && c1001.validation_findings.is_empty(), "{c1001:?}");
    assert_eq!((got.claims[1].part_index, got.claims[1].part_of), (1, 2));

    // C1003: 95 billed minutes against a 90-minute note: X12T01 (reader) and UNT005 (core), both
    // pointing into the file at the line's segment.
    let c1003 = &got.claims[3];
    let edits = |fs: &[pb::X12Finding]| -> Vec<String> {
        fs.iter().map(|f| f.finding.as_ref().expect("finding").edit_id.clone()).collect()
    };
    assert!(edits(&c1003.findings).contains(&"X12T01".to_owned()), "{:?}", c1003.findings);
    assert!(edits(&c1003.validation_findings).contains(&"UNT005".to_owned()), "{:?}", c1003.validation_findings);
    for f in c1003.findings.iter().chain(&c1003.validation_findings) {
        let at = location(&f.location);
        assert!(at.segment_number > 0);
        let offset = usize::try_from(at.byte_offset).expect("offset");
        assert!(bytes[offset..].starts_with(at.segment_id.as_bytes()), "{f:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_broken_envelope_gives_located_errors_and_the_good_transaction() {
    let server = default_server().await;
    let mut client = server.x12().await;
    let bytes = fixture("837p_broken_envelope.x12");
    let got = parse(&mut client, parse_request(bytes.clone(), true)).await;
    let ids: Vec<&str> = got.claims.iter().map(|c| c.claim.as_ref().expect("claim").claim_id.as_str()).collect();
    assert_eq!(ids, ["C4001"]);
    let errors: Vec<(pb::X12ErrorKind, &str, u64)> = got
        .errors
        .iter()
        .map(|e| (e.kind(), location(&e.location).element_name.as_str(), location(&e.location).segment_number))
        .collect();
    assert_eq!(
        errors,
        [
            (pb::X12ErrorKind::Envelope, "SE01", 58),
            (pb::X12ErrorKind::Envelope, "SE02", 86),
            (pb::X12ErrorKind::Envelope, "GE01", 87),
            (pb::X12ErrorKind::Envelope, "IEA02", 88),
        ]
    );
    for e in &got.errors {
        let at = location(&e.location);
        assert!(bytes[usize::try_from(at.byte_offset).expect("offset")..].starts_with(at.segment_id.as_bytes()));
        assert!(!e.message.is_empty());
    }
    assert_eq!(got.errors[0].transaction_control, "0002");
    server.stop().await;
}

#[tokio::test]
async fn a_truncated_file_keeps_what_was_complete() {
    let server = default_server().await;
    let mut client = server.x12().await;
    let got = parse(&mut client, parse_request(fixture("837p_truncated.x12"), false)).await;
    let ids: Vec<&str> = got.claims.iter().map(|c| c.claim.as_ref().expect("claim").claim_id.as_str()).collect();
    assert_eq!(ids, ["C5001"]);
    assert_eq!(got.errors.len(), 2, "{:?}", got.errors);
    assert!(got.errors.iter().all(|e| e.kind() == pb::X12ErrorKind::Truncated));
    assert_eq!(location(&got.errors[0].location).segment_id, "CLM");
    assert!(location(&got.errors[0].location).byte_offset > 0);
    server.stop().await;
}

fn reconcile_request() -> pb::ReconcileRequest {
    pb::ReconcileRequest {
        claims_837: fixture("837p_medicare_star_crlf.x12"),
        remittance_835: fixture("835_medicare.x12"),
        options: None,
        today: TODAY.into(),
        tolerance: String::new(),
        read_options: Some(wire_options()),
    }
}

#[tokio::test]
async fn reconcile_against_the_medicare_835_gives_the_hand_sums() {
    let server = default_server().await;
    let mut client = server.x12().await;
    let r = client.reconcile(reconcile_request()).await.expect("Reconcile").into_inner();
    let claim = |id: &str| r.claims.iter().find(|c| c.claim_id == id).unwrap_or_else(|| panic!("{id}"));

    // C1001: 00632-AA-P2, 90 minutes, CY2025 CF of the billing provider's locality
    // (2010AA ZIP 62701: 06102-99 REST OF ILLINOIS): (7 + 6 + 0) x 20.52 = 266.76.
    let l = &claim("C1001").lines[0];
    assert_eq!(l.procedure, "00632-AA-P2");
    assert_eq!(l.matched_by(), pb::MatchedBy::ControlNumber);
    assert_eq!((l.expected_cents, l.allowed_cents, l.variance_cents), (Some(26676), Some(26676), Some(0)));
    assert!(l.allowed_from_amt_b6);
    assert_eq!(l.adjustments_by_reason["CO-45"], 123_324);
    assert_eq!(l.adjustments_by_reason["PR-1"], 5000);
    assert!(l.flags.is_empty(), "{:?}", l.flags);
    assert_eq!(l.adjustments.iter().map(|a| a.group.as_str()).collect::<Vec<_>>(), ["CO", "PR", "PR"]);

    // C1002: QK paid as expected, QX allowed 120.00 against 133.38.
    let (qk, qx) = (&claim("C1002").lines[0], &claim("C1002").lines[1]);
    assert!(qk.flags.is_empty(), "{:?}", qk.flags);
    assert_eq!(qx.expected_cents, Some(13338));
    assert_eq!(qx.flags.len(), 1);
    assert_eq!((qx.flags[0].kind(), qx.flags[0].by_cents), (pb::LineFlagKind::Underpaid, 1338));

    // C1003 is not priced (UNT005) and its SVC05 reads as units; C1004 as time units.
    let l = &claim("C1003").lines[0];
    assert_eq!(l.expected_cents, None);
    assert!(l.expected_note.contains("UNT005"), "{}", l.expected_note);
    assert_eq!(l.flags[0].kind(), pb::LineFlagKind::NotPriced);
    let units = |id: &str| {
        claim(id).lines[0]
            .flags
            .iter()
            .find(|f| f.kind() == pb::LineFlagKind::UnitsNotMinutes)
            .map(|f| f.reads_as.clone())
    };
    assert_eq!(units("C1003").as_deref(), Some("units"));
    assert_eq!(units("C1004").as_deref(), Some("time units"));

    // C1005: claim-level payment; C1006: allowed = paid + PR; C1008: denied CO-50.
    let l = &claim("C1005").lines[0];
    assert_eq!((l.matched_by(), l.paid_cents, l.allowed_cents), (pb::MatchedBy::ClaimLevel, Some(21341), Some(26676)));
    let l = &claim("C1006").lines[0];
    assert_eq!((l.expected_cents, l.allowed_cents, l.allowed_from_amt_b6), (Some(24624), Some(24624), false));
    let l = &claim("C1008").lines[0];
    assert_eq!(l.flags.len(), 1);
    assert_eq!((l.flags[0].kind(), l.flags[0].reasons.clone()), (pb::LineFlagKind::Denied, vec!["CO-50".to_owned()]));
    assert_eq!(claim("C1008").statuses, ["4"]);

    // Unmatched both ways, totals, and the 837's rejected claim.
    assert_eq!(r.unmatched_remit_claims.len(), 1);
    assert_eq!(r.unmatched_remit_claims[0].claim_id, "C9999");
    let t = r.totals.as_ref().expect("totals");
    assert_eq!((t.claims, t.lines, t.denied_lines, t.underpaid_lines, t.units_not_minutes_lines), (8, 9, 1, 1, 2));
    assert_eq!((t.unmatched_remit_claims, t.paid_cents, t.provider_adjustments_cents), (1, 131_826, 2190));
    // One payer, one row: the claims' payer id, with the 835's claim that matches none and its PLB.
    assert_eq!(r.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare"]);
    assert_eq!(r.totals_by_payer["medicare"], *t);
    assert_eq!(r.rejected_claims.iter().map(|c| c.claim_id.as_str()).collect::<Vec<_>>(), ["C1009"]);
    assert!(r.claims_837_errors.is_empty(), "{:?}", r.claims_837_errors);
    assert!(r.remittance_835_errors.is_empty(), "{:?}", r.remittance_835_errors);

    // A remittance that answers no claim: its N1*PR named by the request's payer ids, as an 837's would be.
    let mut options = wire_options();
    options.payer_ids.insert("01112".into(), "medicare-jm".into());
    let request = pb::ReconcileRequest {
        claims_837: fixture("837p_commercial_pipe_newline.x12"),
        read_options: Some(options),
        ..reconcile_request()
    };
    let other = client.reconcile(request).await.expect("Reconcile").into_inner();
    assert_eq!(other.totals_by_payer["medicare-jm"].unmatched_remit_claims, 8);
    assert_eq!(other.totals_by_payer["medicare-jm"].provider_adjustments_cents, 2190);

    // A wider tolerance clears the QX underpayment.
    let wide = pb::ReconcileRequest { tolerance: "20.00".into(), ..reconcile_request() };
    let r = client.reconcile(wide).await.expect("Reconcile").into_inner();
    assert_eq!(r.totals.expect("totals").underpaid_lines, 0);

    // An SVC03 that cannot be read: paid unset (not 0), flagged, and the problem with its place.
    let text = String::from_utf8(fixture("835_medicare.x12")).expect("text");
    let bad = text.replace("SVC*HC:00632:AA:P2*1500*173.41**90", "SVC*HC:00632:AA:P2*1500*17X.41**90");
    let request = pb::ReconcileRequest { remittance_835: bad.into_bytes(), ..reconcile_request() };
    let r = client.reconcile(request).await.expect("Reconcile").into_inner();
    let l = &r.claims.iter().find(|c| c.claim_id == "C1001").expect("C1001").lines[0];
    assert_eq!((l.paid_cents, l.allowed_cents), (None, None));
    assert_eq!(l.flags.iter().map(|f| f.kind()).collect::<Vec<_>>(), [pb::LineFlagKind::UnreadableAmount]);
    assert_eq!(l.flags[0].locations.len(), 1);
    assert_eq!(r.remittance_835_errors.len(), 1, "{:?}", r.remittance_835_errors);
    assert!(r.remittance_835_errors[0].message.contains("SVC03 is not an amount"), "{:?}", r.remittance_835_errors);
    let t = r.totals.expect("totals");
    assert_eq!((t.paid_cents, t.unreadable_lines, t.denied_lines), (131_826 - 17_341, 1, 1));
    server.stop().await;
}

#[tokio::test]
async fn reconcile_reports_the_parse_errors_of_either_file() {
    let server = default_server().await;
    let mut client = server.x12().await;
    let request = pb::ReconcileRequest {
        claims_837: fixture("837p_broken_envelope.x12"),
        remittance_835: fixture("837p_truncated.x12"),
        ..reconcile_request()
    };
    let r = client.reconcile(request).await.expect("Reconcile").into_inner();
    assert_eq!(r.claims.iter().map(|c| c.claim_id.as_str()).collect::<Vec<_>>(), ["C4001"]);
    assert!(r.claims[0].no_remittance);
    assert_eq!(r.claims_837_errors.len(), 4, "{:?}", r.claims_837_errors);
    assert!(!r.remittance_835_errors.is_empty());
    assert!(r.remittance_835_errors.iter().all(|e| e.location.is_some()));
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let server = default_server().await;
    let mut client = server.x12().await;
    let status = client.parse_claims(pb::ParseClaimsRequest::default()).await.expect_err("no bytes");
    assert_eq!(violation_field(&status), "x12");
    let mut request = parse_request(fixture("837p_truncated.x12"), false);
    request.read_options.as_mut().expect("options").medicare_locality = "nowhere".into();
    let status = client.parse_claims(request).await.expect_err("bad locality");
    assert_eq!(violation_field(&status), "read_options.medicare_locality");
    let mut request = parse_request(fixture("837p_truncated.x12"), false);
    request.read_options.as_mut().expect("options").qualifying_apm_npis = vec!["1558598797".into(), "12".into()];
    let status = client.parse_claims(request).await.expect_err("an NPI that cannot match");
    assert_eq!(violation_field(&status), "read_options.qualifying_apm_npis[1]");
    let status = client
        .parse_claims(pb::ParseClaimsRequest {
            today: "27/11/2026".into(),
            ..parse_request(fixture("837p_truncated.x12"), true)
        })
        .await
        .expect_err("bad today");
    assert_eq!(violation_field(&status), "today");

    for (request, field) in [
        (pb::ReconcileRequest { tolerance: "a dollar".into(), ..reconcile_request() }, "tolerance"),
        (pb::ReconcileRequest { tolerance: "-1".into(), ..reconcile_request() }, "tolerance"),
        (pb::ReconcileRequest { remittance_835: Vec::new(), ..reconcile_request() }, "remittance_835"),
        (
            pb::ReconcileRequest {
                options: Some(pb::PriceOptions {
                    rule_set: String::new(),
                    conversion_factor: "x".into(),
                    ..Default::default()
                }),
                ..reconcile_request()
            },
            "options.conversion_factor",
        ),
    ] {
        let status = client.reconcile(request).await.expect_err(field);
        assert_eq!(violation_field(&status), field);
    }
    server.stop().await;
}

/// Many transaction sets of the clean file, as one interchange's worth of bytes repeated.
fn many_interchanges(copies: usize) -> Vec<u8> {
    let one = fixture("837p_two_interchanges.x12");
    let mut out = Vec::with_capacity(one.len() * copies);
    for _ in 0..copies {
        out.extend_from_slice(&one);
    }
    out
}

#[tokio::test]
async fn an_x12_request_over_its_limit_is_rejected_and_the_server_keeps_serving() {
    let config = Config { max_x12_bytes: 64 * 1024, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut client = server.x12().await;
    let big = many_interchanges(200);
    assert!(big.len() > 64 * 1024);

    let status = client.parse_claims(parse_request(big.clone(), false)).await.expect_err("over the limit");
    assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");
    let request = pb::ReconcileRequest { claims_837: big, ..reconcile_request() };
    let status = client.reconcile(request).await.expect_err("over the limit");
    assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");

    // The same connection, then a new one.
    let got = parse(&mut client, parse_request(fixture("837p_truncated.x12"), false)).await;
    assert_eq!(got.claims.len(), 1);
    client.reconcile(reconcile_request()).await.expect("same connection");
    server.x12().await.reconcile(reconcile_request()).await.expect("new connection");
    server.stop().await;
}

#[tokio::test]
async fn the_x12_limit_is_larger_than_the_other_services_by_default() {
    // 5 MiB: over the 4 MiB of every other service, under the 64 MiB of X12Service.
    let big = many_interchanges(5 * 1024 * 1024 / fixture("837p_two_interchanges.x12").len() + 1);
    assert!(big.len() > 5 * 1024 * 1024);
    let server = default_server().await;
    let mut client = server.x12().await;
    let mut stream = client.parse_claims(parse_request(big, false)).await.expect("within the X12 limit").into_inner();
    let mut claims = 0;
    while let Some(response) = stream.message().await.expect("item") {
        if let Some(Item::Claim(_)) = response.item {
            claims += 1;
        }
    }
    assert!(claims > 1000, "{claims}");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_stop_the_server() {
    let server = default_server().await;
    let mut client = server.x12().await;
    // Far more items than the stream's buffer: the reader waits for the client, then sees it gone.
    let mut stream =
        client.parse_claims(parse_request(many_interchanges(2000), false)).await.expect("call").into_inner();
    let first = stream.message().await.expect("item").expect("an item");
    assert!(matches!(first.item, Some(Item::Transaction(_))), "{first:?}");
    drop(stream);
    let got = parse(&mut client, parse_request(fixture("837p_truncated.x12"), false)).await;
    assert_eq!(got.claims.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_binary_logs_x12_calls_with_counts_and_no_patient_data() {
    let env = [("CPTKIT_LISTEN", "127.0.0.1:0"), ("CPTKIT_LOG_FORMAT", "json"), ("CPTKIT_MAX_X12_BYTES", "2000000")];
    let server = Binary::start(&[], &env).await;
    let mut client = X12ServiceClient::connect(format!("http://{}", server.address)).await.expect("connect");
    let got = parse(&mut client, parse_request(fixture("837p_medicare_star_crlf.x12"), true)).await;
    assert_eq!(got.claims.len(), 9);
    client.reconcile(reconcile_request()).await.expect("Reconcile");
    // Over CPTKIT_MAX_X12_BYTES (2 MB), under the 64 MiB default: the environment is read.
    let status = client.parse_claims(parse_request(many_interchanges(2000), false)).await.expect_err("over");
    assert!(matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted), "{status:?}");

    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    // Names, member ids and birth dates of the fixture's patients are in no line.
    for phi in ["DOE", "JANE", "1EG4TE5MK73", "ROE", "2FH5UF6NL84", "19580614", "1958-06-14"] {
        assert!(!stderr.contains(phi), "{phi} in:\n{stderr}");
    }
    let lines: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let rpcs: Vec<(&str, Option<u64>, Option<u64>, &str)> = lines
        .iter()
        .filter(|l| l["target"] == "cptkit_server::rpc")
        .map(|l| {
            (
                l["rpc"].as_str().expect("rpc").trim_start_matches("cptkit.v1.X12Service/"),
                l["claims"].as_u64(),
                l["claim_errors"].as_u64(),
                l["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(rpcs.len(), 3, "{rpcs:?}");
    // ParseClaims: 9 claims + 1 rejected, the rejected one an error.
    assert_eq!(rpcs[0], ("ParseClaims", Some(10), Some(1), "OK"));
    // Reconcile: 8 claim ids reconciled; 1 rejected claim.
    assert_eq!(rpcs[1], ("Reconcile", Some(8), Some(1), "OK"));
    assert_eq!((rpcs[2].0, rpcs[2].3), ("ParseClaims", "OUT_OF_RANGE"));
}
