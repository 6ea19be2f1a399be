//! Reference records: what one row of a reference table means. These are also the answers of the
//! single-item lookups (modifier, diagnosis, taxonomy, place of service).

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::ids::{CptCode, Icd10Code, LocalityId, ModifierCode, PosCode, TaxonomyCode};

/// What kind of code this is; decides how it is priced and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// A time-based anesthesia service: base units + time units.
    Anesthesia,
    /// Reported with a primary anesthesia code (01953, 01968, 01969); payable beside it.
    AnesthesiaAddOn,
    /// 01999: no base units; priced by report.
    UnlistedAnesthesia,
    /// Any other code of the Medicare Physician Fee Schedule: priced by RVUs, GPCIs and the conversion factor.
    FeeSchedule,
}

impl ServiceType {
    pub const ALL: [ServiceType; 4] = [
        ServiceType::Anesthesia,
        ServiceType::AnesthesiaAddOn,
        ServiceType::UnlistedAnesthesia,
        ServiceType::FeeSchedule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Anesthesia => "anesthesia",
            ServiceType::AnesthesiaAddOn => "anesthesia_add_on",
            ServiceType::UnlistedAnesthesia => "unlisted_anesthesia",
            ServiceType::FeeSchedule => "fee_schedule",
        }
    }
}

/// A yes/no fact that the sources may not settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Known {
    Yes,
    No,
    Unknown,
}

/// One CPT anesthesia code as the reference data knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnesthesiaCode {
    pub code: CptCode,
    /// Plain-language description in cptkit's own words (CPT descriptors are AMA copyright).
    pub description: String,
    /// `paraphrase` (says what the code covers) or `section` (only the anatomical section is certain).
    pub description_basis: String,
    pub description_source: String,
    pub service_type: ServiceType,
    /// The primary code an add-on is reported with (01968 with 01967); None for any other code.
    pub reported_with: Option<CptCode>,
    /// The anatomical section of the CPT anesthesia chapter.
    pub category: String,
    pub base_units: u32,
    /// Shared by every code from the same file, and kept for the process: every priced line names it.
    pub base_units_source: &'static str,
    pub medicare_inpatient_only: Known,
    pub inpatient_only_source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModifierCategory {
    /// Who performed it and how (AA, AD, QK, QX, QY, QZ): sets the payment share.
    Pricing,
    /// Monitored anesthesia care flags (QS, G8, G9): no payment effect.
    Informational,
    /// Teaching physician (GC).
    Teaching,
    /// CPT modifiers (23, 47).
    Cpt,
    /// ASA physical status P1-P6.
    PhysicalStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Modifier {
    pub code: ModifierCode,
    pub category: ModifierCategory,
    pub meaning: String,
    pub billed_by: String,
    pub medicare_payment_effect: String,
    pub source: String,
}

/// CPT 99100, 99116, 99135, 99140: add-on codes that describe a harder anesthetic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QualifyingCircumstance {
    pub code: CptCode,
    pub meaning: String,
    /// Units many commercial payers add (ASA usage); a payer's own rule set decides.
    pub commercial_units: u32,
    pub medicare_paid: bool,
    pub medicare_note: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaceOfService {
    pub code: PosCode,
    pub name: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taxonomy {
    pub code: TaxonomyCode,
    pub grouping: String,
    pub classification: String,
    pub specialization: String,
    pub provider_role: String,
    /// CMS Medicare specialty code; may say it is unconfirmed.
    pub medicare_specialty: String,
    pub source: String,
}

/// An ICD-10-CM code with its official title; `valid_through` is set for deleted codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub code: Icd10Code,
    pub title: String,
    /// Valid on a claim (a leaf code), in the current release.
    pub billable: bool,
    /// Last date of service the code was valid for claims, when it has been deleted.
    pub valid_through: Option<Date>,
    pub replaced_by: Vec<Icd10Code>,
    pub source: String,
}

/// Which Medicare anesthesia conversion factor applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CfTier {
    /// One conversion factor for everyone (through CY2025).
    Single,
    /// CY2026 on: clinicians who are not qualifying APM participants.
    NonQualifyingApm,
    /// CY2026 on: qualifying APM participants (QP).
    QualifyingApm,
}

impl CfTier {
    pub fn as_str(self) -> &'static str {
        match self {
            CfTier::Single => "single",
            CfTier::NonQualifyingApm => "non_qualifying_apm",
            CfTier::QualifyingApm => "qualifying_apm",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversionFactor {
    pub year: i32,
    pub tier: CfTier,
    /// Set for a locality-adjusted factor; None for the national one.
    pub locality: Option<Locality>,
    pub amount: Decimal,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Locality {
    pub id: LocalityId,
    pub name: String,
}
