//! Payer rate benchmarks: the TiC fixtures of `tests/fixtures/tic/` (invented payers and rates) ingested
//! into a Parquet store here, loaded with `load_benchmarks` as the binary does, and served by
//! GetBenchmarks and in GetCode profiles; filters, errors, and the binary's `--benchmarks-dir`.

use cptkit_tic::{IngestOptions, ingest, write_parquet};

use super::*;

fn tic_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tic").join(name)
}

/// A fresh directory under the target's scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("grpc-rates").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A benchmark store built from three fixture payers' files, one Parquet file each, as `cptkit
/// ingest-tic --out` writes them.
fn benchmark_store(name: &str) -> PathBuf {
    let dir = scratch(name);
    let options = IngestOptions { ingested_on: time::macros::date!(2026 - 11 - 27), ..IngestOptions::default() };
    for file in ["v1_in_file_refs.json", "v1_separate_refs.json", "v2_provider_groups.json"] {
        let result = ingest(&[tic_fixture(file)], &options);
        assert!(result.summary.files[0].error.is_none(), "{file}: {:?}", result.summary.files[0].error);
        write_parquet(dir.join(file.replace(".json", ".parquet")), &result.benchmarks).expect("write parquet");
    }
    dir
}

async fn rates_server(name: &str) -> TestServer {
    let benchmarks = cptkit_server::load_benchmarks(Some(&benchmark_store(name))).expect("load the store");
    TestServer::start_with_all(Config::default(), Arc::new(RuleBook::embedded().clone()), benchmarks).await
}

fn get_benchmarks(code: &str) -> pb::GetBenchmarksRequest {
    pb::GetBenchmarksRequest { code: code.to_owned(), ..Default::default() }
}

/// A row as a short line: payer pos [mods] type basis | count min p10 p25 median p75 p90 max.
fn line(r: &pb::PayerBenchmark) -> String {
    let payer = r.provenance.as_ref().map_or("?", |p| p.reporting_entity_name.as_str());
    format!(
        "{} {} {} [{}] {} {} | {} {} {} {} {} {} {} {}",
        payer.trim_end_matches(" (fixture)"),
        r.billing_code,
        r.place_of_service.as_deref().unwrap_or("-"),
        r.modifiers.join(","),
        r.negotiated_type,
        r.rate_basis().as_str_name(),
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

fn lines(rows: &[pb::PayerBenchmark]) -> Vec<String> {
    rows.iter().map(line).collect()
}

/// Every 00632 row of the store, in load order (file name order, then the reader's order).
/// v1_in_file_refs: per-unit 85 and 90 (n = 2, h = p: p10 85.5, p25 86.25, median 87.5, p75 88.75, p90
/// 89.5), the 1200 case rate, 80 with QZ, 85 at POS 22. v1_separate_refs: 75 and 78 (p10 75.3, p25 75.75,
/// median 76.5, p75 77.25, p90 77.7), per unit as both are below 7 x 20.3178 (Medicare's base-unit floor).
const ROWS_00632: [&str; 5] = [
    "Example Health Plan 00632 21 [] negotiated RATE_BASIS_PER_UNIT | 2 85 85.5 86.25 87.5 88.75 89.5 90",
    "Example Health Plan 00632 21 [] negotiated RATE_BASIS_PER_CASE | 1 1200 1200 1200 1200 1200 1200 1200",
    "Example Health Plan 00632 21 [QZ] negotiated RATE_BASIS_PER_UNIT | 1 80 80 80 80 80 80 80",
    "Example Health Plan 00632 22 [] negotiated RATE_BASIS_PER_UNIT | 1 85 85 85 85 85 85 85",
    "Example Health Plan North 00632 21 [] negotiated RATE_BASIS_PER_UNIT | 2 75 75.3 75.75 76.5 77.25 77.7 78",
];

#[tokio::test]
async fn get_benchmarks_00632_gives_the_hand_checked_quantiles_with_provenance() {
    let server = rates_server("get").await;
    let mut client = server.codes().await;
    let rows = client.get_benchmarks(get_benchmarks("00632")).await.expect("GetBenchmarks").into_inner().benchmarks;
    assert_eq!(lines(&rows), ROWS_00632);

    let first = &rows[0];
    let provenance = first.provenance.as_ref().expect("provenance");
    assert_eq!(
        (
            provenance.source_file.as_str(),
            provenance.reporting_entity_type.as_str(),
            provenance.last_updated_on.as_str(),
            provenance.schema_version.as_str(),
            provenance.ingested_on.as_str()
        ),
        ("v1_in_file_refs.json", "health insurance issuer", "2025-03-01", "1.3.1", "2026-11-27")
    );
    assert_eq!((first.billing_code_type.as_str(), first.billing_class.as_str()), ("CPT", "professional"));
    assert_eq!(first.taxonomy, None, "no NPPES join");
    // 87.5 / 20.3178 (CY2025 national CF) x 100 = 430.657... -> 430.66.
    let medicare = first.medicare.as_ref().expect("per-unit row with a same-year CF");
    assert_eq!(
        (medicare.year, medicare.conversion_factor.as_str(), medicare.median_percent_of_medicare.as_str()),
        (2025, "20.3178", "430.66")
    );
    assert!(rows[1].medicare.is_none(), "per-case rows are not compared with Medicare");

    // 00840 shares the 85.00 conversion factor (POS 21 and 22) and has its own 900.00 case rate.
    let rows = client.get_benchmarks(get_benchmarks("00840")).await.expect("00840").into_inner().benchmarks;
    assert_eq!(
        lines(&rows),
        [
            "Example Health Plan 00840 21 [] negotiated RATE_BASIS_PER_UNIT | 1 85 85 85 85 85 85 85",
            "Example Health Plan 00840 22 [] negotiated RATE_BASIS_PER_UNIT | 1 85 85 85 85 85 85 85",
            "Example Health Plan 00840 22 [] negotiated RATE_BASIS_PER_CASE | 1 900 900 900 900 900 900 900",
        ]
    );
    // A code of the reference with no loaded rows (00630 is a bundle there): an empty answer, not an error.
    let none = client.get_benchmarks(get_benchmarks("00630")).await.expect("00630").into_inner().benchmarks;
    assert!(none.is_empty(), "{:?}", lines(&none));
    server.stop().await;
}

#[tokio::test]
async fn get_code_profiles_carry_the_payer_benchmarks() {
    let server = rates_server("profile").await;
    let mut client = server.codes().await;
    // Twice: the first answer is built and prepared, the second is the prepared bytes.
    for _ in 0..2 {
        let profile = client.get_code(get_code("00632", &[])).await.expect("GetCode").into_inner().profile;
        let profile = profile.expect("profile");
        assert_eq!(lines(&profile.payer_benchmarks), ROWS_00632);
        assert_eq!(profile.benchmarks.len(), 3, "the Medicare benchmarks are still there");
    }
    // Assembled per request (with a locality): the same rows.
    let profile = client.get_code(get_code("00632", &["13202-01"])).await.expect("Manhattan").into_inner().profile;
    assert_eq!(lines(&profile.expect("profile").payer_benchmarks), ROWS_00632);
    let profile = client.get_code(get_code("00790", &[])).await.expect("00790").into_inner().profile;
    let v2 = lines(&profile.expect("profile").payer_benchmarks);
    assert_eq!(
        v2,
        [
            "Example Health Plan West 00790 - [] derived RATE_BASIS_UNKNOWN | 1 1500 1500 1500 1500 1500 1500 1500",
            "Example Health Plan West 00790 21 [] fee schedule RATE_BASIS_PER_UNIT | 5 70 71 72.5 75 80 89.15 95.25",
            "Example Health Plan West 00790 21 [] percentage RATE_BASIS_PERCENTAGE | 1 150 150 150 150 150 150 150",
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn get_benchmarks_filters() {
    let server = rates_server("filters").await;
    let mut client = server.codes().await;
    let mut ask = async |request: pb::GetBenchmarksRequest| {
        lines(&client.get_benchmarks(request).await.expect("GetBenchmarks").into_inner().benchmarks)
    };
    let north = ask(pb::GetBenchmarksRequest { payer: "NORTH".into(), ..get_benchmarks("00632") }).await;
    assert_eq!(north, [ROWS_00632[4]]);
    let per_case =
        ask(pb::GetBenchmarksRequest { rate_basis: pb::RateBasis::PerCase.into(), ..get_benchmarks("00632") }).await;
    assert_eq!(per_case, [ROWS_00632[1]]);
    let pos_22 = ask(pb::GetBenchmarksRequest { place_of_service: "22".into(), ..get_benchmarks("00632") }).await;
    assert_eq!(pos_22, [ROWS_00632[3]]);
    let qz = ask(pb::GetBenchmarksRequest { modifier: "qz".into(), ..get_benchmarks("00632") }).await;
    assert_eq!(qz, [ROWS_00632[2]]);
    let combined = pb::GetBenchmarksRequest {
        payer: "example health plan".into(),
        billing_class: "professional".into(),
        place_of_service: "21".into(),
        negotiated_type: "negotiated".into(),
        rate_basis: pb::RateBasis::PerUnit.into(),
        ..get_benchmarks("00632")
    };
    assert_eq!(ask(combined).await, [ROWS_00632[0], ROWS_00632[2], ROWS_00632[4]]);
    let institutional =
        ask(pb::GetBenchmarksRequest { billing_class: "institutional".into(), ..get_benchmarks("00790") }).await;
    assert_eq!(institutional.len(), 1);
    assert!(institutional[0].contains("derived RATE_BASIS_UNKNOWN"), "{institutional:?}");
    let fee = ask(pb::GetBenchmarksRequest { negotiated_type: "Fee Schedule".into(), ..get_benchmarks("00790") }).await;
    assert_eq!(fee.len(), 1);
    assert!(fee[0].contains("| 5 70 71 72.5 75 80 89.15 95.25"), "{fee:?}");
    server.stop().await;
}

#[tokio::test]
async fn get_benchmarks_errors_map_like_get_code() {
    let server = rates_server("errors").await;
    let mut client = server.codes().await;
    for code in ["00101", "99999"] {
        let status = client.get_benchmarks(get_benchmarks(code)).await.expect_err(code);
        assert_eq!(status.code(), Code::NotFound, "{code}: {status:?}");
        assert!(status.message().contains(code), "{}", status.message());
        assert_eq!(not_found(&status), pair("procedure code", code));
    }
    let status = client.get_benchmarks(get_benchmarks("0063")).await.expect_err("malformed code");
    assert_eq!(violation_field(&status), "code");
    let bad = [
        (pb::GetBenchmarksRequest { billing_class: "both".into(), ..get_benchmarks("00632") }, "billing_class"),
        (pb::GetBenchmarksRequest { place_of_service: "2A".into(), ..get_benchmarks("00632") }, "place_of_service"),
        (pb::GetBenchmarksRequest { negotiated_type: "bundle".into(), ..get_benchmarks("00632") }, "negotiated_type"),
        (pb::GetBenchmarksRequest { rate_basis: 42, ..get_benchmarks("00632") }, "rate_basis"),
        (pb::GetBenchmarksRequest { modifier: "QZZ".into(), ..get_benchmarks("00632") }, "modifier"),
    ];
    for (request, field) in bad {
        let status = client.get_benchmarks(request).await.expect_err(field);
        assert_eq!(violation_field(&status), field);
    }
    server.stop().await;
}

#[tokio::test]
async fn without_a_store_profiles_have_no_payer_benchmarks() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let profile = client.get_code(get_code("00632", &[])).await.expect("GetCode").into_inner().profile;
    assert!(profile.expect("profile").payer_benchmarks.is_empty());
    let rows = client.get_benchmarks(get_benchmarks("00632")).await.expect("GetBenchmarks").into_inner().benchmarks;
    assert!(rows.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_binary_loads_benchmarks_dir_from_the_environment() {
    let store = benchmark_store("binary");
    let store = store.to_str().expect("utf-8 path");
    let server = Binary::start(&["--listen", "127.0.0.1:0"], &[("CPTKIT_BENCHMARKS_DIR", store)]).await;
    let mut client = CodeServiceClient::connect(format!("http://{}", server.address)).await.expect("connect");
    let rows = client.get_benchmarks(get_benchmarks("00632")).await.expect("GetBenchmarks").into_inner().benchmarks;
    assert_eq!(lines(&rows), ROWS_00632);
    let (status, stderr) = server.terminate().await;
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(stderr.contains("payer_benchmarks=") && stderr.contains("rpc=cptkit.v1.CodeService/GetBenchmarks"));
    assert!(stderr.contains("code=00632"), "{stderr}");
}

#[tokio::test]
async fn the_binary_fails_clearly_on_a_bad_benchmark_file() {
    let store = benchmark_store("bad-file");
    let bad = store.join("zz_not_parquet.parquet");
    std::fs::write(&bad, b"not a parquet file").expect("write");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cptkit-server"))
        .args(["--listen", "127.0.0.1:0", "--benchmarks-dir"])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let (status, stderr) = wait(&mut child).await;
    assert!(!status.success());
    assert!(stderr.contains("cannot load benchmarks dir"), "{stderr}");
    assert!(stderr.contains(&bad.display().to_string()), "names the file: {stderr}");
}
