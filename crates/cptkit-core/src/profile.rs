//! Code profiles: the structured form of a code reference page, assembled from the reference tables
//! for any anesthesia code. Nothing here is written per code.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::error::Result;
use crate::ids::{CptCode, Icd10Code, LocalityId, PosCode};
use crate::model::{
    AnesthesiaCode, CfTier, ConversionFactor, Diagnosis, Known, Locality, Modifier, ServiceType, Taxonomy,
};
use crate::rates::{PayerBenchmark, PayerBenchmarks};
use crate::reference::{Family, PayerPolicy, PolicyUpdate, Reference};
use crate::units::{TimeUnitRule, allowed_amount};

/// Anesthesia durations the benchmarks are priced for.
pub const REFERENCE_MINUTES: [u32; 4] = [30, 60, 90, 120];

/// Which Medicare localities get their own benchmark rows (national rows are always there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LocalitySelection {
    #[default]
    None,
    All,
    Only(Vec<LocalityId>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileOptions {
    pub localities: LocalitySelection,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeProfile {
    pub code: CptCode,
    pub description: String,
    pub description_source: String,
    pub service_type: ServiceType,
    pub category: String,
    pub base_units: u32,
    pub base_units_source: String,
    pub medicare_inpatient_only: Known,
    pub inpatient_only_source: String,
    pub places_of_service: Vec<TypicalPlace>,
    pub clinical_context: ClinicalContext,
    pub modifiers: Vec<Modifier>,
    pub taxonomies: Vec<ProviderTaxonomy>,
    pub diagnoses: Vec<CommonDiagnosis>,
    pub payers: Vec<PayerProfile>,
    pub benchmarks: Vec<Benchmark>,
    /// Payers' published (TiC) rate quantiles for the code, from the benchmark rows given to
    /// [`Reference::profile_with`]; empty when none are loaded.
    pub payer_benchmarks: Vec<PayerBenchmark>,
    pub related_codes: Vec<RelatedCode>,
    pub policy_updates: Vec<PolicyUpdate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypicalPlace {
    pub code: PosCode,
    pub name: String,
    /// Why this place is listed (a CMS list, or a general note when nothing code-specific is known).
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClinicalContext {
    /// From the most specific code family to the most general.
    pub summary: Vec<String>,
    pub setting: String,
    pub care_team: String,
    pub workflow: Vec<String>,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderTaxonomy {
    pub taxonomy: Taxonomy,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommonDiagnosis {
    pub diagnosis: Diagnosis,
    pub relevance: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayerProfile {
    pub payer: String,
    pub policies: Vec<PayerPolicy>,
}

/// Medicare allowed amounts for the reference durations under one conversion factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Benchmark {
    pub year: i32,
    pub tier: CfTier,
    /// None for the national conversion factor.
    pub locality: Option<Locality>,
    pub conversion_factor: Decimal,
    pub conversion_factor_source: String,
    pub amounts: Vec<BenchmarkAmount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BenchmarkAmount {
    pub minutes: u32,
    pub time_units: Decimal,
    pub total_units: Decimal,
    /// Personally performed (AA or QZ), before the lesser-of-charge rule; directed lines get 50%.
    pub allowed: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Another code in the same anatomical section.
    SameCategory,
    /// An add-on code of the same section, reported beside a primary code.
    AddOn,
    /// A qualifying-circumstance add-on (99100-99140).
    QualifyingCircumstance,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedCode {
    pub code: CptCode,
    pub relation: Relation,
    pub description: String,
    /// CMS base units; None for qualifying-circumstance codes, which have none under Medicare.
    pub base_units: Option<u32>,
}

impl Reference {
    /// The profile of one anesthesia code, assembled from the tables (no payer benchmarks).
    pub fn profile(&self, code: CptCode, options: &ProfileOptions) -> Result<CodeProfile> {
        self.profile_with(code, options, &PayerBenchmarks::default())
    }

    /// The profile of one anesthesia code with the loaded payer benchmark rows of that code.
    pub fn profile_with(
        &self,
        code: CptCode,
        options: &ProfileOptions,
        payer_benchmarks: &PayerBenchmarks,
    ) -> Result<CodeProfile> {
        let entry = self.anesthesia_code(code)?;
        // General to specific, as listed in code_families.csv.
        let families: Vec<&Family> = self.families_of(code).collect();
        let places_of_service = self.typical_places(entry)?;
        Ok(CodeProfile {
            code,
            description: entry.description.clone(),
            description_source: entry.description_source.clone(),
            service_type: entry.service_type,
            category: entry.category.clone(),
            base_units: entry.base_units,
            base_units_source: entry.base_units_source.to_string(),
            medicare_inpatient_only: entry.medicare_inpatient_only,
            inpatient_only_source: entry.inpatient_only_source.clone(),
            clinical_context: clinical_context(&families, &places_of_service),
            places_of_service,
            modifiers: self.modifiers.clone(),
            taxonomies: self.family_taxonomies(&families)?,
            diagnoses: self.family_diagnoses(&families)?,
            payers: self.payers_for(entry),
            benchmarks: self.benchmarks(entry, &options.localities)?,
            payer_benchmarks: payer_benchmarks.for_code(code).to_vec(),
            related_codes: self.related_codes(entry),
            policy_updates: self.updates_for(&families),
        })
    }

    fn typical_places(&self, entry: &AnesthesiaCode) -> Result<Vec<TypicalPlace>> {
        let (codes, basis): (&[&str], &str) = match entry.medicare_inpatient_only {
            Known::Yes => (&["21"], "Medicare inpatient-only code (CMS CY2025 OPPS Addendum E, status indicator C)"),
            Known::No | Known::Unknown => (
                &["21", "22", "24"],
                "general: anesthesia is furnished in hospital and ambulatory surgical settings; \
                 cptkit has no code-specific place-of-service data for this code",
            ),
        };
        codes
            .iter()
            .map(|raw| {
                let pos = self.place_of_service(&raw.parse()?)?;
                Ok(TypicalPlace { code: pos.code, name: pos.name.clone(), basis: basis.to_owned() })
            })
            .collect()
    }

    fn family_taxonomies(&self, families: &[&Family]) -> Result<Vec<ProviderTaxonomy>> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for tx in families.iter().flat_map(|f| &f.taxonomies) {
            if seen.insert(&tx.code) {
                out.push(ProviderTaxonomy { taxonomy: self.taxonomy(&tx.code)?.clone(), why: tx.why.clone() });
            }
        }
        Ok(out)
    }

    fn family_diagnoses(&self, families: &[&Family]) -> Result<Vec<CommonDiagnosis>> {
        let mut seen = BTreeSet::<&Icd10Code>::new();
        let mut out = Vec::new();
        for dx in families.iter().flat_map(|f| &f.diagnoses) {
            if seen.insert(&dx.code) {
                out.push(CommonDiagnosis {
                    diagnosis: self.diagnosis(&dx.code)?,
                    relevance: dx.relevance.clone(),
                    source: dx.source.clone(),
                });
            }
        }
        Ok(out)
    }

    fn payers_for(&self, entry: &AnesthesiaCode) -> Vec<PayerProfile> {
        let mut payers: Vec<PayerProfile> = Vec::new();
        for policy in &self.payer_policies {
            match payers.iter_mut().find(|p| p.payer == policy.payer) {
                Some(payer) => payer.policies.push(policy.clone()),
                None => payers.push(PayerProfile { payer: policy.payer.clone(), policies: vec![policy.clone()] }),
            }
        }
        if entry.medicare_inpatient_only == Known::Yes
            && let Some(medicare) = payers.iter_mut().find(|p| p.payer == "Medicare")
        {
            medicare.policies.push(PayerPolicy {
                payer: "Medicare".to_owned(),
                plan: "Medicare fee-for-service".to_owned(),
                topic: "inpatient-only".to_owned(),
                policy: format!(
                    "{} is on the Medicare inpatient-only list: Medicare pays for the procedure only when the \
                     patient is a hospital inpatient, so anesthesia is billed with place of service 21.",
                    entry.code
                ),
                effective_date: Date::from_calendar_date(2025, time::Month::January, 1).ok(),
                evidence: "confirmed".to_owned(),
                source: entry.inpatient_only_source.clone(),
            });
        }
        payers
    }

    fn benchmarks(&self, entry: &AnesthesiaCode, localities: &LocalitySelection) -> Result<Vec<Benchmark>> {
        if entry.service_type == ServiceType::UnlistedAnesthesia {
            return Ok(Vec::new()); // Priced by report: no base units to benchmark.
        }
        let years: BTreeSet<i32> = self.national_cfs.iter().map(|cf| cf.year).collect();
        let latest_years: BTreeSet<i32> = years.into_iter().rev().take(2).collect();
        let national = self.national_conversion_factors().filter(|cf| latest_years.contains(&cf.year));
        let local: Vec<&ConversionFactor> = match localities {
            LocalitySelection::None => Vec::new(),
            LocalitySelection::All => self.locality_conversion_factors().collect(),
            LocalitySelection::Only(ids) => ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    self.locality_conversion_factors()
                        .find(|cf| cf.locality.as_ref().is_some_and(|l| &l.id == id))
                        .ok_or_else(|| {
                            crate::Error::not_found(format!(
                                "no Medicare anesthesia conversion factor for locality {id}"
                            ))
                            .at(format!("localities[{i}]"))
                        })
                })
                .collect::<Result<_>>()?,
        };
        Ok(national.chain(local).map(|cf| benchmark(entry.base_units, cf)).collect())
    }

    fn related_codes(&self, entry: &AnesthesiaCode) -> Vec<RelatedCode> {
        let same_section =
            self.codes.values().filter(|c| c.category == entry.category && c.code != entry.code).map(|c| RelatedCode {
                code: c.code,
                relation: match c.service_type {
                    ServiceType::AnesthesiaAddOn => Relation::AddOn,
                    ServiceType::Anesthesia | ServiceType::UnlistedAnesthesia => Relation::SameCategory,
                },
                description: c.description.clone(),
                base_units: Some(c.base_units),
            });
        let qualifying = self.qualifying_circumstances.iter().map(|qc| RelatedCode {
            code: qc.code,
            relation: Relation::QualifyingCircumstance,
            description: qc.meaning.clone(),
            base_units: None,
        });
        same_section.chain(qualifying).collect()
    }

    fn updates_for(&self, families: &[&Family]) -> Vec<PolicyUpdate> {
        let mut updates: Vec<PolicyUpdate> =
            self.policy_updates.iter().filter(|u| families.iter().any(|f| f.id == u.family)).cloned().collect();
        updates.sort_by_key(|u| std::cmp::Reverse(u.date));
        updates
    }
}

fn benchmark(base_units: u32, cf: &ConversionFactor) -> Benchmark {
    let amounts = REFERENCE_MINUTES
        .iter()
        .map(|&minutes| {
            let time_units = TimeUnitRule::MEDICARE.units(minutes);
            let total_units = Decimal::from(base_units) + time_units;
            BenchmarkAmount { minutes, time_units, total_units, allowed: allowed_amount(total_units, cf.amount) }
        })
        .collect();
    Benchmark {
        year: cf.year,
        tier: cf.tier,
        locality: cf.locality.clone(),
        conversion_factor: cf.amount,
        conversion_factor_source: cf.source.clone(),
        amounts,
    }
}

fn clinical_context(families: &[&Family], places: &[TypicalPlace]) -> ClinicalContext {
    let specific_first = || families.iter().rev();
    let first_set =
        |field: fn(&Family) -> &str| specific_first().map(|f| field(f)).find(|s| !s.is_empty()).map(str::to_owned);
    let setting = first_set(|f| &f.setting).unwrap_or_else(|| {
        let names: Vec<&str> = places.iter().map(|p| p.name.as_str()).collect();
        format!("Usually {} (general; not specific to this code)", names.join(", "))
    });
    ClinicalContext {
        summary: specific_first().map(|f| f.clinical_summary.clone()).filter(|s| !s.is_empty()).collect(),
        setting,
        care_team: first_set(|f| &f.care_team).unwrap_or_default(),
        workflow: families.iter().flat_map(|f| f.workflow.iter().cloned()).collect(),
        sources: families.iter().map(|f| format!("{}: {}", f.name, f.source)).collect(),
    }
}
