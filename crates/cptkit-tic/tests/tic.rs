#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The TiC reader on the fixtures of tests/fixtures/tic (invented payers and rates; see its README):
//! counts, benchmark rows against hand-computed quantiles, malformed records with their byte offsets,
//! gzip, provider references in the file / in a separate file / before and after in_network, the NPPES
//! join and the Parquet round trip.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cptkit_tic::{
    CodeFilter, Ingest, IngestOptions, Nppes, PayerBenchmark, RateBasis, ingest, read_dir, write_parquet,
};
use rust_decimal::Decimal;
use time::macros::date;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tic").join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tic").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn options() -> IngestOptions {
    IngestOptions { ingested_on: date!(2026 - 11 - 27), ..IngestOptions::default() }
}

fn with_nppes() -> IngestOptions {
    IngestOptions { nppes: Some(Nppes::load(&fixture("nppes_sample.csv")).unwrap()), ..options() }
}

fn read(name: &str, options: &IngestOptions) -> Ingest {
    let result = ingest(&[fixture(name)], options);
    if let Some(e) = &result.summary.files[0].error {
        panic!("{name}: {e}");
    }
    result
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A row as a short line: code pos [mods] taxonomy type basis | count min p10 p25 median p75 p90 max.
fn line(r: &PayerBenchmark) -> String {
    format!(
        "{} {} [{}] {} {} {} | {} {} {} {} {} {} {} {}",
        r.billing_code,
        r.place_of_service.as_deref().unwrap_or("-"),
        r.modifiers.join(","),
        r.taxonomy.as_deref().unwrap_or("-"),
        r.negotiated_type,
        r.rate_basis.as_str(),
        r.count,
        r.min,
        r.p10,
        r.p25,
        r.median,
        r.p75,
        r.p90,
        r.max
    )
}

fn lines(rows: &[PayerBenchmark]) -> Vec<String> {
    rows.iter().map(line).collect()
}

#[test]
fn v1_file_with_in_file_provider_references() {
    let result = read("v1_in_file_refs.json", &options());
    let f = &result.summary.files[0];
    assert_eq!(f.reporting_entity_name, "Example Health Plan (fixture)");
    assert_eq!((f.version.as_str(), f.last_updated_on.as_str(), f.gzip), ("1.3.1", "2025-03-01", false));
    assert_eq!((f.records, f.kept, f.skipped, f.not_fee_for_service), (4, 2, 1, 1), "99213 skipped, 00630 is a bundle");
    assert_eq!((f.prices, f.provider_references, f.malformed.len()), (6, 2, 0));
    // 2025 national CF 20.3178. 85.00 is on 00632 (7 base units) and 00840 (6): code-independent, so a CF
    // (rule 1). 90.00 and 80.00 are below 7 x 20.3178 = 142.2246 (rule 2). 1200.00 and 900.00 are above
    // their floors and tied to one code while the file prices codes of 6 and 7 base units (rule 3).
    // Two per-unit values 85, 90: h = (2 - 1) p, so p10 = 85 + 0.1 x 5 = 85.5, p25 86.25, median 87.5, ...
    assert_eq!(
        lines(&result.benchmarks),
        [
            "00632 21 [] - negotiated per_unit | 2 85 85.5 86.25 87.5 88.75 89.5 90",
            "00632 21 [] - negotiated per_case | 1 1200 1200 1200 1200 1200 1200 1200",
            "00632 21 [QZ] - negotiated per_unit | 1 80 80 80 80 80 80 80",
            "00632 22 [] - negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00840 21 [] - negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00840 22 [] - negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00840 22 [] - negotiated per_case | 1 900 900 900 900 900 900 900",
        ]
    );
    let first = &result.benchmarks[0];
    assert_eq!(first.provenance.source_file, "v1_in_file_refs.json");
    assert_eq!(first.provenance.schema_version, "1.3.1");
    assert_eq!((first.billing_code_type.as_str(), first.billing_class.as_str()), ("CPT", "professional"));
    let medicare = first.medicare.as_ref().unwrap();
    // 87.5 / 20.3178 x 100 = 430.657... -> 430.66.
    assert_eq!(
        (medicare.year, medicare.conversion_factor, medicare.median_percent_of_medicare),
        (2025, d("20.3178"), d("430.66"))
    );
    assert!(result.benchmarks.iter().filter(|r| r.rate_basis != RateBasis::PerUnit).all(|r| r.medicare.is_none()));
}

#[test]
fn v2_file_with_provider_groups_and_hand_computed_quantiles() {
    let result = read("v2_provider_groups.json", &options());
    let f = &result.summary.files[0];
    assert_eq!((f.version.as_str(), f.records, f.kept, f.skipped, f.prices), ("2.0.0", 2, 1, 1, 7));
    // Fee schedule 70, 72.50, 75, 80, 95.25 (all below 7 x 20.4976 = 143.4832: per unit). n = 5, h = 4p:
    // p10 h 0.4 -> 70 + 0.4 x 2.5 = 71; p25 h 1 -> 72.5; median 75; p75 h 3 -> 80; p90 h 3.6 -> 80 + 0.6 x 15.25 = 89.15.
    // The derived institutional price lists no place of service; one code only, so the heuristic cannot
    // tell (unknown). The percentage is a percentage.
    assert_eq!(
        lines(&result.benchmarks),
        [
            "00790 - [] - derived unknown | 1 1500 1500 1500 1500 1500 1500 1500",
            "00790 21 [] - fee schedule per_unit | 5 70 71 72.5 75 80 89.15 95.25",
            "00790 21 [] - percentage percentage | 1 150 150 150 150 150 150 150",
        ]
    );
    let fee = &result.benchmarks[1];
    // 2026: the non-QP national CF 20.4976; 75 / 20.4976 x 100 = 365.897... -> 365.90.
    let medicare = fee.medicare.as_ref().unwrap();
    assert_eq!(
        (medicare.year, medicare.conversion_factor, medicare.median_percent_of_medicare),
        (2026, d("20.4976"), d("365.9"))
    );
}

#[test]
fn code_filter_list_and_all() {
    let only = IngestOptions { codes: CodeFilter::Codes(BTreeSet::from(["99213".to_owned()])), ..options() };
    let result = read("v1_in_file_refs.json", &only);
    assert_eq!(
        lines(&result.benchmarks),
        ["99213 11 [] - negotiated per_service | 1 111.11 111.11 111.11 111.11 111.11 111.11 111.11"]
    );
    let f = &result.summary.files[0];
    assert_eq!((f.kept, f.skipped), (1, 3), "anesthesia records are read for the heuristic but are not kept");

    let all = IngestOptions { codes: CodeFilter::All, ..options() };
    let result = read("v2_provider_groups.json", &all);
    let codes: BTreeSet<&str> = result.benchmarks.iter().map(|r| r.billing_code.as_str()).collect();
    assert_eq!(codes, BTreeSet::from(["00790", "27447"]));
}

#[test]
fn gzip_reads_the_same_as_plain() {
    let plain = read("v1_in_file_refs.json", &with_nppes());
    let gzip = read("v1_in_file_refs.json.gz", &with_nppes());
    assert!(gzip.summary.files[0].gzip);
    assert_eq!(gzip.summary.files[0].bytes, plain.summary.files[0].bytes, "offsets count uncompressed bytes");
    let strip = |rows: Vec<PayerBenchmark>| -> Vec<PayerBenchmark> {
        rows.into_iter()
            .map(|mut r| {
                r.provenance.source_file.clear();
                r
            })
            .collect()
    };
    assert_eq!(strip(gzip.benchmarks), strip(plain.benchmarks));
}

#[test]
fn malformed_records_are_reported_at_their_byte_offset_and_the_rest_is_read() {
    let bytes = std::fs::read(fixture("bad_record.json")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    // A record starts at the "{" that opens the line holding its name.
    let record_at = |name: &str| text[..text.find(name).unwrap()].rfind('{').unwrap() as u64;
    let result = ingest(&[fixture("bad_record.json")], &options());
    let f = &result.summary.files[0];
    assert!(f.error.is_none(), "{:?}", f.error);
    assert_eq!((f.records, f.kept, f.skipped, f.malformed.len()), (6, 2, 1, 3));

    let truncated = &f.malformed[0];
    assert_eq!(truncated.record_offset, record_at("TRUNCATED record"));
    assert_eq!(truncated.error_offset, record_at("WRONG TYPE rate"), "where the next record starts");
    assert!(truncated.message.starts_with("truncated: a new in_network record starts at byte"), "{truncated}");

    let rate = &f.malformed[1];
    assert_eq!(rate.record_offset, record_at("WRONG TYPE rate"));
    assert_eq!(rate.error_offset, text.find("\"eighty\"").unwrap() as u64, "the offending value itself");
    assert_eq!(rate.path, "negotiated_rates[0].negotiated_prices[0].negotiated_rate");
    assert_eq!(rate.message, "expected a number, found \"eighty\"");

    let prices = &f.malformed[2];
    assert_eq!(prices.record_offset, record_at("WRONG TYPE prices"));
    assert_eq!(prices.path, "negotiated_rates[0].negotiated_prices");
    assert!(prices.message.starts_with("invalid type: map, expected a sequence"), "{prices}");
    // At the "{" that should have been a "[".
    let brace = text.find("\"negotiated_prices\": {\"negotiated_type\"").unwrap() + "\"negotiated_prices\": ".len();
    assert_eq!(prices.error_offset, brace as u64);

    // The good records on both sides still count.
    assert_eq!(
        lines(&result.benchmarks),
        [
            "00632 21 [] - negotiated per_unit | 1 88 88 88 88 88 88 88",
            "00840 21 [] - negotiated per_unit | 1 92 92 92 92 92 92 92",
        ]
    );
}

/// A negotiated rate is a price: a negative one, or one the store's decimal(18,4) cannot hold (it would
/// be written as another number, and sums and ratios of huge ones overflow), is malformed, not read;
/// zero is a price.
#[test]
fn rates_that_are_no_price_are_malformed() {
    let text = std::fs::read_to_string(fixture("bad_record.json")).unwrap();
    let with_rate = |rate: &str| {
        let path = scratch("no_price").join("in.json");
        std::fs::write(&path, text.replace("\"eighty\"", rate)).unwrap();
        ingest(&[path], &options()).summary.files.remove(0)
    };
    for (rate, message) in [
        ("-50", "a negotiated rate is a price, not negative: found -50"),
        ("1e14", "a negotiated rate must be less than 100000000000000 dollars: found 1e14"),
        ("79228162514264337593543950335", "a negotiated rate must be less than 100000000000000 dollars"),
    ] {
        let f = with_rate(rate);
        assert_eq!((f.kept, f.malformed.len()), (2, 3), "{rate}");
        assert_eq!(f.malformed[1].path, "negotiated_rates[0].negotiated_prices[0].negotiated_rate");
        assert!(f.malformed[1].message.starts_with(message), "{}", f.malformed[1].message);
    }
    let f = with_rate("0");
    assert_eq!((f.kept, f.malformed.len()), (3, 2));
}

#[test]
fn a_file_that_breaks_off_keeps_what_was_read() {
    let full = std::fs::read_to_string(fixture("v2_provider_groups.json")).unwrap();
    let cut = &full[..full.find("Total knee").unwrap()];
    let path = scratch("breaks_off").join("cut.json");
    std::fs::write(&path, cut).unwrap();
    let result = ingest(&[&path], &options());
    let f = &result.summary.files[0];
    assert_eq!((f.records, f.malformed.len()), (2, 1));
    assert_eq!(f.malformed[0].record_offset, cut.rfind('{').unwrap() as u64);
    assert!(f.malformed[0].message.contains("the input ends inside this value"), "{}", f.malformed[0]);
    let error = f.error.as_ref().expect("the file could not be read to its end").to_string();
    assert!(error.contains("no further record follows"), "{error}");
    assert_eq!(result.benchmarks.len(), 3, "the complete 00790 record still counts");
}

/// Data after the file object, or a gzip stream whose CRC does not match, is an error on the file (its
/// records are kept): both used to read as clean.
#[test]
fn trailing_data_and_a_gzip_crc_mismatch_are_errors() {
    let clean = ingest(&[fixture("v1_in_file_refs.json")], &options());
    let mut text = std::fs::read(fixture("v1_in_file_refs.json")).unwrap();
    text.extend_from_slice(b"\nGARBAGE {]");
    let path = scratch("trailing").join("v1_in_file_refs.json"); // the same source file name
    std::fs::write(&path, &text).unwrap();
    let result = ingest(&[&path], &options());
    let error = result.summary.files[0].error.as_ref().expect("trailing data").to_string();
    assert!(error.contains("expected the end of the input after the file object, found 'G'"), "{error}");
    assert_eq!(result.benchmarks, clean.benchmarks);

    let mut gzip = std::fs::read(fixture("v1_in_file_refs.json.gz")).unwrap();
    let crc = gzip.len() - 8;
    gzip[crc..crc + 4].fill(0);
    let path = scratch("bad_crc").join("in.json.gz");
    std::fs::write(&path, &gzip).unwrap();
    let result = ingest(&[&path], &options());
    assert!(result.summary.files[0].error.is_some(), "a CRC mismatch is not clean");
}

#[test]
fn nppes_primary_taxonomy() {
    let nppes = Nppes::load(&fixture("nppes_sample.csv")).unwrap();
    assert_eq!(nppes.primary_taxonomy(1111111112), Some("207L00000X"));
    assert_eq!(nppes.primary_taxonomy(2222222228), Some("367500000X"), "the slot marked Y, not slot 1");
    assert_eq!(nppes.primary_taxonomy(4444444440), None, "no slot marked Y: not guessed");
    assert_eq!(nppes.len(), 4);
    // A Latin-1 name (not UTF-8) in a column cptkit does not read loses nothing.
    let mut bytes = std::fs::read(fixture("nppes_sample.csv")).unwrap();
    let at = bytes.windows(11).position(|w| w == b"ANESTHESIOL").unwrap();
    bytes[at] = 0xC9; // "É" in Latin-1
    let path = scratch("nppes_latin1").join("nppes.csv");
    std::fs::write(&path, bytes).unwrap();
    let latin1 = Nppes::load(&path).unwrap();
    assert_eq!((latin1.len(), latin1.primary_taxonomy(1111111112)), (4, Some("207L00000X")));
}

#[test]
fn nppes_join_with_in_line_provider_groups() {
    let result = read("v2_provider_groups.json", &with_nppes());
    let fee: Vec<String> = lines(&result.benchmarks).into_iter().filter(|l| l.contains("fee schedule")).collect();
    // 70 (NPIs of both taxonomies) counts in both; 80's NPI is not in the NPPES file.
    // 207L00000X: 70, 72.5, 95.25 (h = 2p): p10 70.5, p25 71.25, median 72.5, p75 72.5 + 0.5 x 22.75 = 83.875,
    // p90 72.5 + 0.8 x 22.75 = 90.7. 367500000X: 70, 75 (h = p).
    assert_eq!(
        fee,
        [
            "00790 21 [] 207L00000X fee schedule per_unit | 3 70 70.5 71.25 72.5 83.875 90.7 95.25",
            "00790 21 [] 367500000X fee schedule per_unit | 2 70 70.5 71.25 72.5 73.75 74.5 75",
            "00790 21 [] unknown fee schedule per_unit | 1 80 80 80 80 80 80 80",
        ]
    );
}

#[test]
fn provider_references_in_the_file_before_in_network() {
    let result = read("v1_in_file_refs.json", &with_nppes());
    let got: Vec<String> = lines(&result.benchmarks).into_iter().filter(|l| l.starts_with("00632 21 [] ")).collect();
    // Group 1: NPIs 1000000004 (208VP0014X) and 1000000012 (207L00000X); group 2: 1000000020, not in NPPES.
    assert_eq!(
        got,
        [
            "00632 21 [] 207L00000X negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00632 21 [] 207L00000X negotiated per_case | 1 1200 1200 1200 1200 1200 1200 1200",
            "00632 21 [] 208VP0014X negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00632 21 [] 208VP0014X negotiated per_case | 1 1200 1200 1200 1200 1200 1200 1200",
            "00632 21 [] unknown negotiated per_unit | 1 90 90 90 90 90 90 90",
        ]
    );
}

#[test]
fn provider_references_after_in_network_join_the_same() {
    // The v1 fixture with its provider_references moved after in_network.
    let text = std::fs::read_to_string(fixture("v1_in_file_refs.json")).unwrap();
    let refs_start = text.find("\"provider_references\": [").unwrap();
    let in_network_start = text.find("\"in_network\": [").unwrap();
    let refs = &text[refs_start..in_network_start];
    let refs = refs.trim_end().trim_end_matches(',');
    let body = text[in_network_start..].trim_end().strip_suffix('}').unwrap().trim_end();
    let moved = format!("{}{body},\n  {refs}\n}}\n", &text[..refs_start]);
    assert!(moved.find("\"in_network\"").unwrap() < moved.find("\"provider_references\"").unwrap());
    let path = scratch("refs_after").join("v1_in_file_refs.json");
    std::fs::write(&path, moved).unwrap();
    let after = ingest(&[&path], &with_nppes());
    assert!(after.summary.files[0].error.is_none(), "{:?}", after.summary.files[0].error);
    let before = read("v1_in_file_refs.json", &with_nppes());
    assert_eq!(after.benchmarks, before.benchmarks);
}

#[test]
fn provider_references_in_a_separate_file_and_remote_ones_unresolved() {
    let result = read("v1_separate_refs.json", &with_nppes());
    let f = &result.summary.files[0];
    assert_eq!(f.provider_references, 2);
    assert_eq!(f.unresolved_references.len(), 1);
    let unresolved = &f.unresolved_references[0];
    assert_eq!(unresolved.provider_group_id, "11");
    assert_eq!(unresolved.location, "https://example.com/fixtures/provider-reference-11.json");
    assert!(unresolved.why.contains("remote"), "{unresolved:?}");
    // Group 10 (provider_refs/example_group_10.json, read after in_network): 207L00000X and 367500000X.
    assert_eq!(
        lines(&result.benchmarks),
        [
            "00632 21 [] 207L00000X negotiated per_unit | 1 75 75 75 75 75 75 75",
            "00632 21 [] 367500000X negotiated per_unit | 1 75 75 75 75 75 75 75",
            "00632 21 [] unknown negotiated per_unit | 1 78 78 78 78 78 78 78",
        ]
    );

    // A downloaded copy of the remote file, in --provider-refs, resolves it.
    let dir = scratch("provider_refs");
    std::fs::copy(fixture("provider_refs/example_group_10.json"), dir.join("provider-reference-11.json")).unwrap();
    let resolved = read("v1_separate_refs.json", &IngestOptions { provider_refs_dir: Some(dir), ..with_nppes() });
    assert!(resolved.summary.files[0].unresolved_references.is_empty());
    assert!(lines(&resolved.benchmarks).iter().all(|l| !l.contains("unknown")));
}

#[test]
fn parquet_round_trip() {
    let mut rows = read("v1_in_file_refs.json", &with_nppes()).benchmarks;
    rows.extend(read("v2_provider_groups.json", &options()).benchmarks);
    assert!(rows.iter().any(|r| r.medicare.is_some()) && rows.iter().any(|r| r.place_of_service.is_none()));
    let dir = scratch("parquet");
    write_parquet(dir.join("a.parquet"), &rows[..4]).unwrap();
    write_parquet(dir.join("b.parquet"), &rows[4..]).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a parquet file").unwrap();
    assert_eq!(read_dir(&dir).unwrap(), rows);
}

#[test]
fn several_files_in_one_ingest() {
    let files = [fixture("v1_in_file_refs.json"), fixture("bad_record.json"), fixture("no_such_file.json")];
    let result = ingest(&files, &options());
    let s = &result.summary;
    assert_eq!(s.files.len(), 3);
    assert_eq!((s.records(), s.malformed()), (10, 3));
    assert!(matches!(s.files[2].error, Some(cptkit_tic::TicError::Io { .. })));
    assert!(!s.is_clean());
    let payers: BTreeSet<&str> =
        result.benchmarks.iter().map(|r| r.provenance.reporting_entity_name.as_str()).collect();
    assert_eq!(payers, BTreeSet::from(["Example Health Plan (fixture)", "Example Health Plan South (fixture)"]));
}

/// One NPI that is not 10 digits (or a tin or provider reference id that cannot be read) is left out
/// alone and reported with its place: the record's other providers and its rates still count. The rows
/// are those of the same file with the bad values deleted (a group left with no NPI: an empty npi list).
#[test]
fn a_bad_npi_is_left_out_alone_and_the_record_counts() {
    let text = std::fs::read_to_string(fixture("bad_npi.json")).unwrap();
    let at = |value: &str| text.find(value).unwrap() as u64;
    let record = text.find("\"negotiation_arrangement\"").map(|i| text[..i].rfind('{').unwrap()).unwrap() as u64;
    for options in [options(), with_nppes()] {
        let result = read("bad_npi.json", &options);
        let f = &result.summary.files[0];
        assert_eq!((f.records, f.kept, f.malformed.len(), f.prices, f.left_out.len()), (2, 2, 0, 4, 7));
        assert!(!f.is_clean() && !result.summary.is_clean() && result.summary.left_out() == 7);
        let places: Vec<(u64, u64, &str)> =
            f.left_out.iter().map(|m| (m.record_offset, m.error_offset, m.path.as_str())).collect();
        assert_eq!(
            places,
            [
                (record, at("12345, "), "negotiated_rates[0].provider_groups[0].npi[1]"),
                (record, at("0, -1234567890"), "negotiated_rates[0].provider_groups[1].npi[0]"),
                (record, at("-1234567890"), "negotiated_rates[0].provider_groups[1].npi[1]"),
                (record, at("12345678901"), "negotiated_rates[1].provider_groups[0].npi[0]"),
                (
                    record,
                    at("{\"type\": \"ein\", \"value\": 123456789}"),
                    "negotiated_rates[1].provider_groups[0].tin.value"
                ),
                (record, at("\"\"]"), "negotiated_rates[1].provider_references[0]"),
                (record, at("\"0\""), "negotiated_rates[2].provider_groups[0].npi[0]"),
            ]
        );
        let messages: Vec<&str> = f.left_out.iter().map(|m| m.message.as_str()).collect();
        assert!(
            messages[0].starts_with("expected a 10-digit NPI, found 12345: this NPI is left out; the record's other")
        );
        for all_bad in [1, 2, 6] {
            assert!(messages[all_bad].contains("reads as a group with an empty npi list"), "{}", messages[all_bad]);
        }
        assert!(messages[4].starts_with("invalid type: integer `123456789`, expected a string: the tin is left out"));
        assert!(messages[5].starts_with("expected a provider group id, found \"\": this reference is left out"));

        // The same file with the bad values deleted reads to the same rows, clean.
        let deleted = text
            .replace("12345, ", "")
            .replace("0, -1234567890", "")
            .replace("12345678901, ", "")
            .replace("123456789}", "\"000000000\"}")
            .replace("\"provider_references\": [\"\"],", "")
            .replace("[\"0\"]", "[]");
        let path = scratch("bad_npi_deleted").join("bad_npi.json");
        std::fs::write(&path, deleted).unwrap();
        let clean = ingest(&[&path], &options);
        assert!(clean.summary.is_clean(), "{:?}", clean.summary.files[0].left_out);
        assert_eq!(result.benchmarks, clean.benchmarks);
    }
    // Broken JSON in an npi list, or an npi that is no list, still makes the record malformed as a whole.
    for (from, to, group) in [("12345, ", "12x45, ", 0), ("[0, -1234567890]", "1234567893", 1)] {
        let broken = scratch("bad_npi_broken").join("bad_npi.json");
        std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
        let f = ingest(&[&broken], &options()).summary.files.remove(0);
        assert_eq!((f.kept, f.malformed.len(), f.left_out.len()), (1, 1, 0), "{to}");
        assert_eq!(f.malformed[0].record_offset, record);
        assert_eq!(f.malformed[0].path, format!("negotiated_rates[0].provider_groups[{group}].npi"));
    }
    // 85, 90, 95 on 00632 (n = 3, h = 2p); with NPPES 85 counts under its two good NPIs' taxonomies, 90
    // under 1000000004's, and 95, whose only group has no NPI left, under unknown.
    let plain = read("bad_npi.json", &options());
    assert_eq!(
        lines(&plain.benchmarks),
        [
            "00632 21 [] - negotiated per_unit | 3 85 86 87.5 90 92.5 94 95",
            "00840 21 [] - negotiated per_unit | 1 92 92 92 92 92 92 92",
        ]
    );
    let joined: Vec<String> =
        lines(&read("bad_npi.json", &with_nppes()).benchmarks).into_iter().filter(|l| l.starts_with("00632")).collect();
    assert_eq!(
        joined,
        [
            "00632 21 [] 207L00000X negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00632 21 [] 208VP0014X negotiated per_unit | 1 90 90 90 90 90 90 90",
            "00632 21 [] 367500000X negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00632 21 [] unknown negotiated per_unit | 1 95 95 95 95 95 95 95",
        ]
    );
}

/// A top-level provider reference reads its groups like a rate's: a bad NPI or tin is left out alone and
/// reported at its place, and the reference resolves with its good NPIs (it used to be unresolved as a
/// whole, so every price pointing at it lost all its providers' taxonomies).
#[test]
fn a_bad_npi_in_a_provider_reference_is_left_out_alone_and_the_reference_resolves() {
    let text = std::fs::read_to_string(fixture("v1_in_file_refs.json")).unwrap();
    // Group 1 keeps 1000000004 (208VP0014X) beside a 9-digit NPI; group 2's tin is no {type, value}.
    let bad = text.replacen("[1000000004, 1000000012]", "[1000000004, 100000001]", 1).replacen(
        "{\"type\": \"ein\", \"value\": \"00-0000002\"}",
        "\"00-0000002\"",
        1,
    );
    let write = |dir: &str, text: &str| {
        let path = scratch(dir).join("v1_in_file_refs.json"); // the same source file name
        std::fs::write(&path, text).unwrap();
        path
    };
    let path = write("bad_npi_in_reference", &bad);
    // A reference starts at the "{" before its id.
    let reference_at =
        |text: &str, id: u32| text[..text.find(&format!("\"provider_group_id\": {id}")).unwrap()].rfind('{').unwrap();

    let result = ingest(&[&path], &with_nppes());
    let f = &result.summary.files[0];
    assert!(f.error.is_none() && f.malformed.is_empty(), "{f:?}");
    assert!(f.unresolved_references.is_empty(), "{:?}", f.unresolved_references);
    let places: Vec<(usize, usize, &str)> =
        f.left_out.iter().map(|m| (m.record_offset as usize, m.error_offset as usize, m.path.as_str())).collect();
    assert_eq!(
        places,
        [
            (reference_at(&bad, 1), bad.find("100000001]").unwrap(), "provider_groups[0].npi[1]"),
            (reference_at(&bad, 2), bad.find("\"00-0000002\"").unwrap(), "provider_groups[0].tin"),
        ]
    );
    assert_eq!(
        f.left_out[0].message,
        "expected a 10-digit NPI, found 100000001: this NPI is left out; the reference's other NPIs are read"
    );
    assert!(f.left_out[1].message.starts_with("invalid type: string \"00-0000002\""), "{}", f.left_out[1]);
    assert!(
        f.left_out[1].message.ends_with("the tin is left out (it is no benchmark key); the reference's NPIs are read")
    );
    // Group 1's good NPI still counts (1000000012's 207L00000X is gone); group 2's NPI reads as before.
    let got: Vec<String> = lines(&result.benchmarks).into_iter().filter(|l| l.starts_with("00632 21 [] ")).collect();
    assert_eq!(
        got,
        [
            "00632 21 [] 208VP0014X negotiated per_unit | 1 85 85 85 85 85 85 85",
            "00632 21 [] 208VP0014X negotiated per_case | 1 1200 1200 1200 1200 1200 1200 1200",
            "00632 21 [] unknown negotiated per_unit | 1 90 90 90 90 90 90 90",
        ]
    );
    // The same as the file with the bad values deleted, which reads clean.
    let deleted = text.replacen("[1000000004, 1000000012]", "[1000000004]", 1).replacen(
        ", \"tin\": {\"type\": \"ein\", \"value\": \"00-0000002\"}",
        "",
        1,
    );
    let clean = ingest(&[write("bad_npi_in_reference_deleted", &deleted)], &with_nppes());
    assert!(clean.summary.is_clean(), "{:?}", clean.summary.files[0]);
    assert_eq!(result.benchmarks, clean.benchmarks);

    // Without a join the reference's groups are not parsed: nothing to leave out.
    let plain = ingest(&[&path], &options());
    assert!(plain.summary.is_clean(), "{:?}", plain.summary.files[0]);

    // Broken JSON in a group (an npi that is no list) or an unreadable id still leaves the reference
    // unresolved as a whole, its id unknown ("?"), at its byte offset.
    for (from, to) in [("[1000000020]", "1000000020"), ("\"provider_group_id\": 2", "\"provider_group_id\": \"\"")] {
        let broken = text.replacen(from, to, 1);
        let f = ingest(&[write("bad_reference", &broken)], &with_nppes()).summary.files.remove(0);
        assert_eq!((f.unresolved_references.len(), f.left_out.len()), (1, 0), "{to}");
        let unresolved = &f.unresolved_references[0];
        assert_eq!(unresolved.provider_group_id, "?");
        assert!(unresolved.why.starts_with(&format!("byte {}: ", reference_at(&text, 2))), "{unresolved:?}");
    }
}

/// A bad NPI in a separate provider-reference file is left out alone too: reported at the reference, the
/// message naming the file and the byte within it; the reference resolves with the file's good NPIs.
#[test]
fn a_bad_npi_in_a_separate_provider_reference_file_is_left_out_alone() {
    let dir = scratch("bad_npi_in_reference_file");
    std::fs::create_dir(dir.join("provider_refs")).unwrap();
    let group_file = dir.join("provider_refs/example_group_10.json");
    let group_text = std::fs::read_to_string(fixture("provider_refs/example_group_10.json")).unwrap().replacen(
        "2222222228",
        "\"22222222x8\"",
        1,
    );
    std::fs::write(&group_file, &group_text).unwrap();
    let tic_text = std::fs::read_to_string(fixture("v1_separate_refs.json")).unwrap();
    let path = dir.join("v1_separate_refs.json");
    std::fs::write(&path, &tic_text).unwrap();

    let result = ingest(&[&path], &with_nppes());
    let f = &result.summary.files[0];
    assert!(f.error.is_none() && f.malformed.is_empty(), "{f:?}");
    assert_eq!(f.unresolved_references.len(), 1, "only the remote one");
    assert_eq!(f.unresolved_references[0].provider_group_id, "11");
    let reference = tic_text.find("{\"provider_group_id\": 10").unwrap() as u64;
    assert_eq!(f.left_out.len(), 1);
    let npi = &f.left_out[0];
    assert_eq!(
        (npi.record_offset, npi.error_offset, npi.path.as_str()),
        (reference, reference, "provider_groups[0].npi[1]")
    );
    assert_eq!(
        npi.message,
        format!(
            "provider-reference file {}, byte {}: expected a 10-digit NPI, found \"22222222x8\": this NPI is left \
             out; the reference's other NPIs are read",
            group_file.display(),
            group_text.find("\"22222222x8\"").unwrap()
        )
    );
    // Group 10 keeps 1111111112 (207L00000X); 2222222228's 367500000X is gone.
    assert_eq!(
        lines(&result.benchmarks),
        [
            "00632 21 [] 207L00000X negotiated per_unit | 1 75 75 75 75 75 75 75",
            "00632 21 [] unknown negotiated per_unit | 1 78 78 78 78 78 78 78",
        ]
    );
}
