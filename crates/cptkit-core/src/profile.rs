//! Code profiles: the structured form of a code reference page, assembled from the reference tables
//! for every anesthesia code and every code of the Medicare Physician Fee Schedule. Nothing here is
//! written per code.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::claim::PlanType;
use crate::error::{Resource, Result};
use crate::ids::{CptCode, Icd10Code, LocalityId, PosCode};
use crate::model::{
    AnesthesiaCode, CfTier, ConversionFactor, Diagnosis, Known, Locality, Modifier, ServiceType, Taxonomy,
};
use crate::pfs::{FeeScheduleProfile, selected_localities};
use crate::pricing::RuleBook;
use crate::rates::{PayerBenchmark, PayerBenchmarks};
use crate::reference::{CodeSection, Family, PayerPolicy, PolicyUpdate, Reference};
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

impl LocalitySelection {
    /// The words for every locality, the same on every face: `*` and `all` (each face once knew one).
    const EVERY: [&'static str; 2] = ["*", "all"];

    fn is_every(word: &str) -> bool {
        Self::EVERY.contains(&word.trim())
    }

    /// The one reading of a locality selection given as a list (gRPC's `localities`, a Python
    /// sequence): no items is none, `*` or `all` among them is every locality, else each item is a
    /// MAC-locality id (`13202-01`), an error naming its position (`localities[1]`).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<LocalitySelection> {
        if items.is_empty() {
            return Ok(LocalitySelection::None);
        }
        if items.iter().any(|item| Self::is_every(item.as_ref())) {
            return Ok(LocalitySelection::All);
        }
        let ids = items.iter().enumerate().map(|(i, item)| {
            // The position names the item, not the id's own field.
            item.as_ref()
                .parse::<LocalityId>()
                .map_err(|e| crate::Error::new(e.kind(), e.message().to_owned()).at(format!("localities[{i}]")))
        });
        ids.collect::<Result<_>>().map(LocalitySelection::Only)
    }

    /// A locality selection given as one word (Python's `localities="all"`): `all` or `*`, as in a list.
    pub fn parse_word(word: &str) -> Result<LocalitySelection> {
        if Self::is_every(word) {
            Self::parse(&[word])
        } else {
            Err(crate::Error::invalid(
                "localities",
                format!(
                    "expected \"all\" or \"*\" (every locality) or a list of Medicare locality ids such as \
                     [\"13202-01\"], got {}",
                    crate::ids::describe(word)
                ),
            ))
        }
    }
}

/// The localities asked for, each once (a locality named twice is one benchmark), with its position in
/// the request for errors to name.
pub(crate) fn each_once(ids: &[LocalityId]) -> impl Iterator<Item = (usize, &LocalityId)> {
    ids.iter().enumerate().filter(|&(i, id)| !ids[..i].contains(id))
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
    /// What the newest Medicare Physician Fee Schedule release says about the code and pays for it;
    /// None for an anesthesia code the release does not list.
    pub fee_schedule: Option<FeeScheduleProfile>,
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
    /// Where the claim that this taxonomy bills the code comes from (the taxonomy's own definition is
    /// [`Taxonomy::source`]).
    pub source: String,
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
    /// The base procedure of the code's endoscopy family (the RVU file's endoscopic base code).
    EndoscopicBase,
    /// Another code of the same endoscopy family (the same endoscopic base).
    EndoscopicFamily,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedCode {
    pub code: CptCode,
    pub relation: Relation,
    pub description: String,
    /// CMS base units; None for codes without (qualifying circumstances, fee schedule codes).
    pub base_units: Option<u32>,
}

/// What a code is called, and where that text comes from.
struct Description {
    text: String,
    source: String,
    /// The text is a descriptor (not cptkit's placeholder naming only the section): search reads it.
    is_descriptor: bool,
}

const USER_DESCRIPTOR_SOURCE: &str = "user-supplied descriptor file";
const LEVEL2_DESCRIPTOR_SOURCE: &str =
    "CMS HCPCS Level II short descriptor (PPRRVU2025_Oct.csv DESCRIPTION column, RVU25D)";
const SECTION_SOURCE: &str = "CPT section ranges (cptkit data/pfs/cpt_sections.csv); CPT descriptors are AMA \
                              copyright: load a licensed cpt_descriptors.csv (code,descriptor) from a data \
                              directory to show them";
const DENTAL_SOURCE: &str = "HCPCS Level II D codes are the ADA's CDT codes: their descriptors are left out of \
                             cptkit's data (data/pfs, hcpcs_level2_short_descriptions_2025.csv)";
const LEVEL2_GROUP_SOURCE: &str = "HCPCS Level II letter groups (cptkit data/pfs/cpt_sections.csv); CMS's 2025 \
                                   short descriptor file has no row for this code";

/// `Surgery: Digestive System`, or the section alone when it has no subsection.
pub(crate) fn section_label(section: &CodeSection) -> String {
    if section.subsection.is_empty() {
        section.section.clone()
    } else {
        format!("{}: {}", section.section, section.subsection)
    }
}

impl Reference {
    /// The profile of one code (an anesthesia code or a code of the newest fee schedule release),
    /// assembled from the tables (no payer benchmarks).
    pub fn profile(&self, code: CptCode, options: &ProfileOptions) -> Result<CodeProfile> {
        self.profile_with(code, options, &PayerBenchmarks::default())
    }

    /// The profile of one code with the loaded payer benchmark rows of that code. An anesthesia code has
    /// the anesthesia profile (and its fee schedule row, status J); any other code the fee schedule's.
    pub fn profile_with(
        &self,
        code: CptCode,
        options: &ProfileOptions,
        payer_benchmarks: &PayerBenchmarks,
    ) -> Result<CodeProfile> {
        let Some(entry) = self.codes.get(&code) else {
            let fee_schedule =
                self.fee_schedule_profile(code, &options.localities)?.ok_or_else(|| self.unknown_code(code))?;
            return self.fee_schedule_code_profile(code, fee_schedule, payer_benchmarks);
        };
        // General to specific, as listed in code_families.csv.
        let families: Vec<&Family> = self.families_of(code).collect();
        let places_of_service = self.typical_places(entry)?;
        let benchmarks = self.benchmarks(entry, &options.localities)?;
        let description = self.describe(code, Some(entry), self.section_of(code));
        Ok(CodeProfile {
            code,
            description: description.text,
            description_source: description.source,
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
            benchmarks,
            payer_benchmarks: payer_benchmarks.for_code(code).to_vec(),
            related_codes: self.related_codes(entry),
            policy_updates: self.updates_for(&families),
            fee_schedule: self.fee_schedule_profile(code, &options.localities)?,
        })
    }

    /// Ok for a code cptkit can profile (an anesthesia code or a code of the newest fee schedule
    /// release); else NotFound saying why.
    pub fn check_code(&self, code: CptCode) -> Result<()> {
        if self.codes.contains_key(&code) || self.fee_schedule().latest()?.tables.rows_of(code).next().is_some() {
            Ok(())
        } else {
            Err(self.unknown_code(code))
        }
    }

    /// NotFound at `code`: the field is named here, once, for every face (gRPC's message, Python's `field`).
    fn unknown_code(&self, code: CptCode) -> crate::Error {
        let error = if code.is_anesthesia() {
            // The anesthesia table's own wording: in the range, not in the CMS base-unit file.
            self.anesthesia_code(code)
                .err()
                .unwrap_or_else(|| crate::Error::missing(Resource::PROCEDURE_CODE, code.to_string(), code.to_string()))
        } else {
            let release = self.fee_schedule().latest().map(|f| f.release.info.release.clone()).unwrap_or_default();
            crate::Error::missing(
                Resource::PROCEDURE_CODE,
                code.to_string(),
                format!(
                    "{code} is not in the Medicare Physician Fee Schedule ({release}) nor among the CMS anesthesia codes"
                ),
            )
        };
        error.at("code")
    }

    /// The fee-schedule section of a profile, from the newest release.
    fn fee_schedule_profile(
        &self,
        code: CptCode,
        localities: &LocalitySelection,
    ) -> Result<Option<FeeScheduleProfile>> {
        let in_force = self.fee_schedule().latest()?;
        if in_force.tables.rows_of(code).next().is_none() {
            return Ok(None);
        }
        let gpcis = selected_localities(&in_force, localities)?;
        Ok(FeeScheduleProfile::assemble(&in_force, code, self.section_of(code), &gpcis))
    }

    /// The profile of a code the fee schedule prices: no anesthesia facts (base units, anesthesia
    /// modifiers, anesthesia payer policies and benchmarks), everything the RVU file says instead.
    fn fee_schedule_code_profile(
        &self,
        code: CptCode,
        fee_schedule: FeeScheduleProfile,
        payer_benchmarks: &PayerBenchmarks,
    ) -> Result<CodeProfile> {
        let families: Vec<&Family> = self.families_of(code).collect();
        let section = fee_schedule.section.as_ref();
        let description = self.describe(code, None, section);
        Ok(CodeProfile {
            code,
            description: description.text,
            description_source: description.source,
            service_type: ServiceType::FeeSchedule,
            category: section.map(section_label).unwrap_or_default(),
            base_units: 0,
            base_units_source: "no base units: not an anesthesia code; paid by RVUs under the Medicare Physician \
                                Fee Schedule"
                .to_owned(),
            medicare_inpatient_only: Known::Unknown,
            inpatient_only_source: NOT_CHECKED_INPATIENT_ONLY.to_owned(),
            places_of_service: Vec::new(),
            clinical_context: clinical_context(&families, &[]),
            modifiers: Vec::new(),
            taxonomies: self.family_taxonomies(&families)?,
            diagnoses: self.family_diagnoses(&families)?,
            payers: Vec::new(),
            benchmarks: Vec::new(),
            payer_benchmarks: payer_benchmarks.for_code(code).to_vec(),
            related_codes: self.endoscopy_related(code)?,
            policy_updates: self.updates_for(&families),
            fee_schedule: Some(fee_schedule),
        })
    }

    /// The endoscopic base of the code's family and the family's other codes; the family of a code
    /// that is itself a base.
    fn endoscopy_related(&self, code: CptCode) -> Result<Vec<RelatedCode>> {
        let tables = self.fee_schedule().latest()?.tables;
        let base = tables.row(code, None).and_then(|r| r.endoscopic_base);
        let related = |code: CptCode, relation: Relation| RelatedCode {
            code,
            relation,
            description: self.describe(code, self.codes.get(&code), self.section_of(code)).text,
            base_units: None,
        };
        let family = tables.endoscopy_family(base.unwrap_or(code));
        Ok(base
            .map(|b| related(b, Relation::EndoscopicBase))
            .into_iter()
            .chain(family.iter().filter(|&&c| c != code).map(|&c| related(c, Relation::EndoscopicFamily)))
            .collect())
    }

    /// A code's description: the user's descriptor file, else cptkit's anesthesia paraphrase, else CMS's
    /// Level II descriptor, else the section it belongs to (CPT descriptors are AMA copyright).
    fn describe(&self, code: CptCode, entry: Option<&AnesthesiaCode>, section: Option<&CodeSection>) -> Description {
        let descriptor = |text: &str, source: &str| Description {
            text: text.to_owned(),
            source: source.to_owned(),
            is_descriptor: true,
        };
        if let Some(text) = self.cpt_descriptor(code) {
            return descriptor(text, USER_DESCRIPTOR_SOURCE);
        }
        if let Some(entry) = entry {
            return descriptor(&entry.description, &entry.description_source);
        }
        if let Some(text) = self.fee_schedule().level2_descriptor(code) {
            return descriptor(text, LEVEL2_DESCRIPTOR_SOURCE);
        }
        // 99100-99140 are looked up for their anesthesia role, which cptkit's own table describes.
        if let Some(qc) = self.qualifying_circumstances.iter().find(|qc| qc.code == code) {
            let text = format!(
                "Anesthesia qualifying circumstance, {}: reported beside the anesthesia code, it adds units where \
                 the payer pays them (commonly {}); paid separately by Medicare: {}",
                qc.meaning, qc.commercial_units, qc.medicare_note
            );
            return descriptor(&text, &qc.source);
        }
        let is_level2 = code.as_str().starts_with(|c: char| c.is_ascii_alphabetic());
        let (text, source) = match (section, is_level2) {
            (Some(s), false) => (
                format!(
                    "{} code (CPT {}-{}); the CPT descriptor is not included (AMA copyright)",
                    section_label(s),
                    s.first,
                    s.last
                ),
                SECTION_SOURCE,
            ),
            (_, true) if code.as_str().starts_with('D') => (
                "HCPCS Level II dental code (CDT); the descriptor is not included (ADA copyright)".to_owned(),
                DENTAL_SOURCE,
            ),
            (Some(s), true) => {
                (format!("{}; no CMS short descriptor in cptkit's data", section_label(s)), LEVEL2_GROUP_SOURCE)
            }
            (None, _) => ("No descriptor or code section in cptkit's data".to_owned(), SECTION_SOURCE),
        };
        Description { text, source: source.to_owned(), is_descriptor: false }
    }

    /// The description text of a code and whether it is a descriptor (for list and search).
    pub(crate) fn description_of(&self, code: CptCode, section: Option<&CodeSection>) -> (String, bool) {
        let d = self.describe(code, self.codes.get(&code), section);
        (d.text, d.is_descriptor)
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
                out.push(ProviderTaxonomy {
                    taxonomy: self.taxonomy(&tx.code)?.clone(),
                    why: tx.why.clone(),
                    source: tx.source.clone(),
                });
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
            LocalitySelection::Only(ids) => each_once(ids)
                .map(|(i, id)| {
                    self.locality_conversion_factors()
                        .find(|cf| cf.locality.as_ref().is_some_and(|l| &l.id == id))
                        .ok_or_else(|| {
                            crate::Error::missing(
                                Resource::MEDICARE_LOCALITY,
                                id.to_string(),
                                format!("no Medicare anesthesia conversion factor for locality {id}"),
                            )
                            .at(format!("localities[{i}]"))
                        })
                })
                .collect::<Result<_>>()?,
        };
        let time_units = medicare_time_units(entry.code);
        Ok(national.chain(local).map(|cf| benchmark(entry.base_units, &time_units, cf)).collect())
    }

    fn related_codes(&self, entry: &AnesthesiaCode) -> Vec<RelatedCode> {
        let same_section =
            self.codes.values().filter(|c| c.category == entry.category && c.code != entry.code).map(|c| RelatedCode {
                code: c.code,
                relation: match c.service_type {
                    ServiceType::AnesthesiaAddOn => Relation::AddOn,
                    ServiceType::Anesthesia | ServiceType::UnlistedAnesthesia | ServiceType::FeeSchedule => {
                        Relation::SameCategory
                    }
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

const NOT_CHECKED_INPATIENT_ONLY: &str = "not checked against the CMS OPPS inpatient-only list";

/// Time units for a code's minutes as Medicare fee-for-service prices them: its rule set's (the one
/// pricing selects for a Medicare claim), which pays no time for some codes (01995, 01996).
fn medicare_time_units(code: CptCode) -> impl Fn(u32) -> Decimal {
    let rules = RuleBook::embedded().rule_sets().find(|r| r.selects.plan_types.contains(&PlanType::MedicareFfs));
    move |minutes| match rules {
        Some(rules) if rules.non_time_based_codes.contains(&code) => Decimal::new(0, 1),
        Some(rules) => rules.time_units.units(Decimal::from(minutes)),
        None => TimeUnitRule::MEDICARE.units(minutes),
    }
}

fn benchmark(base_units: u32, time_units: &impl Fn(u32) -> Decimal, cf: &ConversionFactor) -> Benchmark {
    let amounts = REFERENCE_MINUTES
        .iter()
        .map(|&minutes| {
            let time_units = time_units(minutes);
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
        if places.is_empty() {
            return String::new(); // nothing known about where it happens
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locality_is_spelled_star_or_all_on_every_face() {
        for every in [&["*"][..], &["all"], &[" all "], &["13202-01", "*"]] {
            assert_eq!(LocalitySelection::parse(every), Ok(LocalitySelection::All), "{every:?}");
        }
        for word in ["*", "all"] {
            assert_eq!(LocalitySelection::parse_word(word), Ok(LocalitySelection::All), "{word}");
        }
        assert_eq!(LocalitySelection::parse::<&str>(&[]), Ok(LocalitySelection::None));
        let manhattan: LocalityId = "13202-01".parse().expect("locality");
        assert_eq!(LocalitySelection::parse(&["13202-01"]), Ok(LocalitySelection::Only(vec![manhattan])));

        let err = LocalitySelection::parse(&["13202-01", "1320201"]).expect_err("malformed");
        assert_eq!((err.kind(), err.field()), (crate::ErrorKind::InvalidInput, Some("localities[1]")));
        let err = LocalitySelection::parse_word("13202-01").expect_err("one id is not a word");
        assert_eq!(err.field(), Some("localities"));
        assert!(err.message().contains("\"all\" or \"*\""), "{}", err.message());
    }
}
