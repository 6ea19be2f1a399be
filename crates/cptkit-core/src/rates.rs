//! Payer rate benchmarks: quantiles of the negotiated rates payers publish in their Transparency in
//! Coverage (TiC) in-network-rates files, one row per payer file and rate key. The plain domain form;
//! reading TiC files and storing these rows (Parquet) is `cptkit-tic`'s job.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::error::{Error, Resource, Result};
use crate::ids::{CptCode, ModifierCode, PosCode};
use crate::reference::Reference;

/// What a published amount is a price of. TiC files carry no unit field, so for anesthesia codes the
/// basis is inferred by a documented heuristic (`cptkit-tic` README, "Per unit or per case").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateBasis {
    /// Anesthesia: dollars per unit, i.e. a conversion factor.
    PerUnit,
    /// Anesthesia: flat dollars for the whole case.
    PerCase,
    /// Anesthesia: a dollar amount the heuristic cannot place as per unit or per case.
    Unknown,
    /// A dollar amount for a code that is not an anesthesia code, as published.
    PerService,
    /// `negotiated_type` "per diem": dollars per day.
    PerDiem,
    /// `negotiated_type` "percentage": a percentage (of billed charges, per the TiC guide), not dollars.
    Percentage,
}

impl RateBasis {
    pub const ALL: [RateBasis; 6] = [
        RateBasis::PerUnit,
        RateBasis::PerCase,
        RateBasis::Unknown,
        RateBasis::PerService,
        RateBasis::PerDiem,
        RateBasis::Percentage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RateBasis::PerUnit => "per_unit",
            RateBasis::PerCase => "per_case",
            RateBasis::Unknown => "unknown",
            RateBasis::PerService => "per_service",
            RateBasis::PerDiem => "per_diem",
            RateBasis::Percentage => "percentage",
        }
    }

    pub fn parse(text: &str) -> Option<RateBasis> {
        RateBasis::ALL.into_iter().find(|b| b.as_str() == text)
    }
}

/// Where a benchmark row came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateProvenance {
    /// The TiC file's name (no directory), as given to the reader.
    pub source_file: String,
    /// The payer: the file's `reporting_entity_name`.
    pub reporting_entity_name: String,
    pub reporting_entity_type: String,
    /// As published (TiC asks for YYYY-MM-DD; not every file complies).
    pub last_updated_on: String,
    /// The file's `version` (TiC schema version), empty when the file has none.
    pub schema_version: String,
    pub ingested_on: Date,
}

/// Quantiles of one payer file's negotiated rates for one key: code x billing class x place of service x
/// modifiers (x provider taxonomy, when NPIs were joined to NPPES) x negotiated type x rate basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerBenchmark {
    pub provenance: RateProvenance,
    /// CPT, HCPCS, ... (the file's `billing_code_type`).
    pub billing_code_type: String,
    pub billing_code: String,
    /// `professional` or `institutional`.
    pub billing_class: String,
    /// One place-of-service code; None when the price lists none (institutional prices may not).
    pub place_of_service: Option<String>,
    /// `billing_code_modifier`, sorted; empty when the price applies without a modifier.
    pub modifiers: Vec<String>,
    /// Primary NPPES taxonomy of the providers the price applies to; None when no NPPES file was joined,
    /// `unknown` when joined but the NPI is not in the file, has no primary taxonomy or its provider
    /// reference could not be resolved.
    pub taxonomy: Option<String>,
    /// `negotiated`, `derived`, `fee schedule`, `percentage` or `per diem`.
    pub negotiated_type: String,
    pub rate_basis: RateBasis,
    /// Negotiated prices behind the row (a price listing several places of service counts in each).
    pub count: u64,
    pub min: Decimal,
    pub p10: Decimal,
    pub p25: Decimal,
    pub median: Decimal,
    pub p75: Decimal,
    pub p90: Decimal,
    pub max: Decimal,
    /// Per-unit rows only: the Medicare national anesthesia conversion factor for the file's year.
    pub medicare: Option<MedicareComparison>,
}

/// A per-unit rate against the Medicare national anesthesia conversion factor of the same year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicareComparison {
    pub year: i32,
    pub conversion_factor: Decimal,
    /// median / conversion factor x 100, rounded to 2 decimals.
    pub median_percent_of_medicare: Decimal,
}

/// `negotiated_type` values of the TiC in-network-rates schema.
pub const NEGOTIATED_TYPES: [&str; 5] = ["negotiated", "derived", "fee schedule", "percentage", "per diem"];

/// `billing_class` values of the TiC in-network-rates schema.
pub const BILLING_CLASSES: [&str; 2] = ["professional", "institutional"];

/// Which benchmark rows of a code to return; every filter given must match (None: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchmarkFilter {
    /// Case-insensitive substring of the payer (`reporting_entity_name`).
    pub payer: Option<String>,
    /// `professional` or `institutional`.
    pub billing_class: Option<String>,
    pub place_of_service: Option<PosCode>,
    /// One of [`NEGOTIATED_TYPES`].
    pub negotiated_type: Option<String>,
    pub rate_basis: Option<RateBasis>,
    /// Rows whose modifiers include this one.
    pub modifier: Option<ModifierCode>,
}

impl BenchmarkFilter {
    /// Parses filters given as text, as the gRPC request and the Python keywords carry them; an empty
    /// string means no filter. An error names the field (`rate_basis`).
    pub fn from_text(
        payer: &str,
        billing_class: &str,
        place_of_service: &str,
        negotiated_type: &str,
        rate_basis: &str,
        modifier: &str,
    ) -> Result<BenchmarkFilter> {
        let given = |text: &str| Some(text.trim()).filter(|t| !t.is_empty()).map(str::to_owned);
        let one_of = |field: &str, text: &str, allowed: &[&str]| -> Result<Option<String>> {
            match given(text) {
                None => Ok(None),
                Some(t) => match allowed.iter().find(|a| a.eq_ignore_ascii_case(&t)) {
                    Some(a) => Ok(Some((*a).to_owned())),
                    None => Err(Error::invalid(field, format!("expected one of {}, got {t:?}", quoted(allowed)))),
                },
            }
        };
        let rate_basis = match given(rate_basis) {
            None => None,
            Some(t) => Some(RateBasis::parse(&t.to_ascii_lowercase()).ok_or_else(|| {
                let names: Vec<&str> = RateBasis::ALL.iter().map(|b| b.as_str()).collect();
                Error::invalid("rate_basis", format!("expected one of {}, got {t:?}", quoted(&names)))
            })?),
        };
        Ok(BenchmarkFilter {
            payer: given(payer),
            billing_class: one_of("billing_class", billing_class, &BILLING_CLASSES)?,
            place_of_service: given(place_of_service)
                .map(|t| t.parse::<PosCode>())
                .transpose()
                .map_err(|e| Error::invalid("place_of_service", e.message()))?,
            negotiated_type: one_of("negotiated_type", negotiated_type, &NEGOTIATED_TYPES)?,
            rate_basis,
            modifier: given(modifier)
                .map(|t| t.parse::<ModifierCode>())
                .transpose()
                .map_err(|e| Error::invalid("modifier", e.message()))?,
        })
    }

    pub fn matches(&self, row: &PayerBenchmark) -> bool {
        let BenchmarkFilter { payer, billing_class, place_of_service, negotiated_type, rate_basis, modifier } = self;
        payer.as_ref().is_none_or(|p| row.provenance.reporting_entity_name.to_lowercase().contains(&p.to_lowercase()))
            && billing_class.as_ref().is_none_or(|c| row.billing_class.eq_ignore_ascii_case(c))
            && place_of_service.is_none_or(|pos| row.place_of_service.as_deref() == Some(pos.as_str()))
            && negotiated_type.as_ref().is_none_or(|t| row.negotiated_type.eq_ignore_ascii_case(t))
            && rate_basis.is_none_or(|b| row.rate_basis == b)
            && modifier.is_none_or(|m| row.modifiers.iter().any(|r| r.eq_ignore_ascii_case(m.as_str())))
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

/// Loaded payer benchmark rows, indexed by billing code: what a server or a Python process holds after
/// reading a benchmark store (`cptkit-tic`), passed to [`Reference::profile_with`] and queried with
/// [`PayerBenchmarks::query`]. Rows keep the order they were loaded in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayerBenchmarks {
    by_code: BTreeMap<String, Vec<PayerBenchmark>>,
    len: usize,
}

impl PayerBenchmarks {
    pub fn new(rows: Vec<PayerBenchmark>) -> PayerBenchmarks {
        let len = rows.len();
        let mut by_code: BTreeMap<String, Vec<PayerBenchmark>> = BTreeMap::new();
        for row in rows {
            by_code.entry(row.billing_code.trim().to_ascii_uppercase()).or_default().push(row);
        }
        PayerBenchmarks { by_code, len }
    }

    /// Rows loaded, over all codes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every row of one billing code, in load order; empty when none was loaded.
    pub fn for_code(&self, code: CptCode) -> &[PayerBenchmark] {
        self.by_code.get(code.as_str()).map_or(&[], Vec::as_slice)
    }

    /// The rows of `code` that pass `filter`. A code cptkit cannot profile (neither an anesthesia code nor
    /// in the fee schedule) and without loaded rows is NotFound; a known code without rows gives an empty list.
    pub fn query(&self, reference: &Reference, code: CptCode, filter: &BenchmarkFilter) -> Result<Vec<PayerBenchmark>> {
        let rows = self.for_code(code);
        if rows.is_empty() {
            reference.check_code(code).map_err(|e| {
                let message = format!("{}, and no payer benchmark is loaded for it", e.message());
                Error::missing(Resource::PROCEDURE_CODE, code.to_string(), message).at("code")
            })?;
        }
        Ok(rows.iter().filter(|r| filter.matches(r)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn row(
        payer: &str,
        code: &str,
        pos: Option<&str>,
        modifiers: &[&str],
        basis: RateBasis,
        median: i64,
    ) -> PayerBenchmark {
        let amount = Decimal::new(median, 0);
        PayerBenchmark {
            provenance: RateProvenance {
                source_file: "f.json".into(),
                reporting_entity_name: payer.into(),
                reporting_entity_type: "health insurance issuer".into(),
                last_updated_on: "2025-03-01".into(),
                schema_version: "1.3.1".into(),
                ingested_on: time::macros::date!(2026 - 11 - 27),
            },
            billing_code_type: "CPT".into(),
            billing_code: code.into(),
            billing_class: "professional".into(),
            place_of_service: pos.map(str::to_owned),
            modifiers: modifiers.iter().map(|m| (*m).to_owned()).collect(),
            taxonomy: None,
            negotiated_type: "negotiated".into(),
            rate_basis: basis,
            count: 1,
            min: amount,
            p10: amount,
            p25: amount,
            median: amount,
            p75: amount,
            p90: amount,
            max: amount,
            medicare: None,
        }
    }

    fn index() -> PayerBenchmarks {
        PayerBenchmarks::new(vec![
            row("Example Health Plan (fixture)", "00632", Some("21"), &[], RateBasis::PerUnit, 85),
            row("Example Health Plan (fixture)", "00632", Some("21"), &["QZ"], RateBasis::PerUnit, 80),
            row("Example Health Plan North (fixture)", "00632", Some("22"), &[], RateBasis::PerCase, 1200),
            row("Example Health Plan (fixture)", "27447", Some("22"), &[], RateBasis::PerService, 2222),
        ])
    }

    fn code(text: &str) -> CptCode {
        text.parse().expect("code")
    }

    fn medians(rows: &[PayerBenchmark]) -> Vec<i64> {
        rows.iter().map(|r| i64::try_from(r.median.mantissa()).expect("small")).collect()
    }

    #[test]
    fn filters_select_rows_of_one_code() {
        let (reference, index) = (Reference::embedded(), index());
        assert_eq!(index.len(), 4);
        let query = |filter: BenchmarkFilter| medians(&index.query(reference, code("00632"), &filter).expect("query"));
        assert_eq!(query(BenchmarkFilter::default()), [85, 80, 1200]);
        let text = |p, c, pos, t, b, m| BenchmarkFilter::from_text(p, c, pos, t, b, m).expect("filter");
        assert_eq!(query(text("north", "", "", "", "", "")), [1200]);
        assert_eq!(query(text("", "Professional", "21", "negotiated", "per_unit", "")), [85, 80]);
        assert_eq!(query(text("", "", "", "", "", "qz")), [80]);
        assert_eq!(query(text("", "institutional", "", "", "", "")), Vec::<i64>::new());
        // Known to the reference, nothing loaded: empty (an anesthesia or a fee schedule code). Loaded: its rows.
        assert!(index.query(reference, code("00840"), &BenchmarkFilter::default()).expect("known").is_empty());
        assert!(index.query(reference, code("99213"), &BenchmarkFilter::default()).expect("known").is_empty());
        assert_eq!(
            medians(&index.query(reference, code("27447"), &BenchmarkFilter::default()).expect("loaded")),
            [2222]
        );
        let err = index.query(reference, code("99999"), &BenchmarkFilter::default()).expect_err("unknown");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.message().contains("no payer benchmark is loaded"), "{err}");
    }

    #[test]
    fn a_bad_filter_names_its_field() {
        let field = |p, c, pos, t, b, m| {
            BenchmarkFilter::from_text(p, c, pos, t, b, m).expect_err("bad").field().map(str::to_owned)
        };
        assert_eq!(field("", "both", "", "", "", ""), Some("billing_class".into()));
        assert_eq!(field("", "", "2A", "", "", ""), Some("place_of_service".into()));
        assert_eq!(field("", "", "", "capitation", "", ""), Some("negotiated_type".into()));
        assert_eq!(field("", "", "", "", "per_minute", ""), Some("rate_basis".into()));
        assert_eq!(field("", "", "", "", "", "Q"), Some("modifier".into()));
    }

    #[test]
    fn profiles_carry_the_rows_of_their_code() {
        let reference = Reference::embedded();
        let options = crate::ProfileOptions::default();
        let profile = reference.profile_with(code("00632"), &options, &index()).expect("profile");
        assert_eq!(medians(&profile.payer_benchmarks), [85, 80, 1200]);
        assert!(reference.profile(code("00632"), &options).expect("plain").payer_benchmarks.is_empty());
        let knee = reference.profile_with(code("27447"), &options, &index()).expect("a fee schedule code");
        assert_eq!(medians(&knee.payer_benchmarks), [2222]);
    }
}
