//! cptkit core: anesthesia billing-code reference data and code profiles.
//!
//! Synchronous and pure: no transport, no bindings. The gRPC server (`cptkit-server`, through
//! `cptkit-proto`) and the Python module (`cptkit-py`) are thin faces over this crate.

mod error;
mod icd10;
mod ids;
mod model;
mod profile;
mod reference;
mod search;
mod units;

pub use error::{Error, ErrorKind, Result};
pub use ids::{CptCode, Icd10Code, LocalityId, ModifierCode, PosCode, TaxonomyCode};
pub use model::{
    AnesthesiaCode, CfTier, ConversionFactor, Diagnosis, Known, Locality, Modifier, ModifierCategory,
    PlaceOfService, QualifyingCircumstance, ServiceType, Taxonomy,
};
pub use profile::{
    Benchmark, BenchmarkAmount, ClinicalContext, CodeProfile, CommonDiagnosis, LocalitySelection, PayerProfile,
    ProfileOptions, ProviderTaxonomy, REFERENCE_MINUTES, Relation, RelatedCode, TypicalPlace,
};
pub use reference::{PayerPolicy, PolicyUpdate, Reference};
pub use search::{CodeQuery, CodeSummary, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest};
pub use units::{TimeUnitRule, allowed_amount};
