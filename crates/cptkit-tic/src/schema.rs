//! The parts of the TiC in-network-rates schema cptkit reads (CMSgov/price-transparency-guide,
//! `schemas/in-network-rates` and `schemas/provider-reference`, v1.x and v2.0). Strings borrow from the
//! record's bytes where they hold no escapes; unknown members are ignored, so v1.x-only members
//! (`plan_name`, provider reference `location`) and v2.0-only ones (`network_name`) read alike.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::value::RawValue;

/// One element of `in_network`.
#[derive(Debug, Deserialize)]
pub(crate) struct InNetworkRecord<'a> {
    /// ffs, bundle or capitation. Only ffs prices are per-code prices.
    #[serde(borrow, default)]
    pub negotiation_arrangement: Option<Cow<'a, str>>,
    #[expect(dead_code, reason = "read so that a wrong type makes the record malformed; not a benchmark key")]
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub billing_code_type: Cow<'a, str>,
    #[expect(dead_code, reason = "read so that a wrong type makes the record malformed; not a benchmark key")]
    #[serde(borrow, default)]
    pub billing_code_type_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub billing_code: Cow<'a, str>,
    #[serde(borrow)]
    pub negotiated_rates: Vec<NegotiatedRate<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NegotiatedRate<'a> {
    /// In-line providers (v1.x and v2.0).
    #[serde(borrow, default)]
    pub provider_groups: Vec<ProviderGroup<'a>>,
    /// Ids of the file's top-level `provider_references` entries, as JSON text: read one by one
    /// (`GroupId::read`), so that a bad one is left out alone, not the record.
    #[serde(borrow, default)]
    pub provider_references: Vec<&'a RawValue>,
    #[serde(borrow)]
    pub negotiated_prices: Vec<NegotiatedPrice<'a>>,
}

/// A provider group of an `in_network` record or of a provider reference (in the file or a separate one):
/// NPIs under one tax identifier. v2.0 adds `network_name` (ignored here). Each NPI and the tin stay JSON
/// text, read one by one (`NpiNumber::read`, `Tin`), so that a bad one is left out alone and the record's
/// other providers and prices, or the reference, still count.
#[derive(Debug, Deserialize)]
pub(crate) struct ProviderGroup<'a> {
    #[serde(borrow, default)]
    pub npi: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    pub tin: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
#[expect(dead_code, reason = "read only to check its type; not a benchmark key")]
pub(crate) struct Tin {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NegotiatedPrice<'a> {
    /// negotiated, derived, fee schedule, percentage, per diem.
    #[serde(borrow)]
    pub negotiated_type: Cow<'a, str>,
    /// The number's JSON text, parsed to an exact Decimal by the caller (never through f64).
    #[serde(borrow)]
    pub negotiated_rate: &'a RawValue,
    #[expect(dead_code, reason = "read so that a wrong type makes the record malformed; not a benchmark key")]
    #[serde(borrow, default)]
    pub expiration_date: Option<Cow<'a, str>>,
    /// Places of service.
    #[serde(borrow, default)]
    pub service_code: Vec<Cow<'a, str>>,
    /// professional or institutional.
    #[serde(borrow)]
    pub billing_class: Cow<'a, str>,
    #[serde(borrow, default)]
    pub billing_code_modifier: Vec<Cow<'a, str>>,
    #[expect(dead_code, reason = "read so that a wrong type makes the record malformed; not a benchmark key")]
    #[serde(borrow, default)]
    pub additional_information: Option<Cow<'a, str>>,
}

/// One element of the top-level `provider_references`: in-line groups or (v1.x) a `location` of a
/// separate provider-reference file.
#[derive(Debug, Deserialize)]
pub(crate) struct ProviderReference<'a> {
    pub provider_group_id: GroupId,
    #[serde(borrow, default)]
    pub provider_groups: Vec<ProviderGroup<'a>>,
    #[serde(default)]
    pub location: Option<String>,
}

/// A separate provider-reference file (`schemas/provider-reference`).
#[derive(Debug, Deserialize)]
pub(crate) struct ProviderReferenceFile<'a> {
    #[serde(borrow, default)]
    pub provider_groups: Vec<ProviderGroup<'a>>,
}

/// An NPI: the schema says number; some publishers write strings. Kept as its 10-digit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct NpiNumber(pub u64);

/// A provider group id: the schema says number; strings are accepted and kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct GroupId(pub String);

struct NumberOrString<T>(fn(&str) -> Option<T>, &'static str);

impl<'de, T> Visitor<'de> for NumberOrString<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // 1.0 style integers only.
        if v.fract() == 0.0 && (0.0..1e16).contains(&v) {
            self.visit_str(&format!("{v:.0}"))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v.trim()).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl<'de> Deserialize<'de> for NpiNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Digits only: u64's parser would also take "+123456789", a 9-digit number.
        let parse = |s: &str| {
            (s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok().map(NpiNumber)).flatten()
        };
        d.deserialize_any(NumberOrString(parse, "a 10-digit NPI"))
    }
}

impl<'de> Deserialize<'de> for GroupId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let parse = |s: &str| (!s.is_empty()).then(|| GroupId(s.to_owned()));
        d.deserialize_any(NumberOrString(parse, "a provider group id"))
    }
}

impl NpiNumber {
    /// One NPI of a record from its JSON text; Err says why it is left out.
    pub(crate) fn read(raw: &RawValue) -> Result<NpiNumber, String> {
        serde_json::from_str(raw.get()).map_err(|_| format!("expected a 10-digit NPI, found {}", shown(raw)))
    }
}

impl GroupId {
    /// One provider reference id of a record from its JSON text; Err says why it is left out.
    pub(crate) fn read(raw: &RawValue) -> Result<GroupId, String> {
        serde_json::from_str(raw.get()).map_err(|_| format!("expected a provider group id, found {}", shown(raw)))
    }
}

/// A value's JSON text for a message, unless it is too long to read there.
fn shown(raw: &RawValue) -> String {
    const LONGEST: usize = 40;
    let text = raw.get();
    if text.len() <= LONGEST { text.to_owned() } else { format!("a value of {} bytes", text.len()) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn npi(json: &str) -> Result<u64, String> {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        NpiNumber::read(raw).map(|n| n.0)
    }

    /// The schema says number, some publishers write strings: both read, 10 digits only.
    #[test]
    fn an_npi_is_ten_digits_and_an_id_not_empty_as_a_number_or_a_string() {
        for good in ["1234567893", "\"1234567893\"", "\" 1234567893 \"", "1234567893.0", "1.234567893e9"] {
            assert_eq!(npi(good), Ok(1234567893), "{good}");
        }
        assert_eq!(npi("\"0123456789\""), Ok(123456789), "a string keeps its leading zero's length");
        for bad in [
            "0",
            "12345",
            "12345678901",
            "-123456789",
            "-1234567890",
            "\"+123456789\"",
            "\"12345 6789\"",
            "1234567893.5",
            "1e400",
            "99999999999999999999999",
            "null",
            "true",
            "[1234567893]",
            "\"\"",
        ] {
            assert_eq!(npi(bad), Err(format!("expected a 10-digit NPI, found {bad}")), "{bad}");
        }
        for id in ["7", "\"7\"", "7.0"] {
            assert_eq!(GroupId::read(serde_json::from_str(id).unwrap()), Ok(GroupId("7".to_owned())), "{id}");
        }
        for bad in ["\"\"", "1.5", "null", "{}"] {
            let why = GroupId::read(serde_json::from_str(bad).unwrap()).unwrap_err();
            assert_eq!(why, format!("expected a provider group id, found {bad}"));
        }
        let long = format!("\"{}\"", "9".repeat(50));
        assert_eq!(npi(&long), Err("expected a 10-digit NPI, found a value of 52 bytes".to_owned()));
    }
}
