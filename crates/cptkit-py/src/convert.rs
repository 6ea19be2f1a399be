//! Every core -> Python value conversion, in one place.
//!
//! * [`ToPy`] turns a core value into the Python object an attribute holds: `str`, `int`, `bool`,
//!   `decimal.Decimal` (money, units, conversion factors), `datetime.date`, `None`, a `tuple` for a
//!   sequence or a pair (immutable, because profiles are cached and shared), a read-only mapping
//!   (`types.MappingProxyType`) for a map, a plain `str` for an enum (its serde name; an X12 code such
//!   as `CO` for an adjustment group), or one of the frozen record classes of [`crate::records`] and
//!   [`crate::x12`] (an X12 place is a `SourceLocation`, an X12 problem an `X12Issue`).
//! * [`serde_to_py`] turns a core value into its serde JSON form as Python `dict`/`list`/`str`/`int`
//!   objects: what `to_dict()` returns, equal to the golden fixtures by construction.

use cptkit_core::{CfBasis, CfTier, CptCode, DiagnosisCode, Icd10Code, Known, LineStatus, LocalityId};
use cptkit_core::{FieldPath, ModifierCategory, ModifierCode, PathItem, PosCode, RateBasis, Relation, ServiceType};
use cptkit_core::{Severity, ShortText, TaxonomyCode};
use cptkit_x12::{AdjustmentGroup, MatchedBy, SegmentRef, X12Error};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyList, PyMappingProxy, PyString, PyTuple};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use time::Date;

/// A core value as the Python object that an attribute of a record class holds.
pub(crate) trait ToPy {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

/// Fixed names from the core (price step names such as `"base_units"`), interned.
impl ToPy for &'static str {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PyString::intern(py, self).into_any().unbind())
    }
}

impl ToPy for bool {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PyBool::new(py, *self).to_owned().into_any().unbind())
    }
}

/// Values whose pyo3 conversion is already the Python type we want.
macro_rules! via_into_pyobject {
    ($($ty:ty),* $(,)?) => {$(
        impl ToPy for $ty {
            fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                Ok(self.into_pyobject(py)?.into_any().unbind())
            }
        }
    )*};
}
// Integers -> int, Decimal -> decimal.Decimal, Date -> datetime.date.
via_into_pyobject!(u32, i32, u64, usize, Decimal, Date);

/// Text, inline text (a claim id) and typed identifiers as their canonical text (`"00632"`, `"M54.50"`).
macro_rules! text_as_str {
    ($($ty:ty),* $(,)?) => {$(
        impl ToPy for $ty {
            fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                Ok(PyString::new(py, self.as_str()).into_any().unbind())
            }
        }
    )*};
}
text_as_str!(String, ShortText, CptCode, Icd10Code, DiagnosisCode, ModifierCode, PosCode, TaxonomyCode, LocalityId);

/// A field path as pydantic's `loc`: a tuple of field names and indexes, `("lines", 0, "modifiers", 1)`.
impl ToPy for FieldPath {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let items = self
            .items()
            .iter()
            .map(|item| match item {
                PathItem::Field(name) => Ok(PyString::intern(py, name).into_any().unbind()),
                PathItem::Index(i) => i.to_py(py),
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyTuple::new(py, items)?.into_any().unbind())
    }
}

/// Enums are their serde name (`"anesthesia"`, `"yes"`, `"same_category"`), interned: the same words as
/// in `to_dict()` and on the JSON wire, from the one definition in the core. Each variant's name is made
/// once (serde gives it through a JSON value, about 1k instructions: every finding has a severity) and
/// kept by its discriminant; these enums are fieldless with a handful of variants.
macro_rules! enum_as_serde_name {
    ($($ty:ty),* $(,)?) => {$(
        impl ToPy for $ty {
            fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                static NAMES: [PyOnceLock<Py<PyString>>; 16] = [const { PyOnceLock::new() }; 16];
                let name = || Ok::<_, PyErr>(PyString::intern(py, &serde_name(self)?).unbind());
                let name = match NAMES.get(*self as usize) {
                    Some(slot) => slot.get_or_try_init(py, name)?.clone_ref(py),
                    None => name()?,
                };
                Ok(name.into_any())
            }
        }
    )*};
}
enum_as_serde_name!(
    ServiceType,
    Known,
    ModifierCategory,
    CfTier,
    Relation,
    Severity,
    LineStatus,
    CfBasis,
    RateBasis,
    MatchedBy
);

/// CAS01 as the 835 writes it: `"CO"`, `"PR"`, ...
impl ToPy for AdjustmentGroup {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PyString::intern(py, self.as_str()).into_any().unbind())
    }
}

impl ToPy for SegmentRef {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, crate::x12::SourceLocation::from(*self))?.into_any())
    }
}

impl ToPy for X12Error {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, crate::x12::X12Issue::from(self.clone()))?.into_any())
    }
}

impl<T: ToPy> ToPy for Option<T> {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self {
            Some(value) => value.to_py(py),
            None => Ok(py.None()),
        }
    }
}

impl<T: ToPy> ToPy for Vec<T> {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let items = self.iter().map(|item| item.to_py(py)).collect::<PyResult<Vec<_>>>()?;
        Ok(PyTuple::new(py, items)?.into_any().unbind())
    }
}

impl<A: ToPy, B: ToPy> ToPy for (A, B) {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PyTuple::new(py, [self.0.to_py(py)?, self.1.to_py(py)?])?.into_any().unbind())
    }
}

/// A read-only view of a dict (`types.MappingProxyType`), in key order: a frozen object's map
/// attribute cannot be changed through it.
impl<V: ToPy> ToPy for BTreeMap<String, V> {
    fn to_py(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let dict = PyDict::new(py);
        for (key, value) in self {
            dict.set_item(key, value.to_py(py)?)?;
        }
        Ok(PyMappingProxy::new(py, dict.as_mapping()).into_any().unbind())
    }
}

/// The serde name of a unit enum variant (`ServiceType::AnesthesiaAddOn` -> `anesthesia_add_on`).
pub(crate) fn serde_name<T: Serialize>(value: &T) -> PyResult<String> {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => Ok(name),
        Ok(other) => Err(PyRuntimeError::new_err(format!("expected an enum name, serde gave {other}"))),
        Err(err) => Err(PyRuntimeError::new_err(err.to_string())),
    }
}

/// The serde JSON form of a core value, as Python objects (`to_dict()`).
pub(crate) fn serde_to_py<T: Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value).map_err(|err| PyRuntimeError::new_err(err.to_string()))?;
    json_to_py(py, &json)
}

fn json_to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.to_py(py)?,
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else {
                // The core serializes no floats (money and units are decimal strings); kept total anyway.
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any().unbind()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, json_to_py(py, item)?)?;
            }
            dict.into_any().unbind()
        }
    })
}
