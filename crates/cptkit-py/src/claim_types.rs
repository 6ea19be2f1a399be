//! The claim classes: `Claim` (a parsed claim), `RuleSet` (a loaded payer rule set) and the pricing
//! results `PricedClaim` and `PricedLine`.
//!
//! Unlike the reference-data records (built once, cached, every attribute a ready object), pricing
//! results are made by the hundred thousand and mostly read for one or two numbers. So these classes
//! keep only the core value and convert an attribute when it is read: a batch pays one small object
//! per claim, not a dozen `Decimal`s per line. `lines` and `steps` (which renders the explanation)
//! are built on first read and kept, so `claim.lines[0] is claim.lines[0]`.

use std::fmt;
use std::sync::Arc;

use cptkit_core as core;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use rust_decimal::Decimal;

use crate::convert::{ToPy, serde_to_py};
use crate::errors::{Subject, to_py_err};

/// `Decimal('264.13')`, as Python shows it, without building the object.
fn decimal_repr(value: Decimal) -> String {
    format!("Decimal('{value}')")
}

fn string_repr(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_cow()?.into_owned())
}

/// A claim, parsed and typed (its JSON form is the gRPC `cptkit.v1.Claim` in JSON). Build one with
/// `Claim.from_dict` or `Claim.from_json` to parse once and validate or price many times.
#[pyclass(frozen, eq, module = "cptkit._native")]
#[derive(Debug, PartialEq)]
pub struct Claim {
    pub(crate) inner: core::Claim,
}

#[pymethods]
impl Claim {
    /// Reads the claim JSON form from a dict; an error names the field (`lines[0].procedure_code`).
    #[staticmethod]
    fn from_dict(py: Python<'_>, claim: &Bound<'_, PyAny>) -> PyResult<Claim> {
        if claim.cast::<pyo3::types::PyDict>().is_err() {
            let err = core::Error::invalid("claim", format!("expected a dict, got {}", claim.get_type().name()?));
            return Err(to_py_err(py, &err, Subject::Other));
        }
        crate::claims::claim_from_py(py, claim).map(|inner| Claim { inner })
    }

    /// Reads the claim JSON form from a `str` or UTF-8 `bytes`.
    #[staticmethod]
    fn from_json(py: Python<'_>, json: &Bound<'_, PyAny>) -> PyResult<Claim> {
        if json.cast::<pyo3::types::PyDict>().is_ok() {
            let err = core::Error::invalid("claim", "expected JSON text (str or bytes), got a dict: use from_dict");
            return Err(to_py_err(py, &err, Subject::Other));
        }
        crate::claims::claim_from_py(py, json).map(|inner| Claim { inner })
    }

    /// The claim JSON form as a dict (it holds patient data: do not log it).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serde_to_py(py, &self.inner)
    }

    /// The claim JSON form as text.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    #[getter]
    fn claim_id(&self) -> &str {
        &self.inner.claim_id
    }

    /// Pickles as its JSON form.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().getattr("from_json")?, (slf.get().inner.to_json(),)))
    }

    /// Claim id, payer and line count: never patient data.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Claim(claim_id={}, payer={}, lines={})",
            string_repr(py, &self.inner.claim_id)?,
            string_repr(py, &self.inner.payer.id)?,
            self.inner.lines.len()
        ))
    }
}

/// A payer rule set loaded at run time (`cptkit.load_rule_set`): pass it to `price`/`price_many` as
/// `rule_set=` to price with it. It keeps the rule book it prices with: the embedded rule sets plus
/// this one (replacing an embedded one with the same id).
#[pyclass(frozen, eq, module = "cptkit._native")]
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) inner: Arc<core::RuleSet>,
    pub(crate) book: core::RuleBook,
}

impl PartialEq for RuleSet {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl RuleSet {
    pub(crate) fn new(rule_set: core::RuleSet) -> RuleSet {
        let book = core::RuleBook::embedded().clone().with(rule_set.clone());
        RuleSet { inner: Arc::new(rule_set), book }
    }
}

#[pymethods]
impl RuleSet {
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    #[getter]
    fn payer(&self) -> &str {
        &self.inner.payer
    }

    #[getter]
    fn plan(&self) -> &str {
        &self.inner.plan
    }

    /// Payer ids (`claim.payer.id`) this rule set is chosen for when none is named.
    #[getter]
    fn payer_ids(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.inner.selects.payer_ids.to_py(py)
    }

    #[getter]
    fn effective_from(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.inner.effective_from.to_py(py)
    }

    #[getter]
    fn effective_to(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.inner.effective_to.to_py(py)
    }

    #[getter]
    fn source(&self) -> &str {
        &self.inner.source
    }

    /// `"medicare"` (CMS factors by year and locality) or `"contract"` (pass `conversion_factor`).
    #[getter]
    fn conversion_factor(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.inner.conversion_factor.to_py(py)
    }

    /// The rule set's JSON form (the file format of `data/rulesets/*.json`).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serde_to_py(py, &*self.inner)
    }

    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&*self.inner).map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
    }

    /// Pickles as its JSON form, read back by `load_rule_set`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let load = slf.py().import("cptkit._native")?.getattr("load_rule_set")?;
        Ok((load, (slf.get().to_json()?,)))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "RuleSet(id={}, payer={}, effective_from={})",
            string_repr(py, &self.inner.id)?,
            string_repr(py, &self.inner.payer)?,
            self.effective_from(py)?.bind(py).repr()?
        ))
    }
}

/// A priced claim: every line priced (or marked not priced, with the reason in its steps).
#[pyclass(frozen, eq, module = "cptkit._native")]
pub struct PricedClaim {
    inner: core::PricedClaim,
    lines: PyOnceLock<Py<PyTuple>>,
}

impl fmt::Debug for PricedClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PricedClaim").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl PartialEq for PricedClaim {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl PricedClaim {
    pub(crate) fn new(inner: core::PricedClaim) -> PricedClaim {
        // Every field of the core struct is exposed below: a new one stops the build here.
        let core::PricedClaim { claim_id: _, lines: _, total_charge: _, total_allowed: _ } = &inner;
        PricedClaim { inner, lines: PyOnceLock::new() }
    }
}

#[pymethods]
impl PricedClaim {
    #[getter]
    fn claim_id(&self) -> &str {
        &self.inner.claim_id
    }

    /// The priced lines, in claim order.
    #[getter]
    fn lines(&self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        let lines = self.lines.get_or_try_init(py, || -> PyResult<Py<PyTuple>> {
            let items = self
                .inner
                .lines
                .iter()
                .map(|line| Py::new(py, PricedLine::new(line.clone())))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyTuple::new(py, items)?.unbind())
        })?;
        Ok(lines.clone_ref(py))
    }

    /// Sum of the lines' charges.
    #[getter]
    fn total_charge(&self) -> Decimal {
        self.inner.total_charge
    }

    /// Sum of the lines' allowed amounts.
    #[getter]
    fn total_allowed(&self) -> Decimal {
        self.inner.total_allowed
    }

    /// The core's serde JSON form (the gRPC JSON and the golden fixtures): decimals as strings, each
    /// line with its `steps`.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serde_to_py(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PricedClaim(claim_id={}, total_charge={}, total_allowed={}, lines={})",
            string_repr(py, &self.inner.claim_id)?,
            decimal_repr(self.inner.total_charge),
            decimal_repr(self.inner.total_allowed),
            self.inner.lines.len()
        ))
    }
}

/// One priced line: units, conversion factor, share and amounts as `Decimal`, and `steps`, the
/// explanation with the source of every number.
#[pyclass(frozen, eq, module = "cptkit._native")]
pub struct PricedLine {
    inner: core::PricedLine,
    steps: PyOnceLock<Py<PyTuple>>,
}

impl fmt::Debug for PricedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PricedLine").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl PartialEq for PricedLine {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl PricedLine {
    fn new(inner: core::PricedLine) -> PricedLine {
        PricedLine { inner, steps: PyOnceLock::new() }
    }
}

#[pymethods]
impl PricedLine {
    /// 0-based index of the claim line.
    #[getter]
    fn line(&self) -> u32 {
        self.inner.line
    }

    #[getter]
    fn procedure_code(&self) -> &str {
        self.inner.procedure_code.as_str()
    }

    /// `"priced"` or `"not_priced"` (the steps say why).
    #[getter]
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.inner.status.to_py(py)
    }

    /// The id of the rule set the line was priced by.
    #[getter]
    fn rule_set(&self) -> &str {
        &self.inner.rule.id
    }

    #[getter]
    fn date_of_service(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.inner.date_of_service.to_py(py)
    }

    #[getter]
    fn base_units(&self) -> Decimal {
        self.inner.base_units
    }

    #[getter]
    fn time_units(&self) -> Decimal {
        self.inner.time_units
    }

    #[getter]
    fn modifying_units(&self) -> Decimal {
        self.inner.modifying_units
    }

    #[getter]
    fn total_units(&self) -> Decimal {
        self.inner.total_units
    }

    #[getter]
    fn conversion_factor(&self) -> Decimal {
        self.inner.conversion_factor
    }

    #[getter]
    fn share(&self) -> Decimal {
        self.inner.share
    }

    /// Units x conversion factor x share, rounded half-up to cents once.
    #[getter]
    fn fee_schedule(&self) -> Decimal {
        self.inner.fee_schedule
    }

    #[getter]
    fn charge(&self) -> Decimal {
        self.inner.charge
    }

    /// What the payer allows: the fee schedule amount, or the charge when lower under a
    /// lesser-of-charge rule, less any combined cap.
    #[getter]
    fn allowed(&self) -> Decimal {
        self.inner.allowed
    }

    /// The explanation, step by step (`PriceStep(step, detail, value)`), each detail with its source.
    #[getter]
    fn steps(&self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        let steps = self.steps.get_or_try_init(py, || -> PyResult<Py<PyTuple>> {
            let steps = self.inner.steps().to_py(py)?;
            Ok(steps.into_bound(py).cast_into::<PyTuple>()?.unbind())
        })?;
        Ok(steps.clone_ref(py))
    }

    /// The core's serde JSON form, `steps` included.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serde_to_py(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PricedLine(line={}, procedure_code={}, status={}, total_units={}, allowed={})",
            self.inner.line,
            string_repr(py, self.inner.procedure_code.as_str())?,
            self.status(py)?.bind(py).repr()?,
            decimal_repr(self.inner.total_units),
            decimal_repr(self.inner.allowed)
        ))
    }
}

/// Adds the claim classes to the module.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Claim>()?;
    module.add_class::<RuleSet>()?;
    module.add_class::<PricedClaim>()?;
    module.add_class::<PricedLine>()?;
    Ok(())
}
