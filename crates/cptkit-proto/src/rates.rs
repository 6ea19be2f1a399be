//! Payer rate benchmark conversions (`rates.proto`) and the GetBenchmarks request.

use cptkit_core as core;
use cptkit_core::{Error, Result};

use crate::convert::{date_string, enum_map, parse_date, parse_decimal, required};
use crate::pb;

enum_map!(RateBasis {
    PerUnit => PerUnit,
    PerCase => PerCase,
    Unknown => Unknown,
    PerService => PerService,
    PerDiem => PerDiem,
    Percentage => Percentage,
}, parse = required_rate_basis("rate_basis"));

/// GetBenchmarks' request, parsed: the code and the filter. The code's own errors name `code`;
/// an unknown rate basis number names `rate_basis`.
pub fn benchmarks_request(request: pb::GetBenchmarksRequest) -> Result<(core::CptCode, core::BenchmarkFilter)> {
    let pb::GetBenchmarksRequest {
        code,
        payer,
        billing_class,
        place_of_service,
        negotiated_type,
        rate_basis,
        modifier,
    } = request;
    let code: core::CptCode = code.parse()?;
    let rate_basis =
        if rate_basis == pb::RateBasis::Unspecified as i32 { "" } else { required_rate_basis(rate_basis)?.as_str() };
    let filter = core::BenchmarkFilter::from_text(
        &payer,
        &billing_class,
        &place_of_service,
        &negotiated_type,
        rate_basis,
        &modifier,
    )?;
    Ok((code, filter))
}

impl From<core::PayerBenchmark> for pb::PayerBenchmark {
    fn from(b: core::PayerBenchmark) -> Self {
        let core::PayerBenchmark {
            provenance,
            billing_code_type,
            billing_code,
            billing_class,
            place_of_service,
            modifiers,
            taxonomy,
            negotiated_type,
            rate_basis,
            count,
            min,
            p10,
            p25,
            median,
            p75,
            p90,
            max,
            medicare,
        } = b;
        pb::PayerBenchmark {
            provenance: Some(provenance.into()),
            billing_code_type,
            billing_code,
            billing_class,
            place_of_service,
            modifiers,
            taxonomy,
            negotiated_type,
            rate_basis: pb::RateBasis::from(rate_basis).into(),
            count,
            min: min.to_string(),
            p10: p10.to_string(),
            p25: p25.to_string(),
            median: median.to_string(),
            p75: p75.to_string(),
            p90: p90.to_string(),
            max: max.to_string(),
            medicare: medicare.map(Into::into),
        }
    }
}

impl TryFrom<pb::PayerBenchmark> for core::PayerBenchmark {
    type Error = Error;
    fn try_from(b: pb::PayerBenchmark) -> Result<Self> {
        let pb::PayerBenchmark {
            provenance,
            billing_code_type,
            billing_code,
            billing_class,
            place_of_service,
            modifiers,
            taxonomy,
            negotiated_type,
            rate_basis,
            count,
            min,
            p10,
            p25,
            median,
            p75,
            p90,
            max,
            medicare,
        } = b;
        Ok(core::PayerBenchmark {
            provenance: required("provenance", provenance)?.try_into().map_err(|e: Error| e.at("provenance"))?,
            billing_code_type,
            billing_code,
            billing_class,
            place_of_service,
            modifiers,
            taxonomy,
            negotiated_type,
            rate_basis: required_rate_basis(rate_basis)?,
            count,
            min: parse_decimal("min", &min)?,
            p10: parse_decimal("p10", &p10)?,
            p25: parse_decimal("p25", &p25)?,
            median: parse_decimal("median", &median)?,
            p75: parse_decimal("p75", &p75)?,
            p90: parse_decimal("p90", &p90)?,
            max: parse_decimal("max", &max)?,
            medicare: medicare.map(TryInto::try_into).transpose().map_err(|e: Error| e.at("medicare"))?,
        })
    }
}

impl From<core::RateProvenance> for pb::RateProvenance {
    fn from(p: core::RateProvenance) -> Self {
        let core::RateProvenance {
            source_file,
            reporting_entity_name,
            reporting_entity_type,
            last_updated_on,
            schema_version,
            ingested_on,
        } = p;
        pb::RateProvenance {
            source_file,
            reporting_entity_name,
            reporting_entity_type,
            last_updated_on,
            schema_version,
            ingested_on: date_string(Some(ingested_on)),
        }
    }
}

impl TryFrom<pb::RateProvenance> for core::RateProvenance {
    type Error = Error;
    fn try_from(p: pb::RateProvenance) -> Result<Self> {
        let pb::RateProvenance {
            source_file,
            reporting_entity_name,
            reporting_entity_type,
            last_updated_on,
            schema_version,
            ingested_on,
        } = p;
        Ok(core::RateProvenance {
            source_file,
            reporting_entity_name,
            reporting_entity_type,
            last_updated_on,
            schema_version,
            ingested_on: parse_date("ingested_on", &ingested_on)?
                .ok_or_else(|| Error::invalid("ingested_on", "is required"))?,
        })
    }
}

impl From<core::MedicareComparison> for pb::MedicareComparison {
    fn from(m: core::MedicareComparison) -> Self {
        let core::MedicareComparison { year, conversion_factor, median_percent_of_medicare } = m;
        pb::MedicareComparison {
            year,
            conversion_factor: conversion_factor.to_string(),
            median_percent_of_medicare: median_percent_of_medicare.to_string(),
        }
    }
}

impl TryFrom<pb::MedicareComparison> for core::MedicareComparison {
    type Error = Error;
    fn try_from(m: pb::MedicareComparison) -> Result<Self> {
        let pb::MedicareComparison { year, conversion_factor, median_percent_of_medicare } = m;
        Ok(core::MedicareComparison {
            year,
            conversion_factor: parse_decimal("conversion_factor", &conversion_factor)?,
            median_percent_of_medicare: parse_decimal("median_percent_of_medicare", &median_percent_of_medicare)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_benchmark_round_trips_and_money_stays_decimal_text() {
        let row = core::PayerBenchmark {
            provenance: core::RateProvenance {
                source_file: "v1_in_file_refs.json".into(),
                reporting_entity_name: "Example Health Plan (fixture)".into(),
                reporting_entity_type: "health insurance issuer".into(),
                last_updated_on: "2025-03-01".into(),
                schema_version: "1.3.1".into(),
                ingested_on: time::macros::date!(2026 - 11 - 27),
            },
            billing_code_type: "CPT".into(),
            billing_code: "00632".into(),
            billing_class: "professional".into(),
            place_of_service: Some("21".into()),
            modifiers: vec![],
            taxonomy: None,
            negotiated_type: "negotiated".into(),
            rate_basis: core::RateBasis::PerUnit,
            count: 2,
            min: "85".parse().expect("d"),
            p10: "85.5".parse().expect("d"),
            p25: "86.25".parse().expect("d"),
            median: "87.5".parse().expect("d"),
            p75: "88.75".parse().expect("d"),
            p90: "89.5".parse().expect("d"),
            max: "90".parse().expect("d"),
            medicare: Some(core::MedicareComparison {
                year: 2025,
                conversion_factor: "20.3178".parse().expect("d"),
                median_percent_of_medicare: "430.66".parse().expect("d"),
            }),
        };
        let wire = pb::PayerBenchmark::from(row.clone());
        assert_eq!((wire.p25.as_str(), wire.median.as_str(), wire.rate_basis), ("86.25", "87.5", 1));
        assert_eq!(wire.provenance.as_ref().map(|p| p.ingested_on.as_str()), Some("2026-11-27"));
        assert_eq!(core::PayerBenchmark::try_from(wire).expect("back"), row);
    }

    #[test]
    fn request_errors_name_the_field() {
        let request = |rate_basis: i32, place: &str| pb::GetBenchmarksRequest {
            code: "00632".into(),
            rate_basis,
            place_of_service: place.into(),
            ..Default::default()
        };
        let (code, filter) = benchmarks_request(request(2, "21")).expect("valid");
        assert_eq!((code.as_str(), filter.rate_basis), ("00632", Some(core::RateBasis::PerCase)));
        assert_eq!(benchmarks_request(request(0, "")).expect("any").1, core::BenchmarkFilter::default());
        assert_eq!(benchmarks_request(request(42, "")).expect_err("enum").field(), Some("rate_basis"));
        assert_eq!(benchmarks_request(request(0, "2A")).expect_err("pos").field(), Some("place_of_service"));
        let bad_code = pb::GetBenchmarksRequest { code: "0063".into(), ..Default::default() };
        assert_eq!(benchmarks_request(bad_code).expect_err("code").field(), Some("code"));
    }
}
