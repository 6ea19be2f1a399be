#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real `cptkit` binary on the X12 fixtures (tests/fixtures/x12): reports, JSON and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12").join(name);
    path.to_string_lossy().into_owned()
}

fn cptkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cptkit")).args(args).args(["--today", "2026-11-27"]).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn validate_clean_file_exits_0() {
    let o = cptkit(&["validate", &fixture("837p_two_interchanges.x12")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("2 claims read, 0 rejected, 0 X12 errors: clean"));
}

#[test]
fn validate_reports_findings_with_their_place_and_exits_1() {
    let o = cptkit(&["validate", &fixture("837p_medicare_star_crlf.x12")]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("claim C1003 line 1: error UNT005 lines[0].quantity:")
            && text.contains("at segment 68 (SV1 SV104), byte 1923"),
        "{text}"
    );
    assert!(text.contains("claim C1007 rejected:"), "{text}");

    let o = cptkit(&["validate", &fixture("837p_medicare_star_crlf.x12"), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["claims"], 8);
    let unt = v["findings"].as_array().unwrap().iter().find(|f| f["edit_id"] == "UNT005").unwrap();
    assert_eq!(unt["claim_id"], "C1003");
    assert_eq!(unt["line"], 1);
    assert_eq!(unt["field"], "lines[0].quantity");
    assert_eq!(unt["at"]["segment"], 68);
    assert_eq!(unt["at"]["element"], "SV104");
    assert_eq!(unt["at"]["byte_offset"], 1923);
    assert_eq!(v["rejected_claims"][0]["claim_id"], "C1007");
}

#[test]
fn validate_broken_envelope_lists_the_x12_errors() {
    let o = cptkit(&["validate", &fixture("837p_broken_envelope.x12"), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["claims"], 1, "the good transaction is still read");
    let got: Vec<(String, u64)> = v["x12_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["at"]["element"].as_str().unwrap().to_owned(), e["at"]["segment"].as_u64().unwrap()))
        .collect();
    let want: Vec<(String, u64)> =
        [("SE01", 58), ("SE02", 86), ("GE01", 87), ("IEA02", 88)].iter().map(|(e, s)| ((*e).to_owned(), *s)).collect();
    assert_eq!(got, want);
}

#[test]
fn price_medicare_file() {
    let o = cptkit(&["price", &fixture("837p_medicare_star_crlf.x12"), "--json"]);
    assert_eq!(o.status.code(), Some(1), "C1003 does not price, C1007 is rejected");
    let v = json(&o);
    let claims = v["claims"].as_array().unwrap();
    let c1001 = claims.iter().find(|c| c["claim_id"] == "C1001").unwrap();
    assert_eq!(c1001["priced"]["total_allowed"], "264.13");
    let c1003 = claims.iter().find(|c| c["claim_id"] == "C1003").unwrap();
    assert_eq!(c1003["findings"][0]["edit_id"], "UNT005");
    assert_eq!(v["total_allowed"], "1442.56");

    let o = cptkit(&["price", &fixture("837p_two_interchanges.x12")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("claim C3001 line 1: "));
}

#[test]
fn price_with_contract_conversion_factor_and_payer_map() {
    let o = cptkit(&[
        "price",
        &fixture("837p_commercial_pipe_newline.x12"),
        "--conversion-factor",
        "60",
        "--payer-id",
        "BCBSOK=bcbs-ok",
    ]);
    let text = stdout(&o);
    assert!(text.contains("claim C2001 line 1: 00630 13.0 units x 60 = allowed 780.00"), "{text}");
    assert!(text.contains("claim C2004 line 1:"), "{text}");
    assert_eq!(o.status.code(), Some(1), "uhc and skil0 have no rule set: {text}");
}

#[test]
fn reconcile_medicare_remittance() {
    let o = cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &fixture("835_medicare.x12")]);
    assert_eq!(o.status.code(), Some(1), "one underpaid line");
    let text = stdout(&o);
    assert!(
        text.contains("claim C1002 line 2 00632-QX-P3 2025-03-05: expected 132.07 allowed 120.00 paid 96.00 variance -12.07 [underpaid by 12.07]"),
        "{text}"
    );
    assert!(text.contains("total: 7 claims, 8 lines,"), "{text}");
    assert!(text.contains("paid 1306.79"), "{text}");

    let o = cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &fixture("835_medicare.x12"), "--json"]);
    let v = json(&o);
    let t = &v["totals"];
    assert_eq!((t["claims"].as_u64(), t["lines"].as_u64()), (Some(7), Some(8)));
    assert_eq!(t["underpaid_lines"], 1);
    assert_eq!(t["denied_lines"], 1);
    assert_eq!(t["units_not_minutes_lines"], 2);
    assert_eq!(t["paid"], "1306.79");
    assert_eq!(t["provider_adjustments"], "21.90");

    // A tolerance above the shortfall: nothing underpaid, exit 0.
    let o = cptkit(&[
        "reconcile",
        &fixture("837p_medicare_star_crlf.x12"),
        &fixture("835_medicare.x12"),
        "--tolerance",
        "20",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn unreadable_input_exits_2() {
    let o = cptkit(&["validate", "/no/such/file.837"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
    let o = cptkit(&["validate", &fixture("835_medicare.x12")]);
    assert_eq!(o.status.code(), Some(2), "an 835 is not an 837");
    let o = cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &fixture("README.md")]);
    assert_eq!(o.status.code(), Some(2));
}

fn tic_fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tic").join(name);
    path.to_string_lossy().into_owned()
}

fn tic_out(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tic").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("benchmarks.parquet")
}

fn tic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cptkit")).arg("ingest-tic").args(args).output().unwrap()
}

#[test]
fn ingest_tic_clean_files_exit_0_and_write_parquet() {
    let out = tic_out("clean");
    let o = tic(&[
        &tic_fixture("v1_in_file_refs.json.gz"),
        &tic_fixture("v2_provider_groups.json"),
        "--nppes",
        &tic_fixture("nppes_sample.csv"),
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("Example Health Plan (fixture) (gzip), version 1.3.1, updated 2025-03-01: 4 records, 2 kept"),
        "{text}"
    );
    assert!(text.contains("total: 2 files, 6 records, 0 malformed,") && text.ends_with(": clean\n"), "{text}");
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
}

#[test]
fn ingest_tic_reports_malformed_records_with_offsets_and_exits_1() {
    let out = tic_out("bad");
    let o = tic(&[&tic_fixture("bad_record.json"), "--codes", "00632,00840", "--out", out.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(
        (v["records"].as_u64(), v["malformed"].as_u64(), v["benchmark_rows"].as_u64()),
        (Some(6), Some(3), Some(2))
    );
    let bad = &v["files"][0]["malformed"][1];
    assert_eq!(bad["path"], "negotiated_rates[0].negotiated_prices[0].negotiated_rate");
    let text = std::fs::read_to_string(tic_fixture("bad_record.json")).unwrap();
    assert_eq!(bad["error_offset"].as_u64(), Some(text.find("\"eighty\"").unwrap() as u64));

    let o = tic(&[&tic_fixture("bad_record.json"), "--out", out.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(
        text.contains("  malformed record at byte ") && text.contains("expected a number, found \"eighty\""),
        "{text}"
    );
}

#[test]
fn ingest_tic_unreadable_input_exits_2() {
    let out = tic_out("none");
    let o = tic(&[&tic_fixture("no_such_file.json"), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no TiC file could be read"));
    let o = tic(&[&tic_fixture("v2_provider_groups.json"), "--codes", "00790", "--all-codes", "--out", "x.parquet"]);
    assert_eq!(o.status.code(), Some(2), "clap rejects --codes with --all-codes");
}
