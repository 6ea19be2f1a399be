//! CodeService conversions.

use cptkit_core as core;
use cptkit_core::pfs;
use cptkit_core::{Error, Result, cents_count};

use crate::convert::{date_string, each, enum_map, from_cents, parse_date, parse_decimal, parse_each, required};
use crate::pb;

// ---- enums ----

enum_map!(Known { Yes => Yes, No => No, Unknown => Unknown }, parse = inpatient_only("medicare_inpatient_only"));
enum_map!(ServiceType {
    Anesthesia => Anesthesia,
    AnesthesiaAddOn => AnesthesiaAddOn,
    UnlistedAnesthesia => UnlistedAnesthesia,
    FeeSchedule => FeeSchedule,
}, parse = required_service_type("service_type"));
enum_map!(ModifierCategory {
    Pricing => Pricing,
    Informational => Informational,
    Teaching => Teaching,
    Cpt => Cpt,
    PhysicalStatus => PhysicalStatus,
}, parse = modifier_category("category"));
enum_map!(CfTier {
    Single => Single,
    NonQualifyingApm => NonQualifyingApm,
    QualifyingApm => QualifyingApm,
}, parse = cf_tier("tier"));
enum_map!(Relation {
    SameCategory => SameCategory,
    AddOn => AddOn,
    QualifyingCircumstance => QualifyingCircumstance,
    EndoscopicBase => EndoscopicBase,
    EndoscopicFamily => EndoscopicFamily,
}, parse = relation("relation"));

/// A service type filter from the wire: UNSPECIFIED means any.
fn service_type(raw: i32) -> Result<Option<core::ServiceType>> {
    if raw == pb::ServiceType::Unspecified as i32 { Ok(None) } else { required_service_type(raw).map(Some) }
}

// ---- requests ----

pub fn page_request(page: Option<pb::PageRequest>) -> core::PageRequest {
    let pb::PageRequest { page_size, page_token } = page.unwrap_or_default();
    core::PageRequest { page_size, page_token }
}

/// `localities` of a GetCode request, read as every face reads it (`["*"]` or `["all"]` is every locality).
pub fn locality_selection(localities: Vec<String>) -> Result<core::LocalitySelection> {
    core::LocalitySelection::parse(&localities)
}

pub fn code_query(request: pb::SearchCodesRequest) -> Result<(core::CodeQuery, core::PageRequest)> {
    let pb::SearchCodesRequest {
        text,
        category,
        min_base_units,
        max_base_units,
        inpatient_only,
        service_type: raw_service_type,
        page,
        codes,
        status,
        section,
    } = request;
    let given = |text: String| (!text.is_empty()).then_some(text);
    let query = core::CodeQuery {
        text,
        category: given(category),
        min_base_units,
        max_base_units,
        inpatient_only,
        service_type: service_type(raw_service_type)?,
        codes,
        status: given(status),
        section: given(section),
    };
    Ok((query, page_request(page)))
}

// ---- reference records ----

impl From<core::Modifier> for pb::Modifier {
    fn from(m: core::Modifier) -> Self {
        let core::Modifier { code, category, meaning, billed_by, medicare_payment_effect, source } = m;
        pb::Modifier {
            code: code.to_string(),
            category: pb::ModifierCategory::from(category).into(),
            meaning,
            billed_by,
            medicare_payment_effect,
            source,
        }
    }
}

impl TryFrom<pb::Modifier> for core::Modifier {
    type Error = Error;
    fn try_from(m: pb::Modifier) -> Result<Self> {
        let pb::Modifier { code, category, meaning, billed_by, medicare_payment_effect, source } = m;
        Ok(core::Modifier {
            code: code.parse()?,
            category: modifier_category(category)?,
            meaning,
            billed_by,
            medicare_payment_effect,
            source,
        })
    }
}

impl From<core::Taxonomy> for pb::Taxonomy {
    fn from(t: core::Taxonomy) -> Self {
        let core::Taxonomy {
            code,
            grouping,
            classification,
            specialization,
            provider_role,
            medicare_specialty,
            source,
        } = t;
        pb::Taxonomy {
            code: code.to_string(),
            grouping,
            classification,
            specialization,
            provider_role,
            medicare_specialty,
            source,
        }
    }
}

impl TryFrom<pb::Taxonomy> for core::Taxonomy {
    type Error = Error;
    fn try_from(t: pb::Taxonomy) -> Result<Self> {
        let pb::Taxonomy { code, grouping, classification, specialization, provider_role, medicare_specialty, source } =
            t;
        Ok(core::Taxonomy {
            code: code.parse()?,
            grouping,
            classification,
            specialization,
            provider_role,
            medicare_specialty,
            source,
        })
    }
}

impl From<core::Diagnosis> for pb::Diagnosis {
    fn from(d: core::Diagnosis) -> Self {
        let core::Diagnosis { code, title, billable, valid_through, replaced_by, source } = d;
        pb::Diagnosis {
            code: code.to_string(),
            title,
            billable,
            valid_through: date_string(valid_through),
            replaced_by: replaced_by.iter().map(ToString::to_string).collect(),
            source,
        }
    }
}

impl TryFrom<pb::Diagnosis> for core::Diagnosis {
    type Error = Error;
    fn try_from(d: pb::Diagnosis) -> Result<Self> {
        let pb::Diagnosis { code, title, billable, valid_through, replaced_by, source } = d;
        Ok(core::Diagnosis {
            code: code.parse()?,
            title,
            billable,
            valid_through: parse_date("valid_through", &valid_through)?,
            replaced_by: parse_each("replaced_by", replaced_by)?,
            source,
        })
    }
}

impl From<core::PlaceOfService> for pb::PlaceOfService {
    fn from(p: core::PlaceOfService) -> Self {
        let core::PlaceOfService { code, name, note } = p;
        pb::PlaceOfService { code: code.to_string(), name, note }
    }
}

impl TryFrom<pb::PlaceOfService> for core::PlaceOfService {
    type Error = Error;
    fn try_from(p: pb::PlaceOfService) -> Result<Self> {
        let pb::PlaceOfService { code, name, note } = p;
        Ok(core::PlaceOfService { code: code.parse()?, name, note })
    }
}

impl From<core::CodeSummary> for pb::CodeSummary {
    fn from(s: core::CodeSummary) -> Self {
        let core::CodeSummary {
            code,
            description,
            category,
            base_units,
            service_type,
            medicare_inpatient_only,
            status,
            section,
        } = s;
        pb::CodeSummary {
            code: code.to_string(),
            description,
            category,
            base_units,
            service_type: pb::ServiceType::from(service_type).into(),
            medicare_inpatient_only: pb::Known::from(medicare_inpatient_only).into(),
            status,
            section,
        }
    }
}

impl TryFrom<pb::CodeSummary> for core::CodeSummary {
    type Error = Error;
    fn try_from(s: pb::CodeSummary) -> Result<Self> {
        let pb::CodeSummary {
            code,
            description,
            category,
            base_units,
            service_type,
            medicare_inpatient_only,
            status,
            section,
        } = s;
        Ok(core::CodeSummary {
            code: code.parse()?,
            description,
            category,
            base_units,
            service_type: required_service_type(service_type)?,
            medicare_inpatient_only: inpatient_only(medicare_inpatient_only)?,
            status,
            section,
        })
    }
}

// ---- the profile ----

impl From<core::CodeProfile> for pb::CodeProfile {
    fn from(p: core::CodeProfile) -> Self {
        let core::CodeProfile {
            code,
            description,
            description_source,
            service_type,
            category,
            base_units,
            base_units_source,
            medicare_inpatient_only,
            inpatient_only_source,
            places_of_service,
            clinical_context,
            modifiers,
            taxonomies,
            diagnoses,
            payers,
            benchmarks,
            payer_benchmarks,
            related_codes,
            policy_updates,
            fee_schedule,
        } = p;
        pb::CodeProfile {
            code: code.to_string(),
            description,
            description_source,
            service_type: pb::ServiceType::from(service_type).into(),
            category,
            base_units,
            base_units_source,
            medicare_inpatient_only: pb::Known::from(medicare_inpatient_only).into(),
            inpatient_only_source,
            places_of_service: places_of_service.into_iter().map(Into::into).collect(),
            clinical_context: Some(clinical_context.into()),
            modifiers: modifiers.into_iter().map(Into::into).collect(),
            taxonomies: taxonomies.into_iter().map(Into::into).collect(),
            diagnoses: diagnoses.into_iter().map(Into::into).collect(),
            payers: payers.into_iter().map(Into::into).collect(),
            benchmarks: benchmarks.into_iter().map(Into::into).collect(),
            payer_benchmarks: payer_benchmarks.into_iter().map(Into::into).collect(),
            related_codes: related_codes.into_iter().map(Into::into).collect(),
            policy_updates: policy_updates.into_iter().map(Into::into).collect(),
            fee_schedule: fee_schedule.map(Into::into),
        }
    }
}

impl TryFrom<pb::CodeProfile> for core::CodeProfile {
    type Error = Error;
    fn try_from(p: pb::CodeProfile) -> Result<Self> {
        let pb::CodeProfile {
            code,
            description,
            description_source,
            service_type,
            category,
            base_units,
            base_units_source,
            medicare_inpatient_only,
            inpatient_only_source,
            places_of_service,
            clinical_context,
            modifiers,
            taxonomies,
            diagnoses,
            payers,
            benchmarks,
            related_codes,
            policy_updates,
            payer_benchmarks,
            fee_schedule,
        } = p;
        Ok(core::CodeProfile {
            code: code.parse()?,
            description,
            description_source,
            service_type: required_service_type(service_type)?,
            category,
            base_units,
            base_units_source,
            medicare_inpatient_only: inpatient_only(medicare_inpatient_only)?,
            inpatient_only_source,
            places_of_service: each("places_of_service", places_of_service, TryInto::try_into)?,
            clinical_context: required("clinical_context", clinical_context)?.into(),
            modifiers: each("modifiers", modifiers, TryInto::try_into)?,
            taxonomies: each("taxonomies", taxonomies, TryInto::try_into)?,
            diagnoses: each("diagnoses", diagnoses, TryInto::try_into)?,
            payers: each("payers", payers, TryInto::try_into)?,
            benchmarks: each("benchmarks", benchmarks, TryInto::try_into)?,
            payer_benchmarks: each("payer_benchmarks", payer_benchmarks, TryInto::try_into)?,
            related_codes: each("related_codes", related_codes, TryInto::try_into)?,
            policy_updates: each("policy_updates", policy_updates, TryInto::try_into)?,
            fee_schedule: fee_schedule.map(TryInto::try_into).transpose().map_err(|e: Error| e.at("fee_schedule"))?,
        })
    }
}

impl From<core::TypicalPlace> for pb::TypicalPlace {
    fn from(t: core::TypicalPlace) -> Self {
        let core::TypicalPlace { code, name, basis } = t;
        pb::TypicalPlace { code: code.to_string(), name, basis }
    }
}

impl TryFrom<pb::TypicalPlace> for core::TypicalPlace {
    type Error = Error;
    fn try_from(t: pb::TypicalPlace) -> Result<Self> {
        let pb::TypicalPlace { code, name, basis } = t;
        Ok(core::TypicalPlace { code: code.parse()?, name, basis })
    }
}

impl From<core::ClinicalContext> for pb::ClinicalContext {
    fn from(c: core::ClinicalContext) -> Self {
        let core::ClinicalContext { summary, setting, care_team, workflow, sources } = c;
        pb::ClinicalContext { summary, setting, care_team, workflow, sources }
    }
}

impl From<pb::ClinicalContext> for core::ClinicalContext {
    fn from(c: pb::ClinicalContext) -> Self {
        let pb::ClinicalContext { summary, setting, care_team, workflow, sources } = c;
        core::ClinicalContext { summary, setting, care_team, workflow, sources }
    }
}

impl From<core::ProviderTaxonomy> for pb::ProviderTaxonomy {
    fn from(t: core::ProviderTaxonomy) -> Self {
        let core::ProviderTaxonomy { taxonomy, why, source } = t;
        pb::ProviderTaxonomy { taxonomy: Some(taxonomy.into()), why, source }
    }
}

impl TryFrom<pb::ProviderTaxonomy> for core::ProviderTaxonomy {
    type Error = Error;
    fn try_from(t: pb::ProviderTaxonomy) -> Result<Self> {
        let pb::ProviderTaxonomy { taxonomy, why, source } = t;
        Ok(core::ProviderTaxonomy { taxonomy: required("taxonomy", taxonomy)?.try_into()?, why, source })
    }
}

impl From<core::CommonDiagnosis> for pb::CommonDiagnosis {
    fn from(d: core::CommonDiagnosis) -> Self {
        let core::CommonDiagnosis { diagnosis, relevance, source } = d;
        pb::CommonDiagnosis { diagnosis: Some(diagnosis.into()), relevance, source }
    }
}

impl TryFrom<pb::CommonDiagnosis> for core::CommonDiagnosis {
    type Error = Error;
    fn try_from(d: pb::CommonDiagnosis) -> Result<Self> {
        let pb::CommonDiagnosis { diagnosis, relevance, source } = d;
        Ok(core::CommonDiagnosis { diagnosis: required("diagnosis", diagnosis)?.try_into()?, relevance, source })
    }
}

impl From<core::PayerPolicy> for pb::PayerPolicy {
    fn from(p: core::PayerPolicy) -> Self {
        let core::PayerPolicy { payer, plan, topic, policy, effective_date, evidence, source } = p;
        pb::PayerPolicy { payer, plan, topic, policy, effective_date: date_string(effective_date), evidence, source }
    }
}

impl TryFrom<pb::PayerPolicy> for core::PayerPolicy {
    type Error = Error;
    fn try_from(p: pb::PayerPolicy) -> Result<Self> {
        let pb::PayerPolicy { payer, plan, topic, policy, effective_date, evidence, source } = p;
        Ok(core::PayerPolicy {
            payer,
            plan,
            topic,
            policy,
            effective_date: parse_date("effective_date", &effective_date)?,
            evidence,
            source,
        })
    }
}

impl From<core::PayerProfile> for pb::PayerProfile {
    fn from(p: core::PayerProfile) -> Self {
        let core::PayerProfile { payer, policies } = p;
        pb::PayerProfile { payer, policies: policies.into_iter().map(Into::into).collect() }
    }
}

impl TryFrom<pb::PayerProfile> for core::PayerProfile {
    type Error = Error;
    fn try_from(p: pb::PayerProfile) -> Result<Self> {
        let pb::PayerProfile { payer, policies } = p;
        Ok(core::PayerProfile { payer, policies: each("policies", policies, TryInto::try_into)? })
    }
}

impl From<core::Locality> for pb::Locality {
    fn from(l: core::Locality) -> Self {
        let core::Locality { id, name } = l;
        pb::Locality { id: id.to_string(), name }
    }
}

impl TryFrom<pb::Locality> for core::Locality {
    type Error = Error;
    fn try_from(l: pb::Locality) -> Result<Self> {
        let pb::Locality { id, name } = l;
        Ok(core::Locality { id: id.parse()?, name })
    }
}

impl From<core::Benchmark> for pb::Benchmark {
    fn from(b: core::Benchmark) -> Self {
        let core::Benchmark { year, tier, locality, conversion_factor, conversion_factor_source, amounts } = b;
        pb::Benchmark {
            year,
            tier: pb::CfTier::from(tier).into(),
            locality: locality.map(Into::into),
            conversion_factor: conversion_factor.to_string(),
            conversion_factor_source,
            amounts: amounts.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<pb::Benchmark> for core::Benchmark {
    type Error = Error;
    fn try_from(b: pb::Benchmark) -> Result<Self> {
        let pb::Benchmark { year, tier, locality, conversion_factor, conversion_factor_source, amounts } = b;
        Ok(core::Benchmark {
            year,
            tier: cf_tier(tier)?,
            locality: locality.map(TryInto::try_into).transpose().map_err(|e: Error| e.at("locality"))?,
            conversion_factor: parse_decimal("conversion_factor", &conversion_factor)?,
            conversion_factor_source,
            amounts: each("amounts", amounts, TryInto::try_into)?,
        })
    }
}

impl From<core::BenchmarkAmount> for pb::BenchmarkAmount {
    fn from(a: core::BenchmarkAmount) -> Self {
        let core::BenchmarkAmount { minutes, time_units, total_units, allowed } = a;
        pb::BenchmarkAmount {
            minutes,
            time_units: time_units.to_string(),
            total_units: total_units.to_string(),
            allowed_cents: cents_count(allowed),
        }
    }
}

impl TryFrom<pb::BenchmarkAmount> for core::BenchmarkAmount {
    type Error = Error;
    fn try_from(a: pb::BenchmarkAmount) -> Result<Self> {
        let pb::BenchmarkAmount { minutes, time_units, total_units, allowed_cents } = a;
        Ok(core::BenchmarkAmount {
            minutes,
            time_units: parse_decimal("time_units", &time_units)?,
            total_units: parse_decimal("total_units", &total_units)?,
            allowed: from_cents(allowed_cents),
        })
    }
}

impl From<core::RelatedCode> for pb::RelatedCode {
    fn from(r: core::RelatedCode) -> Self {
        let core::RelatedCode { code, relation, description, base_units } = r;
        pb::RelatedCode {
            code: code.to_string(),
            relation: pb::Relation::from(relation).into(),
            description,
            base_units,
        }
    }
}

impl TryFrom<pb::RelatedCode> for core::RelatedCode {
    type Error = Error;
    fn try_from(r: pb::RelatedCode) -> Result<Self> {
        let pb::RelatedCode { code, relation: raw_relation, description, base_units } = r;
        Ok(core::RelatedCode { code: code.parse()?, relation: relation(raw_relation)?, description, base_units })
    }
}

impl From<core::PolicyUpdate> for pb::PolicyUpdate {
    fn from(u: core::PolicyUpdate) -> Self {
        let core::PolicyUpdate { date, family: _, title, summary, source } = u;
        pb::PolicyUpdate { date: date.to_string(), title, summary, source }
    }
}

impl TryFrom<pb::PolicyUpdate> for core::PolicyUpdate {
    type Error = Error;
    fn try_from(u: pb::PolicyUpdate) -> Result<Self> {
        let pb::PolicyUpdate { date, title, summary, source } = u;
        Ok(core::PolicyUpdate {
            date: parse_date("date", &date)?.ok_or_else(|| Error::invalid("date", "is required"))?,
            family: String::new(),
            title,
            summary,
            source,
        })
    }
}

// ---- the fee schedule section ----

/// An optional message field, converted, an error naming it.
fn optional<P, C>(field: &str, value: Option<P>, convert: impl FnOnce(P) -> Result<C>) -> Result<Option<C>> {
    value.map(convert).transpose().map_err(|e| e.at(field))
}

/// An empty string is no modifier.
fn optional_modifier(text: &str) -> Result<Option<core::ModifierCode>> {
    if text.is_empty() { Ok(None) } else { text.parse().map(Some) }
}

fn required_date(field: &str, text: &str) -> Result<time::Date> {
    parse_date(field, text)?.ok_or_else(|| Error::invalid(field, "is required"))
}

impl From<pfs::FeeScheduleProfile> for pb::FeeScheduleProfile {
    fn from(f: pfs::FeeScheduleProfile) -> Self {
        let pfs::FeeScheduleProfile {
            release,
            modifier,
            status,
            status_meaning,
            payable,
            rvus,
            global_period,
            add_on,
            indicators,
            amounts,
            amounts_note,
            components,
            section,
        } = f;
        pb::FeeScheduleProfile {
            release: Some(release.into()),
            modifier: modifier.map(|m| m.to_string()).unwrap_or_default(),
            status,
            status_meaning,
            payable,
            rvus: Some(rvus.into()),
            global_period: Some(global_period.into()),
            add_on,
            indicators: indicators.into_iter().map(Into::into).collect(),
            amounts: amounts.into_iter().map(Into::into).collect(),
            amounts_note,
            components: components.into_iter().map(Into::into).collect(),
            section: section.map(Into::into),
        }
    }
}

impl TryFrom<pb::FeeScheduleProfile> for pfs::FeeScheduleProfile {
    type Error = Error;
    fn try_from(f: pb::FeeScheduleProfile) -> Result<Self> {
        let pb::FeeScheduleProfile {
            release,
            modifier,
            status,
            status_meaning,
            payable,
            rvus,
            global_period,
            add_on,
            indicators,
            amounts,
            amounts_note,
            components,
            section,
        } = f;
        Ok(pfs::FeeScheduleProfile {
            release: required("release", release)?.try_into().map_err(|e: Error| e.at("release"))?,
            modifier: optional_modifier(&modifier)?,
            status,
            status_meaning,
            payable,
            rvus: required("rvus", rvus)?.try_into().map_err(|e: Error| e.at("rvus"))?,
            global_period: required("global_period", global_period)?
                .try_into()
                .map_err(|e: Error| e.at("global_period"))?,
            add_on,
            indicators: indicators.into_iter().map(Into::into).collect(),
            amounts: each("amounts", amounts, TryInto::try_into)?,
            amounts_note,
            components: each("components", components, TryInto::try_into)?,
            section: optional("section", section, TryInto::try_into)?,
        })
    }
}

impl From<pfs::FeeRelease> for pb::FeeRelease {
    fn from(r: pfs::FeeRelease) -> Self {
        let pfs::FeeRelease { release, year, effective_from, effective_to, conversion_factor, source } = r;
        pb::FeeRelease {
            release,
            year,
            effective_from: effective_from.to_string(),
            effective_to: effective_to.to_string(),
            conversion_factor: conversion_factor.to_string(),
            source,
        }
    }
}

impl TryFrom<pb::FeeRelease> for pfs::FeeRelease {
    type Error = Error;
    fn try_from(r: pb::FeeRelease) -> Result<Self> {
        let pb::FeeRelease { release, year, effective_from, effective_to, conversion_factor, source } = r;
        Ok(pfs::FeeRelease {
            release,
            year,
            effective_from: required_date("effective_from", &effective_from)?,
            effective_to: required_date("effective_to", &effective_to)?,
            conversion_factor: parse_decimal("conversion_factor", &conversion_factor)?,
            source,
        })
    }
}

impl From<pfs::Rvus> for pb::Rvus {
    fn from(r: pfs::Rvus) -> Self {
        let pfs::Rvus {
            work,
            nonfacility_pe,
            nonfacility_na,
            facility_pe,
            facility_na,
            mp,
            nonfacility_total,
            facility_total,
        } = r;
        pb::Rvus {
            work: work.to_string(),
            nonfacility_pe: nonfacility_pe.to_string(),
            nonfacility_na,
            facility_pe: facility_pe.to_string(),
            facility_na,
            mp: mp.to_string(),
            nonfacility_total: nonfacility_total.to_string(),
            facility_total: facility_total.to_string(),
        }
    }
}

impl TryFrom<pb::Rvus> for pfs::Rvus {
    type Error = Error;
    fn try_from(r: pb::Rvus) -> Result<Self> {
        let pb::Rvus {
            work,
            nonfacility_pe,
            nonfacility_na,
            facility_pe,
            facility_na,
            mp,
            nonfacility_total,
            facility_total,
        } = r;
        Ok(pfs::Rvus {
            work: parse_decimal("work", &work)?,
            nonfacility_pe: parse_decimal("nonfacility_pe", &nonfacility_pe)?,
            nonfacility_na,
            facility_pe: parse_decimal("facility_pe", &facility_pe)?,
            facility_na,
            mp: parse_decimal("mp", &mp)?,
            nonfacility_total: parse_decimal("nonfacility_total", &nonfacility_total)?,
            facility_total: parse_decimal("facility_total", &facility_total)?,
        })
    }
}

impl From<pfs::GlobalPeriod> for pb::GlobalPeriod {
    fn from(g: pfs::GlobalPeriod) -> Self {
        let pfs::GlobalPeriod { code, meaning, pre_op, intra_op, post_op } = g;
        pb::GlobalPeriod {
            code,
            meaning,
            pre_op: pre_op.to_string(),
            intra_op: intra_op.to_string(),
            post_op: post_op.to_string(),
        }
    }
}

impl TryFrom<pb::GlobalPeriod> for pfs::GlobalPeriod {
    type Error = Error;
    fn try_from(g: pb::GlobalPeriod) -> Result<Self> {
        let pb::GlobalPeriod { code, meaning, pre_op, intra_op, post_op } = g;
        Ok(pfs::GlobalPeriod {
            code,
            meaning,
            pre_op: parse_decimal("pre_op", &pre_op)?,
            intra_op: parse_decimal("intra_op", &intra_op)?,
            post_op: parse_decimal("post_op", &post_op)?,
        })
    }
}

impl From<pfs::FeeIndicator> for pb::FeeIndicator {
    fn from(i: pfs::FeeIndicator) -> Self {
        let pfs::FeeIndicator { field, value, meaning } = i;
        pb::FeeIndicator { field, value, meaning }
    }
}

impl From<pb::FeeIndicator> for pfs::FeeIndicator {
    fn from(i: pb::FeeIndicator) -> Self {
        let pb::FeeIndicator { field, value, meaning } = i;
        pfs::FeeIndicator { field, value, meaning }
    }
}

impl From<pfs::FeeAmount> for pb::FeeAmount {
    fn from(a: pfs::FeeAmount) -> Self {
        let pfs::FeeAmount { locality, work_gpci, pe_gpci, mp_gpci, nonfacility, facility } = a;
        pb::FeeAmount {
            locality: locality.map(Into::into),
            work_gpci: work_gpci.to_string(),
            pe_gpci: pe_gpci.to_string(),
            mp_gpci: mp_gpci.to_string(),
            nonfacility: Some(nonfacility.into()),
            facility: Some(facility.into()),
        }
    }
}

impl TryFrom<pb::FeeAmount> for pfs::FeeAmount {
    type Error = Error;
    fn try_from(a: pb::FeeAmount) -> Result<Self> {
        let pb::FeeAmount { locality, work_gpci, pe_gpci, mp_gpci, nonfacility, facility } = a;
        Ok(pfs::FeeAmount {
            locality: optional("locality", locality, TryInto::try_into)?,
            work_gpci: parse_decimal("work_gpci", &work_gpci)?,
            pe_gpci: parse_decimal("pe_gpci", &pe_gpci)?,
            mp_gpci: parse_decimal("mp_gpci", &mp_gpci)?,
            nonfacility: required("nonfacility", nonfacility)?.into(),
            facility: required("facility", facility)?.into(),
        })
    }
}

impl From<pfs::SettingAmount> for pb::SettingAmount {
    fn from(a: pfs::SettingAmount) -> Self {
        let pfs::SettingAmount { fee_schedule, opps_cap, allowed, limiting_charge } = a;
        pb::SettingAmount {
            fee_schedule_cents: cents_count(fee_schedule),
            opps_cap_cents: opps_cap.map(cents_count),
            allowed_cents: cents_count(allowed),
            limiting_charge_cents: cents_count(limiting_charge),
        }
    }
}

impl From<pb::SettingAmount> for pfs::SettingAmount {
    fn from(a: pb::SettingAmount) -> Self {
        let pb::SettingAmount { fee_schedule_cents, opps_cap_cents, allowed_cents, limiting_charge_cents } = a;
        pfs::SettingAmount {
            fee_schedule: from_cents(fee_schedule_cents),
            opps_cap: opps_cap_cents.map(from_cents),
            allowed: from_cents(allowed_cents),
            limiting_charge: from_cents(limiting_charge_cents),
        }
    }
}

impl From<pfs::FeeComponent> for pb::FeeComponent {
    fn from(c: pfs::FeeComponent) -> Self {
        let pfs::FeeComponent { modifier, status, status_meaning, payable, rvus, amounts, indicators } = c;
        pb::FeeComponent {
            modifier: modifier.to_string(),
            status,
            status_meaning,
            payable,
            rvus: Some(rvus.into()),
            indicators: indicators.into_iter().map(Into::into).collect(),
            amounts: amounts.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<pb::FeeComponent> for pfs::FeeComponent {
    type Error = Error;
    fn try_from(c: pb::FeeComponent) -> Result<Self> {
        let pb::FeeComponent { modifier, status, status_meaning, payable, rvus, amounts, indicators } = c;
        Ok(pfs::FeeComponent {
            modifier: modifier.parse()?,
            status,
            status_meaning,
            payable,
            rvus: required("rvus", rvus)?.try_into().map_err(|e: Error| e.at("rvus"))?,
            indicators: indicators.into_iter().map(Into::into).collect(),
            amounts: each("amounts", amounts, TryInto::try_into)?,
        })
    }
}

impl From<core::CodeSection> for pb::CodeSection {
    fn from(s: core::CodeSection) -> Self {
        let core::CodeSection { first, last, section, subsection } = s;
        pb::CodeSection { first: first.to_string(), last: last.to_string(), section, subsection }
    }
}

impl TryFrom<pb::CodeSection> for core::CodeSection {
    type Error = Error;
    fn try_from(s: pb::CodeSection) -> Result<Self> {
        let pb::CodeSection { first, last, section, subsection } = s;
        Ok(core::CodeSection { first: first.parse()?, last: last.parse()?, section, subsection })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_list_item_is_named_by_its_position() {
        let err = locality_selection(vec!["13202-01".into(), "1320201".into()]).expect_err("malformed");
        assert_eq!((err.kind(), err.field()), (core::ErrorKind::InvalidInput, Some("localities[1]")));
        let pb = pb::Diagnosis {
            code: "M54.5".into(),
            replaced_by: vec!["M54.50".into(), "M5".into()],
            ..Default::default()
        };
        assert_eq!(core::Diagnosis::try_from(pb).expect_err("replaced_by").field(), Some("replaced_by[1]"));
    }
}
