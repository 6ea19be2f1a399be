//! X12 from Python: `read_837`, `write_837`, `read_835` and `reconcile` over `cptkit-x12`.
//!
//! Inputs are a path (`str` or `os.PathLike`) or `bytes`; files are read and parsed with the GIL
//! released. X12 problems are data (`X12Issue`s on the result: a bad transaction is reported, the good
//! ones are returned); `Read837Result.raise_for_errors()` and `Read835Result.raise_for_errors()` turn
//! them into an exception through the one error map ([`crate::errors`]: `X12Error` converts into
//! `cptkit_core::Error`). Writing refuses a claim with an `InvalidInputError` naming the field
//! (`claims[3].lines[0].end_time`). Remittances and reconciliations are typed classes ([`remit`]).

mod remit;

use std::collections::BTreeMap;
use std::io::Read;

use arrow_array::RecordBatch;
use cptkit_core::{self as core, Error, JudgeOptions, LocalityId};
use cptkit_x12 as x12;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyList, PyString, PyTuple};
use rust_decimal::Decimal;

use crate::claim_types::Claim;
use crate::claims::{price_options, rules, today};
use crate::convert::{ToPy, serde_to_py};
use crate::errors::{Subject, file_err, to_py_err};
use crate::gc::CollectorPaused;
use crate::x12::remit::{Reconciliation, Remittance, remittance_list};

fn invalid(py: Python<'_>, field: &str, message: impl Into<String>) -> PyErr {
    to_py_err(py, &Error::invalid(field, message), Subject::Other)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

/// An X12 input: bytes held by Python, or a file to read with the GIL released.
enum Input<'py> {
    Bytes(Bound<'py, PyBytes>),
    Path(std::path::PathBuf),
}

fn input<'py>(py: Python<'py>, field: &str, value: &Bound<'py, PyAny>) -> PyResult<Input<'py>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Input::Bytes(bytes.clone()));
    }
    let is_path = value.cast::<PyString>().is_ok() || value.hasattr("__fspath__")?;
    if !is_path {
        return Err(invalid(
            py,
            field,
            format!("expected a path (str or os.PathLike) or bytes, got {}", type_name(value)),
        ));
    }
    let os = py.import("os")?;
    let path: std::path::PathBuf = os.call_method1("fspath", (value,))?.extract()?;
    Ok(Input::Path(path))
}

impl Input<'_> {
    /// Runs `f` reading the input, with the GIL released. A file is read as `f` goes, never held
    /// whole (a clearinghouse file is gigabytes): one that cannot be opened is an error here, one
    /// that fails part-way is a problem the reader reports where it happened.
    fn with_reader<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut dyn Read) -> T + Send) -> PyResult<T> {
        match self {
            Input::Bytes(bytes) => {
                let mut data = bytes.as_bytes();
                Ok(py.detach(|| f(&mut data)))
            }
            Input::Path(path) => {
                let result = py.detach(|| {
                    let mut file = std::fs::File::open(path)?;
                    if file.metadata()?.is_dir() {
                        return Err(std::io::ErrorKind::IsADirectory.into());
                    }
                    Ok(f(&mut file))
                });
                result.map_err(|e| file_err(py, path, &e))
            }
        }
    }
}

/// What the 837 does not carry, as the Python functions that read one take it.
fn read_options(
    py: Python<'_>,
    medicare_locality: Option<&str>,
    payer_ids: Option<BTreeMap<String, String>>,
    qualifying_apm_npis: Option<Vec<String>>,
) -> PyResult<x12::ReadOptions> {
    let medicare_locality = medicare_locality
        .map(|locality| locality.parse::<LocalityId>())
        .transpose()
        .map_err(|e: Error| invalid(py, "medicare_locality", e.message().to_owned()))?;
    let qualifying_apm_npis = (qualifying_apm_npis.unwrap_or_default().iter().enumerate())
        .map(|(i, npi)| {
            let field = format!("qualifying_apm_npis[{i}]");
            x12::ReadOptions::qualifying_apm_npi(npi).map_err(|e| invalid(py, &field, e.message()))
        })
        .collect::<PyResult<_>>()?;
    Ok(x12::ReadOptions {
        medicare_locality,
        payer_ids: x12::ReadOptions::payer_id_map(payer_ids.unwrap_or_default()),
        qualifying_apm_npis,
        ..x12::ReadOptions::default()
    })
}

/// Where something is in the X12 input: the segment's 1-based number, its id, the element
/// (`SV104`, `CLM05-1`; None for the whole segment) and the byte offset of the segment's first byte.
#[pyclass(frozen, eq, hash, module = "cptkit._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceLocation {
    #[pyo3(get)]
    segment: u64,
    #[pyo3(get)]
    segment_id: String,
    #[pyo3(get)]
    element: Option<String>,
    #[pyo3(get)]
    byte_offset: u64,
}

impl From<x12::SegmentRef> for SourceLocation {
    fn from(at: x12::SegmentRef) -> Self {
        SourceLocation {
            segment: at.segment_number,
            segment_id: at.segment_id().to_owned(),
            element: at.element_name(),
            byte_offset: at.byte_offset,
        }
    }
}

#[pymethods]
impl SourceLocation {
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("segment", self.segment)?;
        d.set_item("segment_id", &self.segment_id)?;
        d.set_item("element", &self.element)?;
        d.set_item("byte_offset", self.byte_offset)?;
        Ok(d)
    }

    fn __str__(&self) -> String {
        let mut text = format!("segment {} ({})", self.segment, self.segment_id);
        if let Some(element) = &self.element {
            text.push_str(&format!(", element {element}"));
        }
        text.push_str(&format!(", byte {}", self.byte_offset));
        text
    }

    fn __repr__(&self) -> String {
        format!(
            "SourceLocation(segment={}, segment_id={:?}, element={}, byte_offset={})",
            self.segment,
            self.segment_id,
            self.element.as_ref().map_or("None".to_owned(), |e| format!("{e:?}")),
            self.byte_offset
        )
    }
}

/// An X12 problem (envelope, syntax, truncation, a value that cannot be read, an unsupported
/// transaction set), with where it is. Data, not an exception: `to_exception()` gives the exception.
#[pyclass(frozen, eq, module = "cptkit._native")]
#[derive(Debug, Clone, PartialEq)]
pub struct X12Issue {
    inner: x12::X12Error,
}

impl From<x12::X12Error> for X12Issue {
    fn from(inner: x12::X12Error) -> Self {
        X12Issue { inner }
    }
}

#[pymethods]
impl X12Issue {
    /// syntax, envelope, truncated, value, unsupported or io.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }
    #[getter]
    fn segment(&self) -> u64 {
        self.inner.at.segment_number
    }
    #[getter]
    fn segment_id(&self) -> &str {
        self.inner.at.segment_id()
    }
    #[getter]
    fn element(&self) -> Option<String> {
        self.inner.at.element_name()
    }
    #[getter]
    fn byte_offset(&self) -> u64 {
        self.inner.at.byte_offset
    }
    #[getter]
    fn location(&self) -> SourceLocation {
        self.inner.at.into()
    }
    /// ST02 of the transaction set the problem is in, when known.
    #[getter]
    fn transaction_control(&self) -> Option<&str> {
        self.inner.control.transaction.as_deref()
    }
    /// The exception this problem maps to (an `InvalidInputError` with field `x12.segment[58].SE01`,
    /// or an `UnsupportedError`), through the one error map.
    fn to_exception(&self, py: Python<'_>) -> Py<PyAny> {
        let err: Error = self.inner.clone().into();
        to_py_err(py, &err, Subject::Other).into_value(py).into_any()
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        d.set_item("kind", self.kind())?;
        d.set_item("message", self.message())?;
        d.set_item("segment", self.segment())?;
        d.set_item("segment_id", self.segment_id())?;
        d.set_item("element", self.element())?;
        d.set_item("byte_offset", self.byte_offset())?;
        d.set_item("transaction_control", self.transaction_control())?;
        Ok(d.into_any().unbind())
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
    fn __repr__(&self) -> String {
        format!("X12Issue({:?})", self.inner.to_string())
    }
}

fn issues(py: Python<'_>, errors: &[x12::X12Error]) -> PyResult<Py<PyTuple>> {
    let items: Vec<X12Issue> = errors.iter().map(|e| X12Issue { inner: e.clone() }).collect();
    Ok(PyTuple::new(py, items.into_iter().map(|i| Py::new(py, i)).collect::<PyResult<Vec<_>>>()?)?.unbind())
}

/// Raises the first X12 problem as an exception (`InvalidInputError` with field
/// `x12.segment[58].SE01`, ...); with more than one, an `InvalidInputError` listing every problem as a
/// violation. Nothing when there is none.
fn raise_for(py: Python<'_>, errors: &[x12::X12Error]) -> PyResult<()> {
    let Some(first) = errors.first() else { return Ok(()) };
    let mut err: Error = first.clone().into();
    if errors.len() > 1 {
        let violations: Vec<core::Violation> = errors
            .iter()
            .map(|e| {
                let core: Error = e.clone().into();
                core::Violation { loc: core.loc().clone(), message: core.message().to_owned() }
            })
            .collect();
        err = Error::with_violations(
            format!("{} X12 problems; the first: {}", violations.len(), err.message()),
            violations,
        );
    }
    Err(to_py_err(py, &err, Subject::Other))
}

/// One core claim read from an 837P: the `Claim`, the X12-level findings (X12C01..., X12T01...),
/// which part of a split claim it is, each line's origin (LX01, REF*6R), non-PHI claim info, and where
/// every field came from (`locate`).
#[pyclass(frozen, eq, module = "cptkit._native")]
#[derive(Debug)]
pub struct ParsedClaim {
    inner: x12::ParsedClaim,
    #[pyo3(get)]
    claim: Py<Claim>,
    #[pyo3(get)]
    findings: Py<PyAny>,
    /// The validation report (core edits), when read with `validate=True`.
    #[pyo3(get)]
    report: Py<PyAny>,
    /// When validating this claim failed (a bug in cptkit): its `InternalError`; the other claims are
    /// still read and validated.
    #[pyo3(get)]
    validation_error: Py<PyAny>,
}

impl PartialEq for ParsedClaim {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl ParsedClaim {
    fn new(
        py: Python<'_>,
        inner: x12::ParsedClaim,
        report: Option<core::Result<core::ValidationReport>>,
    ) -> PyResult<Self> {
        let claim = Py::new(py, Claim { inner: inner.claim.clone() })?;
        let findings: Vec<Py<PyAny>> = inner.findings.iter().map(|f| f.to_py(py)).collect::<PyResult<_>>()?;
        let findings = PyTuple::new(py, findings)?.into_any().unbind();
        let (report, validation_error) = match report {
            Some(Ok(r)) => (r.to_py(py)?, py.None()),
            Some(Err(e)) => (py.None(), to_py_err(py, &e, Subject::Other).into_value(py).into_any()),
            None => (py.None(), py.None()),
        };
        Ok(ParsedClaim { inner, claim, findings, report, validation_error })
    }
}

#[pymethods]
impl ParsedClaim {
    #[getter]
    fn claim_id(&self) -> &str {
        &self.inner.claim.claim_id
    }
    /// `(index, of)` (1-based) for a claim split by line rendering provider, else None.
    #[getter]
    fn part(&self) -> Option<(u16, u16)> {
        self.inner.part.map(|p| (p.index, p.of))
    }
    /// Per core line: `{"line_number": LX01, "index_in_claim": ..., "control_number": REF*6R}`.
    #[getter]
    fn lines(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serde_to_py(py, &self.inner.lines)
    }
    /// Payer name and id, SBR09, CLM02, billing provider, 2300 dates (no PHI).
    #[getter]
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        serde_to_py(py, &self.inner.info)
    }
    /// Where a finding (or a field path such as `"lines[0].quantity"`) came from in the file.
    fn locate(&self, py: Python<'_>, finding: &Bound<'_, PyAny>) -> PyResult<SourceLocation> {
        let loc = if let Ok(finding) = finding.cast::<crate::records::Finding>() {
            finding.get().inner.loc.clone()
        } else if let Ok(text) = finding.cast::<PyString>() {
            core::FieldPath::parse(&text.to_cow()?)
        } else {
            return Err(invalid(
                py,
                "finding",
                format!("expected a Finding or a field path such as \"lines[0].quantity\", got {}", type_name(finding)),
            ));
        };
        Ok(self.inner.source.locate(&loc).into())
    }
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        d.set_item("claim", serde_to_py(py, &self.inner.claim)?)?;
        d.set_item("findings", serde_to_py(py, &self.inner.findings)?)?;
        d.set_item("part", serde_to_py(py, &self.inner.part)?)?;
        d.set_item("lines", serde_to_py(py, &self.inner.lines)?)?;
        d.set_item("info", serde_to_py(py, &self.inner.info)?)?;
        Ok(d.into_any().unbind())
    }
    fn __repr__(&self) -> String {
        let part = self.inner.part.map(|p| format!(", part={}/{}", p.index, p.of)).unwrap_or_default();
        format!(
            "ParsedClaim(claim_id={:?}, lines={}, findings={}{part})",
            self.inner.claim.claim_id,
            self.inner.claim.lines.len(),
            self.inner.findings.len()
        )
    }
}

/// A claim in the 837 that could not become a core claim, with every reason.
#[pyclass(frozen, eq, module = "cptkit._native")]
#[derive(Debug, PartialEq)]
pub struct RejectedClaim {
    inner: x12::RejectedClaim,
}

#[pymethods]
impl RejectedClaim {
    #[getter]
    fn claim_id(&self) -> &str {
        &self.inner.claim_id
    }
    #[getter]
    fn location(&self) -> SourceLocation {
        self.inner.at.into()
    }
    #[getter]
    fn errors(&self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        issues(py, &self.inner.errors)
    }
    fn __repr__(&self) -> String {
        format!("RejectedClaim(claim_id={:?}, errors={})", self.inner.claim_id, self.inner.errors.len())
    }
}

/// Everything read from an 837P input: the claims of every good transaction set, the claims that
/// could not be read, and the X12 problems (a bad transaction set is reported here, not returned).
#[pyclass(frozen, module = "cptkit._native")]
#[derive(Debug)]
pub struct Read837Result {
    parsed: Vec<x12::ParsedClaim>,
    #[pyo3(get)]
    claims: Py<PyList>,
    #[pyo3(get)]
    rejected: Py<PyTuple>,
    #[pyo3(get)]
    errors: Py<PyTuple>,
    /// Transaction-level problems outside any claim.
    #[pyo3(get)]
    problems: Py<PyTuple>,
    core_errors: Vec<x12::X12Error>,
}

#[pymethods]
impl Read837Result {
    /// The core claims (`cptkit.Claim`), in file order: what `validate_many`/`price_many` take.
    fn core_claims(&self, py: Python<'_>) -> PyResult<Vec<Py<Claim>>> {
        self.claims.bind(py).iter().map(|c| Ok(c.cast::<ParsedClaim>()?.get().claim.clone_ref(py))).collect()
    }
    /// The claims read as a claim-lines table (`cptkit.CLAIM_LINES_SCHEMA`), one row per service line,
    /// ready for `validate_table` / `price_table`. Rejected claims have no rows: see `rejected`.
    fn to_table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let claims: Vec<&core::Claim> = self.parsed.iter().map(|p| &p.claim).collect();
        crate::tables::claims_table(py, &claims)
    }
    /// True when the input had no X12 problem and every claim was read.
    #[getter]
    fn ok(&self, py: Python<'_>) -> bool {
        self.core_errors.is_empty() && self.rejected.bind(py).is_empty() && self.problems.bind(py).is_empty()
    }
    /// Raises the first X12 problem as an exception (`InvalidInputError` with field
    /// `x12.segment[58].SE01`, ...), listing every problem as a violation.
    fn raise_for_errors(&self, py: Python<'_>) -> PyResult<()> {
        raise_for(py, &self.core_errors)
    }
    /// The parsed claims, as a list would give them: `for claim in result`, `result[0]`, `len(result)`.
    fn __len__(&self) -> usize {
        self.parsed.len()
    }
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        self.claims.bind(py).try_iter()
    }
    fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.claims.bind(py).as_any().get_item(index)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Read837Result(claims={}, rejected={}, errors={})",
            self.parsed.len(),
            self.rejected.bind(py).len(),
            self.core_errors.len()
        )
    }
}

/// Reads an 837P file (path or bytes). `as_table=True` returns the claims as a claim-lines Arrow
/// table instead (what `Read837Result.to_table()` gives), built straight from the claims read (no
/// Python object per claim), warning when claims were rejected or X12 problems found.
#[pyfunction]
#[pyo3(signature = (
    source, *, medicare_locality = None, payer_ids = None, qualifying_apm_npis = None, validate = false, today = None,
    as_table = false,
))]
#[allow(clippy::too_many_arguments)]
fn read_837<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    medicare_locality: Option<&str>,
    payer_ids: Option<BTreeMap<String, String>>,
    qualifying_apm_npis: Option<Vec<String>>,
    validate: bool,
    today: Option<&Bound<'py, PyAny>>,
    as_table: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if !as_table {
        let options = read_options(py, medicare_locality, payer_ids, qualifying_apm_npis)?;
        let read = read_837_result(py, source, options, validate, today)?;
        return Ok(Bound::new(py, read)?.into_any());
    }
    let options = read_options(py, medicare_locality, payer_ids, qualifying_apm_npis)?;
    if validate {
        // The table has no report column: validating would be thrown away. The argument is still checked.
        self::today(py, today)?;
    }
    let read = input(py, "source", source)?.with_reader(py, |data| claim_line_batches(data, options))?;
    let (batches, counts) = read.map_err(|e| to_py_err(py, &e, Subject::Other))?;
    if counts.rejected + counts.problems > 0 {
        let message = format!(
            "the table holds the {} claims read; {} claims were rejected and {} X12 problems found: \
             read without as_table=True for the details",
            counts.claims, counts.rejected, counts.problems,
        );
        PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyUserWarning>(), &std::ffi::CString::new(message)?, 1)?;
    }
    crate::tables::arrow_table(py, batches, cptkit_arrow::layout::claim_lines_schema())
}

/// What an 837P input held besides its table: claims read, claims rejected, X12 problems.
#[derive(Debug, Default)]
struct ReadCounts {
    claims: usize,
    rejected: usize,
    problems: usize,
}

/// Claims a batch of an 837P input's table holds, about: small, so that the run being written and the
/// run being read stay small beside the input.
const RUN_CLAIMS: usize = 16_384;

/// The claims of an 837P input as claim-lines batches, straight from the reader. Runs of transactions
/// holding about [`RUN_CLAIMS`] claims are written to Arrow on a thread of their own while the next run
/// is read, then given back to the reader, whose threads free the claims they read: the typed claims of
/// the whole input are never held at once.
fn claim_line_batches(data: &mut dyn Read, options: x12::ReadOptions) -> core::Result<(Vec<RecordBatch>, ReadCounts)> {
    let mut reader = x12::Reader837::with_options(data, options);
    let mut counts = ReadCounts::default();
    std::thread::scope(|scope| {
        // One run waits while another is written: the reader is at most two runs ahead of the writer.
        let (runs, to_write) = std::sync::mpsc::sync_channel::<Vec<x12::Transaction837>>(1);
        let (written, to_give_back) = std::sync::mpsc::channel();
        let writer = scope.spawn(move || -> core::Result<Vec<RecordBatch>> {
            let mut batches = Vec::new();
            for run in to_write {
                let claims: Vec<&core::Claim> =
                    run.iter().flat_map(|t| t.body.claims.iter().map(|p| &p.claim)).collect();
                if !claims.is_empty() {
                    batches.push(cptkit_arrow::claims_to_batch(&claims)?);
                }
                if written.send(run).is_err() {
                    break;
                }
            }
            Ok(batches)
        });
        let (mut run, mut run_claims) = (Vec::new(), 0);
        loop {
            let next = reader.next();
            let end = next.is_none();
            match next {
                Some(Err(_)) => counts.problems += 1,
                Some(Ok(transaction)) => {
                    let body = &transaction.body;
                    counts.claims += body.claims.len();
                    counts.rejected += body.rejected.len();
                    counts.problems += body.problems.len();
                    run_claims += body.claims.len();
                    run.push(transaction);
                }
                None => {}
            }
            if run_claims >= RUN_CLAIMS || (end && !run.is_empty()) {
                run_claims = 0;
                // The writer stopped only on an error, which its result holds.
                if runs.send(std::mem::take(&mut run)).is_err() {
                    break;
                }
            }
            to_give_back.try_iter().flatten().for_each(|t| reader.recycle(t));
            if end {
                break;
            }
        }
        drop(runs);
        let batches = writer.join().map_err(|_| Error::internal("writing an 837P table failed"))??;
        to_give_back.try_iter().flatten().for_each(|t| reader.recycle(t));
        Ok((batches, counts))
    })
}

fn read_837_result(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    options: x12::ReadOptions,
    validate: bool,
    today: Option<&Bound<'_, PyAny>>,
) -> PyResult<Read837Result> {
    let today = if validate { Some(self::today(py, today)?) } else { None };
    let input = input(py, "source", source)?;
    let (file, reports) = input.with_reader(py, |data| {
        let file = x12::read_837(data, options);
        let reports = today.map(|today| crate::data::reference().validate_batch(&file.core_claims(), today));
        (file, reports)
    })?;
    build_837(py, file, reports)
}

fn build_837(
    py: Python<'_>,
    file: x12::File837,
    reports: Option<Vec<core::Result<core::ValidationReport>>>,
) -> PyResult<Read837Result> {
    let mut reports = reports.map(|r| r.into_iter());
    let _paused = CollectorPaused::new(py)?;
    let claims = PyList::empty(py);
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    let mut problems = Vec::new();
    for t in file.transactions {
        for c in t.body.claims {
            let report = reports.as_mut().and_then(Iterator::next);
            claims.append(Py::new(py, ParsedClaim::new(py, c.clone(), report)?)?)?;
            parsed.push(c);
        }
        for r in t.body.rejected {
            rejected.push(Py::new(py, RejectedClaim { inner: r })?);
        }
        problems.extend(t.body.problems);
    }
    Ok(Read837Result {
        parsed,
        claims: claims.unbind(),
        rejected: PyTuple::new(py, rejected)?.unbind(),
        errors: issues(py, &file.errors)?,
        problems: issues(py, &problems)?,
        core_errors: file.errors,
    })
}

/// Writes claims (`Claim`s, `ParsedClaim`s or dicts) as one 837P interchange; returns the bytes and
/// writes them to `path` too when given.
#[pyfunction]
#[pyo3(signature = (
    claims, path = None, *, sender_id = "CPTKIT", receiver_id = "RECEIVER",
    sender_qualifier = "ZZ", receiver_qualifier = "ZZ", interchange_control = 1,
    usage = "P", claims_per_transaction = 5000, submitter_name = None, receiver_name = None,
    billing_provider_name = None, billing_taxonomy = None, billing_location = None, date = None,
    element_separator = None, component_separator = None, segment_terminator = None, line_breaks = true,
))]
#[allow(clippy::too_many_arguments)]
fn write_837<'py>(
    py: Python<'py>,
    claims: &Bound<'py, PyAny>,
    path: Option<&Bound<'py, PyAny>>,
    sender_id: &str,
    receiver_id: &str,
    sender_qualifier: &str,
    receiver_qualifier: &str,
    interchange_control: u32,
    usage: &str,
    claims_per_transaction: usize,
    submitter_name: Option<String>,
    receiver_name: Option<String>,
    billing_provider_name: Option<String>,
    billing_taxonomy: Option<String>,
    billing_location: Option<&Bound<'py, PyAny>>,
    date: Option<time::Date>,
    element_separator: Option<String>,
    component_separator: Option<String>,
    segment_terminator: Option<String>,
    line_breaks: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut list = Vec::new();
    for (i, item) in claims.try_iter().map_err(|_| invalid(py, "claims", "expected a sequence of claims"))?.enumerate()
    {
        let item = item?;
        let claim = if let Ok(parsed) = item.cast::<ParsedClaim>() {
            parsed.get().inner.claim.clone()
        } else {
            // The field, within the claim in the batch (`claims[2].place_of_service`).
            crate::claims::read_claim(py, &item)
                .map_err(|e| to_py_err(py, &e.at(core::FieldPath::field("claims").index(i)), Subject::Other))?
        };
        list.push(claim);
    }
    let mut options = x12::WriteOptions {
        sender: (sender_qualifier.to_owned(), sender_id.to_owned()),
        receiver: (receiver_qualifier.to_owned(), receiver_id.to_owned()),
        interchange_control,
        group_control: interchange_control,
        line_breaks,
        claims_per_transaction: claims_per_transaction.max(1),
        ..x12::WriteOptions::default()
    };
    let one_char = |field: &str, value: Option<String>| -> PyResult<Option<u8>> {
        match value {
            None => Ok(None),
            Some(v) if v.len() == 1 && v.is_ascii() => Ok(v.bytes().next()),
            Some(v) => Err(invalid(py, field, format!("expected one ASCII character, got {v:?}"))),
        }
    };
    if let Some(c) = one_char("usage", Some(usage.to_owned()))? {
        options.usage = char::from(c);
    }
    if let Some(b) = one_char("element_separator", element_separator)? {
        options.delimiters.element = b;
    }
    if let Some(b) = one_char("component_separator", component_separator)? {
        options.delimiters.component = b;
    }
    if let Some(b) = one_char("segment_terminator", segment_terminator)? {
        options.delimiters.segment = b;
    }
    if let Some(v) = submitter_name {
        options.submitter_name = v;
    }
    if let Some(v) = receiver_name {
        options.receiver_name = v;
    }
    if let Some(v) = billing_provider_name {
        options.billing_provider_name = v;
    }
    options.billing_taxonomy = billing_taxonomy.or(options.billing_taxonomy);
    // The state and ZIP for claims without their own (the 837 requires them; never made up).
    if let Some(location) = billing_location.filter(|l| !l.is_none()) {
        let location = crate::depythonize::from_py::<core::Location>(location)
            .map_err(|e| to_py_err(py, &e.at("billing_location"), Subject::Other))?;
        options.billing_location = Some(location);
    }
    if let Some(d) = date {
        options.date = d;
    }
    let path = path.filter(|p| !p.is_none()).map(|p| input(py, "path", p)).transpose()?;
    let written = py.detach(|| x12::write_837_to_vec(&list, &options));
    let bytes = written.map_err(|e| to_py_err(py, &e, Subject::Other))?;
    if let Some(Input::Path(path)) = path {
        let result = py.detach(|| std::fs::write(&path, &bytes));
        result.map_err(|e| {
            to_py_err(py, &Error::invalid("path", format!("cannot write {}: {e}", path.display())), Subject::Other)
        })?;
    } else if path.is_some() {
        return Err(invalid(py, "path", "expected a path (str or os.PathLike)"));
    }
    Ok(PyBytes::new(py, &bytes))
}

fn read_835_input(py: Python<'_>, field: &str, source: &Bound<'_, PyAny>) -> PyResult<x12::File835> {
    let input = input(py, field, source)?;
    input.with_reader(py, |data| x12::read_835(data))
}

/// Everything read from an 835 input: the remittances of every good transaction set, and the X12
/// problems (a bad transaction set is reported in `errors`, not returned), as `Read837Result` does.
#[pyclass(frozen, module = "cptkit._native")]
#[derive(Debug)]
pub struct Read835Result {
    #[pyo3(get)]
    remittances: Py<PyList>,
    #[pyo3(get)]
    errors: Py<PyTuple>,
    /// Segments of the remittances returned that could not be read (each `Remittance.problems`).
    #[pyo3(get)]
    problems: Py<PyTuple>,
    core_errors: Vec<x12::X12Error>,
}

#[pymethods]
impl Read835Result {
    /// True when the input had no X12 problem.
    #[getter]
    fn ok(&self, py: Python<'_>) -> bool {
        self.core_errors.is_empty() && self.problems.bind(py).is_empty()
    }
    /// Raises the first X12 problem as an exception (`InvalidInputError` with field
    /// `x12.segment[14].SE01`, ...), listing every problem as a violation.
    fn raise_for_errors(&self, py: Python<'_>) -> PyResult<()> {
        raise_for(py, &self.core_errors)
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.remittances.bind(py).len()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Read835Result(remittances={}, errors={}, problems={})",
            self.remittances.bind(py).len(),
            self.core_errors.len(),
            self.problems.bind(py).len()
        )
    }
}

/// Reads an 835 file (path or bytes): one `Remittance` per good transaction set. `strict=True` raises
/// for X12 problems; otherwise a bad transaction set is left out of the list, and `with_errors=True`
/// returns a `Read835Result` that reports it (`errors`) beside the remittances.
#[pyfunction]
#[pyo3(signature = (source, *, strict = false, with_errors = false))]
fn read_835<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    strict: bool,
    with_errors: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let file = read_835_input(py, "source", source)?;
    if strict {
        raise_for(py, &file.errors)?;
    }
    let remittances: Vec<x12::Remittance> = file.transactions.into_iter().map(|t| t.body).collect();
    let problems: Vec<x12::X12Error> = remittances.iter().flat_map(|r| r.problems.iter().cloned()).collect();
    let list = remittance_list(py, remittances)?;
    if !with_errors {
        return Ok(list.into_any());
    }
    let read = Read835Result {
        remittances: list.unbind(),
        errors: issues(py, &file.errors)?,
        problems: issues(py, &problems)?,
        core_errors: file.errors,
    };
    Ok(Bound::new(py, read)?.into_any())
}

/// Reconciles an 837 (path, bytes or a `Read837Result`) with an 835 (path, bytes, a `Read835Result`
/// or a list of `Remittance`s).
#[pyfunction]
#[pyo3(signature = (
    claims_837, remittance_835, *, conversion_factor = None, rule_set = None, tolerance = None, today = None,
    medicare_locality = None, payer_ids = None, qualifying_apm_npis = None, percent_of_medicare = None,
))]
#[allow(clippy::too_many_arguments)]
fn reconcile(
    py: Python<'_>,
    claims_837: &Bound<'_, PyAny>,
    remittance_835: &Bound<'_, PyAny>,
    conversion_factor: Option<&Bound<'_, PyAny>>,
    rule_set: Option<&Bound<'_, PyAny>>,
    tolerance: Option<&Bound<'_, PyAny>>,
    today: Option<&Bound<'_, PyAny>>,
    medicare_locality: Option<&str>,
    payer_ids: Option<BTreeMap<String, String>>,
    qualifying_apm_npis: Option<Vec<String>>,
    percent_of_medicare: Option<&Bound<'_, PyAny>>,
) -> PyResult<Reconciliation> {
    let today = self::today(py, today)?;
    let rules = rules(py, rule_set)?;
    let pricing = price_options(py, &rules, conversion_factor, percent_of_medicare)?;
    let tolerance = match tolerance.filter(|t| !t.is_none()) {
        None => Decimal::ONE,
        Some(t) if t.cast::<pyo3::types::PyFloat>().is_ok() => {
            return Err(invalid(
                py,
                "tolerance",
                "money is never a float: pass a Decimal or a string such as \"1.00\"",
            ));
        }
        // Read as every face reads a tolerance's text (a Decimal or an int by theirs).
        Some(t) => x12::ReconcileOptions::tolerance_from_text(&t.str()?.to_cow()?)
            .map_err(|e| invalid(py, "tolerance", e.message().to_owned()))?,
    };
    // The 835's payer is named as the 837's is: the same read options.
    let read_options = read_options(py, medicare_locality, payer_ids, qualifying_apm_npis)?;
    let claims: Vec<x12::ParsedClaim> = if let Ok(result) = claims_837.cast::<Read837Result>() {
        result.get().parsed.clone()
    } else {
        let input = input(py, "claims_837", claims_837)?;
        let file = input.with_reader(py, |data| x12::read_837(data, read_options.clone()))?;
        file.transactions.into_iter().flat_map(|t| t.body.claims).collect()
    };
    let remits: Vec<x12::Remittance> = if remittance_835.cast::<PyBytes>().is_ok()
        || remittance_835.cast::<PyString>().is_ok()
        || remittance_835.hasattr("__fspath__")?
    {
        read_835_input(py, "remittance_835", remittance_835)?.transactions.into_iter().map(|t| t.body).collect()
    } else {
        let items = match remittance_835.cast::<Read835Result>() {
            Ok(read) => read.get().remittances.bind(py).clone().into_any(),
            Err(_) => remittance_835.clone(),
        };
        let mut out = Vec::new();
        for item in items.try_iter()? {
            let item = item?;
            let r = item.cast::<Remittance>().map_err(|_| {
                invalid(
                    py,
                    "remittance_835",
                    format!("expected a path, bytes or Remittance objects, got {}", type_name(&item)),
                )
            })?;
            out.push(r.get().inner.clone());
        }
        out
    };
    let options = JudgeOptions { today, pricing: Some(pricing) };
    let book = rules.book();
    let result = py.detach(|| {
        x12::reconcile(
            &claims,
            &remits,
            x12::core_pricer(crate::data::reference(), &options, book),
            &x12::ReconcileOptions { tolerance, read_options },
        )
    });
    Reconciliation::new(py, result)
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<SourceLocation>()?;
    module.add_class::<X12Issue>()?;
    module.add_class::<ParsedClaim>()?;
    module.add_class::<RejectedClaim>()?;
    module.add_class::<Read837Result>()?;
    module.add_class::<Read835Result>()?;
    remit::register(module)?;
    module.add_function(wrap_pyfunction!(read_837, module)?)?;
    module.add_function(wrap_pyfunction!(write_837, module)?)?;
    module.add_function(wrap_pyfunction!(read_835, module)?)?;
    module.add_function(wrap_pyfunction!(reconcile, module)?)?;
    Ok(())
}
