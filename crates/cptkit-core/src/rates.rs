//! Payer rate benchmarks: quantiles of the negotiated rates payers publish in their Transparency in
//! Coverage (TiC) in-network-rates files, one row per payer file and rate key. The plain domain form;
//! reading TiC files and storing these rows (Parquet) is `cptkit-tic`'s job.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

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
