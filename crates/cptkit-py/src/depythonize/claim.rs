//! A claim dict read key by key, without serde's map machinery: the common shapes (`dict` with `str`
//! keys, `list`, `str`, codes parsed straight from the Python string's UTF-8 without a `String` per
//! code) are read here, anything else goes through the serde reader ([`super::from_py`]).
//!
//! **Same answers, same errors.** [`claim`] returns a claim only when every key is a field of the
//! claim form and every value reads; each value is read by the same parse its type's `Deserialize`
//! uses (`FromStr` for codes and text enums, which their `Deserialize` calls, or the type's own
//! `Deserialize` on the same [`Depythonizer`]). Anything else (an unknown or missing field, a value
//! that does not read) is `None`, and the caller reads the dict again with serde, which gives the
//! error with its field path, exactly as before.

use std::str::FromStr;

use cptkit_core::{self as core, Claim, ClaimLine, Location, Patient, Payer, RenderingProvider};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde::de::{Deserialize, DeserializeOwned};

use super::Depythonizer;

/// A value as its type's `Deserialize` reads it from Python objects.
fn serde<T: DeserializeOwned>(value: &Bound<'_, PyAny>) -> Option<T> {
    T::deserialize(Depythonizer { input: value }).ok()
}

/// Text read with `FromStr`, which is what these types' `Deserialize` calls on a string; a value that
/// is not a `str` (a `datetime.date`, a `Decimal`, or the wrong type) goes to serde.
fn text<T: FromStr + DeserializeOwned>(value: &Bound<'_, PyAny>) -> Option<T> {
    match value.cast::<PyString>() {
        Ok(text) => text.to_str().ok()?.parse().ok(),
        Err(_) => serde(value),
    }
}

/// `None` or the value, as serde reads an `Option` field.
fn option<T>(value: &Bound<'_, PyAny>, read: impl FnOnce(&Bound<'_, PyAny>) -> Option<T>) -> Option<Option<T>> {
    if value.is_none() { Some(None) } else { read(value).map(Some) }
}

/// A list item by item; a tuple (or anything else) goes to serde.
fn list<T>(value: &Bound<'_, PyAny>, item: impl Fn(&Bound<'_, PyAny>) -> Option<T>) -> Option<Vec<T>>
where
    Vec<T>: DeserializeOwned,
{
    match value.cast::<PyList>() {
        Ok(list) => list.iter().map(|v| item(&v)).collect(),
        Err(_) => serde(value),
    }
}

/// Calls `field(name, value)` for every item of a dict with `str` keys; `None` if a key is not a
/// `str` or `field` refuses its item (an unknown field or a value that does not read).
fn fields(value: &Bound<'_, PyAny>, mut field: impl FnMut(&str, &Bound<'_, PyAny>) -> Option<()>) -> Option<()> {
    let dict = value.cast::<PyDict>().ok()?;
    for (key, value) in dict.iter() {
        field(key.cast::<PyString>().ok()?.to_str().ok()?, &value)?;
    }
    Some(())
}

/// Reads a claim dict; `None` when the serde reader must read it (for its error, or an odd shape).
pub(crate) fn claim(value: &Bound<'_, PyAny>) -> Option<Claim> {
    let (mut claim_id, mut payer, mut place_of_service, mut frequency_code, mut patient) =
        (None, None, None, None, None);
    let (mut billing_provider_npi, mut rendering_provider, mut medicare_locality) = (None, None, None);
    let (mut diagnoses, mut lines, mut service_facility_location, mut billing_provider_location) =
        (None, None, None, None);
    fields(value, |key, value| {
        match key {
            "claim_id" => claim_id = Some(text(value)?),
            "payer" => payer = Some(self::payer(value)?),
            "place_of_service" => place_of_service = Some(text(value)?),
            "frequency_code" => frequency_code = Some(text(value)?),
            "patient" => patient = Some(self::patient(value)?),
            "billing_provider_npi" => billing_provider_npi = Some(text(value)?),
            "rendering_provider" => rendering_provider = Some(self::rendering_provider(value)?),
            "medicare_locality" => medicare_locality = Some(option(value, text)?),
            "diagnoses" => diagnoses = Some(list(value, text)?),
            "lines" => lines = Some(list(value, line)?),
            "service_facility_location" => service_facility_location = Some(option(value, location)?),
            "billing_provider_location" => billing_provider_location = Some(option(value, location)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(Claim {
        claim_id: claim_id?,
        payer: payer?,
        place_of_service: place_of_service?,
        // The claim form's default (`#[serde(default = "original_claim")]`); a test checks it against serde.
        frequency_code: frequency_code.unwrap_or_else(|| "1".to_owned()),
        patient: patient?,
        billing_provider_npi: billing_provider_npi?,
        rendering_provider: rendering_provider?,
        medicare_locality: medicare_locality.flatten(),
        diagnoses: diagnoses?,
        lines: lines?,
        service_facility_location: service_facility_location.flatten(),
        billing_provider_location: billing_provider_location.flatten(),
    })
}

fn payer(value: &Bound<'_, PyAny>) -> Option<Payer> {
    let (mut id, mut plan_type) = (None, None);
    fields(value, |key, value| {
        match key {
            "id" => id = Some(text(value)?),
            "plan_type" => plan_type = Some(text(value)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(Payer { id: id?, plan_type: plan_type? })
}

fn patient(value: &Bound<'_, PyAny>) -> Option<Patient> {
    let (mut birth_date, mut member_id) = (None, None);
    fields(value, |key, value| {
        match key {
            "birth_date" => birth_date = Some(serde(value)?),
            "member_id" => member_id = Some(text(value)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(Patient { birth_date: birth_date?, member_id: member_id.unwrap_or_default() })
}

fn rendering_provider(value: &Bound<'_, PyAny>) -> Option<RenderingProvider> {
    let (mut npi, mut taxonomy, mut role, mut qualifying_apm) = (None, None, None, None);
    fields(value, |key, value| {
        match key {
            "npi" => npi = Some(text(value)?),
            "taxonomy" => taxonomy = Some(option(value, text)?),
            "role" => role = Some(option(value, text)?),
            "qualifying_apm" => qualifying_apm = Some(serde(value)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(RenderingProvider {
        npi: npi?,
        taxonomy: taxonomy.flatten(),
        role: role.flatten(),
        qualifying_apm: qualifying_apm.unwrap_or_default(),
    })
}

fn location(value: &Bound<'_, PyAny>) -> Option<Location> {
    let (mut state, mut zip) = (None, None);
    fields(value, |key, value| {
        match key {
            "state" => state = Some(option(value, text)?),
            "zip" => zip = Some(option(value, text)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(Location { state: state.flatten(), zip: zip.flatten() })
}

fn line(value: &Bound<'_, PyAny>) -> Option<ClaimLine> {
    let (mut procedure_code, mut modifiers, mut unit_basis, mut quantity) = (None, None, None, None);
    let (mut start_time, mut end_time, mut diagnosis_pointers, mut charge_cents) = (None, None, None, None);
    let (mut date_of_service, mut case_id, mut present_at_induction) = (None, None, None);
    fields(value, |key, value| {
        let input = Depythonizer { input: value };
        match key {
            "procedure_code" => procedure_code = Some(text(value)?),
            "modifiers" => modifiers = Some(list(value, text)?),
            "unit_basis" => unit_basis = Some(text(value)?),
            // The same `with` functions as the claim form's fields.
            "quantity" => quantity = Some(rust_decimal::serde::str::deserialize(input).ok()?),
            "start_time" => start_time = Some(core::local_time::deserialize(input).ok()?),
            "end_time" => end_time = Some(core::local_time::deserialize(input).ok()?),
            "diagnosis_pointers" => diagnosis_pointers = Some(list(value, serde)?),
            "charge_cents" => charge_cents = Some(i64::deserialize(input).ok()?),
            "date_of_service" => date_of_service = Some(serde(value)?),
            "case_id" => case_id = Some(text(value)?),
            "present_at_induction" => present_at_induction = Some(serde(value)?),
            _ => return None,
        }
        Some(())
    })?;
    Some(ClaimLine {
        procedure_code: procedure_code?,
        modifiers: modifiers.unwrap_or_default(),
        unit_basis: unit_basis?,
        quantity: quantity?,
        start_time: start_time.flatten(),
        end_time: end_time.flatten(),
        diagnosis_pointers: diagnosis_pointers.unwrap_or_default(),
        charge_cents: charge_cents?,
        date_of_service: date_of_service?,
        case_id: case_id.unwrap_or_default(),
        present_at_induction: present_at_induction.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depythonize::from_py;
    use pyo3::types::PyAnyMethods;

    /// Every golden claim, plus variations on one: each read key by key must equal serde's read, and a
    /// dict the key-by-key reader refuses must be one serde refuses too (same error, by construction).
    #[test]
    fn reads_as_serde_does() {
        Python::initialize();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/claims");
        let mut texts: Vec<String> = std::fs::read_dir(&dir)
            .expect("the golden claims")
            .filter_map(|case| std::fs::read_to_string(case.ok()?.path().join("claim.json")).ok())
            .collect();
        assert!(texts.len() > 20, "golden claims found: {}", texts.len());
        texts.sort();
        Python::attach(|py| {
            let json = py.import("json").expect("json");
            let variations = py
                .eval(
                    cr#"lambda c: [
    c,
    {**c, "frequency_code": "7"},
    {k: v for k, v in c.items() if k not in ("frequency_code", "medicare_locality")},
    {**c, "medicare_locality": None},
    {**c, "service_facility_location": {"state": "NY", "zip": "10001"}, "billing_provider_location": None},
    {**c, "service_facility_location": {"state": None}},
    {**c, "patient": {**c["patient"], "birth_date": __import__("datetime").date(1950, 1, 2)}},
    {**c, "patient": {"birth_date": "1950-01-02", "member_id": "M1"}},
    {**c, "rendering_provider": {**c["rendering_provider"], "taxonomy": None, "role": None, "qualifying_apm": True}},
    {**c, "diagnoses": tuple(c["diagnoses"])},
    {**c, "lines": [{**l, "quantity": __import__("decimal").Decimal("90"), "present_at_induction": True,
        "start_time": "2025-03-04T08:00", "end_time": "2025-03-04T09:30:00", "modifiers": ("AA",)}
        for l in c["lines"]]},
    {**c, "lines": [{**l, "start_time": ""} for l in c["lines"]]},
    {**c, "lines": [{k: v for k, v in l.items() if k not in ("modifiers", "diagnosis_pointers", "case_id")}
        for l in c["lines"]]},
    {**c, "claim_id": 5},
    {**c, "extra": 1},
    {**c, 1: "x"},
    {**c, "payer": {**c["payer"], "plan_type": "nope"}},
    {**c, "payer": ["medicare"]},
    {**c, "lines": [{**l, "quantity": 1.5} for l in c["lines"]]},
    {**c, "lines": [{**l, "charge_cents": True} for l in c["lines"]]},
    {**c, "lines": [{**l, "diagnosis_pointers": [-1]} for l in c["lines"]]},
    {**c, "lines": [{**l, "procedure_code": "ABCDE"} for l in c["lines"]]},
    {**c, "lines": [{**l, "bogus": 1} for l in c["lines"]]},
    {k: v for k, v in c.items() if k != "lines"},
]"#,
                    None,
                    None,
                )
                .expect("the variations");
            let (mut fast, mut total) = (0, 0);
            for text in &texts {
                let golden = json.call_method1("loads", (text,)).expect("claim JSON");
                for value in variations.call1((golden,)).expect("variations").try_iter().expect("a list") {
                    let value = value.expect("an item");
                    let by_serde = from_py::<Claim>(&value);
                    match claim(&value) {
                        Some(read) => {
                            fast += 1;
                            assert_eq!(by_serde.as_ref().ok(), Some(&read), "{value}");
                        }
                        None => assert!(by_serde.is_err(), "refused a claim serde reads: {value}"),
                    }
                    // What the callers get: the read claim, or serde's error with its field path.
                    let error = |e: core::Error| (e.field().map(str::to_owned), e.message().to_owned());
                    let tracked = super::super::tracked::<Claim>(&value).map_err(error);
                    assert_eq!(crate::depythonize::claim(&value).map_err(error), tracked, "{value}");
                    total += 1;
                }
            }
            // The valid variations of valid claims are read key by key, not left to serde.
            assert!(fast * 2 > total, "{fast} of {total} read key by key");
        });
    }
}
