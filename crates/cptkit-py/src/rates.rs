//! Payer rate benchmarks (TiC) in Python: `ingest_tic` reads payers' in-network-rates files into an Arrow
//! table of benchmark rows (the Parquet store's columns, from `cptkit_tic::record_batch`), `load_benchmarks`
//! loads a Parquet store for this process, and `benchmarks` / `CodeProfile.payer_benchmarks` show the
//! loaded rows as frozen `PayerBenchmark` objects.
//!
//! Reading runs with the GIL released, one file at a time, checking for Ctrl-C between files. Broken
//! `in_network` records and values left out of records (an NPI that is not 10 digits) are not errors
//! (reading goes on): they become one `UserWarning` and, with `summary=True`, every one of them is in the
//! summary.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use cptkit_core as core;
use cptkit_core::{BenchmarkFilter, CptCode, Error, PayerBenchmarks};
use cptkit_tic::{CodeFilter, FileSummary, IngestOptions, IngestSummary, Malformed, Nppes, TicError};
use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::convert::ToPy;
use crate::errors::{Subject, file_err, to_py_err};
use crate::records::record;

/// How many broken records, and how many left-out values, the warning of `ingest_tic` names (the summary
/// has all of them).
const WARNED_RECORDS: usize = 5;

/// The rows `load_benchmarks` loaded for this process (none until it is called).
static LOADED: LazyLock<RwLock<Arc<PayerBenchmarks>>> = LazyLock::new(RwLock::default);

/// The payer benchmarks loaded in this process.
pub(crate) fn loaded() -> Arc<PayerBenchmarks> {
    LOADED.read().unwrap_or_else(PoisonError::into_inner).clone()
}

record! {
    /// Quantiles of one payer file's negotiated rates (TiC) for one key: code x billing class x place of
    /// service x modifiers (x provider taxonomy) x negotiated type x rate basis, with where it came from.
    PayerBenchmark(core::PayerBenchmark) {
        provenance, billing_code_type, billing_code, billing_class, place_of_service, modifiers, taxonomy,
        negotiated_type, rate_basis, count, min, p10, p25, median, p75, p90, max, medicare,
    }
    repr(billing_code, place_of_service, modifiers, negotiated_type, rate_basis, count, median)
}

record! {
    /// Where a benchmark row came from: the TiC file, its payer (reporting entity) and dates.
    RateProvenance(core::RateProvenance) {
        source_file, reporting_entity_name, reporting_entity_type, last_updated_on, schema_version, ingested_on,
    }
    repr(reporting_entity_name, source_file, last_updated_on)
}

record! {
    /// A per-unit rate against the Medicare national anesthesia conversion factor of the same year.
    MedicareComparison(core::MedicareComparison) { year, conversion_factor, median_percent_of_medicare }
    repr(year, conversion_factor, median_percent_of_medicare)
}

/// A reader or store error as a Python exception: a file that cannot be opened is the one file
/// error (`MissingFileError` when it does not exist); anything else the file holds is an
/// `InvalidInputError` naming the argument.
fn tic_err(py: Python<'_>, err: TicError, field: &str) -> PyErr {
    match err {
        TicError::Io { path, source } => file_err(py, &path, &source),
        other @ (TicError::Syntax { .. } | TicError::Nppes { .. } | TicError::Store { .. }) => {
            to_py_err(py, &Error::invalid(field, other.to_string()), Subject::Other)
        }
    }
}

fn invalid(py: Python<'_>, field: impl Into<core::FieldPath>, message: &str) -> PyErr {
    to_py_err(py, &Error::invalid(field, message), Subject::Other)
}

/// `paths`: one path (str or os.PathLike) or an iterable of them.
fn paths_of(py: Python<'_>, paths: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if paths.cast::<PyString>().is_ok() || paths.hasattr("__fspath__")? {
        return Ok(vec![paths.extract()?]);
    }
    let items = paths.try_iter().map_err(|_| invalid(py, "paths", "expected a path or a list of paths"))?;
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        let item = item?;
        out.push(
            item.extract().map_err(|_| invalid(py, format!("paths[{i}]"), "expected a path (str or os.PathLike)"))?,
        );
    }
    Ok(out)
}

/// `codes`: None or "all" (every code), "anesthesia" (the CPT anesthesia codes), or a list of CPT/HCPCS codes.
fn code_filter(py: Python<'_>, codes: Option<&Bound<'_, PyAny>>) -> PyResult<CodeFilter> {
    let Some(codes) = codes.filter(|c| !c.is_none()) else { return Ok(CodeFilter::All) };
    let expected = "expected None (every code), \"anesthesia\" or a list of CPT/HCPCS codes such as [\"99213\"]";
    if let Ok(text) = codes.cast::<PyString>() {
        return match &*text.to_cow()? {
            "all" => Ok(CodeFilter::All),
            "anesthesia" => Ok(CodeFilter::Anesthesia),
            _ => Err(invalid(py, "codes", expected)),
        };
    }
    let items = codes.try_iter().map_err(|_| invalid(py, "codes", expected))?;
    let mut texts = Vec::new();
    for (i, item) in items.enumerate() {
        let item = item?;
        let text = item.cast::<PyString>().map_err(|_| invalid(py, format!("codes[{i}]"), "expected a code string"))?;
        texts.push(text.to_cow()?.into_owned());
    }
    CodeFilter::codes(&texts).map_err(|e| to_py_err(py, &e, Subject::Other))
}

/// A tqdm progress bar over `total` bytes, unless `progress` is False or tqdm is not installed.
fn progress_bar<'py>(py: Python<'py>, progress: Option<bool>, total: u64) -> PyResult<Option<Bound<'py, PyAny>>> {
    if progress == Some(false) {
        return Ok(None);
    }
    let Ok(tqdm) = py.import("tqdm.auto") else {
        if progress == Some(true) {
            warn(py, "ingest_tic: progress=True needs tqdm (pip install tqdm); reading without a progress bar")?;
        }
        return Ok(None);
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item("total", total)?;
    kwargs.set_item("unit", "B")?;
    kwargs.set_item("unit_scale", true)?;
    kwargs.set_item("desc", "ingest_tic")?;
    Ok(Some(tqdm.getattr("tqdm")?.call((), Some(&kwargs))?))
}

fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 2)
}

/// One warning for what reading skipped or could not finish: counts and the first broken records and
/// left-out values.
fn warn_about(py: Python<'_>, summary: &IngestSummary) -> PyResult<()> {
    let name = |p: &Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
    // "N what (the first few, each with its file)", or nothing when the files have none.
    let counted = |of: fn(&FileSummary) -> &[Malformed], what: &str| {
        let all: Vec<String> =
            summary.files.iter().flat_map(|f| of(f).iter().map(move |m| format!("{}: {m}", name(&f.path)))).collect();
        let more = if all.len() > WARNED_RECORDS { "; ..." } else { "" };
        let shown: Vec<&str> = all.iter().take(WARNED_RECORDS).map(String::as_str).collect();
        (!all.is_empty()).then(|| format!("{} {what} ({}{more})", all.len(), shown.join("; ")))
    };
    let broken_off: Vec<String> =
        summary.files.iter().filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", name(&f.path)))).collect();
    let mut parts = Vec::new();
    parts.extend(counted(|f| &f.malformed, "malformed in_network record(s) skipped, reading went on"));
    parts.extend(counted(
        |f| &f.left_out,
        "value(s) left out alone, the rest of their in_network record or provider reference read, e.g. NPIs that are not 10 digits",
    ));
    if !broken_off.is_empty() {
        parts.push(format!(
            "{} file(s) not read to the end, rows read before kept ({})",
            broken_off.len(),
            broken_off.join("; ")
        ));
    }
    if parts.is_empty() {
        return Ok(());
    }
    warn(py, &format!("ingest_tic: {}. Pass summary=True for every finding.", parts.join("; ")))
}

/// Malformed records or left-out values as a list of dicts.
fn problem_list<'py>(py: Python<'py>, problems: &[Malformed]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for m in problems {
        let item = PyDict::new(py);
        item.set_item("record_offset", m.record_offset)?;
        item.set_item("error_offset", m.error_offset)?;
        item.set_item("path", &m.path)?;
        item.set_item("message", &m.message)?;
        list.append(item)?;
    }
    Ok(list)
}

/// The summary as plain Python objects.
fn summary_dict<'py>(py: Python<'py>, summary: &IngestSummary) -> PyResult<Bound<'py, PyDict>> {
    let files = PyList::empty(py);
    for f in &summary.files {
        let d = PyDict::new(py);
        d.set_item("path", f.path.display().to_string())?;
        d.set_item("gzip", f.gzip)?;
        d.set_item("reporting_entity_name", &f.reporting_entity_name)?;
        d.set_item("reporting_entity_type", &f.reporting_entity_type)?;
        d.set_item("last_updated_on", &f.last_updated_on)?;
        d.set_item("version", &f.version)?;
        d.set_item("bytes", f.bytes)?;
        d.set_item("records", f.records)?;
        d.set_item("kept", f.kept)?;
        d.set_item("skipped", f.skipped)?;
        d.set_item("not_fee_for_service", f.not_fee_for_service)?;
        d.set_item("prices", f.prices)?;
        d.set_item("provider_references", f.provider_references)?;
        d.set_item("benchmark_rows", f.benchmark_rows)?;
        d.set_item("malformed", problem_list(py, &f.malformed)?)?;
        d.set_item("left_out", problem_list(py, &f.left_out)?)?;
        let unresolved = PyList::empty(py);
        for u in &f.unresolved_references {
            let item = PyDict::new(py);
            item.set_item("provider_group_id", &u.provider_group_id)?;
            item.set_item("location", &u.location)?;
            item.set_item("why", &u.why)?;
            unresolved.append(item)?;
        }
        d.set_item("unresolved_references", unresolved)?;
        d.set_item("error", f.error.as_ref().map(ToString::to_string))?;
        files.append(d)?;
    }
    let out = PyDict::new(py);
    out.set_item("files", files)?;
    out.set_item("records", summary.records())?;
    out.set_item("malformed", summary.malformed())?;
    out.set_item("left_out", summary.left_out())?;
    out.set_item("benchmark_rows", summary.files.iter().map(|f| f.benchmark_rows).sum::<usize>())?;
    Ok(out)
}

/// Reads payers' TiC in-network-rates files (JSON, gzip or not) into benchmark rows: a `pyarrow.Table`
/// when pyarrow is installed (else an Arrow PyCapsule table any Arrow library reads), with the columns
/// of the Parquet store. `out` also writes them to that Parquet file.
#[pyfunction]
#[pyo3(signature = (paths, *, codes = None, provider_refs_dir = None, nppes = None, out = None, progress = None, summary = false))]
#[allow(clippy::too_many_arguments)]
fn ingest_tic(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    codes: Option<&Bound<'_, PyAny>>,
    provider_refs_dir: Option<PathBuf>,
    nppes: Option<PathBuf>,
    out: Option<PathBuf>,
    progress: Option<bool>,
    summary: bool,
) -> PyResult<Py<PyAny>> {
    let paths = paths_of(py, paths)?;
    let mut total = 0u64;
    for path in &paths {
        let meta = std::fs::metadata(path).map_err(|e| file_err(py, path, &e))?;
        total += meta.len();
    }
    let nppes = match nppes {
        Some(path) => Some(py.detach(|| Nppes::load(&path)).map_err(|e| tic_err(py, e, "nppes"))?),
        None => None,
    };
    let options =
        IngestOptions { codes: code_filter(py, codes)?, provider_refs_dir, nppes, ..IngestOptions::default() };

    let bar = progress_bar(py, progress, total)?;
    let mut rows = Vec::new();
    let mut all = IngestSummary::default();
    let read = (|| -> PyResult<()> {
        for path in &paths {
            py.check_signals()?;
            let one = py.detach(|| cptkit_tic::ingest(std::slice::from_ref(path), &options));
            rows.extend(one.benchmarks);
            all.files.extend(one.summary.files);
            if let Some(bar) = &bar {
                bar.call_method1("update", (std::fs::metadata(path).map_or(0, |m| m.len()),))?;
            }
        }
        Ok(())
    })();
    if let Some(bar) = &bar {
        bar.call_method0("close")?;
    }
    read?;
    warn_about(py, &all)?;

    if let Some(out) = &out {
        py.detach(|| cptkit_tic::write_parquet(out, &rows)).map_err(|e| tic_err(py, e, "out"))?;
    }
    let table = table(py, &rows)?;
    if summary { Ok((table, summary_dict(py, &all)?).into_pyobject(py)?.into_any().unbind()) } else { Ok(table) }
}

/// Rows as an Arrow table (see [`crate::tables::arrow_table`]).
fn table(py: Python<'_>, rows: &[core::PayerBenchmark]) -> PyResult<Py<PyAny>> {
    let batch = py
        .detach(|| cptkit_tic::record_batch(rows))
        .map_err(|e| to_py_err(py, &Error::internal(format!("benchmark rows to Arrow: {e}")), Subject::Other))?;
    Ok(crate::tables::arrow_table(py, vec![batch], Arc::new(cptkit_tic::arrow_schema()))?.unbind())
}

/// Loads every `*.parquet` of `dir` (a benchmark store written by `ingest_tic(out=...)` or `cptkit
/// ingest-tic`) as this process's payer benchmarks, replacing any loaded before; None unloads them.
/// Cached profiles are dropped, so `code(...)` shows the new rows. Returns the number of rows loaded.
#[pyfunction]
fn load_benchmarks(py: Python<'_>, dir: Option<PathBuf>) -> PyResult<usize> {
    let index = match dir {
        Some(dir) => {
            py.detach(|| cptkit_tic::read_dir(&dir).map(PayerBenchmarks::new)).map_err(|e| tic_err(py, e, "dir"))?
        }
        None => PayerBenchmarks::default(),
    };
    let count = index.len();
    *LOADED.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(index);
    crate::clear_caches(py);
    Ok(count)
}

/// The loaded payer benchmark rows of one code that pass every given filter, in load order.
#[pyfunction]
#[pyo3(signature = (
    code, *, payer = None, billing_class = None, place_of_service = None, negotiated_type = None,
    rate_basis = None, modifier = None,
))]
#[allow(clippy::too_many_arguments)]
fn benchmarks(
    py: Python<'_>,
    code: &str,
    payer: Option<&str>,
    billing_class: Option<&str>,
    place_of_service: Option<&str>,
    negotiated_type: Option<&str>,
    rate_basis: Option<&str>,
    modifier: Option<&str>,
) -> PyResult<Vec<Py<PyAny>>> {
    let parsed: CptCode = code.parse().map_err(|e: Error| to_py_err(py, &e, Subject::Other))?;
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    let filter = BenchmarkFilter::from_text(
        &text(payer),
        &text(billing_class),
        &text(place_of_service),
        &text(negotiated_type),
        &text(rate_basis),
        &text(modifier),
    )
    .map_err(|e| to_py_err(py, &e, Subject::Other))?;
    let index = loaded();
    // An unknown code's NotFound names `code` in the core, as GetBenchmarks reports it.
    let rows = py
        .detach(|| index.query(crate::data::reference(), parsed, &filter))
        .map_err(|e| to_py_err(py, &e, Subject::AnesthesiaCode))?;
    rows.iter().map(|row| row.to_py(py)).collect()
}

/// Adds the benchmark classes and functions to the module.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PayerBenchmark>()?;
    module.add_class::<RateProvenance>()?;
    module.add_class::<MedicareComparison>()?;
    module.add_function(wrap_pyfunction!(ingest_tic, module)?)?;
    module.add_function(wrap_pyfunction!(load_benchmarks, module)?)?;
    module.add_function(wrap_pyfunction!(benchmarks, module)?)?;
    Ok(())
}
