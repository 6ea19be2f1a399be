#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The X12 crate against the fixtures in tests/fixtures/x12/ (written by hand from the X222A1 and
//! X221A1 layouts): envelopes, delimiters, 837P claims and their source table, the writer round trip,
//! 835 remittances and reconciliation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cptkit_core::{
    Claim, ConversionFactors, JudgeOptions, PriceOptions, ProviderRole, Reference, RuleBook, Severity,
    ValidationContext,
};
use cptkit_x12::{
    AdjustmentGroup, Delimiters, File837, LineFlag, MatchedBy, ReadOptions, ReconcileOptions, WriteOptions,
    X12ErrorKind, core_pricer, read_835, read_837, reconcile, write_837_to_vec,
};
use rust_decimal::Decimal;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixtures_837() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/x12");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("837p_"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(out.len() >= 5);
    out
}

fn options() -> ReadOptions {
    let mut o = ReadOptions::default();
    o.payer_ids.insert("BCBSOK".into(), "bcbs-ok".into());
    o
}

fn read(name: &str) -> File837 {
    read_837(&fixture(name)[..], options())
}

fn context() -> ValidationContext {
    ValidationContext { today: time::macros::date!(2026 - 11 - 27) }
}

fn today() -> Option<time::Date> {
    Some(context().today)
}

/// Judge options pricing with a contract factor for every payer (Medicare keeps the CMS factor).
fn pricing(cf: Option<&str>) -> JudgeOptions {
    let conversion_factors = ConversionFactors::new(cf.map(dec), []).unwrap();
    JudgeOptions {
        today: context().today,
        pricing: Some(PriceOptions { rule_set: None, conversion_factors, ..Default::default() }),
    }
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn claim<'a>(file: &'a File837, id: &str) -> Vec<&'a cptkit_x12::ParsedClaim> {
    file.claims().filter(|c| c.claim.claim_id == id).collect()
}

fn errors(reference: &Reference, c: &Claim) -> Vec<String> {
    let report = reference.validate(c, &context());
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{} {}", f.edit_id, f.loc))
        .collect()
}

#[test]
fn clean_medicare_claim_validates_and_prices_266_76() {
    let file = read("837p_medicare_star_crlf.x12");
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let reference = Reference::embedded();
    let c1001 = claim(&file, "C1001");
    assert_eq!(c1001.len(), 1);
    let c = &c1001[0].claim;
    assert_eq!(c.payer.id, "medicare");
    assert_eq!(c.lines[0].quantity, dec("90"));
    assert_eq!(c.lines[0].start_time.unwrap().to_string(), "2025-03-04 8:00:00.0");
    let report = reference.validate(c, &context());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(c1001[0].findings.is_empty());
    let priced = reference.price(c, &PriceOptions::default(), RuleBook::embedded(), today()).unwrap();
    assert_eq!(priced.total_allowed, dec("266.76"));
}

/// The claims read for C1001 (one AA line of 00632 by the 2310B physician, with PRV) with its line's
/// REF*6R and NTE replaced by two other segments (two for two: the SE count stays right).
fn c1001_with(two_segments: &str) -> Vec<cptkit_x12::ParsedClaim> {
    let text = String::from_utf8(fixture("837p_medicare_star_crlf.x12")).unwrap().replace("\r\n", "\n");
    let old = "REF*6R*C1001-1~\nNTE*ADD*START 0800 STOP 0930~";
    assert!(text.contains(old));
    let file = cptkit_x12::read_837(text.replacen(old, two_segments, 1).as_bytes(), options());
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    file.claims().filter(|c| c.claim.claim_id == "C1001").cloned().collect()
}

/// A 2420A may repeat the 2310B provider (X12 RFI #345), and PRV is situational there: the same NPI
/// without PRV is the claim's provider, with its taxonomy, not a second provider splitting the claim.
#[test]
fn a_line_provider_repeating_the_claims_without_prv_is_the_same_provider() {
    let claims = c1001_with("NTE*ADD*START 0800 STOP 0930~\nNM1*82*1*SMITH*ALEX****XX*1234567893~");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].claim.rendering_provider.taxonomy.map(|t| t.to_string()).as_deref(), Some("207L00000X"));
    assert!(claims[0].findings.is_empty(), "{:?}", claims[0].findings);
    // Another NPI on the only line is no split either: that provider renders the claim.
    let claims = c1001_with("NTE*ADD*START 0800 STOP 0930~\nNM1*82*1*ROE*ANN****XX*1558598797~");
    assert_eq!((claims.len(), claims[0].claim.rendering_provider.npi.as_str()), (1, "1558598797"));
    assert!(claims[0].findings.iter().all(|f| f.edit_id != "X12C02"), "{:?}", claims[0].findings);
}

/// A small Medicare Part B 837P (billing provider in Birmingham AL, locality 10112-00; the subscriber is
/// the patient) around `claim`: the CLM and what follows it, each segment ending in `~`.
fn small_837_text(claim: &str) -> String {
    let set = format!(
        "ST*837*0001*005010X222A1~BHT*0019*00*1*20251110*0900*CH~NM1*41*2*CLINIC*****46*CPTKITTEST~\
         PER*IC*OFFICE*TE*2055550100~NM1*40*2*CLEARINGHOUSE*****46*CLEARINGHOUSE~HL*1**20*1~\
         PRV*BI*PXC*207Q00000X~NM1*85*2*CLINIC*****XX*1234567893~N3*1 FIRST AVE N~\
         N4*BIRMINGHAM*AL*352031234~REF*EI*631234567~HL*2*1*22*0~SBR*P*18*******MB~\
         NM1*IL*1*WHITE*RUTH****MI*M1~DMG*D8*19500211*F~NM1*PR*2*MEDICARE PART B*****PI*10112~{claim}"
    );
    let count = set.matches('~').count() + 1;
    format!(
        "ISA*00*          *00*          *ZZ*CPTKITTEST     *ZZ*CLEARINGHOUSE  *251110*0900*^*00501*000000001*0*T*:~\
         GS*HC*CPTKITTEST*CLEARINGHOUSE*20251110*0900*1*X*005010X222A1~{set}SE*{count}*0001~GE*1*1~IEA*1*000000001~"
    )
}

fn read_text(text: &str) -> File837 {
    let file = read_837(text.as_bytes(), options());
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    assert_eq!(file.rejected().count(), 0, "{:?}", file.rejected().collect::<Vec<_>>());
    file
}

fn small_837(claim: &str) -> File837 {
    read_text(&small_837_text(claim))
}

/// Edit id and field of each finding.
fn told(c: &cptkit_x12::ParsedClaim) -> Vec<(String, String)> {
    c.findings.iter().map(|f| (f.edit_id.to_string(), f.field())).collect()
}

fn allowed(c: &Claim) -> Decimal {
    Reference::embedded().price(c, &PriceOptions::default(), RuleBook::embedded(), today()).unwrap().total_allowed
}

/// SV105 is the line's place of service (sent only when it differs from CLM05-1): a POS 22 line on a
/// POS 11 claim goes to its own part, priced at the facility rate, not at the claim's non-facility one.
#[test]
fn a_line_place_of_service_prices_the_line_in_its_own_part() {
    let head = "CLM*A1*300***11:B:1*Y*A*Y*Y~HI*ABK:M5416~NM1*82*1*DOC*ANN****XX*1558598797~PRV*PE*PXC*207Q00000X~";
    let file = small_837(&format!(
        "{head}LX*1~SV1*HC:99212*100*UN*1***1~DTP*472*D8*20251103~LX*2~SV1*HC:99213*200*UN*1*22**1~DTP*472*D8*20251103~"
    ));
    let parts: Vec<_> = file.claims().collect();
    let summary: Vec<_> = parts
        .iter()
        .map(|p| (p.claim.place_of_service.as_str(), p.part.map(|p| (p.index, p.of)), p.lines[0].line_number))
        .collect();
    assert_eq!(summary, [("11", Some((1, 2)), 1), ("22", Some((2, 2)), 2)]);
    assert!(parts.iter().all(|p| p.claim.lines.len() == 1 && p.claim.claim_id == "A1"));
    assert_eq!(parts[1].claim.lines[0].procedure_code.as_str(), "99213");
    assert_eq!(parts[1].claim.rendering_provider.npi.as_str(), "1558598797");
    assert_eq!(told(parts[1]), [("X12C03".to_owned(), "place_of_service".to_owned())]);
    let message = &parts[1].findings[0].message;
    assert!(message.contains("moved to part 2 of 2, priced at 22"), "{message}");
    assert_eq!(told(parts[0]), [("X12C03".to_owned(), "place_of_service".to_owned())]);
    // The part's place of service points at the SV105 it came from.
    let at = parts[1].source.locate(&"place_of_service".into());
    assert_eq!(at.element_name().as_deref(), Some("SV105"));
    // The moved line prices as a claim billed at 22: the facility rate, below the claim's (11) rate.
    let one = |clm05: &str, sv105: &str| {
        let file = small_837(&format!(
            "CLM*A1*200***{clm05}:B:1*Y*A*Y*Y~HI*ABK:M5416~NM1*82*1*DOC*ANN****XX*1558598797~\
             PRV*PE*PXC*207Q00000X~LX*1~SV1*HC:99213*200*UN*1*{sv105}**1~DTP*472*D8*20251103~"
        ));
        file.claims().cloned().collect::<Vec<_>>()
    };
    let facility = allowed(&one("22", "")[0].claim);
    assert_eq!(allowed(&parts[1].claim), facility);
    assert!(facility < allowed(&one("11", "")[0].claim));
    // SV105 equal to CLM05-1 changes nothing.
    let same = one("11", "11");
    assert_eq!((same.len(), same[0].part, same[0].claim.place_of_service.as_str()), (1, None, "11"));
    assert!(same[0].findings.is_empty(), "{:?}", same[0].findings);

    // With a 2420A provider too: one part per (provider, place of service), the claim's own first.
    let file = small_837(&format!(
        "{head}LX*1~SV1*HC:99212*100*UN*1***1~DTP*472*D8*20251103~LX*2~SV1*HC:99213*200*UN*1*22**1~\
         DTP*472*D8*20251103~LX*3~SV1*HC:99214*50*UN*1***1~DTP*472*D8*20251103~NM1*82*1*ROE*AL****XX*1234567893~"
    ));
    let parts: Vec<_> = file.claims().collect();
    let summary: Vec<_> = parts
        .iter()
        .map(|p| (p.claim.place_of_service.as_str(), p.claim.rendering_provider.npi.as_str(), p.lines[0].line_number))
        .collect();
    assert_eq!(summary, [("11", "1558598797", 1), ("22", "1558598797", 2), ("11", "1234567893", 3)]);
    let message = &parts[2].findings.iter().find(|f| f.edit_id == "X12C02").unwrap().message;
    assert!(message.contains("has 2 rendering providers across its lines; this is part 3 of 3"), "{message}");
}

/// Every line at one other place of service: the claim is read at it, whole (no part).
#[test]
fn one_line_place_of_service_on_every_line_is_the_claims() {
    let file =
        small_837("CLM*A1*200***11:B:1*Y*A*Y*Y~HI*ABK:M5416~LX*1~SV1*HC:99213*200*UN*1*22**1~DTP*472*D8*20251103~");
    let claims: Vec<_> = file.claims().collect();
    assert_eq!((claims.len(), claims[0].part, claims[0].claim.place_of_service.as_str()), (1, None, "22"));
    assert_eq!(told(claims[0]), [("X12C03".to_owned(), "place_of_service".to_owned())]);
}

/// A claim-level (2300) note's times are one anesthetic's: with two anesthesia lines (a base and an
/// add-on code) both got the same 08:00-10:00, so they are applied to neither, and told.
#[test]
fn claim_note_times_apply_only_to_a_claims_one_anesthesia_line() {
    let claim = |note: &str, lines: &str| {
        let file = small_837(&format!(
            "CLM*A1*1200***22:B:1*Y*A*Y*Y~HI*ABK:O80~NTE*ADD*{note}~NM1*82*1*DOC*ANN****XX*1558598797~\
             PRV*PE*PXC*207L00000X~{lines}"
        ));
        file.claims().next().unwrap().clone()
    };
    let two = "LX*1~SV1*HC:01967:AA*900*MJ*90***1~DTP*472*D8*20251103~\
               LX*2~SV1*HC:01968:AA*300*MJ*30***1~DTP*472*D8*20251103~";
    let c = claim("START 0800 STOP 1000 CASE K7", two);
    assert!(c.claim.lines.iter().all(|l| l.start_time.is_none() && l.end_time.is_none()), "{:?}", c.claim.lines);
    assert!(c.claim.lines.iter().all(|l| l.case_id == "K7"), "the note's case id still names the case");
    assert_eq!(told(&c), [("X12C08".to_owned(), "lines".to_owned())]);
    assert!(c.findings[0].message.contains("the claim has 2 anesthesia lines"), "{}", c.findings[0].message);
    // One anesthesia line (99100 is a qualifying circumstance, not an anesthesia line): applied.
    let one =
        "LX*1~SV1*HC:01967:AA*900*MJ*120***1~DTP*472*D8*20251103~LX*2~SV1*HC:99100*300*UN*1***1~DTP*472*D8*20251103~";
    let c = claim("START 0800 STOP 1000", one);
    assert_eq!(c.claim.lines[0].start_time.unwrap().to_string(), "2025-11-03 8:00:00.0");
    assert_eq!(c.claim.lines[0].end_time.unwrap().to_string(), "2025-11-03 10:00:00.0");
    assert!(c.claim.lines[1].start_time.is_none());
    assert!(c.findings.iter().all(|f| f.edit_id != "X12C08"), "{:?}", c.findings);
}

/// A DTP*472 RD8 range keeps its first date as the date of service, and says the end date is not used.
#[test]
fn a_service_date_range_tells_its_end_date_is_not_used() {
    let text = |dates: &str| {
        small_837_text(&format!(
            "CLM*A1*300***11:B:1*Y*A*Y*Y~HI*ABK:M5416~LX*1~SV1*HC:99213*300*UN*3***1~DTP*472*RD8*{dates}~"
        ))
    };
    let file = read_text(&text("20251103-20251105"));
    let c = file.claims().next().unwrap();
    assert_eq!(c.claim.lines[0].date_of_service, time::macros::date!(2025 - 11 - 03));
    assert_eq!(told(c), [("X12C09".to_owned(), "lines[0].date_of_service".to_owned())]);
    let message = &c.findings[0].message;
    assert!(message.contains("2025-11-03 to 2025-11-05") && message.contains("priced as of 2025-11-03"), "{message}");
    // One day as a range: nothing to tell.
    let file = read_text(&text("20251103-20251103"));
    assert!(file.claims().next().unwrap().findings.is_empty());
    // A range that is not one is still refused, as before.
    let file = read_837(text("20251105-20251103").as_bytes(), options());
    let rejected: Vec<_> = file.rejected().collect();
    assert_eq!((rejected.len(), file.claims().count()), (1, 0));
    assert!(rejected[0].errors[0].message.contains("is not a D8/RD8 date"), "{}", rejected[0].errors[0]);
}

/// An amount with a fraction of a cent is not rounded: a line charge (SV102) refuses the claim, naming
/// the element; a claim total (CLM02) that is not cents is told (X12C01), and the claim is read.
#[test]
fn amounts_with_a_fraction_of_a_cent_are_refused_not_rounded() {
    let text = |total: &str, charge: &str| {
        small_837_text(&format!(
            "CLM*A1*{total}***11:B:1*Y*A*Y*Y~HI*ABK:M5416~LX*1~SV1*HC:99213*{charge}*UN*3***1~DTP*472*D8*20251103~"
        ))
    };
    // Zeros past the cents are cents.
    let file = read_text(&text("300.000", "300.0000"));
    let c = file.claims().next().unwrap();
    assert_eq!((c.claim.lines[0].charge_cents, c.info.total_charge_cents), (30_000, Some(30_000)));
    assert!(c.findings.is_empty(), "{:?}", c.findings);

    let file = read_837(text("300.005", "300.005").as_bytes(), options());
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let rejected: Vec<_> = file.rejected().collect();
    assert_eq!((rejected.len(), file.claims().count()), (1, 0));
    let error = &rejected[0].errors[0];
    assert_eq!(error.message, r#"charge "300.005" has more than two decimals (a fraction of a cent, not rounded)"#);
    assert!(error.to_string().contains("SV102"), "{error}");

    for (total, why) in [("300.005", "has more than two decimals"), ("3OO", "is not an amount")] {
        let file = read_text(&text(total, "300"));
        let c = file.claims().next().unwrap();
        assert_eq!((c.claim.lines[0].charge_cents, c.info.total_charge_cents), (30_000, None));
        assert_eq!(told(c), [("X12C01".to_owned(), "lines".to_owned())]);
        let message = &c.findings[0].message;
        assert!(
            message.starts_with(&format!("CLM02 {why}")) && message.ends_with("the lines add up to 300"),
            "{message}"
        );
    }
}

/// SBR01 other than P: the claim is priced as if its payer were primary, with no coordination of
/// benefits, and says so.
#[test]
fn a_payer_that_is_not_primary_is_told() {
    let claim = "CLM*A1*200***11:B:1*Y*A*Y*Y~HI*ABK:M5416~LX*1~SV1*HC:99213*200*UN*1***1~DTP*472*D8*20251103~";
    let text = small_837_text(claim);
    let primary = read_text(&text);
    let primary = primary.claims().next().unwrap();
    assert!(primary.findings.is_empty(), "{:?}", primary.findings);
    for (code, meaning) in [("S", "secondary"), ("T", "tertiary"), ("A", "payer responsibility four")] {
        let file = read_text(&text.replacen("SBR*P*18*", &format!("SBR*{code}*18*"), 1));
        let c = file.claims().next().unwrap();
        assert_eq!(told(c), [("X12C10".to_owned(), "payer".to_owned())]);
        let message = &c.findings[0].message;
        assert!(message.contains(&format!("is \"{code}\", {meaning}:")), "{message}");
        assert!(message.contains("no coordination of benefits"), "{message}");
        // Read (and priced) as before: only the finding is new.
        assert_eq!(c.claim, primary.claim);
    }
}

/// The parts and findings above read the same on several threads (one transaction per interchange
/// here: the workers start from the second).
#[test]
fn line_places_notes_ranges_and_payer_order_read_the_same_in_parallel() {
    let lines = "NM1*82*1*DOC*ANN****XX*1558598797~PRV*PE*PXC*207L00000X~LX*1~SV1*HC:01967:AA*900*MJ*90***1~\
                 DTP*472*RD8*20251103-20251104~LX*2~SV1*HC:01968:AA*300*MJ*30*22**1~DTP*472*D8*20251103~\
                 LX*3~SV1*HC:99213*200*UN*1*22**1~DTP*472*D8*20251103~NM1*82*1*ROE*AL****XX*1234567893~\
                 LX*4~SV1*HC:99214*200*UN*1***1~DTP*472*D8*20251103~NM1*77*2*HOSP*****XX*1558598797~\
                 N4*NEW YORK*NY*10001~";
    let claim = format!("CLM*A1*1600***11:B:1*Y*A*Y*Y~HI*ABK:O80~NTE*ADD*START 0800 STOP 1000~{lines}");
    let one = small_837_text(&claim);
    let input = [one.clone(), one.replacen("SBR*P*", "SBR*S*", 1), one].concat();
    let sequential = cptkit_x12::read_837_threads(input.as_bytes(), options(), 1);
    assert_eq!(sequential.claims().count(), 12, "four parts in each of three interchanges");
    let ids: BTreeMap<String, usize> =
        sequential.claims().flat_map(|c| &c.findings).fold(BTreeMap::new(), |mut m, f| {
            *m.entry(f.edit_id.to_string()).or_default() += 1;
            m
        });
    let expected = ["X12C02", "X12C03", "X12C06", "X12C08", "X12C09", "X12C10"];
    assert!(expected.iter().all(|id| ids.contains_key(*id)), "{ids:?}");
    assert_eq!(sequential, cptkit_x12::read_837_threads(input.as_bytes(), options(), 3));
    // Parts at another place of service or facility are written back as their own CLM, and read back the
    // same.
    let claims = sequential.core_claims();
    let written = write_837_to_vec(&claims, &WriteOptions::default()).unwrap();
    assert_eq!(read_837(&written[..], options()).core_claims(), claims);
}

/// CLM05-3 is required: an empty one is read as 1 (original), as every face reads a claim without one,
/// and told.
#[test]
fn an_empty_claim_frequency_is_read_as_original_and_told() {
    let text = String::from_utf8(fixture("837p_medicare_star_crlf.x12")).unwrap();
    let text = text.replacen("CLM*C1001*1500***21:B:1*", "CLM*C1001*1500***21:B:*", 1);
    let file = cptkit_x12::read_837(text.as_bytes(), options());
    let c = file.claims().find(|c| c.claim.claim_id == "C1001").unwrap();
    assert_eq!(c.claim.frequency_code, "1");
    let told: Vec<_> = c.findings.iter().map(|f| (f.edit_id.to_string(), f.field())).collect();
    assert_eq!(told, [("X12C07".to_owned(), "frequency_code".to_owned())]);
}

/// A line furnished at another service facility (2420C) is priced where it was furnished, in its own
/// part of the claim (the core claim has one location), told on every part; one at the claim's location
/// (the same state and 5-digit ZIP code) moves nothing, and one without an address is told, not used.
#[test]
fn a_line_service_facility_elsewhere_prices_the_line_there() {
    let line =
        |n: u32, code: &str, extra: &str| format!("LX*{n}~SV1*HC:{code}*200*UN*1***1~DTP*472*D8*20251103~{extra}");
    let claim =
        |lines: &[String]| format!("CLM*A1*{}***11:B:1*Y*A*Y*Y~HI*ABK:M5416~{}", 200 * lines.len(), lines.concat());
    let new_york = "NM1*77*2*HOSP NY*****XX*1558598797~N3*1 PARK AVE~N4*NEW YORK*NY*10001~";
    let file = small_837(&claim(&[line(1, "99213", ""), line(2, "99214", new_york)]));
    let parts: Vec<_> = file.claims().collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].claim.service_facility_location, None, "priced at the billing provider's, in AL");
    let there = parts[1].claim.service_facility_location.as_ref().unwrap();
    assert_eq!(
        (there.state.unwrap().to_string(), there.zip.as_ref().unwrap().to_string()),
        ("NY".into(), "10001".into())
    );
    for part in &parts {
        assert_eq!(told(part), [("X12C06".to_owned(), "service_facility_location".to_owned())]);
    }
    assert!(parts[1].findings[0].message.contains("2420C of LX 2"), "{}", parts[1].findings[0].message);
    // Priced as the same line on a claim whose service facility (2310C) is in New York, not as in AL.
    let alone =
        |extra: &str, lines: &str| small_837(&format!("CLM*A1*200***11:B:1*Y*A*Y*Y~HI*ABK:M5416~{extra}{lines}"));
    let at_2310c = alone(new_york, &line(1, "99214", ""));
    let in_alabama = alone("", &line(1, "99214", ""));
    let one = |f: &File837| f.claims().next().unwrap().claim.clone();
    assert_eq!(allowed(&parts[1].claim), allowed(&one(&at_2310c)));
    assert_ne!(allowed(&parts[1].claim), allowed(&one(&in_alabama)));
    // Every line there: one claim, priced there.
    let all_there = small_837(&claim(&[line(1, "99214", new_york)]));
    let c = all_there.claims().next().unwrap();
    assert_eq!((c.part, allowed(&c.claim)), (None, allowed(&one(&at_2310c))));
    assert!(c.findings[0].message.contains("every line has it"), "{}", c.findings[0].message);
    // The claim's own place, as a ZIP+4: nothing moves, nothing is told.
    let same = small_837(&claim(&[line(1, "99213", "NM1*77*2*CLINIC*****XX*1234567893~N4*BIRMINGHAM*AL*352039999~")]));
    let c = same.claims().next().unwrap();
    assert!(c.findings.is_empty() && c.part.is_none(), "{:?}", c.findings);
    assert_eq!(c.claim, one(&small_837(&claim(&[line(1, "99213", "")]))));
    // No address: told, not used.
    let bare = small_837(&claim(&[line(1, "99213", "NM1*77*2*HOSP NY*****XX*1558598797~")]));
    let c = bare.claims().next().unwrap();
    assert_eq!(told(c), [("X12C06".to_owned(), "lines[0]".to_owned())]);
    assert!(c.findings[0].message.contains("has no address (N4)"), "{}", c.findings[0].message);
}

/// A diagnosis qualifier that is not an 837P one keeps its place as unreadable (the claim is rejected,
/// naming it): skipped, it moved SV107's pointer 2 onto the third code.
#[test]
fn an_unknown_diagnosis_qualifier_is_not_skipped() {
    let text = String::from_utf8(fixture("837p_medicare_star_crlf.x12")).unwrap();
    let text = text.replacen("HI*ABK:M5416*ABF:M48062~", "HI*ABK:M5416*APR:R69*ABF:M48062~", 1);
    let file = cptkit_x12::read_837(text.as_bytes(), options());
    let rejected: Vec<_> = file.rejected().filter(|r| r.claim_id == "C1001").collect();
    assert_eq!(rejected.len(), 1);
    let shown = rejected[0].errors.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert!(shown.iter().any(|e| e.contains("qualifier \"APR\" is not ABK, ABF, BK or BF")), "{shown:?}");
    assert!(file.claims().all(|c| c.claim.claim_id != "C1001"));
}

/// NTE02 is free text: a TPO note is not read, a second note fills gaps without replacing, and prose
/// ("NOT PRESENT AT INDUCTION", "CASE WELL") sets neither the induction unit nor a case id.
#[test]
fn narrative_notes_do_not_set_times_cases_or_induction() {
    let edited = |notes: &str| c1001_with(notes).remove(0);
    let c = edited("NTE*ADD*START 0800 STOP 0930~\nNTE*TPO*END OF CASE NOTE~");
    let line = &c.claim.lines[0];
    assert_eq!(line.end_time.unwrap().to_string(), "2025-03-04 9:30:00.0");
    assert!(line.case_id.starts_with("x12-"), "{}", line.case_id);
    assert!(c.findings.is_empty(), "{:?}", c.findings);
    let c = edited("NTE*ADD*START 0800 STOP 0930~\nNTE*ADD*PT TOLERATED CASE WELL MD NOT PRESENT AT INDUCTION~");
    let line = &c.claim.lines[0];
    assert!(line.case_id.starts_with("x12-") && !line.present_at_induction, "{line:?}");
    let c = edited("NTE*ADD*START 0800~\nNTE*ADD*STOP 0930 CASE K1~");
    let line = &c.claim.lines[0];
    assert_eq!((line.end_time.unwrap().to_string().as_str(), line.case_id.as_str()), ("2025-03-04 9:30:00.0", "K1"));
}

#[test]
fn physician_and_crna_lines_split_into_two_claims_that_pair_up() {
    let file = read("837p_medicare_star_crlf.x12");
    let parts = claim(&file, "C1002");
    assert_eq!(parts.len(), 2, "QK (2310B) and QX (2420A) have different rendering providers");
    assert_eq!(parts[0].claim.rendering_provider.role, Some(ProviderRole::Anesthesiologist));
    assert_eq!(parts[1].claim.rendering_provider.role, Some(ProviderRole::Crna));
    assert_eq!(parts[1].claim.rendering_provider.npi.as_str(), "1558598797");
    assert_eq!(parts[0].part.map(|p| (p.index, p.of)), Some((1, 2)));
    assert_eq!(parts[1].lines[0].line_number, 2);
    assert_eq!(parts[1].lines[0].control_number.as_deref(), Some("C1002-2"));
    assert_eq!(parts[0].claim.lines[0].case_id, parts[1].claim.lines[0].case_id, "same patient and day: same case");
    assert!(parts.iter().all(|p| p.findings.iter().any(|f| f.edit_id == "X12C02")));
    // The rendering NPI of part 2 points at the 2420A NM1.
    let at = parts[1].source.locate(&"rendering_provider.npi".into());
    assert_eq!((at.segment_id(), at.element), ("NM1", 9));
    let bytes = fixture("837p_medicare_star_crlf.x12");
    assert!(bytes[at.byte_offset as usize..].starts_with(b"NM1*82*1*RIVERA"));
    let reference = Reference::embedded();
    let claims: Vec<Claim> = parts.iter().map(|p| p.claim.clone()).collect();
    let reports: Vec<_> = reference.validate_batch(&claims, context().today).into_iter().map(Result::unwrap).collect();
    for r in &reports {
        assert!(r.findings.iter().all(|f| f.severity != Severity::Error), "{:?}", r.findings);
        assert!(r.findings.iter().all(|f| f.edit_id != "BAT001"), "QX pairs with QK: {:?}", r.findings);
    }
    for c in &claims {
        let priced = reference.price(c, &PriceOptions::default(), RuleBook::embedded(), today()).unwrap();
        assert_eq!(priced.total_allowed, dec("133.38"));
    }
}

#[test]
fn x12_findings_for_notes_and_times() {
    let file = read("837p_medicare_star_crlf.x12");
    let ids = |id: &str| -> Vec<String> {
        claim(&file, id).iter().flat_map(|c| c.findings.iter().map(|f| format!("{} {}", f.edit_id, f.loc))).collect()
    };
    assert_eq!(ids("C1003"), ["X12T01 lines[0].quantity"]);
    assert_eq!(ids("C1004"), ["X12T03 lines[0].end_time"]);
    assert_eq!(ids("C1005"), ["X12T02 lines[0].start_time"]);
    let c1004 = &claim(&file, "C1004")[0].claim.lines[0];
    assert_eq!((c1004.end_time.unwrap() - c1004.start_time.unwrap()).whole_minutes(), 90, "crosses midnight");
    // The 2300 NTE variant applies to the line, and the billing provider renders when there is no 2310B.
    let c1006 = &claim(&file, "C1006")[0];
    assert_eq!(c1006.claim.lines[0].start_time.unwrap().hour(), 13);
    assert_eq!(c1006.source.locate(&"lines[0].start_time".into()).segment_id(), "NTE");
    assert_eq!(c1006.claim.rendering_provider.npi.as_str(), "1234567893");
    // Core validation agrees on the billed minutes, and the finding points back into the file.
    let reference = Reference::embedded();
    let c1003 = &claim(&file, "C1003")[0];
    let report = reference.validate(&c1003.claim, &context());
    let unt = report.findings.iter().find(|f| f.edit_id == "UNT005").unwrap();
    let at = c1003.locate(unt);
    assert_eq!(at.element_name().as_deref(), Some("SV104"));
    let bytes = fixture("837p_medicare_star_crlf.x12");
    assert!(bytes[at.byte_offset as usize..].starts_with(b"SV1*HC:00632:AA*1500*MJ*95"));
}

#[test]
fn fixture_claims_are_consistent_with_core_validation() {
    let reference = Reference::embedded();
    let file = read("837p_medicare_star_crlf.x12");
    let all: Vec<Claim> = file.core_claims();
    assert_eq!(all.len(), 9, "8 claims read, C1002 split in two; C1009 rejected");
    let reports: Vec<_> = reference.validate_batch(&all, context().today).into_iter().map(Result::unwrap).collect();
    let with_errors: BTreeMap<&str, Vec<String>> = reports
        .iter()
        .filter(|r| !r.is_valid())
        .map(|r| {
            let e = r.findings.iter().filter(|f| f.severity == Severity::Error);
            (r.claim_id.as_str(), e.map(|f| f.edit_id.clone()).collect())
        })
        .collect();
    // A mistyped NPI is kept on the claim and reported; a date that is not a date cannot be read.
    assert_eq!(
        with_errors,
        BTreeMap::from([("C1003", vec!["UNT005".to_owned()]), ("C1007", vec!["NPI002".to_owned()])])
    );
    let rejected: Vec<_> = file.rejected().collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].claim_id, "C1009");
    assert_eq!(rejected[0].errors[0].at.element_name().as_deref(), Some("DTP03"));
    assert!(rejected[0].errors[0].message.contains("20251345"), "{}", rejected[0].errors[0].message);

    let file = read("837p_commercial_pipe_newline.x12");
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let claims = file.core_claims();
    let payers: Vec<(&str, &str, cptkit_core::PlanType)> =
        claims.iter().map(|c| (c.claim_id.as_str(), c.payer.id.as_str(), c.payer.plan_type)).collect();
    use cptkit_core::PlanType::*;
    assert_eq!(
        payers,
        [
            ("C2001", "cigna", Commercial),
            ("C2002", "uhc", Commercial),
            ("C2003", "61101", MedicareAdvantage),
            ("C2004", "bcbs-ok", Commercial),
            ("C2005", "skil0", Commercial)
        ]
    );
    for c in &claims {
        assert!(errors(reference, c).is_empty(), "{}: {:?}", c.claim_id, errors(reference, c));
    }
    // 2000C: the patient's birth date, the subscriber's member id.
    assert_eq!(claims[0].patient.birth_date, time::macros::date!(2010 - 04 - 01));
    assert_eq!(claims[0].patient.member_id, "CIG900100");
    // RD8 service date; SV105 differs from CLM05-1.
    assert_eq!(claims[1].lines[0].date_of_service, time::macros::date!(2025 - 04 - 03));
    let c2002 = &claim(&file, "C2002")[0];
    assert_eq!(c2002.findings[0].edit_id, "X12C03");
    assert_eq!(c2002.claim.place_of_service.as_str(), "24", "its only line's SV105 (CLM05-1 says 22)");
    // Medicaid filing indicator: read as commercial, with a finding.
    assert_eq!(claim(&file, "C2005")[0].findings[0].edit_id, "X12C04");
    // The errata label is accepted.
    assert_eq!(file.transactions[0].envelope.implementation, "005010X222A2");
    // A commercial claim prices with the contract conversion factor.
    let options = pricing(Some("60")).pricing.unwrap();
    let priced = reference.price(&claims[0], &options, RuleBook::embedded(), today()).unwrap();
    assert!(priced.total_allowed > Decimal::ZERO);
}

#[test]
fn several_interchanges_and_delimiter_sets() {
    let file = read("837p_two_interchanges.x12");
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let ids: Vec<&str> = file.claims().map(|c| c.claim.claim_id.as_str()).collect();
    assert_eq!(ids, ["C3001", "C3002"]);
    assert_eq!(file.transactions[1].envelope.interchange_control, "000000302");
    let second = &file.claims().nth(1).unwrap().claim;
    assert_eq!(second.lines[0].modifiers[0].as_str(), "AA", "component separator \\ in the second ISA");
}

#[test]
fn two_groups_in_one_interchange() {
    let text = String::from_utf8(fixture("837p_two_interchanges.x12")).unwrap();
    let first = &text[..text.find("IEA*").unwrap()];
    let (isa, group) = first.split_at(first.find("GS*").unwrap());
    let second = group.replace("*301*X*", "*302*X*").replace("GE*1*301", "GE*1*302");
    let input = format!("{isa}{group}{second}IEA*2*000000301~");
    let file = read_837(input.as_bytes(), ReadOptions::default());
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let groups: Vec<&str> = file.transactions.iter().map(|t| t.envelope.group_control.as_str()).collect();
    assert_eq!(groups, ["301", "302"]);
    // IEA01 must count both groups.
    let wrong = input.replace("IEA*2*", "IEA*1*");
    let file = read_837(wrong.as_bytes(), ReadOptions::default());
    assert_eq!(file.errors.len(), 1);
    assert_eq!(file.errors[0].at.element_name().as_deref(), Some("IEA01"));
}

#[test]
fn broken_envelope_rejects_the_bad_transactions_and_goes_on() {
    let file = read("837p_broken_envelope.x12");
    let ids: Vec<&str> = file.claims().map(|c| c.claim.claim_id.as_str()).collect();
    assert_eq!(ids, ["C4001"], "only the transaction whose SE checks out");
    let got: Vec<(X12ErrorKind, String, u64)> =
        file.errors.iter().map(|e| (e.kind, e.at.element_name().unwrap_or_default(), e.at.segment_number)).collect();
    assert_eq!(
        got,
        [
            (X12ErrorKind::Envelope, "SE01".into(), 58),
            (X12ErrorKind::Envelope, "SE02".into(), 86),
            (X12ErrorKind::Envelope, "GE01".into(), 87),
            (X12ErrorKind::Envelope, "IEA02".into(), 88),
        ]
    );
    let bytes = fixture("837p_broken_envelope.x12");
    for e in &file.errors {
        let id = e.at.segment_id().as_bytes();
        assert!(bytes[e.at.byte_offset as usize..].starts_with(id), "{e}");
    }
    assert_eq!(file.errors[0].control.transaction.as_deref(), Some("0002"));
    assert!(file.errors[0].to_string().contains("segment 58 (SE), element SE01, byte"));
}

#[test]
fn truncated_file_keeps_what_was_complete() {
    let file = read("837p_truncated.x12");
    let ids: Vec<&str> = file.claims().map(|c| c.claim.claim_id.as_str()).collect();
    assert_eq!(ids, ["C5001"]);
    assert!(file.errors.iter().all(|e| e.kind == X12ErrorKind::Truncated), "{:?}", file.errors);
    assert_eq!(file.errors.len(), 2);
    assert_eq!(file.errors[0].at.segment_id(), "CLM");
}

#[test]
fn garbage_between_transactions_is_reported_and_skipped() {
    let text = String::from_utf8(fixture("837p_broken_envelope.x12")).unwrap();
    // Put a non-segment into transaction 1: its claim is rejected, never quoting the bytes; 2 and 3
    // still fail on their own.
    let broken = text.replacen("HI*ABK", "\u{1}\u{2}BAD*ABK", 1);
    let file = read_837(broken.as_bytes(), ReadOptions::default());
    assert!(file.claims().next().is_none());
    let rejected: Vec<_> = file.rejected().collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!((rejected[0].claim_id.as_str(), rejected[0].errors[0].kind), ("C4001", X12ErrorKind::Syntax));
    assert!(!rejected[0].errors[0].message.contains("BAD"), "{}", rejected[0].errors[0]);
    assert_eq!(file.errors[0].kind, X12ErrorKind::Envelope, "transaction 1 itself is whole");
    // Junk before the ISA: skipped with an error, the rest is read.
    let junked = format!("GARBAGE\r\n{}", String::from_utf8(fixture("837p_two_interchanges.x12")).unwrap());
    let file = read_837(junked.as_bytes(), ReadOptions::default());
    assert_eq!(file.claims().count(), 2);
    assert_eq!(file.errors.len(), 1);
    assert!(file.errors[0].message.contains("skipped 9 bytes"));
}

/// A damaged segment costs the claims it damages, not its transaction: a stray terminator in a
/// subscriber's name rejects that subscriber's claim (without quoting the name), an empty segment the
/// claim it is in, and every other claim is read as before.
#[test]
fn a_damaged_segment_rejects_only_the_claims_it_damages() {
    let text = String::from_utf8(fixture("837p_medicare_star_crlf.x12")).unwrap();
    let read = |text: &str| {
        let file = read_837(text.as_bytes(), options());
        let ids = |claims: Vec<&str>| claims.into_iter().map(str::to_owned).collect::<Vec<_>>();
        let claims = ids(file.claims().map(|c| c.claim.claim_id.as_str()).collect());
        let rejected = ids(file.rejected().map(|r| r.claim_id.as_str()).collect());
        let messages: Vec<String> = file.rejected().flat_map(|r| r.errors.iter().map(ToString::to_string)).collect();
        assert!(file.errors.is_empty(), "{:?}", file.errors);
        (claims, rejected, messages)
    };
    let (claims, rejected, _) = read(&text);
    assert_eq!((claims.len(), rejected.clone()), (9, vec!["C1009".to_owned()]));

    let (split, split_rejected, messages) = read(&text.replacen("NM1*IL*1*POE*ANNA", "NM1*IL*1*POE~ANNA", 1));
    assert_eq!(split_rejected, ["C1003", "C1009"]);
    assert_eq!(split, claims.iter().filter(|c| *c != "C1003").cloned().collect::<Vec<_>>());
    assert!(messages.iter().any(|m| m.contains("stray segment terminator")), "{messages:?}");
    assert!(messages.iter().all(|m| !m.contains("ANNA") && !m.contains("ANN")), "{messages:?}");

    let clm = text.find("CLM*C1004").unwrap();
    let hi = clm + text[clm..].find("HI*").unwrap();
    let (empty, empty_rejected, messages) = read(&format!("{}~{}", &text[..hi], &text[hi..]));
    assert_eq!(empty_rejected, ["C1004", "C1009"]);
    assert_eq!(empty.len(), 8);
    assert!(messages.iter().any(|m| m.contains("an empty segment")), "{messages:?}");

    // A value that is not UTF-8 is not read as empty: its claim is rejected, naming the byte.
    let mut bytes = text.clone().into_bytes();
    let modifier = text.find("SV1*HC:00632:AA").unwrap() + "SV1*HC:00632:A".len();
    bytes[modifier] = 0xff;
    let file = read_837(bytes.as_slice(), options());
    let rejected: Vec<_> = file.rejected().map(|r| (r.claim_id.as_str(), r.errors[0].message.clone())).collect();
    assert_eq!(rejected[0], ("C1001", format!("a value is not UTF-8 text at byte {modifier}")));
}

/// Nothing past a segment's limits is dropped unread: a 13th diagnosis and a 5th pointer are read for
/// the judge to tell (DX008, DX011, as on every face), a second SV1 or service date in one line rejects
/// the claim. SE01 is fixed up for the added segments.
#[test]
fn values_past_the_limits_are_judged_or_refused_not_dropped() {
    let text = String::from_utf8(fixture("837p_medicare_star_crlf.x12")).unwrap().replace("\r\n", "\n");
    let with = |from: &str, to: &str| {
        let changed = text.replacen(from, to, 1);
        assert_ne!(changed, text, "{from}");
        let added = to.matches('~').count() - from.matches('~').count();
        let se = changed.rfind("\nSE*").unwrap() + 1;
        let count_end = se + 3 + changed[se + 3..].find('*').unwrap();
        let count: usize = changed[se + 3..count_end].parse().unwrap();
        let fixed = format!("{}{}{}", &changed[..se + 3], count + added, &changed[count_end..]);
        let file = read_837(fixed.as_bytes(), options());
        assert!(file.errors.is_empty(), "{:?}", file.errors);
        file
    };
    let judged = |file: &File837| {
        let claim = &file.claims().find(|c| c.claim.claim_id == "C1001").unwrap().claim;
        let today = time::macros::date!(2026 - 11 - 27);
        let report = Reference::embedded().validate(claim, &ValidationContext { today });
        report.findings.iter().map(|f| format!("{} {}", f.edit_id, f.field())).collect::<Vec<_>>()
    };
    let thirteen = "HI*ABK:M5416*ABF:M48062*ABF:M5450*ABF:M5116*ABF:M5126*ABF:M47816*ABF:M4726*ABF:M4316*ABF:M9903*ABF:M5417*ABF:M5441*ABF:M5442*ABF:G8929~";
    assert!(judged(&with("HI*ABK:M5416*ABF:M48062~", thirteen)).contains(&"DX008 diagnoses".to_owned()));
    assert!(
        judged(&with("MJ*90***1:2~", "MJ*90***1:2:1:2:2~"))
            .contains(&"DX011 lines[0].diagnosis_pointers[4]".to_owned())
    );
    let rejected =
        |file: &File837| file.rejected().map(|r| (r.claim_id.clone(), r.errors[0].message.clone())).collect::<Vec<_>>();
    let sv1 = "SV1*HC:00632:AA:P2*1500*MJ*90***1:2~";
    let second_sv1 = with(sv1, &format!("{sv1}\nSV1*HC:00630:AA*1500*MJ*90***1~"));
    assert!(
        rejected(&second_sv1)
            .contains(&("C1001".into(), "a second SV1 in one service line (LX): a line has one service".into()))
    );
    let dtp = "DTP*472*D8*20250304~";
    let second_date = with(dtp, &format!("{dtp}\nDTP*472*D8*20250306~"));
    assert!(rejected(&second_date).iter().any(|(id, m)| id == "C1001" && m.contains("a second service date")));
}

#[test]
fn other_transaction_sets_are_skipped_as_unsupported() {
    let file = read_837(&fixture("835_medicare.x12")[..], ReadOptions::default());
    assert_eq!(file.claims().count(), 0);
    assert_eq!(file.errors.len(), 1);
    assert_eq!(file.errors[0].kind, X12ErrorKind::Unsupported);
    assert_eq!(file.errors[0].at.element_name().as_deref(), Some("ST01"));
    let remits = read_835(&fixture("837p_medicare_star_crlf.x12")[..]);
    assert!(remits.transactions.is_empty());
    assert_eq!(remits.errors[0].kind, X12ErrorKind::Unsupported);
}

#[test]
fn one_byte_reads_give_the_same_result() {
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    for (name, bytes) in fixtures_837() {
        let whole = read_837(&bytes[..], options());
        let trickled = read_837(Trickle(&bytes), options());
        assert_eq!(whole, trickled, "{name}");
    }
}

fn write_options() -> Vec<WriteOptions> {
    let base = WriteOptions::default();
    vec![
        base.clone(),
        WriteOptions { line_breaks: false, ..base.clone() },
        WriteOptions {
            delimiters: Delimiters { element: b'|', repetition: Some(b'^'), component: b'>', segment: b'\n' },
            ..base.clone()
        },
        WriteOptions {
            delimiters: Delimiters { element: b'!', repetition: None, component: b'\\', segment: b'~' },
            crlf: true,
            claims_per_transaction: 2,
            ..base
        },
    ]
}

#[test]
fn read_write_read_gives_the_same_claims() {
    for (name, bytes) in fixtures_837() {
        let first = read_837(&bytes[..], options()).core_claims();
        for (i, opts) in write_options().iter().enumerate() {
            let written = write_837_to_vec(&first, opts).unwrap();
            let again = read_837(&written[..], options());
            assert!(again.errors.is_empty(), "{name} #{i}: {:?}", again.errors);
            assert_eq!(again.rejected().count(), 0, "{name} #{i}");
            assert_eq!(again.core_claims(), first, "{name} with write options #{i}");
        }
    }
}

#[test]
fn json_claims_round_trip_through_837() {
    // The shared golden claims (tests/fixtures/claims): every one the 837 can carry.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/claims");
    let mut claims = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        for file in ["claim.json", "claims.json"] {
            let Ok(text) = std::fs::read_to_string(path.join(file)) else { continue };
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let list = if value.is_array() { value.as_array().unwrap().clone() } else { vec![value] };
            for v in list {
                if let Ok(c) = Claim::from_json(&v.to_string()) {
                    claims.push(c);
                }
            }
        }
    }
    assert!(claims.len() >= 5);
    let total = claims.len();
    let mut carried = 0;
    let location =
        cptkit_core::Location { state: Some("NY".parse().unwrap()), zip: Some("100010001".parse().unwrap()) };
    let billed_in_ny = WriteOptions { billing_location: Some(location), ..WriteOptions::default() };
    for mut c in claims {
        // What an 837 does not carry comes from read options or is derived from the taxonomy.
        c.medicare_locality = None;
        c.rendering_provider.qualifying_apm = false;
        c.rendering_provider.role = c.rendering_provider.taxonomy.and_then(ProviderRole::implied_by);
        // Most golden claims give no billing location, which the 837 requires: the test gives one.
        let bytes = match write_837_to_vec(std::slice::from_ref(&c), &billed_in_ny) {
            Ok(bytes) => bytes,
            // What an 837P line cannot hold (5 modifiers, a time ending days later), and a billing
            // location without its ZIP (the 837 requires both parts), are refused.
            Err(e) => {
                let no_zip = c.billing_provider_location.is_some_and(|l| l.zip.is_none());
                let field = e.field().unwrap_or_default();
                let expected = field.starts_with("claims[0].lines[")
                    || (no_zip && field == "claims[0].billing_provider_location.zip");
                assert!(expected, "{}: {e}", c.claim_id);
                continue;
            }
        };
        let back = read_837(&bytes[..], ReadOptions::default());
        let mut expected = c.clone();
        expected.billing_provider_location = billed_in_ny.billing_location(&c).ok();
        expected.payer.id = expected.payer.id.to_ascii_lowercase();
        if expected.payer.plan_type == cptkit_core::PlanType::MedicareFfs {
            expected.payer.id = "medicare".into();
        }
        // A line with no case id gets the one the reader derives for it.
        let derived = back.core_claims().first().map(|b| b.lines.clone()).unwrap_or_default();
        for (line, read) in expected.lines.iter_mut().zip(&derived) {
            if line.case_id.is_empty() {
                line.case_id = read.case_id.clone();
            }
        }
        if back.rejected().count() == 0 && back.core_claims().len() == 1 {
            assert_eq!(back.core_claims()[0], expected, "{}", c.claim_id);
            carried += 1;
        }
    }
    // Refused: two lines an 837P cannot hold, two billing locations with a state and no ZIP.
    assert!(carried + 4 >= total, "{carried} of {total}");
}

#[test]
fn remittance_835_reads_claims_lines_adjustments_and_plb() {
    let file = read_835(&fixture("835_medicare.x12")[..]);
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let r = &file.transactions[0].body;
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.payer.name, "MEDICARE PART B");
    assert_eq!(r.payee.identifier, "1234567893");
    assert_eq!(r.payment.amount_cents, Some(129_636));
    assert_eq!(r.payment.trace, "EFT0000601");
    assert!(r.balances());
    assert_eq!(r.claims.len(), 8);
    let c1001 = &r.claims[0];
    assert_eq!(c1001.lines[0].allowed_cents, Some(26676));
    let keys: Vec<String> = c1001.lines[0].adjustments.iter().map(|a| a.key()).collect();
    assert_eq!(keys, ["CO-45", "PR-1", "PR-2"], "two triplets in one CAS");
    assert_eq!(c1001.lines[0].adjustments[2].amount_cents, 4335);
    assert_eq!(c1001.lines[0].procedure.modifiers, ["AA", "P2"]);
    let c1003 = &r.claims[2];
    assert_eq!(c1003.lines[0].paid_units, Some(dec("13")));
    assert_eq!(c1003.lines[0].original_units, Some(dec("95")));
    let c1005 = &r.claims[4];
    assert!(c1005.lines.is_empty());
    assert_eq!(c1005.adjustments.len(), 2, "claim-level CAS with no SVC");
    assert_eq!(r.claims[5].lines.len(), 1, "payee N1/REF inside a claim does not end it");
    assert_eq!(r.claims[6].status, "4");
    assert_eq!(r.claims[6].lines[0].remarks, ["N115"]);
    assert_eq!(r.provider_adjustments.len(), 2);
    assert_eq!(r.provider_adjustments[1].amount_cents, Some(-310));
    assert_eq!(r.provider_adjustments[0].reason, "WO");

    let file = read_835(&fixture("835_commercial.x12")[..]);
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    assert_eq!(file.transactions.len(), 2);
    let line = &file.transactions[0].body.claims[0].lines[0];
    assert_eq!(line.original_procedure.as_ref().unwrap().to_string(), "00630-AA-P1");
    let line = &file.transactions[1].body.claims[0].lines[0];
    assert_eq!(line.date_of_service, Some(time::macros::date!(2025 - 04 - 03)));
    assert_eq!(line.adjustments[1].group, AdjustmentGroup::Pr);
}

#[test]
fn reconciliation_of_the_medicare_remittance() {
    let claims: Vec<_> = read("837p_medicare_star_crlf.x12").claims().cloned().collect();
    let remits: Vec<_> = read_835(&fixture("835_medicare.x12")[..]).remittances().cloned().collect();
    let reference = Reference::embedded();
    let options = pricing(None);
    let result = reconcile(
        &claims,
        &remits,
        core_pricer(reference, &options, RuleBook::embedded()),
        &ReconcileOptions { tolerance: dec("1.00"), ..ReconcileOptions::default() },
    );
    let rec = |id: &str| result.claims.iter().find(|c| c.claim_id == id).unwrap();
    let line = |id: &str, i: usize| &rec(id).lines[i];

    let l = line("C1001", 0);
    assert_eq!(l.matched_by, Some(MatchedBy::ControlNumber));
    assert_eq!((l.expected, l.allowed, l.variance), (Some(dec("266.76")), Some(dec("266.76")), Some(dec("0.00"))));
    assert_eq!(l.adjustments_by_reason["CO-45"], dec("1233.24"));
    assert_eq!(l.adjustments_by_reason["PR-1"], dec("50"));
    assert!(l.flags.is_empty(), "{:?}", l.flags);

    // QK paid as expected, QX underpaid by 13.38; matched by code + modifiers + date.
    let (qk, qx) = (line("C1002", 0), line("C1002", 1));
    assert_eq!(qk.matched_by, Some(MatchedBy::CodeModifiersDate));
    assert!(qk.flags.is_empty(), "{:?}", qk.flags);
    assert_eq!(qx.expected, Some(dec("133.38")));
    assert_eq!(qx.flags, [LineFlag::Underpaid { by: dec("13.38") }]);

    // Units returned as units: total units (13) for C1003, time units (6) for C1004.
    let units = |id: &str| {
        line(id, 0).flags.iter().find_map(|f| match f {
            LineFlag::UnitsNotMinutes { reads_as, .. } => Some(reads_as.clone()),
            _ => None,
        })
    };
    assert_eq!(units("C1003").as_deref(), Some("units"), "C1003 does not price (UNT005): shape only");
    assert_eq!(line("C1003", 0).flags[0], LineFlag::NotPriced);
    assert!(line("C1003", 0).expected_note.as_deref().unwrap().contains("UNT005"));
    assert_eq!(units("C1004").as_deref(), Some("time units"));

    // Claim-level CAS and payment with no SVC: taken for the claim's one line.
    let l = line("C1005", 0);
    assert_eq!(l.matched_by, Some(MatchedBy::ClaimLevel));
    assert_eq!(l.paid, Some(dec("213.41")));
    assert_eq!(l.allowed, Some(dec("266.76")), "paid + PR");

    // No AMT*B6: allowed = paid + PR.
    let l = line("C1006", 0);
    assert!(!l.allowed_from_amt_b6);
    assert_eq!((l.expected, l.allowed), (Some(dec("246.24")), Some(dec("246.24"))));

    // Denial.
    assert!(matches!(&line("C1008", 0).flags[..], [LineFlag::Denied { reasons }] if reasons == &["CO-50"]));
    assert_eq!(rec("C1008").statuses, ["4"]);

    // Unmatched both ways.
    assert_eq!(result.unmatched_remit_claims.len(), 1);
    assert_eq!(result.unmatched_remit_claims[0].1.claim_id, "C9999");
    let t = &result.totals;
    assert_eq!(t.claims, 8);
    assert_eq!(t.lines, 9);
    assert_eq!(t.denied_lines, 1);
    assert_eq!(t.underpaid_lines, 1);
    assert_eq!(t.units_not_minutes_lines, 2);
    assert_eq!(t.unmatched_remit_claims, 1);
    assert_eq!(t.paid, dec("1318.26"), "every claim's paid amount, matched or not");
    assert_eq!(t.provider_adjustments, dec("21.90"));
    // One payer, one row: the claims (payer id `medicare`), the 835's claim no claim matched and its PLB.
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare"]);
    assert_eq!(result.totals_by_payer["medicare"], *t);
}

#[test]
fn reconciliation_follows_svc06_when_the_payer_changed_the_code() {
    let claims: Vec<_> = read("837p_commercial_pipe_newline.x12").claims().cloned().collect();
    let remits: Vec<_> = read_835(&fixture("835_commercial.x12")[..]).remittances().cloned().collect();
    let reference = Reference::embedded();
    let options = pricing(Some("60"));
    let result = reconcile(
        &claims,
        &remits,
        core_pricer(reference, &options, RuleBook::embedded()),
        &ReconcileOptions::default(),
    );
    let c2001 = result.claims.iter().find(|c| c.claim_id == "C2001").unwrap();
    let l = &c2001.lines[0];
    assert_eq!(l.matched_by, Some(MatchedBy::OriginalCode));
    assert!(l.flags.iter().any(|f| matches!(f, LineFlag::CodeChanged { paid, .. } if paid == "00640-AA")));
    assert_eq!(l.adjustments_by_group["PR"], dec("30"));
    let c2002 = result.claims.iter().find(|c| c.claim_id == "C2002").unwrap();
    assert_eq!(c2002.lines[0].allowed, Some(dec("800.00")));
    assert!(result.claims.iter().find(|c| c.claim_id == "C2003").unwrap().no_remittance);
    assert!(result.totals.unmatched_claim_lines >= 3);
    // Each 835 counts under the payer id of the claim it answers; C2003 (Humana, no alias: its NM109) and
    // the other claims with no remittance under their own.
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["61101", "bcbs-ok", "cigna", "skil0", "uhc"]);
    assert_eq!(result.totals_by_payer["cigna"].paid, dec("470"));
    assert_eq!(result.totals_by_payer["uhc"].paid, dec("600"));
}

/// The totals of one payer are one row whatever the 835 calls it (N1*PR `MEDICARE PART B`, claims'
/// payer id `medicare`): a matched claim and what its remittance says apart from any claim (a CLP that
/// matches no claim, PLB) count under the claim's payer id; a remittance that answers no claim under its
/// N1*PR named as the 837 reader names NM1*PR.
#[test]
fn totals_by_payer_keep_one_row_per_payer() {
    let remits = edited_835(|t| t);
    let claims: Vec<_> = read("837p_medicare_star_crlf.x12").claims().cloned().collect();
    let only_c1001: Vec<_> = claims.iter().filter(|c| c.claim.claim_id == "C1001").cloned().collect();
    let judge = pricing(None);
    let run = |claims: &[cptkit_x12::ParsedClaim], remits: &[cptkit_x12::Remittance], read_options: ReadOptions| {
        let options = ReconcileOptions { read_options, ..ReconcileOptions::default() };
        reconcile(claims, remits, core_pricer(Reference::embedded(), &judge, RuleBook::embedded()), &options)
    };

    // One matched pair (C1001), seven remittance claims that match no claim and the PLB: one row.
    let result = run(&only_c1001, &remits, ReadOptions::default());
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare"]);
    let m = &result.totals_by_payer["medicare"];
    assert_eq!((m.claims, m.lines, m.unmatched_remit_claims), (1, 1, 7));
    assert_eq!((m.paid, m.provider_adjustments), (dec("1318.26"), dec("21.90")));
    assert_eq!(*m, result.totals);

    // No claim at all: the 835's payer named by the 837 reader's rule (CLP06 MB: Medicare fee-for-service).
    let result = run(&[], &remits, ReadOptions::default());
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare"]);
    assert_eq!(result.totals_by_payer["medicare"].unmatched_remit_claims, 8);

    // ... and by the same payer ids: the 835's N104 (`01112`) mapped as the 837's NM109 would be.
    let mut mapped = ReadOptions::default();
    mapped.payer_ids.insert("01112".into(), "Medicare-JM".into());
    let result = run(&[], &remits, mapped.clone());
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare-jm"]);

    // A remittance that answers its claims as a secondary payer only is not the claims' payer: what it
    // says apart from them counts under its own N1*PR.
    let secondary = edited_835(|t| t.replace("CLP*C1001*1*", "CLP*C1001*2*"));
    let result = run(&only_c1001, &secondary, mapped);
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare", "medicare-jm"]);
    assert_eq!(result.totals_by_payer["medicare"].claims, 1);
    assert_eq!(result.totals_by_payer["medicare-jm"].unmatched_remit_claims, 7);

    // A remittance of PLB adjustments alone has no CLP06 to read a plan type from: on its own it counts
    // under its N1*PR (here `01112` mapped to `medicare-jm`), but beside one from the same N1*PR with
    // CLPs, under that one's payer, in either order.
    let mapped_to = |payer: &str| {
        let mut options = ReadOptions::default();
        options.payer_ids.insert("01112".into(), payer.into());
        options
    };
    let plb_only = cptkit_x12::Remittance { claims: Vec::new(), ..remits[0].clone() };
    for pair in [vec![plb_only.clone(), remits[0].clone()], vec![remits[0].clone(), plb_only.clone()]] {
        let result = run(&only_c1001, &pair, mapped_to("Medicare-JM"));
        assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare"]);
        assert_eq!(result.totals_by_payer["medicare"].provider_adjustments, dec("43.80"));
        assert_eq!(result.totals_by_payer["medicare"], result.totals);
    }
    let result = run(&[], std::slice::from_ref(&plb_only), mapped_to("Medicare-JM"));
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare-jm"]);
    // Another payer's remittance with CLPs lends it nothing.
    let other = cptkit_x12::Remittance {
        payer: cptkit_x12::RemitParty { name: "CIGNA".into(), identifier: "62308".into() },
        ..remits[0].clone()
    };
    let result = run(&only_c1001, &[other, plb_only], mapped_to("Medicare-JM"));
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["medicare", "medicare-jm"]);
    assert_eq!(result.totals_by_payer["medicare-jm"].provider_adjustments, dec("21.90"));

    // Commercial 835s with no claim: N1*PR `CIGNA HEALTHCARE` and `UNITEDHEALTHCARE` by the payer aliases.
    let commercial: Vec<_> = read_835(&fixture("835_commercial.x12")[..]).remittances().cloned().collect();
    let result = run(&[], &commercial, ReadOptions::default());
    assert_eq!(result.totals_by_payer.keys().collect::<Vec<_>>(), ["cigna", "uhc"]);
}

/// A tiny deterministic generator for the no-panic properties below.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn no_input_panics_prefixes_and_mutations() {
    let mut inputs: Vec<Vec<u8>> = fixtures_837().into_iter().map(|(_, b)| b).collect();
    inputs.push(fixture("835_medicare.x12"));
    inputs.push(fixture("835_commercial.x12"));
    let mut rng = Lcg(42);
    for bytes in &inputs {
        for cut in (0..bytes.len()).step_by(7) {
            let _ = read_837(&bytes[..cut], ReadOptions::default());
            let _ = read_835(&bytes[..cut]);
        }
        for _ in 0..300 {
            let mut m = bytes.clone();
            for _ in 0..1 + rng.next() % 8 {
                let i = (rng.next() as usize) % m.len();
                match rng.next() % 3 {
                    0 => m[i] = rng.next() as u8,
                    1 => {
                        m.remove(i);
                    }
                    _ => m.insert(i, b"*:^~|>\n\r"[(rng.next() % 8) as usize]),
                }
            }
            let _ = read_837(&m[..], ReadOptions::default());
            let _ = read_835(&m[..]);
        }
    }
}

#[test]
fn the_implementation_guides_anesthesia_example_reads_as_one_claim_with_its_findings() {
    // 005010X222A1 example 9 (anesthesia): ICD-9 HI*BK, a rendering NPI that is not an NPI, service in
    // 2005. Every value is well-formed text, so the claim is read and its problems are findings.
    let file = read("837p_x222_example9_anesthesia.x12");
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    assert_eq!(file.rejected().count(), 0);
    let claims: Vec<_> = file.claims().collect();
    assert_eq!(claims.len(), 1);
    let c = &claims[0].claim;
    assert_eq!(c.claim_id, "153829140");
    assert_eq!((c.payer.id.as_str(), c.payer.plan_type), ("medicare", cptkit_core::PlanType::MedicareFfs));
    let line = &c.lines[0];
    assert_eq!(line.procedure_code.as_str(), "00142");
    let modifiers: Vec<&str> = line.modifiers.iter().map(|m| m.as_str()).collect();
    assert_eq!(modifiers, ["QK", "QS", "P1"]);
    assert_eq!(line.quantity, dec("61"));
    assert_eq!(line.date_of_service, time::macros::date!(2005 - 01 - 12));
    assert!(matches!(c.diagnoses[..], [cptkit_core::DiagnosisCode::Icd9(code)] if code.as_str() == "366.16"));
    assert_eq!(c.rendering_provider.npi.as_str(), "5678912345");
    assert_eq!(c.rendering_provider.role, Some(ProviderRole::Anesthesiologist));
    let facility = c.service_facility_location.unwrap();
    assert_eq!((facility.state.unwrap().as_str(), facility.zip.unwrap().as_str()), ("TN", "37232"));
    assert_eq!(c.state().map(|s| s.as_str().to_owned()).as_deref(), Some("TN"));

    let report = Reference::embedded().validate(c, &context());
    let found: Vec<(String, String, Severity)> =
        report.findings.iter().map(|f| (f.edit_id.clone(), f.field(), f.severity)).collect();
    assert!(found.contains(&("NPI002".into(), "rendering_provider.npi".into(), Severity::Error)), "{found:?}");
    assert!(found.contains(&("DX010".into(), "diagnoses[0]".into(), Severity::Warning)), "{found:?}");
    let npi = report.findings.iter().find(|f| f.edit_id == "NPI002").unwrap();
    assert_eq!(claims[0].locate(npi).element_name().as_deref(), Some("NM109"));
}

/// An 837 line without `CASE` gets the patient's day as its case id (for medical-direction pairing
/// across claims); CPT003 still tells two anesthetics of that day apart by their times.
#[test]
fn same_day_anesthetics_read_from_an_837_stay_apart() {
    let cpt003 = |afternoon: &str| {
        let line = |code: &str, start: &str, end: &str| {
            format!(
                r#"{{"procedure_code":"{code}","modifiers":["AA"],"unit_basis":"MJ","quantity":"90",
                "start_time":"2025-03-04T{start}","end_time":"2025-03-04T{end}","diagnosis_pointers":[1],
                "charge_cents":150000,"date_of_service":"2025-03-04"}}"#
            )
        };
        let (start, end) = afternoon.split_once('-').unwrap();
        let json = format!(
            r#"{{"claim_id":"D","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"21",
            "patient":{{"birth_date":"1950-01-01","member_id":"M1"}},"billing_provider_npi":"1234567893",
            "billing_provider_location":{{"state":"NY","zip":"100010001"}},
            "rendering_provider":{{"npi":"1558598797","taxonomy":"207L00000X"}},"diagnoses":["M54.16"],
            "lines":[{},{}]}}"#,
            line("00632", "08:00", "09:30"),
            line("00630", start, end)
        );
        let bytes = write_837_to_vec(&[Claim::from_json(&json).unwrap()], &WriteOptions::default()).unwrap();
        let back = read_837(&bytes[..], ReadOptions::default());
        let claims = back.core_claims();
        assert_eq!(claims.len(), 1, "{:?}", back.errors);
        let lines = &claims[0].lines;
        assert!(lines[0].case_id.starts_with("x12-") && lines[0].case_id == lines[1].case_id);
        let report = Reference::embedded().validate(&claims[0], &context());
        report.findings.iter().filter(|f| f.edit_id == "CPT003").map(|f| f.field()).collect::<Vec<_>>()
    };
    assert!(cpt003("15:00-16:30").is_empty());
    assert_eq!(cpt003("09:00-10:30"), ["lines[0].procedure_code"]);
}

/// The Medicare 835 with `edit` applied to its text, SE01 recounted so the envelope stays valid.
fn edited_835(edit: impl FnOnce(String) -> String) -> Vec<cptkit_x12::Remittance> {
    let text = edit(String::from_utf8(fixture("835_medicare.x12")).unwrap());
    let mut segments: Vec<String> = text.split('~').map(|s| s.trim_start().to_owned()).collect();
    let st = segments.iter().position(|s| s.starts_with("ST*")).unwrap();
    let se = segments.iter().position(|s| s.starts_with("SE*")).unwrap();
    segments[se] = format!("SE*{}*0001", se - st + 1);
    let file = read_835(segments.join("~\n").as_bytes());
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    file.remittances().cloned().collect()
}

/// The Medicare 837 reconciled against `remits`.
fn reconcile_medicare(remits: &[cptkit_x12::Remittance]) -> cptkit_x12::Reconciliation {
    let claims: Vec<_> = read("837p_medicare_star_crlf.x12").claims().cloned().collect();
    let options = pricing(None);
    reconcile(
        &claims,
        remits,
        core_pricer(Reference::embedded(), &options, RuleBook::embedded()),
        &ReconcileOptions { tolerance: dec("1.00"), ..ReconcileOptions::default() },
    )
}

fn claim_rec<'a>(result: &'a cptkit_x12::Reconciliation, id: &str) -> &'a cptkit_x12::ClaimReconciliation {
    result.claims.iter().find(|c| c.claim_id == id).unwrap()
}

/// A secondary payer's answer for a claim (CLP02 2) is not added to the primary's, which the claim is
/// judged on: adding it doubled the allowance and flagged the line above expected. It is told.
#[test]
fn a_secondary_payers_answer_is_told_not_added_to_the_primarys() {
    let secondary = "CLP*C1001*2*1500*50*0*MB*SEC0001*11*1~SVC*HC:00632:AA:P2*1500*50**90~DTM*472*20250304~\
                     CAS*OA*23*1450~AMT*B6*266.76~";
    let alone = reconcile_medicare(&edited_835(|t| t));
    let both = reconcile_medicare(&edited_835(|t| t.replacen("CLP*C1002*", &format!("{secondary}CLP*C1002*"), 1)));
    let (before, after) = (&claim_rec(&alone, "C1001").lines[0], &claim_rec(&both, "C1001").lines[0]);
    assert_eq!((after.paid, after.allowed), (before.paid, before.allowed));
    assert_eq!(after.flags, before.flags);
    let shown: Vec<String> = both.problems.iter().map(ToString::to_string).collect();
    assert!(shown.iter().any(|p| p.contains("CLP02 2 for claim C1001 is a secondary or later payer's")), "{shown:?}");
}

/// A line paid 0 because its whole allowance went to the deductible (PR-1) was allowed, not denied: it is
/// judged on its allowance, so an allowance below the expected amount is still underpaid.
#[test]
fn a_line_paid_nothing_for_the_deductible_is_not_a_denial() {
    let deductible = |allowed: &str, write_down: &str| {
        edited_835(|t| {
            t.replace("CLP*C1001*1*1500*173.41*93.35*", &format!("CLP*C1001*1*1500*0*{allowed}*"))
                .replace("SVC*HC:00632:AA:P2*1500*173.41**90", "SVC*HC:00632:AA:P2*1500*0**90")
                .replace("CAS*CO*45*1233.24~", &format!("CAS*CO*45*{write_down}~"))
                .replace("CAS*PR*1*50**2*43.35~", &format!("CAS*PR*1*{allowed}~"))
                .replace("AMT*B6*266.76~", &format!("AMT*B6*{allowed}~"))
        })
    };
    let result = reconcile_medicare(&deductible("266.76", "1233.24"));
    let l = &claim_rec(&result, "C1001").lines[0];
    assert_eq!((l.paid, l.allowed), (Some(dec("0")), Some(dec("266.76"))));
    assert!(l.flags.is_empty(), "{:?}", l.flags);
    let result = reconcile_medicare(&deductible("200", "1300"));
    let l = &claim_rec(&result, "C1001").lines[0];
    assert!(matches!(&l.flags[..], [LineFlag::Underpaid { by }] if *by == dec("66.76")), "{:?}", l.flags);
}

/// An adjustment amount without its reason code is reported and leaves the allowed amount unknown:
/// dropped, it made a false "underpaid".
#[test]
fn an_adjustment_without_its_reason_is_reported_and_unknown() {
    let remits = edited_835(|t| t.replace("CAS*PR*1*50**2*43.35~", "CAS*PR**93.35~").replace("AMT*B6*266.76~", ""));
    let result = reconcile_medicare(&remits);
    let l = &claim_rec(&result, "C1001").lines[0];
    assert_eq!((l.paid, l.allowed), (Some(dec("173.41")), None));
    assert!(
        matches!(&l.flags[..], [LineFlag::UnreadableAmount { at }] if at[0].element_name().as_deref() == Some("CAS02")),
        "{:?}",
        l.flags
    );
    let shown: Vec<String> = result.problems.iter().map(ToString::to_string).collect();
    assert!(shown.iter().any(|p| p.contains("element CAS02") && p.contains("reason code) is empty")), "{shown:?}");
}

/// Units paid (SVC05) that are no X12 number of at most 15 digits are a problem naming the element,
/// and stay unknown: no panic on a 29-digit value, no silent skip of the minutes checks on "9O".
#[test]
fn units_paid_that_cannot_be_read_are_reported_and_unknown() {
    for units in ["9O", "79228162514264337593543950335"] {
        let remits = edited_835(|t| {
            t.replace("SVC*HC:00632:AA:P2*1500*173.41**90", &format!("SVC*HC:00632:AA:P2*1500*173.41**{units}"))
        });
        let svc = &remits[0].claims[0].lines[0];
        assert_eq!((svc.paid_units, svc.paid_cents), (None, Some(17_341)), "{units}");
        let result = reconcile_medicare(&remits);
        let shown: Vec<String> = result.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].contains("element SVC05") && shown[0].contains("not a number of units"), "{shown:?}");
        assert!(!shown[0].contains(units), "{shown:?}");
        assert_eq!(claim_rec(&result, "C1001").lines[0].paid, Some(dec("173.41")));
    }
}

#[test]
fn an_835_amount_that_cannot_be_read_is_unknown_and_reported_never_zero() {
    let remits = edited_835(|t| {
        t.replace("SVC*HC:00632:AA:P2*1500*173.41**90", "SVC*HC:00632:AA:P2*1500*17X.41**90")
            .replace("BPR*I*1296.36*", "BPR*I*12#6.36*")
    });
    let svc = &remits[0].claims[0].lines[0];
    assert_eq!((svc.charge_cents, svc.paid_cents), (Some(150_000), None));
    assert_eq!(svc.unreadable.len(), 1);
    assert_eq!(svc.unreadable[0].element_name().as_deref(), Some("SVC03"));
    assert_eq!(remits[0].payment.amount_cents, None, "BPR02 is not 0 either");
    assert!(!remits[0].balances());

    let result = reconcile_medicare(&remits);
    let l = &claim_rec(&result, "C1001").lines[0];
    assert_eq!((l.paid, l.allowed, l.variance), (None, None, None));
    assert!(
        matches!(&l.flags[..], [LineFlag::UnreadableAmount { at }] if at[0].element_name().as_deref() == Some("SVC03"))
    );
    // The problems reach the result with element and byte offset, and show no value.
    let shown: Vec<String> = result.problems.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown.iter().any(|p| p.contains("element SVC03, byte ") && p.contains("is not an amount")), "{shown:?}");
    assert!(shown.iter().any(|p| p.contains("element BPR02")), "{shown:?}");
    assert!(shown.iter().all(|p| !p.contains("17X") && !p.contains("12#6")), "{shown:?}");
    let t = &result.totals;
    assert_eq!(t.denied_lines, 1, "only C1008, not the line whose payment could not be read");
    assert_eq!(t.unreadable_lines, 1);
    assert_eq!(t.paid, dec("1318.26") - dec("173.41"), "the unknown payment is left out, not counted as 0");

    // A claim-level amount (CLP04) that cannot be read leaves the claim's one line unknown too.
    let remits = edited_835(|t| t.replace("CLP*C1005*1*1500*213.41*", "CLP*C1005*1*1500*2l3.41*"));
    let result = reconcile_medicare(&remits);
    let l = &claim_rec(&result, "C1005").lines[0];
    assert_eq!(l.paid, None);
    assert!(
        matches!(&l.flags[..], [LineFlag::UnreadableAmount { at }] if at[0].element_name().as_deref() == Some("CLP04"))
    );

    // A CAS amount that cannot be read: paid is known, allowed and a denial are not judged.
    let remits = edited_835(|t| t.replace("CAS*CO*50*900~", "CAS*CO*50*9O0~"));
    let result = reconcile_medicare(&remits);
    let l = &claim_rec(&result, "C1008").lines[0];
    assert_eq!((l.paid, l.allowed), (Some(dec("0")), None));
    assert!(
        matches!(&l.flags[..], [LineFlag::UnreadableAmount { at }] if at[0].element_name().as_deref() == Some("CAS03"))
    );

    // A PLB amount that cannot be read: the adjustment is kept with its amount unknown, the balance is
    // not shown, and the totals hold the other adjustment only.
    let remits = edited_835(|t| t.replace("WO:C0000123*25*", "WO:C0000123*2S*"));
    let plb = &remits[0].provider_adjustments;
    assert_eq!(
        plb.iter().map(|p| (p.reason.as_str(), p.amount_cents)).collect::<Vec<_>>(),
        [("WO", None), ("L6", Some(-310))]
    );
    assert!(!remits[0].balances());
    let result = reconcile_medicare(&remits);
    assert_eq!(result.totals.provider_adjustments, dec("-3.10"));
    assert!(result.problems.iter().any(|p| p.to_string().contains("element PLB04")), "{:?}", result.problems);
}

/// An 835 amount with a fraction of a cent is not rounded to cents: each is a problem naming its element,
/// and the amount is unknown, as one that cannot be read is. Zeros past the cents are cents.
#[test]
fn an_835_amount_with_more_than_two_decimals_is_reported_and_unknown_never_rounded() {
    let remits = edited_835(|t| {
        t.replace("SVC*HC:00632:AA:P2*1500*173.41**90", "SVC*HC:00632:AA:P2*1500*173.405**90")
            .replace("AMT*B6*272.92~", "AMT*B6*272.925~")
            .replace("CLP*C1005*1*1500*213.41*", "CLP*C1005*1*1500*213.414*")
            .replace("CAS*CO*50*900~", "CAS*CO*50*900.001~")
            .replace("WO:C0000123*25*", "WO:C0000123*25.005*")
            .replace("BPR*I*1296.36*", "BPR*I*1296.365*")
    });
    let r = &remits[0];
    let svc = &r.claims[0].lines[0];
    assert_eq!((svc.charge_cents, svc.paid_cents), (Some(150_000), None), "173.405 is not 173.41 nor 173.40");
    assert_eq!(svc.unreadable.iter().map(|u| u.element_name()).collect::<Vec<_>>(), [Some("SVC03".into())]);
    assert_eq!(r.claims[2].lines[0].allowed_cents, None);
    assert_eq!(r.claims[4].paid_cents, None);
    assert!(r.claims[6].lines[0].adjustments.is_empty(), "an adjustment with an unknown amount is not one of 0");
    assert_eq!(r.provider_adjustments[0].amount_cents, None);
    assert_eq!(r.payment.amount_cents, None);
    assert!(!r.balances());
    let shown: Vec<String> = r.problems.iter().map(ToString::to_string).collect();
    for element in ["SVC03", "AMT02", "CLP04", "CAS03", "PLB04", "BPR02"] {
        assert!(
            shown
                .iter()
                .any(|p| p.contains(&format!("element {element}, byte ")) && p.contains("more than two decimals")),
            "{element}: {shown:?}"
        );
    }
    assert_eq!(shown.len(), 6, "{shown:?}");
    assert!(shown.iter().all(|p| !p.contains("173.4") && !p.contains("900.0")), "no value shown: {shown:?}");

    let result = reconcile_medicare(&remits);
    let unreadable = |id: &str| {
        claim_rec(&result, id).lines[0].flags.iter().find_map(|f| match f {
            LineFlag::UnreadableAmount { at } => at[0].element_name(),
            _ => None,
        })
    };
    assert_eq!(unreadable("C1001").as_deref(), Some("SVC03"));
    assert_eq!(unreadable("C1003").as_deref(), Some("AMT02"));
    assert_eq!(unreadable("C1005").as_deref(), Some("CLP04"));
    assert_eq!(unreadable("C1008").as_deref(), Some("CAS03"), "not judged a denial on a partial answer");
    let c1001 = &claim_rec(&result, "C1001").lines[0];
    assert_eq!((c1001.paid, c1001.allowed, c1001.variance), (None, None, None));
    let t = &result.totals;
    assert_eq!((t.unreadable_lines, t.denied_lines), (4, 0));
    assert_eq!(t.paid, dec("1318.26") - dec("173.41") - dec("213.41"), "unknown payments left out, never rounded in");
    assert_eq!(t.provider_adjustments, dec("-3.10"));

    // Zeros past the cents are exact cents: no problem, the same sums.
    let zeros = edited_835(|t| {
        t.replace("SVC*HC:00632:AA:P2*1500*173.41**90", "SVC*HC:00632:AA:P2*1500.000*173.4100**90")
            .replace("AMT*B6*266.76~", "AMT*B6*266.760~")
            .replace("CAS*CO*50*900~", "CAS*CO*50*900.0000~")
            .replace("BPR*I*1296.36*", "BPR*I*1296.3600*")
    });
    assert!(zeros[0].problems.is_empty(), "{:?}", zeros[0].problems);
    assert_eq!(zeros[0].claims[0].lines[0].paid_cents, Some(17_341));
    assert!(zeros[0].balances());
    assert_eq!(reconcile_medicare(&zeros).totals, reconcile_medicare(&edited_835(|t| t)).totals);
}

#[test]
fn a_claim_level_adjustment_beside_svc_lines_is_in_the_totals() {
    let plain = reconcile_medicare(&edited_835(|t| t));
    let remits = edited_835(|t| t.replace("*25084000200*11*1~", "*25084000200*11*1~\nCAS*OA*23*5~"));
    let result = reconcile_medicare(&remits);
    let c = claim_rec(&result, "C1002");
    assert_eq!(c.claim_adjustments.iter().map(|a| a.key()).collect::<Vec<_>>(), ["OA-23"]);
    assert!(c.lines.iter().all(|l| !l.adjustments_by_reason.contains_key("OA-23")), "it belongs to no line");
    let by_reason = |r: &cptkit_x12::Reconciliation| r.totals.adjustments_by_reason.get("OA-23").copied();
    assert_eq!((by_reason(&plain), by_reason(&result)), (None, Some(dec("5"))));
    let payer_totals = result.totals_by_payer.values().next().unwrap();
    assert_eq!(payer_totals.adjustments_by_reason.get("OA-23"), Some(&dec("5")));
}

/// C1001 (one line, paid 173.41, SVC05 90 minutes) reversed in full.
const C1001_REVERSAL: &str = "CLP*C1001*22*-1500*-173.41*-93.35*MB*25084000100*11*1~
SVC*HC:00632:AA:P2*-1500*-173.41**-90~
DTM*472*20250304~
CAS*CO*45*-1233.24~
CAS*PR*1*-50**2*-43.35~
REF*6R*C1001-1~
AMT*B6*-266.76~
";

/// C1001 corrected: paid 5.00 more.
const C1001_CORRECTION: &str = "CLP*C1001*1*1500*178.41*93.35*MB*25084000101*11*7~
SVC*HC:00632:AA:P2*1500*178.41**90~
DTM*472*20250304~
CAS*CO*45*1228.24~
CAS*PR*1*50**2*43.35~
REF*6R*C1001-1~
AMT*B6*271.76~
";

#[test]
fn a_reversal_and_its_correction_add_up_in_any_order() {
    let with = |parts: &[&str]| {
        let parts = parts.concat();
        edited_835(|t| t.replace("CLP*C1002*", &format!("{parts}CLP*C1002*")))
    };
    // Reversed with no correction: not denied, not units for minutes, nothing to compare.
    let result = reconcile_medicare(&with(&[C1001_REVERSAL]));
    let c = claim_rec(&result, "C1001");
    assert_eq!(c.statuses, ["1", "22"]);
    let l = &c.lines[0];
    assert_eq!((l.paid, l.paid_units, l.variance), (Some(dec("0")), Some(dec("0")), None));
    assert_eq!(l.adjustments_by_reason["CO-45"], dec("0"));
    assert_eq!(l.flags, [LineFlag::Reversed]);
    assert_eq!(result.totals.denied_lines, 1, "only C1008");
    assert_eq!(result.totals.units_not_minutes_lines, 2, "C1003 and C1004 only");

    // Reversal and correction, in either order: the correction's amounts, 90 minutes paid.
    for parts in [[C1001_REVERSAL, C1001_CORRECTION], [C1001_CORRECTION, C1001_REVERSAL]] {
        let result = reconcile_medicare(&with(&parts));
        let l = &claim_rec(&result, "C1001").lines[0];
        assert_eq!((l.paid, l.allowed, l.paid_units), (Some(dec("178.41")), Some(dec("271.76")), Some(dec("90"))));
        assert_eq!(l.flags, [LineFlag::AboveExpected { by: dec("5.00") }], "{parts:?}");
    }

    // A CO adjustment reversed in part still nets positive: with paid 0, that is a denial.
    let denial = "CLP*C1008*22*-900*0**MB*25084000800*11*1~
SVC*HC:00635:AA*-900*0**-45~
DTM*472*20250313~
CAS*CO*50*-100~
REF*6R*C1008-1~
";
    let result = reconcile_medicare(&edited_835(|t| t.replace("CLP*C9999*", &format!("{denial}CLP*C9999*"))));
    let l = &claim_rec(&result, "C1008").lines[0];
    assert_eq!(l.adjustments_by_reason["CO-50"], dec("800"));
    assert!(matches!(&l.flags[..], [LineFlag::Denied { reasons }] if reasons == &["CO-50"]));
}

#[test]
fn a_claim_paid_at_claim_level_keeps_its_payment_and_denial() {
    // C1002 has two lines (QK and QX); the payer answers for the claim as a whole.
    let claim_level = |clp: &str| {
        edited_835(|t| {
            let start = t.find("CLP*C1002*").unwrap();
            let end = t.find("CLP*C1003*").unwrap();
            format!("{}{clp}{}", &t[..start], &t[end..])
        })
    };
    let result = reconcile_medicare(&claim_level(
        "CLP*C1002*1*3000*202.7*50.68*MB*25084000200*11*1~\nCAS*CO*45*2746.62~\nCAS*PR*2*50.68~\n",
    ));
    let c = claim_rec(&result, "C1002");
    assert!(!c.no_remittance);
    let paid = c.claim_level.as_ref().unwrap();
    assert_eq!((paid.paid, paid.allowed), (Some(dec("202.70")), Some(dec("253.38"))));
    assert_eq!(paid.expected, Some(dec("266.76")), "QK 133.38 + QX 133.38");
    assert_eq!(paid.flags, [LineFlag::Underpaid { by: dec("13.38") }]);
    for l in &c.lines {
        assert_eq!(l.matched_by, Some(MatchedBy::ClaimLevel));
        assert_eq!(l.flags, [LineFlag::PaidAtClaimLevel], "not 'no remittance line'");
        assert_eq!(l.paid, None, "the 835 does not say how the payment splits over the lines");
    }
    let t = &result.totals;
    assert_eq!(t.paid, dec("1318.26"), "every CLP04, the claim-level one included");
    let unmatched_before = reconcile_medicare(&edited_835(|t| t)).totals.unmatched_claim_lines;
    assert_eq!((t.unmatched_claim_lines, t.claims_paid_at_claim_level, t.underpaid_claims), (unmatched_before, 1, 1));
    // C1001 43.35, C1002 at claim level 50.68, C1003 54.58, C1004 and C1005 53.35 each, C1006 49.25.
    assert_eq!(t.adjustments_by_reason["PR-2"], dec("304.56"));

    // Denied at claim level: every line is denied, none is "no remittance".
    let result = reconcile_medicare(&claim_level("CLP*C1002*4*3000*0**MB*25084000200*11*1~\nCAS*CO*50*3000~\n"));
    let c = claim_rec(&result, "C1002");
    let denied = LineFlag::Denied { reasons: vec!["CO-50".into()] };
    assert_eq!(c.claim_level.as_ref().unwrap().flags, std::slice::from_ref(&denied));
    for l in &c.lines {
        assert_eq!(l.flags, [LineFlag::PaidAtClaimLevel, denied.clone()]);
    }
    assert_eq!(result.totals.denied_lines, 3, "C1002's two lines and C1008");
    assert_eq!(result.totals.unmatched_claim_lines, unmatched_before);
}
