#![allow(clippy::unwrap_used)]
//! Golden claim cases (tests/fixtures/claims/<case>/), hand-computed from the public rules, plus
//! properties checked exhaustively over minutes and codes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cptkit_core::{Claim, ConversionFactors, FieldPath, JudgeOptions, PathItem, PriceOptions, Reference, RuleBook};
use rust_decimal::Decimal;
use serde_json::Value;

fn claims_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/claims")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn today(expected: &Value) -> time::Date {
    let today = expected["today"].as_str().unwrap();
    time::Date::parse(today, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
}

/// The golden case's options: `price_options` holds `rule_set`, `conversion_factor` (every payer) and
/// `payer_conversion_factors` ({payer id: factor}).
fn options(expected: &Value) -> PriceOptions {
    let options = &expected["price_options"];
    let by_payer = options["payer_conversion_factors"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(payer, cf)| (payer.clone(), cf.as_str().unwrap().parse().unwrap()));
    PriceOptions {
        rule_set: options["rule_set"].as_str().map(str::to_owned),
        conversion_factors: ConversionFactors::new(
            options["conversion_factor"].as_str().map(|s| s.parse().unwrap()),
            by_payer,
        )
        .unwrap(),
        percent_of_medicare: options["percent_of_medicare"].as_str().map(|s| s.parse().unwrap()),
    }
}

fn finding_set(findings: &Value) -> BTreeSet<(String, String)> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["edit_id"].as_str().unwrap().to_owned(), f["field"].as_str().unwrap().to_owned()))
        .collect()
}

/// True when a finding's path names something in the claim's JSON (a missing optional object counts).
fn path_exists(claim: &Value, path: &FieldPath) -> bool {
    let mut node = claim;
    for item in path.items() {
        let next = match item {
            PathItem::Field(name) => node.get(name.as_ref()),
            PathItem::Index(i) => node.get(i),
        };
        match next {
            Some(n) => node = n,
            None => return node.is_object() && matches!(item, PathItem::Field(_)),
        }
    }
    true
}

#[test]
fn golden_claim_cases() {
    let reference = Reference::embedded();
    let mut cases = 0;
    for entry in std::fs::read_dir(claims_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("claim.json").exists() {
            continue;
        }
        cases += 1;
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read_to_string(dir.join("claim.json")).unwrap();
        let claim = Claim::from_json(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = read_json(&dir.join("expected.json"));
        let judge = JudgeOptions { today: today(&expected), pricing: Some(options(&expected)) };
        let judgement = reference.judge(&claim, &judge, RuleBook::embedded()).unwrap();
        let report = judgement.report.clone();
        let actual: BTreeSet<(String, String)> =
            report.findings.iter().map(|f| (f.edit_id.clone(), f.field())).collect();
        assert_eq!(actual, finding_set(&expected["findings"]), "{name}: findings {:#?}", report.findings);
        let claim_json: Value = serde_json::from_str(&raw).unwrap();
        for f in &report.findings {
            assert!(path_exists(&claim_json, &f.loc), "{name}: {} points at missing {}", f.edit_id, f.loc);
            assert!(!f.message.is_empty() && !f.hint.is_empty(), "{name}: {}", f.edit_id);
        }

        let priced = judgement.into_priced();
        match (&expected["priced"], &expected["price_error"]) {
            (Value::Object(want), Value::Null) => {
                let priced = priced.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(priced.total_allowed.to_string(), want["total_allowed"].as_str().unwrap(), "{name}");
                for (line, want) in priced.lines.iter().zip(want["lines"].as_array().unwrap()) {
                    // The unit split where a case states it (AD's induction unit is a time unit).
                    let split = ["base_units", "time_units"].into_iter().filter(|f| want.get(f).is_some());
                    for field in ["allowed", "total_units", "conversion_factor", "share"].into_iter().chain(split) {
                        let got = serde_json::to_value(line).unwrap()[field].clone();
                        assert_eq!(got, want[field], "{name}: {field} in {:#?}", line.steps());
                    }
                    // A line's own status, else the case's, else priced.
                    let status = serde_json::to_value(line.status).unwrap();
                    let want_status = want.get("status").or(expected.get("status")).cloned();
                    assert_eq!(status, want_status.unwrap_or("priced".into()), "{name}: line {}", line.line);
                    let explained = if line.status == cptkit_core::LineStatus::Priced {
                        line.steps().len() >= 5
                    } else {
                        line.steps().iter().any(|s| s.step == "not_payable" || s.step == "not_priced")
                    };
                    assert!(explained, "{name}: every step explained: {:#?}", line.steps());
                }
            }
            (Value::Null, Value::Object(want)) => {
                let err = priced.expect_err(&name);
                assert_eq!(err.kind().as_str(), want["kind"].as_str().unwrap(), "{name}: {err}");
                if let Some(field) = want.get("field") {
                    assert_eq!(err.field(), field.as_str(), "{name}: {err}");
                }
                if err.kind() == cptkit_core::ErrorKind::InvalidInput && want.get("field").is_none() {
                    assert_eq!(
                        err.violations().len(),
                        report.findings.iter().filter(|f| f.severity == cptkit_core::Severity::Error).count()
                    );
                }
            }
            other => panic!("{name}: expected.json needs priced or price_error, got {other:?}"),
        }
    }
    assert!(cases >= 15, "found {cases} cases");
}

/// A quantity is a number: "90.00" minutes or "1.0" units give the answers of "90" and "1", worded
/// alike (tables and X12 read quantities as numbers; JSON and the wire keep the text's zeros).
#[test]
fn trailing_zeros_in_a_quantity_change_nothing() {
    let reference = Reference::embedded();
    let json = |judgement: cptkit_core::Judgement| {
        let report = serde_json::to_value(&judgement.report).unwrap();
        (report, judgement.into_priced().map(|p| serde_json::to_value(p).unwrap()).map_err(|e| e.to_string()))
    };
    for entry in std::fs::read_dir(claims_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(raw) = std::fs::read_to_string(dir.join("claim.json")) else { continue };
        let expected = read_json(&dir.join("expected.json"));
        let mut zeros: Value = serde_json::from_str(&raw).unwrap();
        for line in zeros["lines"].as_array_mut().unwrap() {
            let quantity = line["quantity"].as_str().unwrap();
            line["quantity"] = format!("{quantity}{}", if quantity.contains('.') { "00" } else { ".00" }).into();
        }
        let judge = JudgeOptions { today: today(&expected), pricing: Some(options(&expected)) };
        let [plain, zeros] = [Claim::from_json(&raw).unwrap(), serde_json::from_value(zeros).unwrap()]
            .map(|claim| json(reference.judge(&claim, &judge, RuleBook::embedded()).unwrap()));
        assert_eq!(zeros, plain, "{}", dir.display());
    }
}

#[test]
fn batch_edits_across_claims() {
    let dir = claims_dir().join("batch_medical_direction");
    let claims: Vec<Claim> = read_json(&dir.join("claims.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Claim::from_json(&c.to_string()).unwrap())
        .collect();
    let expected = read_json(&dir.join("expected.json"));
    let reports = Reference::embedded().validate_batch(&claims, today(&expected));
    assert_eq!(reports.len(), claims.len());
    for report in reports {
        let report = report.unwrap();
        let actual: BTreeSet<(String, String)> =
            report.findings.iter().map(|f| (f.edit_id.clone(), f.field())).collect();
        assert_eq!(
            actual,
            finding_set(&expected["findings_by_claim"][report.claim_id.as_str()]),
            "{}",
            report.claim_id
        );
    }
}

/// One physician's QK claim for case `case`, 2025-03-04 from `start` to `end` (HH:MM).
fn directed_case(case: &str, start: &str, end: &str) -> Claim {
    let json = format!(
        r#"{{"claim_id":"{case}","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"21",
        "patient":{{"birth_date":"1950-01-01","member_id":"M-{case}"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797","taxonomy":"207L00000X","role":"anesthesiologist"}},
        "diagnoses":["M54.16"],"lines":[{{"procedure_code":"00632","modifiers":["QK"],"unit_basis":"MJ",
        "quantity":"60","start_time":"2025-03-04T{start}","end_time":"2025-03-04T{end}","diagnosis_pointers":[1],
        "charge_cents":150000,"date_of_service":"2025-03-04","case_id":"{case}"}}]}}"#
    );
    Claim::from_json(&json).unwrap()
}

/// [`directed_case`] billed with `modifier` in place of QK.
fn case_billed(modifier: &str, case: &str, start: &str, end: &str) -> Claim {
    let mut claim = directed_case(case, start, end);
    claim.lines[0].modifiers[0] = modifier.parse().unwrap();
    claim
}

/// The claims of `cases` that get BAT003 when validated together.
fn over_four(cases: &[(&str, &str, &str)]) -> Vec<String> {
    let claims: Vec<Claim> = cases.iter().map(|(case, start, end)| directed_case(case, start, end)).collect();
    let reports = Reference::embedded().validate_batch(&claims, time::macros::date!(2026 - 11 - 27));
    reports
        .into_iter()
        .map(Result::unwrap)
        .filter(|r| r.findings.iter().any(|f| f.edit_id == "BAT003"))
        .map(|r| r.claim_id.to_string())
        .collect()
}

/// CMS counts, for each case, the most cases directed at one instant during it (IOM 100-04 ch.12 §50;
/// CA DWC 8 CCR 9789.18.4): C overlaps B, F, D and E, but runs with at most two of them (D and E) at
/// once, so no case here tops 3. Two more cases make five run at 09:12: each of those five tops four.
#[test]
fn direction_counts_the_most_cases_at_one_instant() {
    let cms = [
        ("A", "08:00", "08:20"),
        ("B", "08:10", "08:45"),
        ("C", "08:30", "09:15"),
        ("D", "09:00", "12:00"),
        ("E", "09:10", "09:55"),
        ("F", "08:50", "08:55"),
    ];
    assert_eq!(over_four(&cms), Vec::<String>::new());
    let busier: Vec<_> = cms.iter().copied().chain([("G", "09:05", "09:20"), ("H", "09:12", "09:14")]).collect();
    assert_eq!(over_four(&busier), ["C", "D", "E", "G", "H"]);
    // A case that ends as another starts does not run with it: H moved to start as C ends leaves four.
    let touching: Vec<_> = cms.iter().copied().chain([("G", "09:05", "09:20"), ("H", "09:15", "09:18")]).collect();
    assert_eq!(over_four(&touching), Vec::<String>::new());
}

/// BAT003 counts cases, not lines or claims: four concurrent cases stay four when one of them is also
/// billed by a replacement claim (frequency 7), by a void (frequency 8, which directs nothing), or with
/// two overlapping lines.
#[test]
fn direction_counts_each_case_once() {
    let four = ["A", "B", "C", "D"].map(|case| directed_case(case, "08:00", "09:00"));
    let judged = |claims: &[Claim]| {
        let reports = Reference::embedded().validate_batch(claims, time::macros::date!(2026 - 11 - 27));
        let bat003 = |r: &cptkit_core::ValidationReport| r.findings.iter().filter(|f| f.edit_id == "BAT003").count();
        reports.into_iter().map(|r| bat003(&r.unwrap())).sum::<usize>()
    };
    assert_eq!(judged(&four), 0);
    for frequency in ["7", "8"] {
        let mut again = directed_case("A", "08:00", "09:00");
        again.claim_id = "A-again".into();
        again.frequency_code = frequency.into();
        assert_eq!(judged(&[four.to_vec(), vec![again]].concat()), 0, "frequency {frequency}");
    }
    let mut two_lines = four.to_vec();
    let mut add_on = two_lines[0].lines[0].clone();
    add_on.start_time = Some(time::macros::datetime!(2025-03-04 08:30));
    add_on.end_time = Some(time::macros::datetime!(2025-03-04 09:30));
    two_lines[0].lines.push(add_on);
    assert_eq!(judged(&two_lines), 0);
    // A fifth case is a fifth: every line of the five cases is told.
    let five = [four.to_vec(), vec![directed_case("E", "08:30", "08:40")]].concat();
    assert_eq!(judged(&five), 5);
}

/// QY is direction of one case (§2.1-2.2): a QY case running with another directed case is BAT004, a
/// warning (QK pays the same 50%); QY alone, or after the other case ended, is not.
#[test]
fn qy_on_a_case_with_another_directed_at_once_is_bat004() {
    let qy = |case: &str, start: &str, end: &str| case_billed("QY", case, start, end);
    let bat004 = |claims: &[Claim]| {
        batch_told(claims, "BAT004").into_iter().map(|(_, f)| (f.severity, f.field())).collect::<Vec<_>>()
    };
    assert_eq!(bat004(&[qy("A", "08:00", "09:00")]), []);
    assert_eq!(bat004(&[qy("A", "08:00", "09:00"), directed_case("B", "09:00", "10:00")]), []);
    assert_eq!(
        bat004(&[qy("A", "08:00", "09:00"), directed_case("B", "08:30", "10:00")]),
        [(cptkit_core::Severity::Warning, "lines[0].modifiers[0]".to_owned())]
    );
}

/// The findings of edit `edit_id` when `claims` are validated together, with their claim ids.
fn batch_told(claims: &[Claim], edit_id: &str) -> Vec<(String, cptkit_core::Finding)> {
    let reports = Reference::embedded().validate_batch(claims, time::macros::date!(2026 - 11 - 27));
    let reports = reports.into_iter().map(Result::unwrap);
    let found = reports.flat_map(|r| r.findings.into_iter().map(move |f| (r.claim_id.to_string(), f)));
    found.filter(|(_, f)| f.edit_id == edit_id).collect()
}

/// The teaching rule (§2.4, from 2010): AA + GC pays the personally performed rate for two concurrent
/// resident cases, or one resident case and one directed case; a resident case running with two more of
/// the physician's cases at once is BAT005, on each resident case, and a directed case is not told.
#[test]
fn a_resident_case_with_more_concurrent_cases_than_the_teaching_rule_allows_is_bat005() {
    let resident = |case: &str, start: &str, end: &str| {
        let mut claim = directed_case(case, start, end);
        claim.lines[0].modifiers = ["AA", "GC"].iter().map(|m| m.parse().unwrap()).collect();
        claim
    };
    let bat005 =
        |claims: &[Claim]| batch_told(claims, "BAT005").into_iter().map(|(id, f)| (id, f.severity)).collect::<Vec<_>>();
    let error = cptkit_core::Severity::Error;
    assert_eq!(bat005(&[resident("R1", "08:00", "09:00"), resident("R2", "08:30", "09:30")]), []);
    assert_eq!(bat005(&[resident("R1", "08:00", "09:00"), directed_case("K1", "08:00", "09:00")]), []);
    // A third case at once, resident or directed.
    let three = [resident("R1", "08:00", "09:00"), resident("R2", "08:30", "09:30"), resident("R3", "08:45", "10:00")];
    assert_eq!(bat005(&three), [("R1".into(), error), ("R2".into(), error), ("R3".into(), error)]);
    let mixed = [
        resident("R1", "08:00", "09:00"),
        directed_case("K1", "08:00", "09:00"),
        directed_case("K2", "08:10", "08:50"),
    ];
    assert_eq!(bat005(&mixed), [("R1".into(), error)]);
    // Cases one after another are never concurrent.
    let apart = [resident("R1", "08:00", "09:00"), resident("R2", "09:00", "10:00"), resident("R3", "10:00", "11:00")];
    assert_eq!(bat005(&apart), []);
}

/// AD is supervision of more than four concurrent cases: on a case run with four or fewer at once it is
/// BAT007, a warning (it may be direction that failed its conditions); with five at once it stands.
#[test]
fn ad_on_a_case_with_four_or_fewer_at_once_is_bat007() {
    let supervised = |case: &str, start: &str, end: &str| case_billed("AD", case, start, end);
    let bat007 =
        |claims: &[Claim]| batch_told(claims, "BAT007").into_iter().map(|(id, f)| (id, f.severity)).collect::<Vec<_>>();
    let warning = cptkit_core::Severity::Warning;
    let two = [supervised("A", "08:00", "09:00"), directed_case("B", "08:30", "09:30")];
    assert_eq!(bat007(&two), [("A".into(), warning)]);
    let five: Vec<Claim> = ["A", "B", "C", "D", "E"].iter().map(|case| supervised(case, "08:00", "09:00")).collect();
    assert_eq!(bat007(&five), []);
}

/// AA is the physician alone on a case: two of a physician's AA cases at once, or an AA case beside a
/// directed one, is BAT009 on each AA case; a resident case (AA + GC) is the teaching rule's (BAT005),
/// and cases one after the other are not concurrent.
#[test]
fn a_personally_performed_case_concurrent_with_another_is_bat009() {
    let case = |case: &str, modifier: &str, start: &str, end: &str| case_billed(modifier, case, start, end);
    let bat009 = |claims: &[Claim]| batch_told(claims, "BAT009").into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(bat009(&[case("A", "AA", "08:00", "09:00"), case("B", "AA", "08:30", "09:30")]), ["A", "B"]);
    assert_eq!(bat009(&[case("A", "AA", "08:00", "09:00"), case("B", "QK", "08:30", "09:30")]), ["A"]);
    assert_eq!(bat009(&[case("A", "AA", "08:00", "09:00"), case("B", "AA", "09:00", "10:00")]), Vec::<String>::new());
    let mut resident = case("A", "AA", "08:00", "09:00");
    resident.lines[0].modifiers.push("GC".parse().unwrap());
    assert_eq!(bat009(&[resident, case("B", "QK", "08:30", "09:30")]), Vec::<String>::new());
}

/// The same claim twice in a batch (a double load) is BAT008 on the later copy; its replacement
/// (frequency 7) or void (8) beside it is no copy, and neither is another billing provider's claim
/// with the same id.
#[test]
fn the_same_claim_twice_in_a_batch_is_bat008() {
    let copy = |frequency: &str, billing_npi: &str| {
        let mut claim = directed_case("A", "08:00", "09:00");
        claim.frequency_code = frequency.into();
        claim.billing_provider_npi = billing_npi.parse().unwrap();
        claim
    };
    let bat008 = |claims: &[Claim]| {
        batch_told(claims, "BAT008").into_iter().map(|(id, f)| (id, f.field(), f.message)).collect::<Vec<_>>()
    };
    let told = bat008(&[copy("1", "1234567893"), directed_case("B", "10:00", "11:00"), copy("1", "1234567893")]);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!((told[0].0.as_str(), told[0].1.as_str()), ("A", "claim_id"));
    assert!(told[0].2.ends_with("is also item 0 of this batch"), "{}", told[0].2);
    assert_eq!(bat008(&[copy("1", "1234567893"), copy("7", "1234567893"), copy("8", "1234567893")]), []);
    assert_eq!(bat008(&[copy("1", "1234567893"), copy("1", "1245319599")]), []);
}

/// A case billed on a physician's claim and an anesthetist's (one claim has one rendering provider) under
/// a payer that caps the two together (Anthem: 100% of the physician-only amount, §2.2): AA + QZ is 200%
/// of the case, BAT006 on both claims; QK + QX is 100%, and Medicare has no such cap.
#[test]
fn a_case_over_the_payers_combined_cap_across_claims_is_bat006() {
    let line = |payer: &str, plan: &str, modifier: &str, npi: &str, taxonomy: &str, role: &str, id: &str| {
        Claim::from_json(&format!(
            r#"{{"claim_id":"{id}","payer":{{"id":"{payer}","plan_type":"{plan}"}},"place_of_service":"21",
            "patient":{{"birth_date":"1950-01-01","member_id":"M-1"}},"billing_provider_npi":"1234567893",
            "rendering_provider":{{"npi":"{npi}","taxonomy":"{taxonomy}","role":"{role}"}},
            "service_facility_location":{{"state":"IN","zip":"46204"}},
            "diagnoses":["M54.16"],"lines":[{{"procedure_code":"00632","modifiers":["{modifier}"],"unit_basis":"MJ",
            "quantity":"90","diagnosis_pointers":[1],"charge_cents":150000,"date_of_service":"2026-05-04","case_id":"K"}}]}}"#
        ))
        .unwrap()
    };
    let case = |payer: &str, plan: &str, physician: &str, anesthetist: &str| {
        let claims = [
            line(payer, plan, physician, "1558598797", "207L00000X", "anesthesiologist", "P"),
            line(payer, plan, anesthetist, "1245319599", "367500000X", "crna", "A"),
        ];
        batch_told(&claims, "BAT006").into_iter().map(|(id, f)| (id, f.message)).collect::<Vec<_>>()
    };
    let anthem = case("anthem", "commercial", "AA", "QZ");
    assert_eq!(anthem.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["P", "A"]);
    assert!(
        anthem[0].1.contains("200% of the case together") && anthem[0].1.contains("combined cap is 100%"),
        "{anthem:?}"
    );
    assert_eq!(case("anthem", "commercial", "QK", "QX"), []);
    assert_eq!(case("medicare", "medicare_ffs", "AA", "QZ"), []);
}

/// The lines that get CPT003 on an anesthesiologist's claim of 2025-03-04 whose lines are (code, start,
/// end, case id); a start of "" leaves the line without times.
fn second_base_codes(lines: &[(&str, &str, &str, &str)]) -> Vec<String> {
    let lines: Vec<String> = lines
        .iter()
        .map(|&(code, start, end, case)| {
            let minutes = if start.is_empty() { 90 } else { minutes_between(start, end) };
            let times = if start.is_empty() {
                String::new()
            } else {
                format!(r#""start_time":"2025-03-04T{start}","end_time":"2025-03-04T{end}","#)
            };
            format!(
                r#"{{"procedure_code":"{code}","modifiers":["AA"],"unit_basis":"MJ","quantity":"{minutes}",{times}
                "diagnosis_pointers":[1],"charge_cents":150000,"date_of_service":"2025-03-04","case_id":"{case}"}}"#
            )
        })
        .collect();
    let json = format!(
        r#"{{"claim_id":"T","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"21",
        "patient":{{"birth_date":"1950-01-01","member_id":"M1"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797","taxonomy":"207L00000X","role":"anesthesiologist"}},
        "diagnoses":["M54.16"],"lines":[{}]}}"#,
        lines.join(",")
    );
    let claim = Claim::from_json(&json).unwrap();
    let judge = JudgeOptions { today: time::macros::date!(2026 - 11 - 27), pricing: None };
    let report = Reference::embedded().judge(&claim, &judge, RuleBook::embedded()).unwrap().report;
    report.findings.iter().filter(|f| f.edit_id == "CPT003").map(|f| f.field()).collect()
}

fn minutes_between(start: &str, end: &str) -> i64 {
    let minutes = |t: &str| t[..2].parse::<i64>().unwrap() * 60 + t[3..].parse::<i64>().unwrap();
    minutes(end) - minutes(start)
}

/// One base code per anesthetic (§1.1), and anesthesia time is continuous (42 CFR 414.46(a)(3)): two
/// anesthetics of one day that name no case are told apart by their times. 00630 (8 base units)
/// outranks 00632 (7).
#[test]
fn second_base_code_is_counted_per_anesthetic() {
    let none: Vec<String> = Vec::new();
    let second = vec!["lines[1].procedure_code".to_owned()];
    // Morning and afternoon: two anesthetics.
    assert_eq!(second_base_codes(&[("00630", "08:00", "09:30", ""), ("00632", "15:00", "16:30", "")]), none);
    // Overlapping times: one anesthetic.
    assert_eq!(second_base_codes(&[("00630", "08:00", "09:30", ""), ("00632", "09:00", "10:00", "")]), second);
    // Overlapping through a third line, in any order: one anesthetic, with 00630 in it twice.
    assert_eq!(
        second_base_codes(&[
            ("00630", "09:55", "11:00", ""),
            ("00632", "08:00", "09:00", ""),
            ("00630", "08:50", "10:00", "")
        ]),
        ["lines[1].procedure_code", "lines[2].procedure_code"]
    );
    // One ends as the other starts: apart, as BAT003 counts them.
    assert_eq!(second_base_codes(&[("00630", "08:00", "09:30", ""), ("00632", "09:30", "10:00", "")]), none);
    // A line without times: nothing tells the day's anesthetics apart.
    assert_eq!(second_base_codes(&[("00630", "08:00", "09:30", ""), ("00632", "", "", "")]), second);
    // A named case stays one anesthetic, interrupted or not.
    assert_eq!(second_base_codes(&[("00630", "08:00", "09:30", "K"), ("00632", "15:00", "16:30", "K")]), second);
    // The id the 837 reader derives names the patient's day, not an anesthetic: as no case id.
    let derived = cptkit_core::derived_case_id(
        "M1",
        Some(time::macros::date!(1950 - 01 - 01)),
        time::macros::date!(2025 - 03 - 04),
    );
    assert_eq!(
        second_base_codes(&[("00630", "08:00", "09:30", &derived), ("00632", "15:00", "16:30", &derived)]),
        none
    );
    assert_eq!(
        second_base_codes(&[("00630", "08:00", "09:30", &derived), ("00632", "09:00", "10:00", &derived)]),
        second
    );
}

/// The base code of an anesthetic reported twice by one provider is paid twice: two blocks of time are
/// one line with their total (42 CFR 414.46(a)(3)). The directing physician's QK line and the CRNA's QX
/// line of one case are two providers' lines, and an exact repeat is CPT005's.
#[test]
fn one_base_code_twice_in_an_anesthetic_is_a_second_base_code() {
    let findings = |lines: &[(&str, &str)]| {
        let mut claim = anesthesiologist_claim(&lines.iter().map(|&(m, q)| ("00632", m, "MJ", q)).collect::<Vec<_>>());
        for line in &mut claim.lines {
            line.case_id = "K1".into();
        }
        let judge = JudgeOptions { today: time::macros::date!(2026 - 11 - 27), pricing: None };
        let report = Reference::embedded().judge(&claim, &judge, RuleBook::embedded()).unwrap().report;
        let cases = report.findings.iter().filter(|f| f.edit_id == "CPT003" || f.edit_id == "CPT005");
        cases.map(|f| format!("{} {}", f.edit_id, f.field())).collect::<Vec<_>>()
    };
    assert_eq!(findings(&[("AA", "60"), ("AA", "45")]), ["CPT003 lines[1].procedure_code"]);
    assert_eq!(findings(&[("QK", "60"), ("QX", "60")]), Vec::<String>::new());
    assert_eq!(findings(&[("QK", "60"), ("QX", "60"), ("QX", "30")]), ["CPT003 lines[2].procedure_code"]);
    assert_eq!(findings(&[("AA", "60"), ("AA", "60")]), ["CPT005 lines[1].procedure_code"]);
}

/// A claim of more than 50 lines is no 837P claim (CLM007), still checked line by line, and in time
/// that grows with its length: its repeated lines (CPT005) are found by key, as a short claim's are by
/// scanning.
#[test]
fn a_claim_of_more_than_fifty_lines_is_clm007_and_its_repeats_are_found_alike() {
    let judge = JudgeOptions { today: time::macros::date!(2026 - 11 - 27), pricing: None };
    let repeats = |lines: usize| {
        // Every third line repeats an earlier one (case ids cycle), quantities written two ways.
        let spec: Vec<(&str, &str, &str, &str)> =
            (0..lines).map(|i| ("00632", "AA", "MJ", if i % 2 == 0 { "60" } else { "60.0" })).collect();
        let mut claim = anesthesiologist_claim(&spec);
        for (i, line) in claim.lines.iter_mut().enumerate() {
            line.case_id = format!("K{}", if i % 3 == 2 { i / 3 } else { i }).into();
        }
        let report = Reference::embedded().judge(&claim, &judge, RuleBook::embedded()).unwrap().report;
        let told = |id: &str| {
            report.findings.iter().filter(|f| f.edit_id == id).map(|f| f.message.clone()).collect::<Vec<_>>()
        };
        // What scanning the earlier lines finds.
        let scanned: Vec<String> = (0..lines)
            .filter_map(|i| {
                let first = (0..i).find(|&j| claim.lines[j].case_id == claim.lines[i].case_id)?;
                Some(format!("line {i} repeats line {first}"))
            })
            .collect();
        (told("CLM007"), told("CPT005") == scanned && !scanned.is_empty())
    };
    assert_eq!(repeats(50), (vec![], true));
    let (long, same) = repeats(3_000);
    assert_eq!(long, ["the claim has 3000 service lines; an 837P claim holds at most 50"]);
    assert!(same);
}

/// Line charges whose total no face could carry (cents in a signed 64-bit count) are an error, not a
/// total clamped on one face and exact on another.
#[test]
fn charges_adding_up_past_what_a_total_can_hold_are_clm008() {
    let judge = JudgeOptions { today: time::macros::date!(2026 - 11 - 27), pricing: None };
    let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "60"), ("00632", "AA", "MJ", "45")]);
    let told = |claim: &Claim| {
        let report = Reference::embedded().judge(claim, &judge, RuleBook::embedded()).unwrap().report;
        report.findings.iter().filter(|f| f.edit_id == "CLM008").map(|f| f.message.clone()).collect::<Vec<_>>()
    };
    (claim.lines[0].charge_cents, claim.lines[1].charge_cents) = (i64::MAX, 0);
    assert!(told(&claim).is_empty(), "a zero charge beside it");
    claim.lines[1].charge_cents = 1;
    assert_eq!(told(&claim), ["the line charges add up to more than 92233720368547758.07"]);
}

/// A mistyped Medicare locality is an error, not a silent fall back to the national rates.
#[test]
fn a_locality_cms_does_not_name_is_clm004() {
    let context = cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
    let found = |locality: &str| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
        claim.medicare_locality = Some(locality.parse().unwrap());
        let report = Reference::embedded().validate(&claim, &context);
        report.findings.iter().map(|f| format!("{} {}", f.edit_id, f.field())).collect::<Vec<_>>()
    };
    assert_eq!(found("13202-10"), ["CLM004 medicare_locality"]);
    assert_eq!(found("13202-01"), Vec::<String>::new());
}

/// A locality the service facility's ZIP code contradicts is told (a warning: which one is wrong is
/// not known); the stated locality still prices, as the claim asks.
#[test]
fn a_locality_other_than_the_service_facilitys_zip_gives_is_clm005() {
    let context = cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
    let found = |locality: &str, zip: &str| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
        claim.medicare_locality = Some(locality.parse().unwrap());
        claim.service_facility_location =
            Some(serde_json::from_value(serde_json::json!({"state": "NY", "zip": zip})).unwrap());
        let report = Reference::embedded().validate(&claim, &context);
        report.findings.iter().map(|f| (f.edit_id.to_string(), f.severity, f.message.clone())).collect::<Vec<_>>()
    };
    assert_eq!(found("13202-01", "10001"), []);
    let alabama_in_manhattan = found("10112-00", "10001");
    assert_eq!(alabama_in_manhattan.len(), 1, "{alabama_in_manhattan:?}");
    let (edit, severity, message) = &alabama_in_manhattan[0];
    assert_eq!((edit.as_str(), *severity), ("CLM005", cptkit_core::Severity::Warning));
    assert!(message.contains("10001 (13202-01)"), "{message}");
}

/// A claim whose ZIP code gives no one locality (split by ZIP+4, or not in CMS's file) and that states
/// none is told: its fee-schedule lines cannot be priced, its Medicare anesthesia only nationally.
#[test]
fn a_zip_that_gives_no_locality_is_clm006() {
    let context = cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
    let found = |zip: &str, locality: Option<&str>| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
        claim.medicare_locality = locality.map(|l| l.parse().unwrap());
        claim.service_facility_location =
            Some(serde_json::from_value(serde_json::json!({"state": "AL", "zip": zip})).unwrap());
        let report = Reference::embedded().validate(&claim, &context);
        report.findings.iter().map(|f| format!("{} {} {}", f.edit_id, f.field(), f.message)).collect::<Vec<_>>()
    };
    let split = found("35958", None);
    assert_eq!(split.len(), 1, "{split:?}");
    assert!(split[0].starts_with("CLM006 service_facility_location.zip ZIP 35958 is split"), "{split:?}");
    assert_eq!(found("35958", Some("10112-00")), Vec::<String>::new());
    assert_eq!(found("35203", None), Vec::<String>::new());
    assert!(found("00000", None)[0].contains("not in CMS's ZIP code to locality file"));
}

/// An anesthesia add-on is reported with its primary code the same day (01968 and 01969 with 01967,
/// 01953 with 01952: anesthesia_code_kinds.csv), as a fee-schedule add-on is (PFS016).
#[test]
fn an_anesthesia_add_on_needs_its_primary_code_the_same_day() {
    let cpt006 = |lines: &[(&str, &str)]| {
        let mut claim =
            anesthesiologist_claim(&lines.iter().map(|&(code, _)| (code, "AA", "MJ", "60")).collect::<Vec<_>>());
        for (line, &(_, date)) in claim.lines.iter_mut().zip(lines) {
            line.date_of_service =
                time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).unwrap();
        }
        let context = cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
        let report = Reference::embedded().validate(&claim, &context);
        let found = report.findings.iter().filter(|f| f.edit_id == "CPT006");
        found.map(|f| format!("{} {}", f.field(), f.message)).collect::<Vec<_>>()
    };
    assert_eq!(
        cpt006(&[("01968", "2025-06-01")]),
        ["lines[0].procedure_code 01968 is an add-on to 01967, which the claim does not report on 2025-06-01"]
    );
    assert_eq!(
        cpt006(&[("01967", "2025-06-01"), ("01968", "2025-06-01"), ("01969", "2025-06-01")]),
        Vec::<String>::new()
    );
    assert_eq!(cpt006(&[("01967", "2025-06-01"), ("01968", "2025-06-02")]).len(), 1);
    assert_eq!(cpt006(&[("01953", "2025-06-01")]).len(), 1);
    assert_eq!(cpt006(&[("01952", "2025-06-01"), ("01953", "2025-06-01")]), Vec::<String>::new());
}

fn medicare_claim(code: &str, modifier: &str, minutes: u32) -> Claim {
    let crna = matches!(modifier, "QX" | "QZ");
    let json = format!(
        r#"{{"claim_id":"P","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"21",
        "patient":{{"birth_date":"1950-01-01"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797","taxonomy":"{}","role":"{}"}},"diagnoses":["M54.50"],
        "lines":[{{"procedure_code":"{code}","modifiers":["{modifier}"],"unit_basis":"MJ","quantity":"{minutes}",
        "diagnosis_pointers":[1],"charge_cents":99999999,"date_of_service":"2025-06-01"}}]}}"#,
        if crna { "367500000X" } else { "207L00000X" },
        if crna { "crna" } else { "anesthesiologist" },
    );
    Claim::from_json(&json).unwrap()
}

fn allowed(code: &str, modifier: &str, minutes: u32) -> Decimal {
    let today = Some(time::macros::date!(2026 - 11 - 27));
    Reference::embedded()
        .price(&medicare_claim(code, modifier, minutes), &PriceOptions::default(), RuleBook::embedded(), today)
        .unwrap()
        .total_allowed
}

/// An anesthesiologist's Medicare claim of the given lines: (code, modifier, unit basis, quantity).
fn anesthesiologist_claim(lines: &[(&str, &str, &str, &str)]) -> Claim {
    let lines: Vec<String> = lines
        .iter()
        .map(|(code, modifier, basis, quantity)| {
            format!(
                r#"{{"procedure_code":"{code}","modifiers":["{modifier}"],"unit_basis":"{basis}","quantity":"{quantity}",
                "diagnosis_pointers":[1],"charge_cents":99999999,"date_of_service":"2025-06-01"}}"#
            )
        })
        .collect();
    let json = format!(
        r#"{{"claim_id":"M","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"21",
        "patient":{{"birth_date":"1950-01-01"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797","taxonomy":"207L00000X"}},"medicare_locality":"10112-00",
        "diagnoses":["M54.16"],"lines":[{}]}}"#,
        lines.join(",")
    );
    Claim::from_json(&json).unwrap()
}

/// A claim that mixes anesthesia and fee-schedule lines is priced line by line in its own order, each
/// line as a claim of its kind alone prices it (fee lines together, for the rules that compare them).
#[test]
fn mixed_claims_price_each_line_in_its_place() {
    let (anesthesia, injection, guidance) =
        (("00632", "AA", "MJ", "90"), ("62323", "LT", "UN", "1"), ("77003", "26", "UN", "1"));
    let today = Some(time::macros::date!(2026 - 11 - 27));
    let price = |lines: &[(&str, &str, &str, &str)]| {
        let claim = anesthesiologist_claim(lines);
        let priced = Reference::embedded().price(&claim, &PriceOptions::default(), RuleBook::embedded(), today);
        priced.unwrap_or_else(|e| panic!("{lines:?}: {e}")).lines
    };
    let mixed = price(&[injection, anesthesia, guidance]);
    let fees = price(&[injection, guidance]);
    let alone = price(&[anesthesia]);
    let expected = [&fees[0], &alone[0], &fees[1]];
    assert_eq!(mixed.len(), expected.len());
    for (i, (got, want)) in mixed.iter().zip(expected).enumerate() {
        assert_eq!(got.line as usize, i);
        assert_eq!(got.procedure_code, want.procedure_code, "line {i}");
        assert_eq!(
            (got.status, got.allowed, got.total_units),
            (want.status, want.allowed, want.total_units),
            "line {i}"
        );
    }
    assert!(mixed.iter().all(|l| l.allowed > Decimal::ZERO), "{mixed:?}");
}

#[test]
fn allowed_never_falls_as_minutes_grow() {
    for code in ["00632", "00100", "01967", "01952", "01996"] {
        let mut previous = Decimal::ZERO;
        for minutes in 1..=600 {
            let now = allowed(code, "AA", minutes);
            assert!(now >= previous, "{code}: {minutes} min pays {now} < {previous}");
            previous = now;
        }
    }
}

#[test]
fn directed_halves_add_up_to_personally_performed_within_a_cent() {
    let reference = Reference::embedded();
    for entry in reference.codes().filter(|c| c.service_type == cptkit_core::ServiceType::Anesthesia).step_by(7) {
        for minutes in (5..=480).step_by(13) {
            let code = entry.code.as_str();
            let aa = allowed(code, "AA", minutes);
            let split = allowed(code, "QK", minutes) + allowed(code, "QX", minutes);
            assert!((aa - split).abs() <= Decimal::new(1, 2), "{code} {minutes} min: AA {aa} vs QK+QX {split}");
        }
    }
}

#[test]
fn user_rule_set_is_loaded_and_selected() {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/rulesets/cigna_2023.json"))
        .unwrap();
    let custom = text
        .replace("cigna-2023-03", "my-contract")
        .replace("\"payer_ids\": [\"cigna\"]", "\"payer_ids\": [\"Acme\"]")
        .replace("\"AA\": \"1.00\"", "\"AA\": \"0.90\"");
    let book = RuleBook::embedded().clone().with(cptkit_core::RuleSet::from_json(&custom).unwrap());
    let mut claim = medicare_claim("00632", "AA", 90);
    // Payer ids match whatever their case.
    claim.payer = cptkit_core::Payer { id: "ACME".into(), plan_type: cptkit_core::PlanType::Commercial };
    let today = Some(time::macros::date!(2026 - 11 - 27));
    let options = PriceOptions {
        rule_set: None,
        conversion_factors: ConversionFactors::every_payer(Decimal::new(6000, 2)).unwrap(),
        ..PriceOptions::default()
    };
    let priced = Reference::embedded().price(&claim, &options, &book, today).unwrap();
    // (7 + 6.0) x 60.00 x 0.90 = 702.00
    assert_eq!(priced.total_allowed, Decimal::new(70200, 2));
    assert_eq!(priced.lines[0].rule.id, "my-contract");
    // A rule set loaded with the same id replaces the old one, payer ids included.
    let moved = custom.replace("\"payer_ids\": [\"Acme\"]", "\"payer_ids\": [\"globex\"]");
    let book = book.with(cptkit_core::RuleSet::from_json(&moved).unwrap());
    let err = Reference::embedded().price(&claim, &options, &book, today).unwrap_err();
    assert_eq!((err.kind(), err.field()), (cptkit_core::ErrorKind::NotFound, Some("payer.id")));
    claim.payer.id = "globex".into();
    assert_eq!(Reference::embedded().price(&claim, &options, &book, today).unwrap().lines[0].rule.id, "my-contract");
    let err = cptkit_core::RuleSet::from_json("{\"id\": 3}").unwrap_err();
    assert_eq!(err.field(), Some("id"));
    let zero = text.replace("\"unit_minutes\": 15", "\"unit_minutes\": 0");
    assert_eq!(cptkit_core::RuleSet::from_json(&zero).unwrap_err().field(), Some("time_units.unit_minutes"));
    let negative = text.replace("\"AA\": \"1.00\"", "\"AA\": \"-1\"");
    assert_eq!(cptkit_core::RuleSet::from_json(&negative).unwrap_err().field(), Some("shares.AA"));
    // A share is a part of the full amount: "85" for 85% would pay 85 times over.
    let percent = text.replace("\"AA\": \"1.00\"", "\"AA\": \"85\"");
    let err = cptkit_core::RuleSet::from_json(&percent).unwrap_err();
    assert_eq!(err.field(), Some("shares.AA"));
    assert!(err.message().contains("at most 1 (0.85 for 85%), got 85"), "{err}");
}

/// A rule set's shares and unit counts become a priced line's share and units, which every face
/// carries to 4 decimal places (a table's result columns): one with more is refused as it loads, never
/// priced whole by `price` and shown rounded by `price_table`; so is a unit count past a sanity bound
/// (a table could not hold the line's units at all) and a negative supervision unit count.
#[test]
fn rule_set_numbers_are_what_every_face_carries() {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/rulesets/cigna_2023.json"))
        .unwrap();
    let with = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        cptkit_core::RuleSet::from_json(&text.replace(from, to))
    };
    let units = |p2: &str| format!(r#""physical_status_units": {{"P1": "0", "P2": "{p2}"}}"#);
    let supervision =
        |base: &str| format!(r#""supervision": {{"base_units": "{base}", "induction_units": "1", "source": "x"}}"#);
    for (from, to, field, words) in [
        (r#""QZ": "0.85""#, r#""QZ": "0.33333""#.to_owned(), "shares.QZ", "at most 4 decimal places"),
        (r#""physical_status_units": null"#, units("0.12345"), "physical_status_units.P2", "at most 4 decimal places"),
        (
            r#""physical_status_units": null"#,
            units("100000000000000"),
            "physical_status_units.P2",
            "at most 1000 units",
        ),
        (r#""supervision": null"#, supervision("-3"), "supervision.base_units", "must not be negative"),
        (r#""supervision": null"#, supervision("3.00001"), "supervision.base_units", "at most 4 decimal places"),
    ] {
        let err = with(from, &to).unwrap_err();
        assert_eq!(err.field(), Some(field), "{to}: {err}");
        assert!(err.message().contains(words), "{to}: {err}");
    }
    // Four places, trailing zeros and whole units are kept as they are.
    for (from, to) in
        [(r#""QZ": "0.85""#, r#""QZ": "0.3333""#.to_owned()), (r#""physical_status_units": null"#, units("2.50000"))]
    {
        assert!(with(from, &to).is_ok(), "{to}");
    }
}

/// A Medicare Advantage claim (combined cap 1.00): (code, pricing modifier, minutes, case id) per line.
/// No taxonomy: one claim carrying the physician's and the anesthetist's lines. Each line starts an hour
/// after the one before, so two like lines are two services, not a duplicate (CPT005).
fn advantage_claim(lines: &[(&str, &str, u32, &str)]) -> Claim {
    let lines: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, (code, modifier, minutes, case))| {
            format!(
                r#"{{"procedure_code":"{code}","modifiers":["{modifier}"],"unit_basis":"MJ","quantity":"{minutes}",
                "start_time":"2025-06-01T{:02}:00","diagnosis_pointers":[1],"charge_cents":99999999,
                "date_of_service":"2025-06-01","case_id":"{case}"}}"#,
                7 + i
            )
        })
        .collect();
    let json = format!(
        r#"{{"claim_id":"CAP","payer":{{"id":"humana","plan_type":"medicare_advantage"}},"place_of_service":"21",
        "patient":{{"birth_date":"1950-01-01"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797"}},"diagnoses":["M54.50"],"lines":[{}]}}"#,
        lines.join(",")
    );
    Claim::from_json(&json).unwrap()
}

/// An 00632 line of case K1.
fn k1(modifier: &'static str, minutes: u32) -> (&'static str, &'static str, u32, &'static str) {
    ("00632", modifier, minutes, "K1")
}

/// The claim priced at a contract factor of 60.00; no line is below zero.
fn price_advantage(lines: &[(&str, &str, u32, &str)], book: &RuleBook) -> cptkit_core::PricedClaim {
    let options = PriceOptions {
        conversion_factors: ConversionFactors::every_payer(Decimal::new(6000, 2)).unwrap(),
        ..PriceOptions::default()
    };
    let today = Some(time::macros::date!(2026 - 11 - 27));
    let priced = Reference::embedded().price(&advantage_claim(lines), &options, book, today).unwrap();
    assert!(priced.lines.iter().all(|l| l.rule.id == "medicare-advantage"), "{priced:?}");
    assert!(priced.lines.iter().all(|l| l.allowed >= Decimal::ZERO), "{priced:?}");
    priced
}

fn allowed_of(priced: &cptkit_core::PricedClaim) -> Vec<String> {
    priced.lines.iter().map(|l| l.allowed.to_string()).collect()
}

fn cap_step(line: &cptkit_core::PricedLine) -> Option<String> {
    line.steps().into_iter().find(|s| s.step == "combined_cap").map(|s| s.detail)
}

/// Anthem C-09002 / Anthem MA (shared/domain/anesthesia-billing.md §2.2): a case's lines together may
/// not exceed 100% of the physician-only amount, the case's largest units at the whole factor
/// (00632, 300 min: 7 + 20.0 = 27 units x 60.00 = 1620.00). QK 15 min (8 units x 60 x 0.50 = 240.00),
/// QX 300 (810.00) and AA 90 (13 units, 780.00) are 1830.00, 210.00 over: the last line is trimmed to
/// 570.00, never below zero.
#[test]
fn a_combined_cap_holds_a_case_to_the_physician_only_amount() {
    let priced = price_advantage(&[k1("QK", 15), k1("QX", 300), k1("AA", 90)], RuleBook::embedded());
    assert_eq!(allowed_of(&priced), ["240.00", "810.00", "570.00"]);
    assert_eq!(priced.total_allowed.to_string(), "1620.00");
    assert_eq!(cap_step(&priced.lines[1]), None);
    let step = cap_step(&priced.lines[2]).unwrap();
    assert!(
        step.contains("1830.00, above 1.00 x the personally performed 1620.00 = 1620.00: reduced by 210.00"),
        "{step}"
    );
}

/// The physician-only amount does not depend on which line comes first: QK 90 min (13 units, 390.00)
/// and QX 150 min (17 units, 510.00) are 900.00, under 17 x 60.00 = 1020.00, in either order.
#[test]
fn a_combined_cap_is_the_same_in_any_line_order() {
    let book = RuleBook::embedded();
    let physician_first = price_advantage(&[k1("QK", 90), k1("QX", 150)], book);
    let anesthetist_first = price_advantage(&[k1("QX", 150), k1("QK", 90)], book);
    assert_eq!(physician_first.total_allowed.to_string(), "900.00");
    assert_eq!(anesthetist_first.total_allowed, physician_first.total_allowed);
    assert!(physician_first.lines.iter().chain(&anesthetist_first.lines).all(|l| cap_step(l).is_none()));
}

/// AA + QZ (both fully involved, §2.2) are 100% each, 780.00 + 780.00, but a capped payer pays the
/// case 100% of 780.00: the last line goes to 0.00. A rule set without a cap pays both in full, and
/// lines without a case id are never tied together.
#[test]
fn a_combined_cap_counts_every_share() {
    let priced = price_advantage(&[k1("AA", 90), k1("QZ", 90)], RuleBook::embedded());
    assert_eq!(allowed_of(&priced), ["780.00", "0.00"]);
    assert!(cap_step(&priced.lines[1]).unwrap().ends_with("reduced by 780.00"));

    let no_case = price_advantage(&[("00632", "AA", 90, ""), ("00632", "QZ", 90, "")], RuleBook::embedded());
    assert_eq!(allowed_of(&no_case), ["780.00", "780.00"]);
    // Nor are lines whose id is the one the 837 reader derives for the patient's day (no anesthetic named).
    let birth = Some(time::macros::date!(1950 - 01 - 01));
    let day = cptkit_core::derived_case_id("", birth, time::macros::date!(2025 - 06 - 01));
    let derived = price_advantage(&[("00632", "AA", 90, &day), ("00632", "QZ", 90, &day)], RuleBook::embedded());
    assert_eq!(allowed_of(&derived), ["780.00", "780.00"]);

    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/rulesets/medicare_advantage.json"),
    )
    .unwrap();
    let uncapped = text.replace("\"combined_cap\": \"1.00\"", "\"combined_cap\": null");
    assert_ne!(uncapped, text);
    let book = RuleBook::embedded().clone().with(cptkit_core::RuleSet::from_json(&uncapped).unwrap());
    let priced = price_advantage(&[k1("AA", 90), k1("QZ", 90)], &book);
    assert_eq!(allowed_of(&priced), ["780.00", "780.00"]);
}

/// A case at or under the cap is untouched: QK + QX of 90 min are 390.00 each, exactly 13 x 60.00.
/// When one line cannot absorb the excess, lines are trimmed from the last backwards, each to no less
/// than zero: QZ 300 (1620.00) + AA 300 (1620.00) + QX 15 (240.00) = 3480.00 against 1620.00.
#[test]
fn a_combined_cap_leaves_a_case_under_it_and_trims_from_the_last_line() {
    let under = price_advantage(&[k1("QK", 90), k1("QX", 90)], RuleBook::embedded());
    assert_eq!(allowed_of(&under), ["390.00", "390.00"]);
    assert!(under.lines.iter().all(|l| cap_step(l).is_none()));

    let over = price_advantage(&[k1("QZ", 300), k1("AA", 300), k1("QX", 15)], RuleBook::embedded());
    assert_eq!(allowed_of(&over), ["1620.00", "0.00", "0.00"]);
    assert_eq!(cap_step(&over.lines[0]), None);
    assert!(cap_step(&over.lines[1]).unwrap().ends_with("reduced by 1620.00"));
    assert!(cap_step(&over.lines[2]).unwrap().ends_with("reduced by 240.00"));
}

/// An anesthetic reports one base code plus its separately payable add-ons (§1.1), so the physician-only
/// amount is each code's personally performed amount, summed: 01967 120 min (5 + 8.0 = 13 units,
/// 780.00) + 01968 60 min (2 + 4.0 = 6 units, 360.00) = 1140.00, exactly what the four directed halves
/// (390.00, 390.00, 180.00, 180.00) add up to: nothing is trimmed.
#[test]
fn a_combined_cap_adds_the_add_on_codes_physician_only_amount() {
    let lines =
        [("01967", "QK", 120, "K1"), ("01967", "QX", 120, "K1"), ("01968", "QK", 60, "K1"), ("01968", "QX", 60, "K1")];
    let priced = price_advantage(&lines, RuleBook::embedded());
    assert_eq!(allowed_of(&priced), ["390.00", "390.00", "180.00", "180.00"]);
    assert!(priced.lines.iter().all(|l| cap_step(l).is_none()));
}

/// A diagnosis is judged by the code set of the date of service: M54.5 was billable through
/// 2021-09-30 and M54.50, one of its replacements, only from 2021-10-01 (icd10cm_deleted.csv).
#[test]
fn a_replaced_diagnosis_is_judged_by_the_date_of_service() {
    let judged = |dx: &str, date: &str| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
        claim.diagnoses = [dx.parse().unwrap()].into_iter().collect();
        claim.lines[0].date_of_service =
            time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).unwrap();
        let context = cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
        let report = Reference::embedded().validate(&claim, &context);
        let code_set = ["DX002", "DX003", "DX004"];
        report
            .findings
            .iter()
            .filter(|f| code_set.contains(&f.edit_id.as_str()))
            .map(|f| f.edit_id.clone())
            .collect::<Vec<_>>()
    };
    // cptkit holds the FY2026 code set: a code it does not know, or knows as a header, is an error
    // from 2025-10-01, and before that a warning that the later code set judged it (E66.8 became a
    // header in October 2024; a 2024 claim billed it rightly).
    assert_eq!(judged("E66.8", "2025-10-01"), ["DX003"]);
    assert_eq!(judged("Z99.999", "2025-10-01"), ["DX002"]);
    let earlier = |dx: &str| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
        claim.diagnoses = [dx.parse().unwrap()].into_iter().collect();
        claim.lines[0].date_of_service = time::macros::date!(2024 - 03 - 04);
        let context = cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
        let report = Reference::embedded().validate(&claim, &context);
        let dx = report.findings.into_iter().filter(|f| f.edit_id.starts_with("DX0") && f.edit_id != "DX007");
        dx.map(|f| (f.edit_id, f.severity, f.message)).collect::<Vec<_>>()
    };
    let [(id, severity, message)] = &earlier("E66.8")[..] else { panic!("{:?}", earlier("E66.8")) };
    assert_eq!((id.as_str(), *severity), ("DX012", cptkit_core::Severity::Warning));
    assert!(message.ends_with("the service on 2024-03-04 falls in FY2024"), "{message}");
    assert_eq!(earlier("Z99.999")[0].0, "DX012");
    assert_eq!(judged("M54.5", "2021-09-30"), Vec::<String>::new());
    assert_eq!(judged("M54.5", "2021-10-01"), ["DX004"]);
    assert_eq!(judged("M54.50", "2021-09-30"), ["DX004"]);
    assert_eq!(judged("M54.50", "2021-10-01"), Vec::<String>::new());

    // On a claim of two dates, each diagnosis is judged on the dates of the lines pointing at it.
    let two_dates = |dx: &str| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90"), ("00632", "AA", "MJ", "90")]);
        claim.diagnoses = ["M54.16".parse().unwrap(), dx.parse().unwrap()].into_iter().collect();
        claim.lines[0].date_of_service = time::macros::date!(2021 - 09 - 30);
        claim.lines[1].date_of_service = time::macros::date!(2021 - 10 - 05);
        claim.lines[0].diagnosis_pointers = [1].into_iter().collect();
        claim.lines[1].diagnosis_pointers = [2].into_iter().collect();
        let context = cptkit_core::ValidationContext { today: time::macros::date!(2026 - 11 - 27) };
        let report = Reference::embedded().validate(&claim, &context);
        report.findings.iter().filter(|f| f.edit_id == "DX004").map(|f| f.field()).collect::<Vec<_>>()
    };
    assert_eq!(two_dates("M54.50"), Vec::<String>::new());
    assert_eq!(two_dates("M54.5"), ["diagnoses[1]"]);
}

/// A negative charge is a finding (CLM003) that stops pricing: the lesser-of-charge rule would allow a
/// negative amount.
#[test]
fn a_negative_charge_is_an_error_finding() {
    let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
    claim.lines[0].charge_cents = -5;
    let judge = JudgeOptions { today: time::macros::date!(2026 - 11 - 27), pricing: Some(PriceOptions::default()) };
    let judgement = Reference::embedded().judge(&claim, &judge, RuleBook::embedded()).unwrap();
    let found: Vec<(String, String)> =
        judgement.report.findings.iter().map(|f| (f.edit_id.clone(), f.field())).collect();
    assert_eq!(found, [("CLM003".to_owned(), "lines[0].charge_cents".to_owned())]);
    assert!(judgement.into_priced().is_err());
}

/// A Medicare anesthesia line finds its locality as the claim's fee-schedule lines do (its ZIP when it
/// names none), and its conversion-factor step says where from, or why it used the national factor.
#[test]
fn the_anesthesia_conversion_factor_step_says_where_the_locality_came_from() {
    let step = |date: &str| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
        claim.medicare_locality = None;
        claim.service_facility_location =
            Some(cptkit_core::Location { state: Some("NY".parse().unwrap()), zip: Some("10001".parse().unwrap()) });
        claim.lines[0].date_of_service =
            time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]")).unwrap();
        let today = Some(time::macros::date!(2026 - 11 - 27));
        let priced = Reference::embedded().price(&claim, &PriceOptions::default(), RuleBook::embedded(), today);
        let line = priced.unwrap().lines.remove(0);
        let cf = line.steps().into_iter().find(|s| s.step == "conversion_factor").unwrap();
        (line.conversion_factor.to_string(), cf.detail)
    };
    let (cf, detail) = step("2025-06-02");
    assert_eq!(cf, "22.76");
    assert!(
        detail.starts_with("CY2025 locality 13202-01 (MANHATTAN), from the service facility's ZIP code"),
        "{detail}"
    );
    // No CY2026 locality factors, nor a CY2026 ZIP file: the national factor, saying why.
    let (cf, detail) = step("2026-06-02");
    assert_eq!(cf, "20.4976");
    assert!(detail.contains("cptkit has no CY2026 ZIP code file"), "{detail}");
}

/// A code profile's Medicare benchmarks are what pricing pays a Medicare claim of those minutes: the
/// Medicare rule set's time units, none for 01995/01996 (paid their base units only).
#[test]
fn profile_benchmarks_price_as_a_medicare_claim_does() {
    for (code, modifier) in [("00632", "AA"), ("01996", "AA"), ("01967", "AA")] {
        let profile = Reference::embedded().profile(code.parse().unwrap(), &cptkit_core::ProfileOptions::default());
        let profile = profile.unwrap();
        let national_2025 = profile.benchmarks.iter().find(|b| b.year == 2025 && b.locality.is_none()).unwrap();
        for amount in &national_2025.amounts {
            assert_eq!(amount.allowed, allowed(code, modifier, amount.minutes), "{code} {} min", amount.minutes);
        }
    }
}

/// A payer that publishes no physical-status units: P1, P2 and P6 add nothing under any public scheme,
/// while P3-P5 add +1 to +3 under the ASA values and 0 under Medicare, so the line is not priced.
#[test]
fn physical_status_units_a_payer_does_not_publish_are_unknown() {
    let dir = claims_dir().join("cigna_00632_p3_90min_2024_units_unknown");
    let claim = Claim::from_json(&std::fs::read_to_string(dir.join("claim.json")).unwrap()).unwrap();
    let steps = |modifier: &str| {
        let mut claim = claim.clone();
        claim.lines[0].modifiers[1] = modifier.parse().unwrap();
        let options = PriceOptions::contract("60".parse().unwrap()).unwrap();
        let today = Some(time::macros::date!(2026 - 11 - 27));
        let mut priced = Reference::embedded().price(&claim, &options, RuleBook::embedded(), today).unwrap();
        let line = priced.lines.remove(0);
        (line.status, line.steps().into_iter().map(|s| (s.step, s.detail, s.value)).collect::<Vec<_>>())
    };
    for known in ["P1", "P2", "P6"] {
        let (status, steps) = steps(known);
        assert_eq!(status, cptkit_core::LineStatus::Priced, "{known}");
        let (_, detail, value) = steps.iter().find(|s| s.0 == "modifying_units").unwrap();
        assert_eq!(value, "0", "{known}");
        assert!(detail.starts_with(&format!("{known}: 0 units; P1, P2 and P6 add no units")), "{detail}");
    }
    for unknown in ["P3", "P4", "P5"] {
        let (status, steps) = steps(unknown);
        assert_eq!(status, cptkit_core::LineStatus::NotPriced, "{unknown}");
        let names: Vec<&str> = steps.iter().map(|s| s.0).collect();
        assert_eq!(names, ["rule_set", "base_units", "time_units", "modifying_units", "not_priced"], "{unknown}");
        let not_priced = &steps[4].1;
        assert!(not_priced.starts_with(&format!("the units for {unknown} under Cigna are unknown")), "{not_priced}");
    }
}

/// A void (frequency 8) cancels an earlier claim: it pays nothing. Its lines show what they would pay,
/// then a `void` step, and are not payable; a replacement (7) is priced as an original.
#[test]
fn a_void_pays_nothing_and_says_why() {
    let priced = |frequency: &str| {
        let mut claim = anesthesiologist_claim(&[("00632", "AA", "MJ", "90")]);
        claim.frequency_code = frequency.into();
        Reference::embedded().price(&claim, &PriceOptions::default(), RuleBook::embedded(), None).unwrap()
    };
    let original = priced("7");
    assert!(original.total_allowed > Decimal::ZERO);
    let void = priced("8");
    assert_eq!(void.total_allowed, Decimal::ZERO);
    let line = &void.lines[0];
    assert_eq!((line.status, line.fee_schedule), (cptkit_core::LineStatus::NotPayable, original.lines[0].fee_schedule));
    assert_eq!(line.steps().last().map(|s| s.step.to_string()).as_deref(), Some("void"));
}
