//! `cptkit._native`: the Python face of `cptkit-core` (PyO3).
//!
//! A thin binding: argument parsing, the error map ([`errors`]), the core -> Python conversions
//! ([`convert`], [`records`]) and caches. No business logic lives here; every answer comes from
//! the reference data in use ([`data`]: the embedded set, or a data directory's).
//!
//! Caches: profiles for the default options (national benchmarks only) are immutable, so each code's
//! `CodeProfile` object is built once per process and handed out again; a repeated `cptkit.code(...)`
//! is one dict lookup. Code summaries (list and search results) are built once as well.
//!
//! Claims ([`claims`], [`claim_types`]): `validate`, `price` and their batch forms `validate_many` and
//! `price_many`, which read, validate and price with the GIL released, a chunk at a time.
//!
//! Tables ([`tables`]): `validate_table`, `price_table` and `synthetic_claims`, Arrow in and out
//! through the PyCapsule interface (pyo3-arrow), in the layout of `cptkit-arrow`.

mod claim_types;
mod claims;
mod convert;
mod data;
mod depythonize;
mod errors;
mod gc;
mod html;
mod rates;
mod records;
mod tables;
mod x12;

use cptkit_core::{
    CodeQuery, CptCode, Error, Icd10Code, LocalitySelection, MAX_PAGE_SIZE, ModifierCode, Page, PageRequest, PosCode,
    ProfileOptions, Reference, Result as CoreResult, ServiceType, TaxonomyCode,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

use crate::convert::ToPy;
use crate::errors::{Subject, py_err};
use crate::records::CodeSummary;

/// `CodeProfile` objects for the default options, keyed by canonical code (`"00632"`).
pub(crate) static PROFILES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
/// Every `CodeSummary` object, keyed by canonical code, in code order.
static SUMMARIES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// The profile of one code: an anesthesia code or any code of the Medicare Physician Fee Schedule.
///
/// `localities` adds Medicare anesthesia benchmark rows and fee schedule amounts for the given
/// localities (MAC-locality ids such as `"13202-01"`, Manhattan) or, with `"all"` or `"*"` (alone or as a
/// one-item list, as gRPC takes it), for every locality; national rows are always there.
#[pyfunction]
#[pyo3(signature = (code, localities = None))]
fn code<'py>(
    py: Python<'py>,
    code: &Bound<'py, PyString>,
    localities: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let profiles = PROFILES.get_or_init(py, || PyDict::new(py).unbind()).bind(py);
    let options = profile_options(py, localities)?;
    let cacheable = options == ProfileOptions::default();
    // Fast path: the exact text asked for before ("00632").
    if cacheable && let Some(profile) = profiles.get_item(code)? {
        return Ok(profile);
    }

    let parsed: CptCode = code.to_cow()?.parse().map_err(py_err(py, Subject::AnesthesiaCode))?;
    if cacheable && let Some(profile) = profiles.get_item(parsed.as_str())? {
        return Ok(profile); // Another spelling of a cached code (" 00632", "0001f").
    }
    // Core work runs with the GIL released (the first call also parses the embedded data). An unknown
    // code is an UnknownCodeError; anything else the profile reports (an unknown locality) maps as usual.
    let payer_benchmarks = rates::loaded();
    let profile = py.detach(|| {
        let reference = crate::data::reference();
        reference.check_code(parsed).map_err(|e| (e, Subject::AnesthesiaCode))?;
        reference.profile_with(parsed, &options, &payer_benchmarks).map_err(|e| (e, Subject::Other))
    });
    let profile = profile.map_err(|(err, subject)| errors::to_py_err(py, &err, subject))?;
    let profile = profile.to_py(py)?.into_bound(py);
    if cacheable {
        profiles.set_item(parsed.as_str(), &profile)?;
    }
    Ok(profile)
}

/// `localities`: None (national rows only), "all" or "*", or a sequence of locality ids (where "all"
/// or "*" is every locality too): the core reads the strings as the gRPC face's are read.
fn profile_options(py: Python<'_>, localities: Option<&Bound<'_, PyAny>>) -> PyResult<ProfileOptions> {
    let invalid = |field: String, message: &str| errors::to_py_err(py, &Error::invalid(field, message), Subject::Other);
    let selection = match localities {
        None => LocalitySelection::None,
        Some(value) if value.is_none() => LocalitySelection::None,
        Some(value) => match value.cast::<PyString>() {
            Ok(text) => LocalitySelection::parse_word(&text.to_cow()?).map_err(py_err(py, Subject::Other))?,
            Err(_) => {
                let items = value.try_iter().map_err(|_| {
                    invalid("localities".to_owned(), "expected \"all\", \"*\" or a list of Medicare locality ids")
                })?;
                let mut texts = Vec::new();
                for (i, item) in items.enumerate() {
                    let item = item?;
                    let text = item.cast::<PyString>().map_err(|_| {
                        invalid(format!("localities[{i}]"), "expected a locality id string such as \"13202-01\"")
                    })?;
                    texts.push(text.to_cow()?.into_owned());
                }
                LocalitySelection::parse(&texts).map_err(py_err(py, Subject::Other))?
            }
        },
    };
    Ok(ProfileOptions { localities: selection })
}

/// Codes matching every given filter, in code order (all matches, not one page).
///
/// `codes` is a code, a range (`"99202-99215"`) or several (a string separated by spaces or commas,
/// or a list); `status` a fee schedule status code (`"A"`, `"C"`, `"I"`, ...); `section` a CPT section or
/// subsection or a HCPCS Level II heading (`"Radiology"`, `"Digestive System"`).
#[pyfunction]
#[pyo3(signature = (
    text = "", *, category = None, min_base_units = None, max_base_units = None, inpatient_only = None,
    service_type = None, codes = None, status = None, section = None,
))]
#[allow(clippy::too_many_arguments)] // keyword filters, as Python callers name them
fn search_codes(
    py: Python<'_>,
    text: &str,
    category: Option<String>,
    min_base_units: Option<i64>,
    max_base_units: Option<i64>,
    inpatient_only: Option<bool>,
    service_type: Option<&str>,
    codes: Option<&Bound<'_, PyAny>>,
    status: Option<String>,
    section: Option<String>,
) -> PyResult<Vec<Py<PyAny>>> {
    let to_err = py_err(py, Subject::Other);
    let units = |field: &str, value: Option<i64>| -> PyResult<Option<u32>> {
        value
            .map(|v| u32::try_from(v).map_err(|_| Error::invalid(field, format!("expected a count of units, got {v}"))))
            .transpose()
            .map_err(&to_err)
    };
    let query = CodeQuery {
        text: text.to_owned(),
        category,
        min_base_units: units("min_base_units", min_base_units)?,
        max_base_units: units("max_base_units", max_base_units)?,
        inpatient_only,
        service_type: service_type.map(parse_service_type).transpose().map_err(&to_err)?,
        codes: codes_text(codes).map_err(&to_err)?,
        status,
        section,
    };
    let matches =
        py.detach(|| all_pages(|page| crate::data::reference().search_codes(&query, page))).map_err(&to_err)?;
    let summaries = summaries(py)?;
    matches.iter().map(|summary| summary_object(py, summaries, summary)).collect()
}

/// `codes=`: one string as given, or a sequence of strings joined; anything else names the field.
fn codes_text(codes: Option<&Bound<'_, PyAny>>) -> CoreResult<String> {
    let Some(codes) = codes.filter(|c| !c.is_none()) else { return Ok(String::new()) };
    let expected = || Error::invalid("codes", "expected a code, a range such as \"99202-99215\", or a list of them");
    if let Ok(text) = codes.cast::<PyString>() {
        return text.to_cow().map(|t| t.into_owned()).map_err(|_| expected());
    }
    let items = codes.try_iter().map_err(|_| expected())?;
    let mut parts = Vec::new();
    for item in items {
        let item = item.map_err(|_| expected())?;
        let text = item.cast::<PyString>().map_err(|_| expected())?.to_cow().map_err(|_| expected())?;
        parts.push(text.into_owned());
    }
    Ok(parts.join(" "))
}

/// Every code (anesthesia and fee schedule), in code order.
#[pyfunction]
fn list_codes(py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
    Ok(summaries(py)?.values().iter().map(Bound::unbind).collect())
}

/// Walks the core's pages to the end.
fn all_pages<T>(mut fetch: impl FnMut(&PageRequest) -> CoreResult<Page<T>>) -> CoreResult<Vec<T>> {
    let mut request = PageRequest { page_size: MAX_PAGE_SIZE, page_token: String::new() };
    let mut items = Vec::new();
    loop {
        let page = fetch(&request)?;
        items.extend(page.items);
        if page.next_page_token.is_empty() {
            return Ok(items);
        }
        request.page_token = page.next_page_token;
    }
}

/// The shared summary objects, built from the core's list on first use (again after `load_data`).
fn summaries(py: Python<'_>) -> PyResult<&Bound<'_, PyDict>> {
    let dict = SUMMARIES.get_or_init(py, || PyDict::new(py).unbind()).bind(py);
    if dict.is_empty() {
        let all = py
            .detach(|| all_pages(|page| crate::data::reference().list_codes(page)))
            .map_err(py_err(py, Subject::Other))?;
        for summary in &all {
            dict.set_item(summary.code.as_str(), summary.to_py(py)?)?;
        }
    }
    Ok(dict)
}

fn summary_object(
    py: Python<'_>,
    summaries: &Bound<'_, PyDict>,
    summary: &cptkit_core::CodeSummary,
) -> PyResult<Py<PyAny>> {
    match summaries.get_item(summary.code.as_str())? {
        Some(object) => Ok(object.unbind()),
        None => Ok(Py::new(py, CodeSummary::new(py, summary.clone())?)?.into_any()),
    }
}

fn parse_service_type(text: &str) -> CoreResult<ServiceType> {
    ServiceType::ALL.into_iter().find(|t| t.as_str() == text).ok_or_else(|| {
        let names: Vec<&str> = ServiceType::ALL.iter().map(|t| t.as_str()).collect();
        Error::invalid("service_type", format!("expected one of {}, got {text:?}", names.join(", ")))
    })
}

/// One single-item lookup: parse the code (InvalidInputError, field "code"), find it (NotFoundError,
/// field "code"), convert the answer.
fn lookup<C, T>(
    py: Python<'_>,
    code: &str,
    find: impl FnOnce(&'static Reference, &C) -> CoreResult<T> + Send,
) -> PyResult<Py<PyAny>>
where
    C: std::str::FromStr<Err = Error> + Sync,
    T: ToPy + Send,
{
    let parsed: C = code.parse().map_err(py_err(py, Subject::Other))?;
    let found = py
        .detach(|| find(crate::data::reference(), &parsed))
        .map_err(|err| errors::to_py_err(py, &err, Subject::Other))?;
    found.to_py(py)
}

/// An anesthesia modifier (AA, QK, QS, P3, ...).
#[pyfunction]
fn modifier(py: Python<'_>, code: &str) -> PyResult<Py<PyAny>> {
    lookup(py, code, |r, c: &ModifierCode| r.modifier(*c).cloned())
}

/// An ICD-10-CM diagnosis; accepts the dotted (M54.50) and undotted (m5450) forms.
#[pyfunction]
fn diagnosis(py: Python<'_>, code: &str) -> PyResult<Py<PyAny>> {
    lookup(py, code, |r, c: &Icd10Code| r.diagnosis(c))
}

/// A provider taxonomy (207L00000X).
#[pyfunction]
fn taxonomy(py: Python<'_>, code: &str) -> PyResult<Py<PyAny>> {
    lookup(py, code, |r, c: &TaxonomyCode| r.taxonomy(c).cloned())
}

/// A CMS place-of-service code (21).
#[pyfunction]
fn place_of_service(py: Python<'_>, code: &str) -> PyResult<Py<PyAny>> {
    lookup(py, code, |r, c: &PosCode| r.place_of_service(c).cloned())
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(code, module)?)?;
    module.add_function(wrap_pyfunction!(search_codes, module)?)?;
    module.add_function(wrap_pyfunction!(list_codes, module)?)?;
    module.add_function(wrap_pyfunction!(modifier, module)?)?;
    module.add_function(wrap_pyfunction!(diagnosis, module)?)?;
    module.add_function(wrap_pyfunction!(taxonomy, module)?)?;
    module.add_function(wrap_pyfunction!(place_of_service, module)?)?;
    records::register(module)?;
    claim_types::register(module)?;
    claims::register(module)?;
    x12::register(module)?;
    tables::register(module)?;
    rates::register(module)?;
    data::register(module)?;
    Ok(())
}

/// Drops the profile and summary objects built from the data in use (new data or benchmarks loaded).
pub(crate) fn clear_caches(py: Python<'_>) {
    for cache in [&PROFILES, &SUMMARIES] {
        if let Some(dict) = cache.get(py) {
            dict.bind(py).clear();
        }
    }
}
