//! Core errors as Python exceptions. The classes are defined once, in `cptkit/exceptions.py`
//! (`InvalidInputError` is also a `ValueError`, `NotFoundError` a `LookupError`: Python needs
//! multiple inheritance for that); this module maps [`ErrorKind`] to them in one exhaustive match.

use cptkit_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

const EXCEPTIONS_MODULE: &str = "cptkit.exceptions";

/// What a lookup was about, when that changes which "not found" class is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// The anesthesia code itself (`cptkit.code`): `UnknownCodeError`, a `NotFoundError`.
    AnesthesiaCode,
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

/// The one map from core error kind to exception class.
fn class_for(kind: ErrorKind, subject: Subject) -> &'static ExceptionClass {
    match kind {
        ErrorKind::InvalidInput => &INVALID_INPUT,
        ErrorKind::NotFound => match subject {
            Subject::AnesthesiaCode => &UNKNOWN_CODE,
            Subject::Other => &NOT_FOUND,
        },
        ErrorKind::Unsupported => &UNSUPPORTED,
        ErrorKind::Conflict => &CONFLICT,
        ErrorKind::Internal => &INTERNAL,
    }
}

/// The Python exception for a core error: `Class(message, kind=..., field=..., violations=[(field, message)])`.
pub(crate) fn to_py_err(py: Python<'_>, err: &Error, subject: Subject) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("kind", err.kind().as_str())?;
        kwargs.set_item("field", err.field())?;
        kwargs.set_item("violations", err.violations())?;
        let exception = class_for(err.kind(), subject).get(py)?.call((err.message(),), Some(&kwargs))?;
        Ok(PyErr::from_value(exception))
    };
    // If even building the exception fails (cptkit.exceptions broken), raise that failure instead.
    build().unwrap_or_else(|failure| failure)
}

/// Adapts a core result for Python: `result.map_err(py_err(py, subject))`.
pub(crate) fn py_err(py: Python<'_>, subject: Subject) -> impl Fn(Error) -> PyErr + '_ {
    move |err| to_py_err(py, &err, subject)
}
