//! ClaimService conversions: claims in (parsed, naming the field that fails), reports and prices out.

use cptkit_core as core;
use cptkit_core::{Error, Result, cents_count};
use rust_decimal::Decimal;

use crate::convert::{date_string, each, enum_map, parse_date, parse_decimal, parse_each, required};
use crate::pb;

enum_map!(PlanType {
    MedicareFfs => MedicareFfs,
    MedicareAdvantage => MedicareAdvantage,
    Commercial => Commercial,
}, parse = plan_type("plan_type"));
enum_map!(ProviderRole {
    Anesthesiologist => Anesthesiologist,
    Crna => Crna,
    AnesthesiologistAssistant => AnesthesiologistAssistant,
    OtherPhysician => OtherPhysician,
}, parse = provider_role("role"));
enum_map!(UnitBasis { Minutes => Mj, Units => Un }, parse = unit_basis("unit_basis"));
enum_map!(Severity { Error => Error, Warning => Warning });
enum_map!(LineStatus { Priced => Priced, NotPriced => NotPriced, NotPayable => NotPayable });

/// A role on the wire: UNSPECIFIED is none given (the taxonomy's role applies).
pub(crate) fn optional_role(raw: i32) -> Result<Option<core::ProviderRole>> {
    if raw == pb::ProviderRole::Unspecified as i32 { Ok(None) } else { provider_role(raw).map(Some) }
}

fn location_from(field: &str, location: Option<pb::Location>) -> Result<Option<core::Location>> {
    location.map(|pb::Location { state, zip }| self::location(field, &state, &zip)).transpose()
}

/// A location given on the wire (even an empty one is a location).
pub(crate) fn location(field: &str, state: &str, zip: &str) -> Result<core::Location> {
    let at = |name: &str| format!("{field}.{name}");
    Ok(core::Location { state: optional_parse(&at("state"), state)?, zip: optional_parse(&at("zip"), zip)? })
}

/// CLM05-3 as given, read as the core reads it (empty means an original claim).
pub(crate) fn frequency_code(text: &str) -> core::ShortText {
    core::frequency_code(text).into()
}

fn location_to(location: Option<core::Location>) -> Option<pb::Location> {
    location.map(|core::Location { state, zip }| pb::Location {
        state: state.map(|s| s.to_string()).unwrap_or_default(),
        zip: zip.map(|z| z.to_string()).unwrap_or_default(),
    })
}

pub(crate) fn required_date(field: &str, text: &str) -> Result<time::Date> {
    parse_date(field, text)?.ok_or_else(|| Error::invalid(field, "is required (YYYY-MM-DD)"))
}

pub(crate) fn optional_time(field: &str, text: &str) -> Result<Option<time::PrimitiveDateTime>> {
    if text.is_empty() {
        Ok(None)
    } else {
        core::local_time::parse(text).map(Some).map_err(|m| Error::invalid(field, m))
    }
}

pub(crate) fn optional_parse<T: std::str::FromStr<Err = Error>>(field: &str, text: &str) -> Result<Option<T>> {
    core::optional_text(text).map_err(|e| Error::invalid(field, e.message()))
}

/// A conversion factor error named by the wire's field: the core names a payer's factor inside its
/// `conversion_factor` (Python's mapping, `conversion_factor.cigna`, `conversion_factor[""]` for an
/// empty payer id); the wire has them apart, in `payer_conversion_factors`.
fn wire_factor_field(error: Error) -> Error {
    match error.loc().items() {
        [core::PathItem::Field(name), core::PathItem::Field(payer)] if name == "conversion_factor" => {
            let field = core::FieldPath::field("payer_conversion_factors").key_owned(payer.to_string());
            Error::new(error.kind(), error.message()).at(field)
        }
        _ => error,
    }
}

fn required_id(field: &str, text: &str) -> Result<core::ShortText> {
    core::required_id(text).map_err(|e| e.at(field))
}

pub(crate) fn parse_as<T: std::str::FromStr<Err = Error>>(field: &str, text: &str) -> Result<T> {
    text.parse().map_err(|e: Error| Error::invalid(field, e.message()))
}

impl TryFrom<pb::Claim> for core::Claim {
    type Error = Error;
    fn try_from(c: pb::Claim) -> Result<Self> {
        let pb::Claim {
            claim_id,
            payer,
            place_of_service,
            frequency_code,
            patient,
            billing_provider_npi,
            rendering_provider,
            medicare_locality,
            diagnoses,
            lines,
            service_facility_location,
            billing_provider_location,
        } = c;
        let pb::Payer { id, plan_type: raw_plan } = required("payer", payer)?;
        let pb::Patient { birth_date, member_id } = required("patient", patient)?;
        let pb::RenderingProvider { npi, taxonomy, role, qualifying_apm } =
            required("rendering_provider", rendering_provider)?;
        Ok(core::Claim {
            claim_id: required_id("claim_id", &claim_id)?,
            payer: core::Payer {
                id: required_id("payer.id", &id)?,
                plan_type: plan_type(raw_plan).map_err(|e| e.at("payer"))?,
            },
            place_of_service: parse_as("place_of_service", &place_of_service)?,
            frequency_code: self::frequency_code(&frequency_code),
            patient: core::Patient {
                birth_date: required_date("patient.birth_date", &birth_date)?,
                member_id: member_id.into(),
            },
            billing_provider_npi: parse_as("billing_provider_npi", &billing_provider_npi)?,
            rendering_provider: core::RenderingProvider {
                npi: parse_as("rendering_provider.npi", &npi)?,
                taxonomy: optional_parse("rendering_provider.taxonomy", &taxonomy)?,
                role: optional_role(role).map_err(|e| e.at("rendering_provider"))?,
                qualifying_apm,
            },
            medicare_locality: optional_parse("medicare_locality", &medicare_locality)?,
            diagnoses: parse_each("diagnoses", diagnoses)?,
            lines: each("lines", lines, TryInto::try_into)?,
            service_facility_location: location_from("service_facility_location", service_facility_location)?,
            billing_provider_location: location_from("billing_provider_location", billing_provider_location)?,
        })
    }
}

impl TryFrom<pb::ClaimLine> for core::ClaimLine {
    type Error = Error;
    fn try_from(l: pb::ClaimLine) -> Result<Self> {
        let pb::ClaimLine {
            procedure_code,
            modifiers,
            unit_basis: raw_basis,
            quantity,
            start_time,
            end_time,
            diagnosis_pointers,
            charge_cents,
            date_of_service,
            case_id,
            present_at_induction,
        } = l;
        Ok(core::ClaimLine {
            procedure_code: parse_as("procedure_code", &procedure_code)?,
            modifiers: parse_each("modifiers", modifiers)?,
            unit_basis: unit_basis(raw_basis)?,
            quantity: core::quantity(parse_decimal("quantity", &quantity)?),
            start_time: optional_time("start_time", &start_time)?,
            end_time: optional_time("end_time", &end_time)?,
            diagnosis_pointers: diagnosis_pointers.into(),
            charge_cents,
            date_of_service: required_date("date_of_service", &date_of_service)?,
            case_id: case_id.into(),
            present_at_induction,
        })
    }
}

impl From<core::Claim> for pb::Claim {
    fn from(c: core::Claim) -> Self {
        let core::Claim {
            claim_id,
            payer,
            place_of_service,
            frequency_code,
            patient,
            billing_provider_npi,
            rendering_provider,
            medicare_locality,
            diagnoses,
            lines,
            service_facility_location,
            billing_provider_location,
        } = c;
        let core::Patient { birth_date, member_id } = patient;
        let core::RenderingProvider { npi, taxonomy, role, qualifying_apm } = rendering_provider;
        pb::Claim {
            claim_id: claim_id.into_string(),
            payer: Some(pb::Payer {
                id: payer.id.into_string(),
                plan_type: pb::PlanType::from(payer.plan_type).into(),
            }),
            place_of_service: place_of_service.to_string(),
            frequency_code: frequency_code.into_string(),
            patient: Some(pb::Patient { birth_date: birth_date.to_string(), member_id: member_id.into_string() }),
            billing_provider_npi: billing_provider_npi.to_string(),
            rendering_provider: Some(pb::RenderingProvider {
                npi: npi.to_string(),
                taxonomy: taxonomy.map(|t| t.to_string()).unwrap_or_default(),
                role: role.map_or(pb::ProviderRole::Unspecified, pb::ProviderRole::from).into(),
                qualifying_apm,
            }),
            medicare_locality: medicare_locality.map(|l| l.to_string()).unwrap_or_default(),
            diagnoses: diagnoses.iter().map(ToString::to_string).collect(),
            lines: lines.into_iter().map(Into::into).collect(),
            service_facility_location: location_to(service_facility_location),
            billing_provider_location: location_to(billing_provider_location),
        }
    }
}

impl From<core::ClaimLine> for pb::ClaimLine {
    fn from(l: core::ClaimLine) -> Self {
        let core::ClaimLine {
            procedure_code,
            modifiers,
            unit_basis,
            quantity,
            start_time,
            end_time,
            diagnosis_pointers,
            charge_cents,
            date_of_service,
            case_id,
            present_at_induction,
        } = l;
        let time = |t: Option<time::PrimitiveDateTime>| t.map(|t| core::local_time::format(&t)).unwrap_or_default();
        pb::ClaimLine {
            procedure_code: procedure_code.to_string(),
            modifiers: modifiers.iter().map(ToString::to_string).collect(),
            unit_basis: pb::UnitBasis::from(unit_basis).into(),
            quantity: quantity.to_string(),
            start_time: time(start_time),
            end_time: time(end_time),
            diagnosis_pointers: diagnosis_pointers.into_vec(),
            charge_cents,
            date_of_service: date_string(Some(date_of_service)),
            case_id: case_id.into_string(),
            present_at_induction,
        }
    }
}

impl From<core::Finding> for pb::Finding {
    fn from(f: core::Finding) -> Self {
        let field = f.field();
        let core::Finding { edit_id, severity, loc, message, hint } = f;
        pb::Finding { edit_id, severity: pb::Severity::from(severity).into(), field, message, hint, loc: path(&loc) }
    }
}

impl From<core::ValidationReport> for pb::ValidationReport {
    fn from(r: core::ValidationReport) -> Self {
        let valid = r.is_valid();
        let core::ValidationReport { claim_id, findings } = r;
        pb::ValidationReport {
            claim_id: claim_id.into(),
            findings: findings.into_iter().map(Into::into).collect(),
            valid,
        }
    }
}

impl From<core::Step> for pb::PriceStep {
    fn from(s: core::Step) -> Self {
        let core::Step { step, detail, value } = s;
        pb::PriceStep { step: step.to_owned(), detail, value }
    }
}

impl From<core::PricedLine> for pb::PricedLine {
    fn from(l: core::PricedLine) -> Self {
        let steps = l.steps().into_iter().map(Into::into).collect();
        // The explanation's basis is private to the core and reaches the wire through steps().
        let core::PricedLine {
            line,
            procedure_code,
            status,
            rule,
            date_of_service: _,
            base_units,
            time_units,
            modifying_units,
            total_units,
            conversion_factor,
            share,
            fee_schedule,
            charge,
            allowed,
            ..
        } = l;
        pb::PricedLine {
            line,
            procedure_code: procedure_code.to_string(),
            status: pb::LineStatus::from(status).into(),
            rule_set: rule.id.clone(),
            base_units: base_units.to_string(),
            time_units: time_units.to_string(),
            modifying_units: modifying_units.to_string(),
            total_units: total_units.to_string(),
            conversion_factor: conversion_factor.to_string(),
            share: share.to_string(),
            fee_schedule_cents: cents_count(fee_schedule),
            charge_cents: cents_count(charge),
            allowed_cents: cents_count(allowed),
            steps,
        }
    }
}

impl From<core::PricedClaim> for pb::PricedClaim {
    fn from(p: core::PricedClaim) -> Self {
        let core::PricedClaim { claim_id, lines, total_charge, total_allowed } = p;
        pb::PricedClaim {
            claim_id: claim_id.into(),
            lines: lines.into_iter().map(Into::into).collect(),
            total_charge_cents: cents_count(total_charge),
            total_allowed_cents: cents_count(total_allowed),
        }
    }
}

/// A field path on the wire: names and indexes.
pub fn path(loc: &core::FieldPath) -> Vec<pb::PathElement> {
    use pb::path_element::Element;
    let element = |item: &core::PathItem| match item {
        core::PathItem::Field(name) => Element::Field(name.to_string()),
        core::PathItem::Index(i) => Element::Index(u32::try_from(*i).unwrap_or(u32::MAX)),
    };
    loc.items().iter().map(|item| pb::PathElement { element: Some(element(item)) }).collect()
}

/// Price options from the wire; an empty conversion factor means none given. The core checks the
/// factors' range; errors name the request field (`options.conversion_factor`).
pub fn price_options(options: Option<pb::PriceOptions>) -> Result<core::PriceOptions> {
    let pb::PriceOptions { rule_set, conversion_factor, payer_conversion_factors, percent_of_medicare } =
        options.unwrap_or_default();
    let every_payer: Option<Decimal> = if conversion_factor.is_empty() {
        None
    } else {
        Some(parse_decimal("options.conversion_factor", &conversion_factor)?)
    };
    let by_payer = payer_conversion_factors
        .into_iter()
        .map(|(payer, cf)| {
            // Built, not parsed from text: a key may be empty or hold a dot.
            let field = core::FieldPath::field("options").key("payer_conversion_factors").key_owned(payer.clone());
            parse_decimal(field, &cf).map(|cf| (payer, cf))
        })
        .collect::<Result<Vec<_>>>()?;
    let conversion_factors =
        core::ConversionFactors::new(every_payer, by_payer).map_err(|e| wire_factor_field(e).at("options"))?;
    let percent_of_medicare = if percent_of_medicare.is_empty() {
        None
    } else {
        Some(parse_decimal("options.percent_of_medicare", &percent_of_medicare)?)
    };
    Ok(core::PriceOptions {
        rule_set: (!rule_set.is_empty()).then_some(rule_set),
        conversion_factors,
        percent_of_medicare,
    })
}

/// The `today` of a request: the given date, read as every face reads it ([`core::parse_today`]), or
/// `None` when it is empty (the core's default: today in UTC; proto3 cannot tell empty from absent).
pub fn today(text: &str) -> Result<Option<time::Date>> {
    if text.is_empty() { Ok(None) } else { core::parse_today(text).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_round_trip_through_proto_and_name_bad_fields() {
        let json = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/claims/medicare_00632_aa_90min_2025/claim.json"
        ))
        .expect("fixture");
        let claim = core::Claim::from_json(&json).expect("claim");
        let wire = pb::Claim::from(claim.clone());
        assert_eq!(core::Claim::try_from(wire.clone()).expect("back"), claim);

        let mut bad = wire;
        bad.lines[0].modifiers[1] = "P".to_owned();
        let err = core::Claim::try_from(bad).expect_err("bad modifier");
        assert_eq!(err.field(), Some("lines[0].modifiers[1]"));
    }

    /// Each payer's factor is named at its map entry as the request keys it, whatever is wrong with it;
    /// an entry with no payer id is that entry, never the factor for every payer.
    #[test]
    fn payer_factor_errors_name_the_map_entry() {
        let refused = |payer: &str, cf: &str| {
            let payer_conversion_factors = [(payer.to_owned(), cf.to_owned())].into();
            let options =
                pb::PriceOptions { conversion_factor: "60".to_owned(), payer_conversion_factors, ..Default::default() };
            price_options(Some(options)).expect_err("refused")
        };
        for (payer, cf, field) in [
            ("", "62.50", r#"options.payer_conversion_factors[""]"#),
            (" ", "62.50", r#"options.payer_conversion_factors[" "]"#),
            ("", "sixty", r#"options.payer_conversion_factors[""]"#),
            ("Cigna", "0", "options.payer_conversion_factors.Cigna"),
            ("a.b", "sixty", r#"options.payer_conversion_factors["a.b"]"#),
            ("a.b", "0", r#"options.payer_conversion_factors["a.b"]"#),
        ] {
            let err = refused(payer, cf);
            assert_eq!(err.kind(), core::ErrorKind::InvalidInput, "{payer:?}={cf}");
            assert_eq!(err.field(), Some(field), "{payer:?}={cf}: {err}");
        }
    }
}
