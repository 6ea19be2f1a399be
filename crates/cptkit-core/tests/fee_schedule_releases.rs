//! Fee schedule releases load from a data directory without a rebuild, and a claim is priced with the
//! release in force on its date of service. The "release" here is a test double: the embedded RVU25D
//! files copied under another name and dates, so only the loading and selection are under test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use cptkit_core::{Claim, ErrorKind, JudgeOptions, LineStatus, PriceOptions, Reference, RuleBook};
use time::macros::date;

fn data_dir(name: &str, releases_csv: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cptkit-{name}-{}", std::process::id()));
    let pfs = dir.join("pfs");
    let embedded = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/pfs/rvu25d");
    std::fs::create_dir_all(pfs.join("test26")).unwrap();
    for file in ["pfs_rvu.csv", "gpci.csv", "opps_cap.csv", "zip5_locality.csv"] {
        std::fs::copy(embedded.join(file), pfs.join("test26").join(file)).unwrap();
    }
    std::fs::write(pfs.join("releases.csv"), releases_csv).unwrap();
    dir
}

fn visit(date_of_service: &str) -> Claim {
    Claim::from_json(&format!(
        r#"{{"claim_id":"R1","payer":{{"id":"medicare","plan_type":"medicare_ffs"}},"place_of_service":"11",
        "patient":{{"birth_date":"1950-01-01"}},"billing_provider_npi":"1234567893",
        "rendering_provider":{{"npi":"1558598797","taxonomy":"207Q00000X"}},"medicare_locality":"10112-00",
        "diagnoses":["M54.50"],"lines":[{{"procedure_code":"99213","unit_basis":"UN","quantity":"1",
        "diagnosis_pointers":[1],"charge_cents":20000,"date_of_service":"{date_of_service}"}}]}}"#
    ))
    .unwrap()
}

#[test]
fn a_release_in_a_data_directory_prices_its_dates() {
    let dir = data_dir(
        "release",
        "release,year,effective_from,effective_to,conversion_factor,qp_conversion_factor,directory,source\n\
         TEST26,2026,2026-01-01,2026-12-31,32.3465,,test26,test double: RVU25D copied\n",
    );
    let reference = Reference::from_dir(&dir).unwrap();
    let names: Vec<&str> = reference.fee_schedule().releases().map(|r| r.info.release.as_str()).collect();
    assert_eq!(names, ["RVU25D", "TEST26"]);
    let options = JudgeOptions { today: date!(2026 - 11 - 27), pricing: Some(PriceOptions::default()) };
    let priced = reference.judge(&visit("2026-03-02"), &options, RuleBook::embedded()).unwrap().into_priced().unwrap();
    let line = &priced.lines[0];
    assert_eq!((line.status, line.allowed.to_string()), (LineStatus::Priced, "81.86".to_owned()));
    assert!(line.steps().iter().any(|s| s.step == "fee_schedule_release" && s.value == "TEST26"));

    // Without the directory there is no CY2026 release: the line says so and is not priced.
    let embedded = Reference::embedded().judge(&visit("2026-03-02"), &options, RuleBook::embedded()).unwrap();
    let line = &embedded.into_priced().unwrap().lines[0];
    assert_eq!(line.status, LineStatus::NotPriced);
    assert!(line.steps().iter().any(|s| s.detail.contains("no Medicare Physician Fee Schedule release for CY2026")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_broken_release_file_names_the_file_and_row() {
    let dir = data_dir(
        "broken",
        "release,year,effective_from,effective_to,conversion_factor,qp_conversion_factor,directory,source\n\
         TEST26,2026,2026-13-01,2026-12-31,32.3465,,test26,bad date\n",
    );
    let err = Reference::from_dir(&dir).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("releases.csv"), "{err}");
    assert_eq!(err.file(), Some(dir.join("pfs").join("releases.csv").as_path()));
    std::fs::remove_dir_all(dir).ok();
}
