//! The embedded reference data and the profiles assembled from it, checked against the public sources.
//! Fee schedule profiles and search over every code are in `reference/fee_schedule.rs`.

#[path = "reference/fee_schedule.rs"]
mod fee_schedule;

use std::path::PathBuf;

use cptkit_core::{
    CodeQuery, CptCode, ErrorKind, Known, LocalitySelection, PageRequest, ProfileOptions, Reference, Relation,
    RuleBook, ServiceType,
};
use rust_decimal::Decimal;

fn code(s: &str) -> CptCode {
    s.parse().expect(s)
}

fn profile(s: &str) -> cptkit_core::CodeProfile {
    Reference::embedded().profile(code(s), &ProfileOptions::default()).expect(s)
}

/// The distinct codes of the RVU25D file (19,090 code and modifier rows); every anesthesia code is among them.
const EVERY_CODE: u32 = 16_852;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

#[test]
fn all_276_cms_anesthesia_codes_have_a_category_and_description() {
    let reference = Reference::embedded();
    assert_eq!(reference.codes().len(), 276);
    let order: Vec<CptCode> = reference.codes().map(|c| c.code).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "in code order");
    for c in reference.codes() {
        // The lookup by code finds each code's own entry.
        assert_eq!(reference.anesthesia_code(c.code).expect("found").code, c.code);
        assert!(c.code.is_anesthesia(), "{}", c.code);
        assert!(!c.category.is_empty() && c.description.starts_with("Anesthesia"), "{}", c.code);
        // Every code profiles without error.
        reference.profile(c.code, &ProfileOptions::default()).expect("profile");
    }
}

#[test]
fn base_units_match_the_cms_file() {
    let base = |s| Reference::embedded().anesthesia_code(code(s)).expect(s).base_units;
    assert_eq!(base("00632"), 7);
    assert_eq!(base("00670"), 13);
    assert_eq!(base("01953"), 1);
    assert_eq!(base("01968"), 2);
    assert_eq!(base("01969"), 5);
    assert_eq!(base("01996"), 3);
    assert_eq!(base("01999"), 0);
}

#[test]
fn profile_00632_has_every_section_from_the_sources() {
    let p = profile("00632");
    assert_eq!(p.base_units, 7);
    assert_eq!(p.category, "Spine and spinal cord");
    assert_eq!(p.service_type, ServiceType::Anesthesia);
    assert_eq!(p.medicare_inpatient_only, Known::Yes);
    assert_eq!(p.places_of_service.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(), ["21"]);

    let modifiers: Vec<&str> = p.modifiers.iter().map(|m| m.code.as_str()).collect();
    for m in ["AA", "AD", "QK", "QX", "QY", "QZ", "QS", "G8", "G9", "GC", "23", "47", "P1", "P6"] {
        assert!(modifiers.contains(&m), "{m}");
    }
    let qs = p.modifiers.iter().find(|m| m.code.as_str() == "QS").expect("QS");
    assert!(qs.meaning.contains("monitored anesthesia care"));
    let qx = p.modifiers.iter().find(|m| m.code.as_str() == "QX").expect("QX");
    assert_eq!(qx.medicare_payment_effect, "50%");

    let taxonomies: Vec<&str> = p.taxonomies.iter().map(|t| t.taxonomy.code.as_str()).collect();
    for t in ["207L00000X", "367500000X", "208VP0014X", "207LP2900X"] {
        assert!(taxonomies.contains(&t), "{t}");
    }
    assert!(p.taxonomies.iter().all(|t| !t.source.is_empty() && t.source != t.taxonomy.source));

    let diagnoses: Vec<&str> = p.diagnoses.iter().map(|d| d.diagnosis.code.as_str()).collect();
    for d in ["M54.50", "M54.51", "M54.59", "M54.16", "M54.17", "M48.061", "M48.062"] {
        assert!(diagnoses.contains(&d), "{d}");
    }
    assert!(p.diagnoses.iter().all(|d| d.diagnosis.billable));
    let m5450 = p.diagnoses.iter().find(|d| d.diagnosis.code.as_str() == "M54.50").expect("M54.50");
    assert_eq!(m5450.diagnosis.title, "Low back pain, unspecified");

    let payers: Vec<&str> = p.payers.iter().map(|p| p.payer.as_str()).collect();
    assert_eq!(
        payers,
        ["Medicare", "Medicare Advantage", "Aetna", "Blue Cross Blue Shield", "Cigna", "UnitedHealthcare"]
    );
    let medicare = &p.payers[0];
    assert!(medicare.policies.iter().any(|p| p.topic == "inpatient-only"));
    // The corrections of Dec 2026 (shared/domain/anesthesia-billing.md): QZ at 85% for Cigna, Anthem (six
    // states) and UHC, each dated; UHC's P3-P5 change is dated 2025-10-01, not left without a year.
    let qz: Vec<(&str, Option<String>)> = p
        .payers
        .iter()
        .flat_map(|payer| &payer.policies)
        .filter(|policy| policy.topic.contains("(QZ)"))
        .map(|policy| (policy.payer.as_str(), policy.effective_date.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        qz,
        [
            ("Blue Cross Blue Shield", Some("2024-11-01".to_owned())),
            ("Cigna", Some("2023-03-12".to_owned())),
            ("UnitedHealthcare", Some("2025-10-01".to_owned()))
        ]
    );

    let siblings: Vec<&str> =
        p.related_codes.iter().filter(|r| r.relation == Relation::SameCategory).map(|r| r.code.as_str()).collect();
    for s in ["00630", "00635", "00640", "00670"] {
        assert!(siblings.contains(&s), "{s}");
    }
    assert!(!siblings.contains(&"00632"));
    let qcs = p.related_codes.iter().filter(|r| r.relation == Relation::QualifyingCircumstance).count();
    assert_eq!(qcs, 4);

    let titles: Vec<&str> = p.policy_updates.iter().map(|u| u.title.as_str()).collect();
    assert!(titles.iter().any(|t| t.contains("M54.5")));
    assert!(titles.iter().any(|t| t.contains("two-tier")));
    assert!(p.policy_updates.windows(2).all(|w| w[0].date >= w[1].date), "newest first");
}

/// The openpayer 00632 page is the source of the low back pain and radiculopathy diagnoses: they are
/// 00632's only, not its lumbar siblings' (shared/domain/anesthesia-billing.md sections 3 and 7).
#[test]
fn siblings_do_not_borrow_00632_diagnoses() {
    for sibling in ["00630", "00635"] {
        let p = profile(sibling);
        assert!(p.diagnoses.is_empty(), "{sibling}: {:?}", p.diagnoses);
        assert!(p.clinical_context.summary.iter().all(|s| !s.contains("low back pain")), "{sibling}");
    }
    let p = profile("00632");
    let unconfirmed: Vec<&str> = p
        .diagnoses
        .iter()
        .filter(|d| d.relevance.contains("not confirmed"))
        .map(|d| d.diagnosis.code.as_str())
        .collect();
    assert_eq!(unconfirmed, ["G57.71", "G57.72", "L74.513", "R61", "I73.00", "I73.01", "I73.9"]);
}

#[test]
fn benchmarks_reproduce_the_worked_example() {
    // shared/domain/anesthesia-billing.md 1.3: 00632, 90 minutes = 13 units; $264.13 (2025), $266.47 (2026 non-QP).
    let p = profile("00632");
    let at = |year: i32, tier: cptkit_core::CfTier, minutes: u32| -> Decimal {
        let b = p.benchmarks.iter().find(|b| b.year == year && b.tier == tier && b.locality.is_none()).expect("row");
        b.amounts.iter().find(|a| a.minutes == minutes).expect("minutes").allowed
    };
    assert_eq!(at(2025, cptkit_core::CfTier::Single, 90), Decimal::new(26413, 2));
    assert_eq!(at(2026, cptkit_core::CfTier::NonQualifyingApm, 90), Decimal::new(26647, 2));
    // 13 x 20.5998 = 267.7974
    assert_eq!(at(2026, cptkit_core::CfTier::QualifyingApm, 90), Decimal::new(26780, 2));
    assert_eq!(p.benchmarks.len(), 3, "national rows only by default");
}

#[test]
fn locality_benchmarks_on_request() {
    let reference = Reference::embedded();
    let manhattan = ProfileOptions { localities: LocalitySelection::Only(vec!["13202-01".parse().expect("id")]) };
    let p = reference.profile(code("00632"), &manhattan).expect("profile");
    let row = p.benchmarks.iter().find(|b| b.locality.is_some()).expect("Manhattan row");
    assert_eq!(row.locality.as_ref().map(|l| l.name.as_str()), Some("MANHATTAN"));
    assert_eq!(row.conversion_factor, Decimal::new(2276, 2));
    // 13 units x $22.76 = $295.88
    assert_eq!(row.amounts[2].allowed, Decimal::new(29588, 2));

    let all = ProfileOptions { localities: LocalitySelection::All };
    assert_eq!(reference.profile(code("00632"), &all).expect("all").benchmarks.len(), 3 + 109);

    // A locality asked for twice is one row, for anesthesia and fee-schedule codes alike; an unknown
    // one is still named by its position.
    let ids = ["13202-01", "13202-01", "10112-00"].map(|id| id.parse().expect("id")).to_vec();
    let twice = ProfileOptions { localities: LocalitySelection::Only(ids) };
    assert_eq!(reference.profile(code("00632"), &twice).expect("twice").benchmarks.len(), 3 + 2);
    let fee = reference.profile(code("99213"), &twice).expect("99213");
    assert_eq!(fee.fee_schedule.expect("fee schedule").amounts.len(), 1 + 2);
    let ids = ["13202-01", "13202-01", "99999-99"].map(|id| id.parse().expect("id")).to_vec();
    let err = reference.profile(code("00632"), &ProfileOptions { localities: LocalitySelection::Only(ids) });
    assert_eq!(err.expect_err("unknown").field(), Some("localities[2]"));

    let unknown = ProfileOptions { localities: LocalitySelection::Only(vec!["99999-99".parse().expect("id")]) };
    let err = reference.profile(code("00632"), &unknown).expect_err("unknown locality");
    assert_eq!((err.kind(), err.field()), (ErrorKind::NotFound, Some("localities[0]")));
}

#[test]
fn unknown_and_malformed_codes() {
    let reference = Reference::embedded();
    let err = reference.profile(code("00101"), &ProfileOptions::default()).expect_err("not in CMS file");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("anesthesia range"), "{err}");
    let err = reference.profile(code("99999"), &ProfileOptions::default()).expect_err("in no CMS file");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("not in the Medicare Physician Fee Schedule (RVU25D)"), "{err}");
    for bad in ["0063", "ABCDE", ""] {
        let err = bad.parse::<CptCode>().expect_err(bad);
        assert_eq!((err.kind(), err.field()), (ErrorKind::InvalidInput, Some("code")));
    }
}

#[test]
fn special_service_types() {
    assert_eq!(profile("01968").service_type, ServiceType::AnesthesiaAddOn);
    let unlisted = profile("01999");
    assert_eq!(unlisted.service_type, ServiceType::UnlistedAnesthesia);
    assert!(unlisted.benchmarks.is_empty(), "priced by report");
    let obstetric = profile("01967");
    let add_ons: Vec<&str> =
        obstetric.related_codes.iter().filter(|r| r.relation == Relation::AddOn).map(|r| r.code.as_str()).collect();
    assert_eq!(add_ons, ["01968", "01969"]);
}

#[test]
fn full_icd10cm_code_set_with_deletions() {
    let reference = Reference::embedded();
    assert_eq!(reference.diagnosis_count().expect("index"), 98_186);
    let dx = |s: &str| reference.diagnosis(&s.parse().expect(s));
    let header = dx("M48.06").expect("M48.06");
    assert!(!header.billable);
    assert!(dx("M48.061").expect("M48.061").billable);
    let m545 = dx("M54.5").expect("M54.5");
    assert!(!m545.billable);
    assert_eq!(m545.valid_through.map(|d| d.to_string()), Some("2021-09-30".to_owned()));
    assert_eq!(m545.replaced_by.len(), 3);
    assert_eq!(
        dx("S72.001A").expect("7th character").title,
        "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    );
    assert_eq!(dx("M99.99").expect_err("absent").kind(), ErrorKind::NotFound);
}

#[test]
fn lookups() {
    let reference = Reference::embedded();
    assert!(reference.modifier("QS".parse().expect("QS")).expect("QS").meaning.contains("monitored"));
    assert_eq!(reference.modifier("59".parse().expect("59")).expect_err("59").kind(), ErrorKind::NotFound);
    assert_eq!(reference.taxonomy(&"367500000X".parse().expect("tx")).expect("CRNA").provider_role, "CRNA");
    assert_eq!(reference.place_of_service(&"21".parse().expect("pos")).expect("21").name, "Inpatient Hospital");
    assert_eq!(reference.place_of_service(&"30".parse().expect("pos")).expect_err("30").kind(), ErrorKind::NotFound);
}

#[test]
fn search_and_list_page_through_codes() {
    let reference = Reference::embedded();
    let lumbar = reference
        .search_codes(&CodeQuery { text: "lumbar".into(), ..CodeQuery::default() }, &PageRequest::default())
        .expect("search");
    let codes: Vec<&str> = lumbar.items.iter().map(|c| c.code.as_str()).collect();
    for c in ["00630", "00632", "00635"] {
        assert!(codes.contains(&c), "{c} in {codes:?}");
    }
    let spine =
        CodeQuery { category: Some("spine and spinal cord".into()), min_base_units: Some(13), ..CodeQuery::default() };
    let page = reference.search_codes(&spine, &PageRequest::default()).expect("filters");
    assert_eq!(page.items.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), ["00604", "00625", "00626", "00670"]);
    let inpatient = CodeQuery { inpatient_only: Some(true), ..CodeQuery::default() };
    assert_eq!(reference.search_codes(&inpatient, &PageRequest::default()).expect("ip").total_size, 2);
    // False is "known not to be": the spine family's eight checked codes, not the codes never checked.
    let not_inpatient = CodeQuery { inpatient_only: Some(false), ..CodeQuery::default() };
    assert_eq!(reference.search_codes(&not_inpatient, &PageRequest::default()).expect("not ip").total_size, 8);

    // Words match where a word starts, and a category's "(except ...)" is not what it is about.
    let found = |text: &str| -> Vec<String> {
        let query = CodeQuery { text: text.into(), ..CodeQuery::default() };
        let page = PageRequest { page_size: 500, page_token: String::new() };
        reference.search_codes(&query, &page).expect("search").items.iter().map(|c| c.code.to_string()).collect()
    };
    assert!(found("lumb").contains(&"00632".to_owned()));
    let hip = found("hip");
    assert!(hip.contains(&"01200".to_owned()), "{hip:?}"); // upper leg: hip joint procedures
    assert!(!hip.contains(&"00794".to_owned()), "Whipple is not a hip procedure");
    assert!(!hip.iter().any(|c| ("01112".."01191").contains(&c.as_str())), "Pelvis (except hip): {hip:?}");
    assert!(!found("knee").iter().any(|c| ("01200".."01275").contains(&c.as_str())), "Upper leg (except knee)");

    let mut seen = Vec::new();
    let mut page = PageRequest { page_size: 100, page_token: String::new() };
    loop {
        let result = reference.list_codes(&page).expect("list");
        assert_eq!(result.total_size, EVERY_CODE);
        seen.extend(result.items.into_iter().map(|c| c.code));
        if result.next_page_token.is_empty() {
            break;
        }
        page.page_token = result.next_page_token;
    }
    assert_eq!(seen.len(), EVERY_CODE as usize);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    let bad = PageRequest { page_size: 10, page_token: "abc".into() };
    assert_eq!(reference.list_codes(&bad).expect_err("token").field(), Some("page_token"));
    let big = PageRequest { page_size: 501, page_token: String::new() };
    assert_eq!(reference.list_codes(&big).expect_err("size").field(), Some("page_size"));
}

#[test]
fn a_data_directory_replaces_a_table() {
    let dir = std::env::temp_dir().join(format!("cptkit-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let national = "calendar_year,cf_tier,national_anesthesia_cf_usd,pfs_cf_usd,source\n\
                    2027,single,21.0000,,test table\n2028,single,22.0000,,test table\n";
    std::fs::write(dir.join("medicare_anesthesia_cf_national.csv"), national).expect("write");
    let reference = Reference::from_dir(&dir).expect("load");
    let p = reference.profile(code("00632"), &ProfileOptions::default()).expect("profile");
    assert_eq!(p.benchmarks.iter().map(|b| b.year).collect::<Vec<_>>(), [2027, 2028]);

    std::fs::write(dir.join("medicare_anesthesia_cf_national.csv"), "calendar_year\nnot-a-year\n").expect("write");
    let err = Reference::from_dir(&dir).expect_err("bad table");
    assert!(err.message().contains("medicare_anesthesia_cf_national.csv"), "{err}");
    // A table cut short (0 bytes, or its header alone) would replace good data with none: refused.
    for cut in ["", "calendar_year,cf_tier,national_anesthesia_cf_usd,pfs_cf_usd,source\n"] {
        std::fs::write(dir.join("medicare_anesthesia_cf_national.csv"), cut).expect("write");
        let err = Reference::from_dir(&dir).expect_err("empty table");
        assert_eq!(err.message(), "medicare_anesthesia_cf_national.csv: the table has no rows", "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// What priced lines name (release names, conversion factors) is kept once for the process: loading
/// equal data again, as the server's reload does, finds the kept values and keeps nothing new.
#[test]
fn loading_equal_data_again_keeps_no_new_values() {
    let dir = std::env::temp_dir().join(format!("cptkit-kept-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let national = "calendar_year,cf_tier,national_anesthesia_cf_usd,pfs_cf_usd,source\n\
                    2027,single,21.0000,,test table\n";
    std::fs::write(dir.join("medicare_anesthesia_cf_national.csv"), national).expect("write");
    let (first, again) = (Reference::from_dir(&dir).expect("load"), Reference::from_dir(&dir).expect("load"));
    let names = |r: &Reference| r.fee_schedule().releases().map(|r| r.name.as_ptr()).collect::<Vec<_>>();
    let factors = |r: &Reference| r.national_conversion_factors().map(std::ptr::from_ref).collect::<Vec<_>>();
    assert_eq!(names(&first), names(&again));
    assert_eq!(names(&first), names(Reference::embedded()));
    assert_eq!(factors(&first).len(), 1);
    assert_eq!(factors(&first), factors(&again));
    assert!(!factors(Reference::embedded()).contains(&factors(&first)[0]), "a new value is kept apart");
    std::fs::remove_dir_all(&dir).ok();
    // A rule book given an equal rule set again (Python's `RuleSet`, the server's reload) holds the kept one.
    let embedded = RuleBook::embedded();
    let rule_set = embedded.rule_sets().next().expect("a rule set").clone();
    let id = rule_set.id.clone();
    let (a, b) = (embedded.clone().with(rule_set.clone()), embedded.clone().with(rule_set));
    assert!(std::ptr::eq(a.by_id(&id).expect("a"), b.by_id(&id).expect("b")));
    assert!(std::ptr::eq(a.by_id(&id).expect("a"), embedded.by_id(&id).expect("embedded")));
}

#[test]
fn golden_00632_profile() {
    let path = fixtures().join("code_profile_00632/profile.json");
    let actual = serde_json::to_value(profile("00632")).expect("json");
    if std::env::var_os("CPTKIT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, serde_json::to_string_pretty(&actual).expect("json") + "\n").expect("write");
    }
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).expect("golden json");
    assert_eq!(actual, golden, "run with CPTKIT_BLESS=1 to regenerate, then review the diff");
}
