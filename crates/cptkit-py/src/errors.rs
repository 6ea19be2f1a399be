//! Core errors as Python exceptions. The classes are defined once, in `cptkit/exceptions.py`
//! (`InvalidInputError` is also a `ValueError`, `NotFoundError` a `LookupError`: Python needs
//! multiple inheritance for that); this module maps [`ErrorKind`] to them in one exhaustive match.
//!
//! `price()` on a claim with error findings gets the core's InvalidInput error that lists every error
//! finding as a violation; for that error alone the class is `ClaimValidationError` (an
//! `InvalidInputError`), which also carries the full `ValidationReport` (`.report`) and the error
//! findings (`.issues`).

use cptkit_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

use crate::convert::ToPy;

const EXCEPTIONS_MODULE: &str = "cptkit.exceptions";

/// What a lookup was about, when that changes which "not found" class is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// The anesthesia code itself (`cptkit.code`): `UnknownCodeError`, a `NotFoundError`.
    AnesthesiaCode,
    /// Pricing a claim (`cptkit.price`): a claim rejected for its findings is a `ClaimValidationError`.
    PricedClaim,
    /// Anything else.
    Other,
}

/// A lazily imported exception class of `cptkit.exceptions`.
struct ExceptionClass {
    name: &'static str,
    class: PyOnceLock<Py<PyType>>,
}

impl ExceptionClass {
    const fn new(name: &'static str) -> Self {
        ExceptionClass { name, class: PyOnceLock::new() }
    }

    fn get<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyType>> {
        self.class.import(py, EXCEPTIONS_MODULE, self.name)
    }
}

static INVALID_INPUT: ExceptionClass = ExceptionClass::new("InvalidInputError");
static NOT_FOUND: ExceptionClass = ExceptionClass::new("NotFoundError");
static UNKNOWN_CODE: ExceptionClass = ExceptionClass::new("UnknownCodeError");
static UNSUPPORTED: ExceptionClass = ExceptionClass::new("UnsupportedError");
static CONFLICT: ExceptionClass = ExceptionClass::new("ConflictError");
static INTERNAL: ExceptionClass = ExceptionClass::new("InternalError");
static CLAIM_VALIDATION: ExceptionClass = ExceptionClass::new("ClaimValidationError");
static MISSING_FILE: ExceptionClass = ExceptionClass::new("MissingFileError");

/// The core refuses to price a claim with error findings with an InvalidInput error that names no
/// single field and lists each error finding as a violation (`cptkit_core::rejection`); every other
/// invalid-input error names its field.
pub(crate) fn rejects_claim(err: &Error) -> bool {
    err.kind() == ErrorKind::InvalidInput && err.field().is_none() && !err.violations().is_empty()
}

/// The one map from core error to exception class.
fn class_for(err: &Error, subject: Subject) -> &'static ExceptionClass {
    match err.kind() {
        ErrorKind::InvalidInput => match subject {
            Subject::PricedClaim if rejects_claim(err) => &CLAIM_VALIDATION,
            Subject::PricedClaim | Subject::AnesthesiaCode | Subject::Other => &INVALID_INPUT,
        },
        // One policy for a missing file, whatever reads it: MissingFileError (also a FileNotFoundError).
        ErrorKind::NotFound if err.file().is_some() => &MISSING_FILE,
        ErrorKind::NotFound => match subject {
            Subject::AnesthesiaCode => &UNKNOWN_CODE,
            Subject::PricedClaim | Subject::Other => &NOT_FOUND,
        },
        ErrorKind::Unsupported => &UNSUPPORTED,
        ErrorKind::Conflict => &CONFLICT,
        ErrorKind::Internal => &INTERNAL,
    }
}

/// The Python exception for a core error: `Class(message, kind=..., field=..., loc=(...), file=...,
/// violations=[(field, message)])`.
pub(crate) fn to_py_err(py: Python<'_>, err: &Error, subject: Subject) -> PyErr {
    build(py, err, subject, None)
}

/// The exception for a failed `price`: as [`to_py_err`], and a `ClaimValidationError` also gets
/// `report=` (the claim's `ValidationReport` object, which the caller computes for that case only).
pub(crate) fn price_err(py: Python<'_>, err: &Error, report: Option<Py<PyAny>>) -> PyErr {
    build(py, err, Subject::PricedClaim, report)
}

fn build(py: Python<'_>, err: &Error, subject: Subject, report: Option<Py<PyAny>>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = class_for(err, subject);
        let kwargs = PyDict::new(py);
        let violations: Vec<(String, String)> = err.violations().into_iter().map(|v| (v.field(), v.message)).collect();
        kwargs.set_item("kind", err.kind().as_str())?;
        kwargs.set_item("field", err.field())?;
        kwargs.set_item("loc", err.loc().to_py(py)?)?;
        kwargs.set_item("file", err.file().map(|f| f.display().to_string()))?;
        kwargs.set_item("violations", &violations)?;
        if std::ptr::eq(class, &CLAIM_VALIDATION) {
            kwargs.set_item("report", report)?;
        }
        let message = if std::ptr::eq(class, &CLAIM_VALIDATION) {
            // Say what is wrong in the message too, for a traceback: "...: MOD003 at lines[0].modifiers[1], ...".
            let at: Vec<String> = violations
                .iter()
                .map(|(field, message)| format!("{} at {field}", message.split(':').next().unwrap_or(message)))
                .collect();
            format!("{} ({})", err.message(), at.join(", "))
        } else {
            err.message().to_owned()
        };
        let exception = class.get(py)?.call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(exception))
    };
    // If even building the exception fails (cptkit.exceptions broken), raise that failure instead.
    build().unwrap_or_else(|failure| failure)
}

/// An I/O error on a file the caller named, as the one exception for it (`MissingFileError` when the
/// file does not exist).
pub(crate) fn file_err(py: Python<'_>, path: &std::path::Path, err: &std::io::Error) -> PyErr {
    to_py_err(py, &cptkit_core::io_error(path, err), Subject::Other)
}

/// Adapts a core result for Python: `result.map_err(py_err(py, subject))`.
pub(crate) fn py_err(py: Python<'_>, subject: Subject) -> impl Fn(Error) -> PyErr + '_ {
    move |err| to_py_err(py, &err, subject)
}
