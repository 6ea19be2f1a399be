#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real `cptkit` binary on the X12 fixtures (tests/fixtures/x12), the golden claims
//! (tests/fixtures/claims) and the TiC fixtures: reports, JSON and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

use cptkit_core::{Claim, PriceOptions, Reference, RuleBook};
use serde_json::Value;

const TODAY: &str = "2026-11-27";

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12").join(name);
    path.to_string_lossy().into_owned()
}

/// A golden claim's `claim.json`.
fn golden(name: &str) -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/claims").join(name).join("claim.json");
    path.to_string_lossy().into_owned()
}

fn golden_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(golden(name)).unwrap()).unwrap()
}

/// A file of this test's own under the target directory.
fn scratch(name: &str, text: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-claims");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn cptkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cptkit")).args(args).args(["--today", TODAY]).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(o), stderr(o)))
}

fn by_id<'a>(items: &'a Value, claim_id: &str) -> &'a Value {
    items.as_array().unwrap().iter().find(|c| c["claim_id"] == claim_id).unwrap_or_else(|| panic!("no {claim_id}"))
}

fn finding<'a>(findings: &'a Value, claim_id: &str, edit_id: &str) -> &'a Value {
    findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["claim_id"] == claim_id && f["edit_id"] == edit_id)
        .unwrap_or_else(|| panic!("no {edit_id} on {claim_id}: {findings:#}"))
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
    assert!(text.contains("claim C1007: error NPI002 rendering_provider.npi:"), "{text}");
    assert!(text.contains("claim C1009 rejected:"), "{text}");
    assert!(text.contains("9 claims read, 1 rejected, 0 X12 errors: ERRORS"), "{text}");

    let o = cptkit(&["validate", &fixture("837p_medicare_star_crlf.x12"), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["claims"], 9, "C1002 is read as two claims, C1007 is kept");
    let unt = finding(&v["findings"], "C1003", "UNT005");
    assert_eq!(unt["line"], 1);
    assert_eq!(unt["field"], "lines[0].quantity");
    assert_eq!(unt["loc"], serde_json::json!(["lines", 0, "quantity"]));
    assert_eq!(unt["severity"], "error");
    assert_eq!(unt["at"]["segment"], 68);
    assert_eq!(unt["at"]["element"], "SV104");
    assert_eq!(unt["at"]["byte_offset"], 1923);
    let npi = finding(&v["findings"], "C1007", "NPI002");
    assert_eq!(
        (&npi["field"], &npi["severity"], &npi["at"]["element"]),
        (&"rendering_provider.npi".into(), &"error".into(), &"NM109".into())
    );
    let rejected = v["rejected_claims"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["claim_id"], "C1009");
    assert_eq!(rejected[0]["errors"][0]["at"]["element"], "DTP03");
    assert_eq!(v["unread_claims"], serde_json::json!([]));
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
fn validate_the_guides_anesthesia_example() {
    // X222A1 example 9: kept as one claim; its rendering NPI is not an NPI, its diagnosis is ICD-9.
    let o = cptkit(&["validate", &fixture("837p_x222_example9_anesthesia.x12"), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!((v["claims"].as_u64(), v["rejected_claims"].as_array().unwrap().len()), (Some(1), 0));
    let npi = finding(&v["findings"], "153829140", "NPI002");
    assert_eq!(
        (&npi["field"], &npi["severity"], &npi["at"]["element"]),
        (&"rendering_provider.npi".into(), &"error".into(), &"NM109".into())
    );
    let dx = finding(&v["findings"], "153829140", "DX010");
    assert_eq!((&dx["field"], &dx["severity"]), (&"diagnoses[0]".into(), &"warning".into()));
}

#[test]
fn price_medicare_file() {
    let o = cptkit(&["price", &fixture("837p_medicare_star_crlf.x12"), "--json"]);
    assert_eq!(o.status.code(), Some(1), "C1003 and C1007 do not price, C1009 is rejected");
    let v = json(&o);
    let claims = &v["claims"];
    let c1001 = by_id(claims, "C1001");
    assert_eq!(c1001["priced"]["total_allowed"], "266.76");
    assert_eq!(c1001["error"], Value::Null);
    let c1003 = by_id(claims, "C1003");
    assert_eq!(c1003["priced"], Value::Null);
    assert_eq!(c1003["error"]["kind"], "invalid_input");
    assert_eq!(c1003["error"]["violations"][0]["field"], "lines[0].quantity");
    let unt = finding(&c1003["report"]["findings"], "C1003", "UNT005");
    assert_eq!(unt["at"]["segment"], 68);
    let c1007 = by_id(claims, "C1007");
    assert_eq!(c1007["error"]["violations"][0]["loc"], serde_json::json!(["rendering_provider", "npi"]));
    assert_eq!(v["rejected_claims"][0]["claim_id"], "C1009");
    assert_eq!(v["total_allowed"], "1456.92");
    // What the reader found is shown beside the price, as `validate` shows it.
    let x12t01 = finding(&c1003["x12_findings"], "C1003", "X12T01");
    assert_eq!(x12t01["severity"], "warning");
    assert_eq!(c1001["x12_findings"], serde_json::json!([]));
    let text = stdout(&cptkit(&["price", &fixture("837p_medicare_star_crlf.x12")]));
    assert!(text.contains("claim C1003 line 1: warning X12T01 lines[0].quantity:"), "{text}");

    let o = cptkit(&["price", &fixture("837p_two_interchanges.x12")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("claim C3001 line 1: "));
}

#[test]
fn price_the_guides_anesthesia_example_says_why_not() {
    let o = cptkit(&["price", &fixture("837p_x222_example9_anesthesia.x12")]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("claim 153829140: not priced: claim 153829140 is not valid"), "{text}");
    assert!(text.contains("claim 153829140: error NPI002 rendering_provider.npi:"), "{text}");
    assert!(text.contains("total allowed: 0"), "{text}");

    let v = json(&cptkit(&["price", &fixture("837p_x222_example9_anesthesia.x12"), "--json"]));
    let error = &v["claims"][0]["error"];
    assert_eq!(error["kind"], "invalid_input");
    let fields: Vec<&str> =
        error["violations"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"rendering_provider.npi"), "{fields:?}");
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
    assert!(
        text.contains("claim C2001 line 1: 00630 allowed 780.00 (cigna-2023-03): 13.0 units x 60 x 1.00 = 780.000"),
        "{text}"
    );
    assert!(text.contains("claim C2004 line 1:"), "{text}");
    assert_eq!(o.status.code(), Some(1), "uhc and skil0 have no rule set: {text}");
}

#[test]
fn price_with_a_conversion_factor_for_one_payer() {
    let args = ["--conversion-factor", "60", "--payer-conversion-factor", "cigna=62.50"];
    let o = cptkit(&[&["price", &fixture("837p_commercial_pipe_newline.x12")][..], &args].concat());
    let text = stdout(&o);
    assert!(text.contains("claim C2001 line 1: 00630 allowed 812.50"), "{text}");

    // The golden case: the factor for cigna wins over the one for every payer.
    let o = cptkit(&[
        "price",
        &golden("cigna_00632_payer_factor_2024"),
        "--json",
        "--conversion-factor",
        "55.00",
        "--payer-conversion-factor",
        "cigna=60.00",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let priced = &json(&o)["claims"][0]["priced"];
    assert_eq!(
        (&priced["total_allowed"], &priced["lines"][0]["conversion_factor"]),
        (&"780.00".into(), &"60.00".into())
    );

    let o = cptkit(&["price", &golden("cigna_00632_payer_factor_2024"), "--payer-conversion-factor", "cigna=0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("conversion_factor.cigna"), "{}", stderr(&o));
    // A factor with no payer id is named as that payer's entry, not as --conversion-factor's
    // `conversion_factor`.
    let o = cptkit(&["price", &golden("cigna_00632_payer_factor_2024"), "--payer-conversion-factor", "=62.50"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(r#"conversion_factor[""]: a payer's conversion factor needs"#), "{}", stderr(&o));
}

#[test]
fn price_a_golden_claim_json_as_the_core_does() {
    let name = "medicare_00632_aa_90min_2025";
    let o = cptkit(&["price", &golden(name), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v = json(&o);
    let answer = &v["claims"][0];
    assert_eq!((&answer["claim_index"], &answer["error"]), (&0.into(), &Value::Null));

    // The very JSON the core serializes (what Python's PricedClaim.to_dict() gives).
    let claim = Claim::from_json(&std::fs::read_to_string(golden(name)).unwrap()).unwrap();
    let today = time::Date::parse(TODAY, time::macros::format_description!("[year]-[month]-[day]")).unwrap();
    let priced =
        Reference::embedded().price(&claim, &PriceOptions::default(), RuleBook::embedded(), Some(today)).unwrap();
    assert_eq!(answer["priced"], serde_json::to_value(&priced).unwrap());
    assert_eq!(answer["priced"]["total_allowed"], "264.13");
    assert_eq!(answer["report"], serde_json::json!({"claim_id": "CLM-0001", "findings": []}));

    let text = stdout(&cptkit(&["price", &golden(name)]));
    assert!(
        text.contains(
            "claim CLM-0001 line 1: 00632 allowed 264.13 (medicare-ffs): 13.0 units x 20.3178 x 1.00 = 264.1314000"
        ),
        "{text}"
    );
    // Under it, where the factor comes from: here the national one, the claim giving no locality.
    assert!(text.contains("\n  conversion factor 20.3178: CY2025 national"), "{text}");
}

/// The 837 does not carry QP status: `--qualifying-apm-npi` gives it back, as claim JSON has it.
#[test]
fn price_an_837_with_a_qualifying_apm_npi() {
    let case = "medicare_00632_aa_90min_2026_qp";
    let mut claim = Claim::from_json(&std::fs::read_to_string(golden(case)).unwrap()).unwrap();
    // The 837 requires the billing provider's state and ZIP (an anesthesia line's factor is not priced by ZIP).
    let billing = cptkit_core::Location { state: Some("NY".parse().unwrap()), zip: Some("100010001".parse().unwrap()) };
    claim.billing_provider_location = Some(billing);
    let x12 = cptkit_x12::write_837_to_vec(std::slice::from_ref(&claim), &cptkit_x12::WriteOptions::default()).unwrap();
    let file = scratch("qp.837", std::str::from_utf8(&x12).unwrap());
    let total = |extra: &[&str]| {
        let o = cptkit(&[&["price", file.as_str(), "--json"], extra].concat());
        json(&o)["claims"][0]["priced"]["total_allowed"].as_str().unwrap().to_owned()
    };
    let json_total = json(&cptkit(&["price", &golden(case), "--json"]))["claims"][0]["priced"]["total_allowed"].clone();
    assert_eq!(total(&["--qualifying-apm-npi", claim.rendering_provider.npi.as_str()]), json_total.as_str().unwrap());
    assert_ne!(total(&[]), json_total.as_str().unwrap(), "without it, the non-QP factor");
    // An NPI that could match no claim is refused, not left to match nothing.
    let o = cptkit(&["price", file.as_str(), "--qualifying-apm-npi", "12"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not an NPI"), "{}", stderr(&o));
}

#[test]
fn price_a_claim_json_array() {
    let mut second = golden_json("cigna_00632_payer_factor_2024");
    second["claim_id"] = "CIGNA-1".into();
    let text = serde_json::to_string_pretty(&[golden_json("medicare_00632_aa_90min_2025"), second]).unwrap();
    let o = cptkit(&["price", &scratch("array.json", &text), "--json", "--conversion-factor", "60"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v = json(&o);
    let got: Vec<(&Value, &Value, &Value)> = v["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (&c["claim_id"], &c["claim_index"], &c["priced"]["total_allowed"]))
        .collect();
    assert_eq!(
        got,
        [(&"CLM-0001".into(), &0.into(), &"264.13".into()), (&"CIGNA-1".into(), &1.into(), &"780.00".into())]
    );
    assert_eq!(v["total_allowed"], "1044.13");

    // A claim that cannot be read is named by the file line it starts on: the error's own position
    // counts inside the claim.
    let bad = text.replacen("\"CIGNA-1\"", "5", 1);
    let o = cptkit(&["price", &scratch("bad_array.json", &bad), "--json", "--conversion-factor", "60"]);
    let unread = &json(&o)["unread_claims"][0];
    let second_line = text[..text.find("\n  },\n  {").unwrap()].lines().count() + 2;
    assert_eq!((&unread["claim_index"], &unread["line"]), (&1.into(), &second_line.into()));
    assert_eq!(unread["error"]["field"], "claim_id");
}

#[test]
fn price_json_lines_with_a_broken_line() {
    let good = golden_json("medicare_00632_aa_90min_2025");
    let mut bad = good.clone();
    bad["claim_id"] = "BAD".into();
    bad["lines"][0]["procedure_code"] = "ABCDE".into();
    let mut commercial = golden_json("cigna_00632_payer_factor_2024");
    commercial["claim_id"] = "CIGNA-1".into();
    let lines: Vec<String> = [&good, &bad, &commercial].iter().map(|c| serde_json::to_string(c).unwrap()).collect();
    // A blank line is no claim; a line that is not JSON is a claim that cannot be read.
    let path = scratch("claims.jsonl", &format!("{}\n\n{}\noops not json\n", lines.join("\n"), lines[0]));

    let o = cptkit(&["price", &path, "--json", "--conversion-factor", "60"]);
    assert_eq!(o.status.code(), Some(1), "two claims cannot be read");
    let v = json(&o);
    let ids: Vec<&Value> = v["claims"].as_array().unwrap().iter().map(|c| &c["claim_index"]).collect();
    assert_eq!(ids, [0, 2, 3].map(Value::from).iter().collect::<Vec<_>>(), "the other claims are still priced");
    let unread = &v["unread_claims"][0];
    assert_eq!((&unread["claim_index"], &unread["line"]), (&1.into(), &2.into()));
    assert_eq!(unread["error"]["field"], "lines[0].procedure_code");
    assert_eq!(unread["error"]["loc"], serde_json::json!(["lines", 0, "procedure_code"]));
    assert_eq!((&v["unread_claims"][1]["claim_index"], &v["unread_claims"][1]["line"]), (&4.into(), &6.into()));

    // A damaged first line is a claim of its own too (the file is still JSON lines).
    let cut = &lines[0][..lines[0].len() / 2];
    let path_cut = scratch("cut_first.jsonl", &format!("{cut}\n{}\n{}\n", lines[0], lines[2]));
    let v = json(&cptkit(&["price", &path_cut, "--json", "--conversion-factor", "60"]));
    assert_eq!(v["claims"].as_array().unwrap().len(), 2);
    assert_eq!((&v["unread_claims"][0]["claim_index"], &v["unread_claims"][0]["line"]), (&0.into(), &1.into()));

    // A line that is not UTF-8 is a claim that cannot be read, named by its byte offset; the rest are read.
    // After a byte-order mark, which counts in the file's offsets.
    let mut bytes = format!("\u{feff}{}\n{}\n", lines[0], lines[2]).into_bytes();
    let at = bytes.iter().position(|&b| b == b'\n').unwrap() + 5;
    bytes.insert(at, 0xff);
    let bad_utf8 = PathBuf::from(scratch("bad_utf8.jsonl", ""));
    std::fs::write(&bad_utf8, &bytes).unwrap();
    let o = cptkit(&["price", bad_utf8.to_str().unwrap(), "--json", "--conversion-factor", "60"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    assert_eq!(v["claims"].as_array().unwrap().len(), 1);
    let unread = &v["unread_claims"][0];
    assert_eq!((&unread["claim_index"], &unread["line"]), (&1.into(), &2.into()));
    let message = unread["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("byte offset {at}")), "{message}");

    let o = cptkit(&["price", &path, "--conversion-factor", "60"]);
    let text = stdout(&o);
    assert!(text.contains("claim at index 1 (from line 2) not read: lines[0].procedure_code: "), "{text}");
    assert!(text.contains("claim CIGNA-1 line 1: 00632 allowed 780.00"), "{text}");

    // Validate locates findings by claim index and field path (no X12 segment).
    let mut invalid = good.clone();
    invalid["lines"][0]["quantity"] = "95".into();
    let path = scratch("invalid.jsonl", &format!("{}\n{}\n", lines[0], serde_json::to_string(&invalid).unwrap()));
    let o = cptkit(&["validate", &path, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    let unt = finding(&v["findings"], "CLM-0001", "UNT005");
    assert_eq!((&unt["claim_index"], &unt["line"], &unt["at"]), (&1.into(), &1.into(), &Value::Null));
    let text = stdout(&cptkit(&["validate", &path]));
    assert!(
        text.contains("claim CLM-0001 line 1: error UNT005 lines[0].quantity: ")
            && text.contains(" at claim index 1\n"),
        "{text}"
    );
}

#[test]
fn rule_set_files_add_rule_sets_and_use_rule_set_forces_one() {
    let rules =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crates/cptkit-core/data/rulesets/cigna_2023.json");
    let mut rule_set: Value = serde_json::from_str(&std::fs::read_to_string(rules).unwrap()).unwrap();
    rule_set["id"] = "aetna-contract".into();
    rule_set["selects"]["payer_ids"] = serde_json::json!(["aetna"]);
    let file = scratch("aetna_contract.json", &rule_set.to_string());
    let (aetna, medicare) = (golden("aetna_no_public_rules"), golden("medicare_00632_aa_90min_2025"));
    let price = |claim: &str, more: &[&str]| {
        let args = [&["price", claim, "--rule-set", &file, "--conversion-factor", "60", "--json"][..], more].concat();
        json(&cptkit(&args))["claims"][0]["priced"]["lines"][0]["rule_set"].clone()
    };

    // Chosen by payer: aetna's claims get the file's rule set, Medicare's keep theirs.
    assert_eq!(price(&aetna, &[]), "aetna-contract");
    assert_eq!(price(&medicare, &[]), "medicare-ffs");
    // Forced.
    assert_eq!(price(&medicare, &["--use-rule-set", "aetna-contract"]), "aetna-contract");

    let o = cptkit(&["price", &golden("aetna_no_public_rules"), "--rule-set", &scratch("bad_rules.json", "{}")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad_rules.json"), "{}", stderr(&o));
}

#[test]
fn reconcile_medicare_remittance() {
    let o = cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &fixture("835_medicare.x12")]);
    assert_eq!(o.status.code(), Some(1), "one underpaid line");
    let text = stdout(&o);
    assert!(
        text.contains("claim C1002 line 2 00632-QX-P3 2025-03-05: expected 133.38 allowed 120.00 paid 96.00 variance -13.38 [underpaid by 13.38]"),
        "{text}"
    );
    assert!(text.contains("claim C1009 rejected:"), "{text}");
    assert!(text.contains("total: 8 claims, 9 lines,"), "{text}");
    assert!(text.contains("paid 1318.26"), "{text}");

    let o = cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &fixture("835_medicare.x12"), "--json"]);
    let v = json(&o);
    let t = &v["totals"];
    assert_eq!((t["claims"].as_u64(), t["lines"].as_u64()), (Some(8), Some(9)));
    assert_eq!(t["underpaid_lines"], 1);
    assert_eq!(t["denied_lines"], 1);
    assert_eq!(t["units_not_minutes_lines"], 2);
    assert_eq!(t["paid"], "1318.26");
    assert_eq!(t["provider_adjustments"], "21.90");
    assert_eq!(v["rejected_claims"][0]["claim_id"], "C1009");

    // A tolerance above the shortfall: nothing underpaid, exit 0.
    let o = cptkit(&[
        "reconcile",
        &fixture("837p_medicare_star_crlf.x12"),
        &fixture("835_medicare.x12"),
        "--tolerance",
        "20",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // Claim JSON reconciles too: a claim the 835 does not pay.
    let o = cptkit(&["reconcile", &golden("medicare_00632_aa_90min_2025"), &fixture("835_medicare.x12")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("claim CLM-0001 (medicare): no remittance"), "{}", stdout(&o));
}

/// `--tolerance` is read as Python's `tolerance=` and gRPC's `tolerance` are: the CLI took a negative
/// one they refuse, and flagged every line paid exactly as expected "underpaid by -0.00".
#[test]
fn reconcile_reads_a_tolerance_as_every_face_does() {
    let (claims, remits) = (fixture("837p_medicare_star_crlf.x12"), fixture("835_medicare.x12"));
    let run = |tolerance: &str| cptkit(&["reconcile", &claims, &remits, "--json", &format!("--tolerance={tolerance}")]);
    let o = run("-5");
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("expected a non-negative decimal (dollars), got \"-5\""), "{}", stderr(&o));
    assert_eq!(json(&run(" 20 ")), json(&run("20")), "blanks around a tolerance are no part of it");
}

#[test]
fn reconcile_reports_an_835_amount_it_cannot_read_and_never_pays_it_as_0() {
    let remit = std::fs::read_to_string(fixture("835_medicare.x12")).unwrap();
    let bad = scratch(
        "835_bad_amount.x12",
        &remit.replace("SVC*HC:00632:AA:P2*1500*173.41**90", "SVC*HC:00632:AA:P2*1500*17X.41**90"),
    );
    let o = cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &bad]);
    assert_eq!(o.status.code(), Some(1), "a payment not read is worth a look");
    let text = stdout(&o);
    assert!(text.contains("element SVC03, byte ") && text.contains("SVC03 is not an amount"), "{text}");
    assert!(!text.contains("17X"), "the value is not shown: {text}");
    let line = text.lines().find(|l| l.starts_with("claim C1001 line 1")).unwrap();
    assert!(line.contains("allowed - paid - variance - [amount not readable (segment "), "{line}");
    assert!(!line.contains("denied"), "{line}");
    assert!(
        text.contains("paid 1144.85") && text.contains("1 denied, PLB 21.90, 1 lines with an amount not readable"),
        "{text}"
    );

    let v = json(&cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &bad, "--json"]));
    assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{}", v["problems"]);
    assert_eq!(v["problems"][0]["at"]["element"], 3);
    let line = &by_id(&v["claims"], "C1001")["lines"][0];
    assert!(line["paid"].is_null(), "{line}");
    assert_eq!(line["flags"][0]["flag"], "unreadable_amount");
    assert_eq!((v["totals"]["unreadable_lines"].as_u64(), v["totals"]["denied_lines"].as_u64()), (Some(1), Some(1)));
}

#[test]
fn unreadable_input_exits_2() {
    let o = cptkit(&["validate", "/no/such/file.837"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"));
    let o = cptkit(&["validate", &fixture("835_medicare.x12")]);
    assert_eq!(o.status.code(), Some(2), "an 835 is not an 837");
    let o = cptkit(&["reconcile", &fixture("837p_medicare_star_crlf.x12"), &fixture("README.md")]);
    assert_eq!(o.status.code(), Some(2));
    let o = cptkit(&["price", &scratch("not_json.json", "[{\"claim_id\": ")]);
    assert_eq!(o.status.code(), Some(2), "neither X12 nor JSON");
    assert!(stderr(&o).contains("not a JSON array of claims"), "{}", stderr(&o));
    for blank in ["", " \n\t\r\n", "\u{feff}\n"] {
        let o = cptkit(&["price", &scratch("blank.json", blank)]);
        assert_eq!(o.status.code(), Some(2), "{blank:?}");
        assert!(stderr(&o).contains("the file is empty"), "{blank:?}: {}", stderr(&o));
    }
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
        "--anesthesia",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
    assert!(
        text.contains("Example Health Plan (fixture) (gzip), version 1.3.1, updated 2025-03-01: 4 records, 2 kept"),
        "{text}"
    );
    assert!(text.contains("total: 2 files, 6 records, 0 malformed,") && text.ends_with(": clean\n"), "{text}");
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
}

#[test]
fn ingest_tic_keeps_every_code_unless_asked_for_anesthesia() {
    let out = tic_out("every_code");
    let o = tic(&[&tic_fixture("v1_in_file_refs.json.gz"), "--out", out.to_str().unwrap()]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
    // The fixture's non-anesthesia record is kept too (2 kept with --anesthesia).
    assert!(text.contains("4 records, 3 kept"), "{text}");
}

/// A `--codes` value that is no CPT/HCPCS code is refused naming it (exit 2, nothing written), as
/// Python's `codes=` refuses it: it used to keep no record and call the run clean.
#[test]
fn ingest_tic_refuses_a_code_that_is_no_code() {
    let out = tic_out("no_code");
    let o = tic(&[&tic_fixture("bad_record.json"), "--codes", "00632,632", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("--codes: codes[1]: expected a 5-character CPT/HCPCS code"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// A problem of `--json` output names `path` and stands where `needle` first stands in the fixture.
fn assert_tic_problem(problem: &Value, fixture: &str, path: &str, needle: &str) {
    assert_eq!(problem["path"], path, "{problem}");
    let text = std::fs::read_to_string(tic_fixture(fixture)).unwrap();
    assert_eq!(problem["error_offset"].as_u64(), Some(text.find(needle).unwrap() as u64), "{problem}");
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
    let path = "negotiated_rates[0].negotiated_prices[0].negotiated_rate";
    assert_tic_problem(&v["files"][0]["malformed"][1], "bad_record.json", path, "\"eighty\"");

    let o = tic(&[&tic_fixture("bad_record.json"), "--out", out.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(
        text.contains("  malformed record at byte ") && text.contains("expected a number, found \"eighty\""),
        "{text}"
    );
}

/// An NPI that is not 10 digits is left out alone: its record's rates are written, the NPI is reported
/// with its place, and the run is not clean (exit 1).
#[test]
fn ingest_tic_reports_a_left_out_npi_keeps_its_record_and_exits_1() {
    let out = tic_out("bad_npi");
    let o = tic(&[&tic_fixture("bad_npi.json"), "--out", out.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(
        (v["records"].as_u64(), v["malformed"].as_u64(), v["left_out"].as_u64(), v["benchmark_rows"].as_u64()),
        (Some(2), Some(0), Some(7), Some(2))
    );
    assert_eq!(v["files"][0]["kept"].as_u64(), Some(2));
    let path = "negotiated_rates[0].provider_groups[0].npi[1]";
    assert_tic_problem(&v["files"][0]["left_out"][0], "bad_npi.json", path, "12345, ");

    let o = tic(&[&tic_fixture("bad_npi.json"), "--out", out.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(
        text.contains("2 records, 2 kept, 0 skipped, 0 not fee-for-service, 0 malformed, 7 values left out;"),
        "{text}"
    );
    let npi = format!(
        "  left out alone: record at byte 200: {path}: expected a 10-digit NPI, found 12345: this NPI is left out"
    );
    assert!(text.contains(&npi), "{text}");
    assert!(
        text.contains("total: 1 files, 2 records, 0 malformed, 7 values left out, 2 benchmark rows")
            && text.ends_with(": PROBLEMS\n"),
        "{text}"
    );
}

#[test]
fn ingest_tic_unreadable_input_exits_2() {
    let out = tic_out("none");
    let o = tic(&[&tic_fixture("no_such_file.json"), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no TiC file could be read"));
    let o = tic(&[&tic_fixture("v2_provider_groups.json"), "--codes", "00790", "--anesthesia", "--out", "x.parquet"]);
    assert_eq!(o.status.code(), Some(2), "clap rejects --codes with --anesthesia");
}

/// Exit codes: a line that cannot be priced is 1 even when the claim prints a total; a bad option is
/// 2, said once for the run, not on every claim.
#[test]
fn a_line_not_priced_is_exit_1_and_a_bad_option_exit_2_said_once() {
    let o = cptkit(&["price", &golden("pfs_99213_cigna_no_contract_rate")]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("[not priced]: Cigna commercial pays fee-schedule services at a contract rate"));
    for bad in [&["--use-rule-set", "nope"][..], &["--percent-of-medicare", "0"], &["--payer-conversion-factor", "=5"]]
    {
        let o = cptkit(&[&["price", &fixture("837p_medicare_star_crlf.x12")][..], bad].concat());
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{bad:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{bad:?}");
    }
}
