//! cptkit core: anesthesia billing-code reference data and code profiles.
//!
//! Synchronous and pure: no transport, no bindings. The gRPC server (`cptkit-server`, through
//! `cptkit-proto`) and the Python module (`cptkit-py`) are thin faces over this crate.

mod claim;
mod error;
mod files;
mod icd10;
mod ids;
mod judge;
mod kept;
mod model;
mod path;
mod payers;
pub mod pfs;
mod pricing;
mod profile;
mod rates;
mod reference;
mod search;
pub mod synthetic;
mod text;
mod units;
mod validate;

pub use claim::{
    Claim, ClaimLine, Diagnoses, DiagnosisPointers, Location, Modifiers, Patient, Payer, PlanType, ProviderRole,
    RenderingProvider, ShortText, UnitBasis, date_digits, derived_case_id, frequency_code, is_patient_field,
    local_time, optional_text, quantity, required_id, unreadable_field,
};
/// The inline containers the claim is made of, for the crates that build claims.
pub use compact_str::{ToCompactString, format_compact};
pub use error::{Error, ErrorKind, Resource, Result, Violation};
pub use files::{io_error, read_text};
pub use ids::{
    CptCode, DiagnosisCode, Icd10Code, InlineText, LocalityId, ModifierCode, Npi, PosCode, PostalCode, TaxonomyCode,
    UsState,
};
pub use judge::{ConversionFactors, JudgeOptions, Judgement, PriceOptions, Verdict, parse_today, rejection, today_utc};
pub use model::{
    AnesthesiaCode, CfTier, ConversionFactor, Diagnosis, Known, Locality, Modifier, ModifierCategory, PlaceOfService,
    QualifyingCircumstance, ServiceType, Taxonomy,
};
pub use path::{FieldPath, PathItem};
pub use payers::{FilingIndicator, PayerDirectory};
pub use pricing::{
    CfBasis, EffectiveFrom, FeeScheduleRule, LineStatus, PRICED_PLACES, PricedClaim, PricedLine, Rounding, RuleBook,
    RuleSet, Selector, Step, StepSink, Supervision, TimeUnits,
};
pub use profile::{
    Benchmark, BenchmarkAmount, ClinicalContext, CodeProfile, CommonDiagnosis, LocalitySelection, PayerProfile,
    ProfileOptions, ProviderTaxonomy, REFERENCE_MINUTES, RelatedCode, Relation, TypicalPlace,
};
pub use rates::{
    BILLING_CLASSES, BenchmarkFilter, MedicareComparison, NEGOTIATED_TYPES, PayerBenchmark, PayerBenchmarks, RateBasis,
    RateProvenance,
};
pub use reference::{CodeSection, NonphysicianPractitioner, PayerPolicy, PolicyUpdate, Reference};
pub use search::{CodeQuery, CodeSummary, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest};
pub use smallvec::{SmallVec, smallvec};
pub use text::{DateText, DecimalDigits, DecimalText, parse_date};
pub use units::{TimeUnitRule, allowed_amount, cents_count, small_mantissa};
pub use validate::{Edit, Finding, Severity, ValidationContext, ValidationReport, add_batch_findings, edit};
