//! cptkit core: anesthesia billing-code reference data and code profiles.
//!
//! Synchronous and pure: no transport, no bindings. The gRPC server (`cptkit-server`, through
//! `cptkit-proto`) and the Python module (`cptkit-py`) are thin faces over this crate.

mod claim;
mod error;
mod icd10;
mod ids;
mod model;
mod pricing;
mod profile;
mod rates;
mod reference;
mod search;
pub mod synthetic;
mod units;
mod validate;

pub use claim::{
    Claim, ClaimLine, Npi, Patient, Payer, PlanType, ProviderRole, RenderingProvider, UnitBasis, local_time,
};
pub use error::{Error, ErrorKind, Result};
pub use ids::{CptCode, Icd10Code, LocalityId, ModifierCode, PosCode, TaxonomyCode};
pub use model::{
    AnesthesiaCode, CfTier, ConversionFactor, Diagnosis, Known, Locality, Modifier, ModifierCategory, PlaceOfService,
    QualifyingCircumstance, ServiceType, Taxonomy,
};
pub use pricing::{
    CfBasis, LineStatus, PriceOptions, PricedClaim, PricedLine, Rounding, RuleBook, RuleSet, Selector, Step,
    Supervision, TimeUnits,
};
pub use profile::{
    Benchmark, BenchmarkAmount, ClinicalContext, CodeProfile, CommonDiagnosis, LocalitySelection, PayerProfile,
    ProfileOptions, ProviderTaxonomy, REFERENCE_MINUTES, RelatedCode, Relation, TypicalPlace,
};
pub use rates::{
    BILLING_CLASSES, BenchmarkFilter, MedicareComparison, NEGOTIATED_TYPES, PayerBenchmark, PayerBenchmarks, RateBasis,
    RateProvenance,
};
pub use reference::{PayerPolicy, PolicyUpdate, Reference};
pub use search::{CodeQuery, CodeSummary, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest};
pub use units::{TimeUnitRule, allowed_amount};
pub use validate::{Edit, Finding, Severity, ValidationContext, ValidationReport, edit};
