//! Claim validation and pricing from Python: `validate`, `price`, `validate_many`, `price_many` and
//! `load_rule_set`.
//!
//! **How a claim gets in.** A claim may be a dict (the claim JSON form), JSON text (`str`/`bytes`) or a
//! `cptkit.Claim`. Text is copied out of its object and read by serde with the GIL released. A dict is
//! read straight from the Python objects by serde, holding the GIL ([`crate::depythonize::from_py`]), so
//! an error names the field (`lines[0].procedure_code`). A dict may hold `datetime.date` and
//! `decimal.Decimal` where the JSON form has strings; a `float` is refused where the form wants a
//! decimal string.
//!
//! **`price_many` and `validate_many`** go through one pipeline ([`pipeline`]): this thread, holding the
//! GIL, reads a chunk of claims and hands it to worker threads that judge it with the GIL released, then
//! reads the next chunk while they work, and turns each finished chunk's judgements into Python objects
//! in input order. Reading dicts (GIL) and judging (no GIL) so overlap on the cores instead of taking
//! turns; a batch of texts or `Claim`s is judged chunk by chunk across the cores instead ([`par_map`]).
//! Between chunks it checks for Ctrl-C. A bad claim yields its exception in its slot; an argument error
//! (a float conversion factor, an unknown rule set id) raises at once. `validate_many` keeps each claim
//! it judged and runs the edits across claims (the batch edits) once it has them all.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Mutex, mpsc};

use cptkit_core::{self as core, ConversionFactors, Error, JudgeOptions, PriceOptions, RuleBook, Verdict};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyType};
use rust_decimal::Decimal;

use crate::claim_types::{Claim, PricedClaim, RuleSet};
use crate::convert::ToPy;
use crate::depythonize;
use crate::errors::{Subject, price_err, to_py_err};
use crate::gc::CollectorPaused;

/// Claims per chunk of a batch of texts or `Claim`s: between chunks the GIL is taken back and Ctrl-C is
/// checked (a chunk is a few milliseconds of work).
const CHUNK: usize = 4096;
/// Claims per chunk of a batch of dicts: smaller, so the workers start on the first chunk soon and the
/// last one leaves little to wait for (a chunk is still about a millisecond of work).
const PIPELINE_CHUNK: usize = 1024;
/// Fewest claims worth a thread of their own.
const MIN_PER_THREAD: usize = 256;

/// Threads a chunk is shared across: `CPTKIT_THREADS` if set (1 turns threading off, e.g. under Dask
/// or Spark workers that already use every core), else the cores this process may use. The batch
/// functions and the table functions (`price_table`, `validate_table`) all take it from here.
pub(crate) fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("CPTKIT_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
    })
}

/// `items.iter().map(f).collect()`, shared across [`threads`] scoped threads, results in order. Runs
/// with the GIL released: `f` touches no Python object.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads().min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut parts = items.chunks(per_thread);
        let first = parts.next().unwrap_or_default();
        let others: Vec<_> = parts.map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>())).collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for handle in others {
            // A panic in a worker goes on in this thread (pyo3 turns it into PanicException).
            out.extend(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        out
    })
}

static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn invalid(py: Python<'_>, field: &str, message: impl Into<String>) -> PyErr {
    to_py_err(py, &Error::invalid(field, message), Subject::Other)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

/// A claim argument taken from Python (GIL held) as data any thread can read and judge with the GIL
/// released.
// A dict's claim is held inline: a box each was one more allocation here and a free on a worker thread
// (glibc's other arena), 3.6% of `price_many` on dicts.
#[allow(clippy::large_enum_variant)]
enum Arg {
    /// A dict, already read (its reading needs the GIL).
    Read(core::Claim),
    /// JSON text, copied out of its `str` (a memcpy; parsing it is the cost, done off the GIL).
    Json(String),
    Bytes(Vec<u8>),
    /// A `cptkit.Claim` (frozen: its claim is read without the GIL). Released with the GIL held.
    Object(Py<Claim>),
    /// Cannot be read as a claim: the error for its slot.
    Bad(Error),
}

fn arg(value: &Bound<'_, PyAny>) -> Arg {
    if value.cast::<PyDict>().is_ok() {
        return match depythonize::from_py::<core::Claim>(value) {
            Ok(claim) => Arg::Read(claim),
            Err(err) => Arg::Bad(err),
        };
    }
    if let Ok(text) = value.cast::<PyString>() {
        return match text.to_str() {
            Ok(text) => Arg::Json(text.to_owned()),
            Err(_) => Arg::Bad(Error::new(
                core::ErrorKind::InvalidInput,
                "the claim text is not valid Unicode (lone surrogates)",
            )),
        };
    }
    if let Ok(claim) = value.cast::<Claim>() {
        return Arg::Object(claim.clone().unbind());
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Arg::Bytes(bytes.as_bytes().to_vec());
    }
    Arg::Bad(Error::new(
        core::ErrorKind::InvalidInput,
        format!("expected a claim as a dict, JSON str or bytes, or cptkit.Claim; got {}", type_name(value)),
    ))
}

/// Reads claim JSON. Plain serde first: `Claim::from_json` tracks the field path, which costs an
/// allocation per key, so it reads only the text that fails, for the error naming the field.
fn claim_from_json(text: &str) -> Result<core::Claim, Error> {
    serde_json::from_str(text).or_else(|_| core::Claim::from_json(text))
}

impl Arg {
    /// The claim, read (GIL released); an error names the field.
    fn claim(&self) -> Result<Cow<'_, core::Claim>, Error> {
        match self {
            Arg::Json(text) => claim_from_json(text).map(Cow::Owned),
            Arg::Bytes(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => claim_from_json(text).map(Cow::Owned),
                Err(e) => Err(Error::new(core::ErrorKind::InvalidInput, format!("the claim JSON is not UTF-8: {e}"))),
            },
            Arg::Read(claim) => Ok(Cow::Borrowed(claim)),
            Arg::Object(claim) => Ok(Cow::Borrowed(&claim.get().inner)),
            Arg::Bad(err) => Err(err.clone()),
        }
    }
}

/// Reads one claim (dict, JSON text or `Claim`) into the core type; `Claim.from_dict`/`from_json`.
pub(crate) fn claim_from_py(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<core::Claim> {
    read_claim(py, value).map_err(|e| to_py_err(py, &e, Subject::Other))
}

/// Reads one claim; the error names the field.
pub(crate) fn read_claim(py: Python<'_>, value: &Bound<'_, PyAny>) -> Result<core::Claim, Error> {
    match arg(value) {
        Arg::Read(claim) => Ok(claim),
        arg => py.detach(|| arg.claim().map(Cow::into_owned)),
    }
}

/// `today` for "in the future" edits: a `datetime.date`, an ISO `str`, or None for the core's default
/// (today's date in UTC, as on every face), taken once per call so a whole batch, table or file is
/// judged against one date.
pub(crate) fn today(py: Python<'_>, today: Option<&Bound<'_, PyAny>>) -> PyResult<time::Date> {
    let date_type = DATE.import(py, "datetime", "date")?;
    let today = match today.filter(|value| !value.is_none()) {
        None => return Ok(core::today_utc()),
        // Text is read as every face reads it (not by `date.fromisoformat`, which also takes `20261127`
        // and week dates that gRPC and the CLI refuse).
        Some(value) if value.cast::<PyString>().is_ok() => {
            let text = value.cast::<PyString>()?.to_cow()?;
            return core::parse_today(&text).map_err(|e| invalid(py, "today", e.message().to_owned()));
        }
        // A datetime is a date; use its calendar date.
        Some(value) if value.is_instance(date_type)? && value.hasattr("date")? => value.call_method0("date")?,
        Some(value) if value.is_instance(date_type)? => value.clone(),
        Some(value) => {
            return Err(invalid(py, "today", format!("expected a datetime.date, got {}", type_name(value))));
        }
    };
    today.extract()
}

/// The core's default "today" (today's date in UTC), for Python code that hands one date to many calls
/// (the Spark and Dask helpers).
#[pyfunction]
fn today_utc() -> time::Date {
    core::today_utc()
}

/// `conversion_factor`: one contract factor for every payer (a Decimal, str or int; never a float:
/// money is never a float), or a dict of payer id -> factor whose `None` key is every other payer.
/// The core checks each factor and decides which applies to each claim (a factor for every payer
/// does not apply to Medicare fee-for-service).
pub(crate) fn conversion_factors(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<ConversionFactors> {
    let (mut every_payer, mut by_payer) = (None, Vec::new());
    match value.map(|v| v.cast::<PyDict>()) {
        Some(Ok(dict)) => {
            for (payer, factor) in dict.iter() {
                let field = match payer.extract::<Option<String>>() {
                    Ok(payer) => payer,
                    Err(_) => return Err(invalid(py, "conversion_factor", "the keys are payer ids (str) or None")),
                };
                let loc = match &field {
                    Some(payer) => core::FieldPath::field("conversion_factor").key_owned(payer.clone()),
                    None => core::FieldPath::field("conversion_factor"),
                };
                let factor = decimal(py, Some(&factor), loc)?;
                match field {
                    Some(payer) => by_payer.extend(factor.map(|f| (payer, f))),
                    None => every_payer = factor,
                }
            }
        }
        _ => every_payer = decimal(py, value, core::FieldPath::field("conversion_factor"))?,
    }
    ConversionFactors::new(every_payer, by_payer).map_err(|e| to_py_err(py, &e, Subject::Other))
}

/// The pricing options of `price`, `price_many`, `price_table` and `reconcile`: the rule set, the
/// contract conversion factors and the contract's percentage of Medicare for fee-schedule lines.
pub(crate) fn price_options(
    py: Python<'_>,
    rules: &Rules<'_>,
    conversion_factor: Option<&Bound<'_, PyAny>>,
    percent_of_medicare: Option<&Bound<'_, PyAny>>,
) -> PyResult<PriceOptions> {
    Ok(PriceOptions {
        rule_set: rules.id(),
        conversion_factors: conversion_factors(py, conversion_factor)?,
        percent_of_medicare: decimal(py, percent_of_medicare, core::FieldPath::field("percent_of_medicare"))?,
    })
}

/// One number as a Decimal (a Decimal, str or int); `field` names it in an error (`conversion_factor.cigna`).
fn decimal(py: Python<'_>, value: Option<&Bound<'_, PyAny>>, field: core::FieldPath) -> PyResult<Option<Decimal>> {
    let invalid = |message: String| to_py_err(py, &Error::invalid(field.clone(), message), Subject::Other);
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(None) };
    let parsed = if value.cast::<PyFloat>().is_ok() {
        return Err(invalid(format!(
            "money is never a float: pass a Decimal or a string such as \"60.00\", not the float {}",
            value.repr()?
        )));
    } else if value.cast::<PyBool>().is_ok() {
        return Err(invalid("expected a Decimal, str or int, got a bool".to_owned()));
    } else if let Ok(int) = value.cast::<PyInt>() {
        int.extract::<i64>().ok().map(Decimal::from)
    } else if let Ok(text) = value.cast::<PyString>() {
        // Read as gRPC and the CLI read the same text: no blanks; an exponent as they take it.
        text.to_cow()?.parse::<Decimal>().ok()
    } else if value.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)? {
        // A Decimal's own text may have an exponent (Decimal("1E+2")).
        let text = value.str()?.to_cow()?.into_owned();
        text.parse::<Decimal>().or_else(|_| Decimal::from_scientific(&text)).ok()
    } else {
        return Err(invalid(format!("expected a Decimal, str or int, got {}", type_name(value))));
    };
    // The range (more than 0, at most a million a unit) is the core's to check.
    match parsed {
        Some(cf) => Ok(Some(cf)),
        None => Err(invalid(format!("expected a decimal such as \"60.00\", got {}", value.repr()?))),
    }
}

/// What `rule_set=` chose: an embedded rule set by id (or none: by payer and date), or a loaded one.
pub(crate) enum Rules<'py> {
    Embedded(Option<String>),
    Loaded(Bound<'py, RuleSet>),
}

impl Rules<'_> {
    pub(crate) fn book(&self) -> &RuleBook {
        match self {
            Rules::Embedded(_) => RuleBook::embedded(),
            Rules::Loaded(rule_set) => &rule_set.get().book,
        }
    }

    pub(crate) fn id(&self) -> Option<String> {
        match self {
            Rules::Embedded(id) => id.clone(),
            Rules::Loaded(rule_set) => Some(rule_set.get().inner.id.clone()),
        }
    }
}

pub(crate) fn rules<'py>(py: Python<'py>, value: Option<&Bound<'py, PyAny>>) -> PyResult<Rules<'py>> {
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(Rules::Embedded(None)) };
    if let Ok(loaded) = value.cast::<RuleSet>() {
        return Ok(Rules::Loaded(loaded.clone()));
    }
    let Ok(id) = value.cast::<PyString>() else {
        return Err(invalid(
            py,
            "rule_set",
            format!("expected a rule set id (str) or a cptkit.RuleSet, got {}", type_name(value)),
        ));
    };
    let id = id.to_cow()?.into_owned();
    let book = RuleBook::embedded();
    if book.rule_sets().any(|r| r.id == id) {
        return Ok(Rules::Embedded(Some(id)));
    }
    let known: Vec<&str> = book.rule_sets().map(|r| r.id.as_str()).collect();
    let message = format!(
        "no rule set with id {id:?}; cptkit has {} (load your own with cptkit.load_rule_set)",
        known.join(", ")
    );
    let err = Error::missing(core::Resource::RULE_SET, id, message).at("rule_set");
    Err(to_py_err(py, &err, Subject::Other))
}

/// What to do with each claim besides reading it, as plain Rust data: the one judge's options and
/// the rule book.
struct Judge<'a> {
    options: JudgeOptions,
    book: &'a RuleBook,
}

impl Judge<'_> {
    /// Reads and judges one claim (GIL released). `Err`: the claim cannot be read, or the core failed
    /// on it (its own internal error).
    fn judge(&self, arg: &Arg) -> Result<core::Judgement, Error> {
        self.judge_claim(arg.claim()?.as_ref())
    }

    fn judge_claim(&self, claim: &core::Claim) -> Result<core::Judgement, Error> {
        crate::data::reference().judge(claim, &self.options, self.book)
    }
}

/// A judgement as `price` answers it: the `PricedClaim`, or the exception (a claim rejected for its
/// findings is a `ClaimValidationError` carrying its report).
fn priced_to_py(py: Python<'_>, judged: Result<core::Judgement, Error>) -> PyResult<Py<PyAny>> {
    let core::Judgement { report, verdict } = judged.map_err(|e| to_py_err(py, &e, Subject::Other))?;
    match verdict {
        Verdict::Priced(priced) => Ok(Py::new(py, PricedClaim::new(priced))?.into_any()),
        Verdict::Rejected => Err(price_err(py, &core::rejection(&report), Some(report.to_py(py)?))),
        Verdict::NotPriced(err) => Err(price_err(py, &err, None)),
        Verdict::Validated => Err(pyo3::exceptions::PyRuntimeError::new_err("the claim was validated, not priced")),
    }
}

/// Validates one claim: every finding with its edit id, severity, field, message and hint.
#[pyfunction]
#[pyo3(signature = (claim, *, today = None))]
fn validate(py: Python<'_>, claim: &Bound<'_, PyAny>, today: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    let judge = validating(py, today)?;
    let arg = arg(claim);
    let judged = py.detach(|| judge.judge(&arg));
    judged.map_err(|e| to_py_err(py, &e, Subject::Other))?.report.to_py(py)
}

/// `validate`'s and `validate_many`'s judge: validation only, against `today` (or today's UTC date).
fn validating(py: Python<'_>, today: Option<&Bound<'_, PyAny>>) -> PyResult<Judge<'static>> {
    Ok(Judge { options: JudgeOptions { today: self::today(py, today)?, pricing: None }, book: RuleBook::embedded() })
}

/// Reads `price`'s and `price_many`'s arguments into the judge.
fn pricing<'py>(
    py: Python<'py>,
    conversion_factor: Option<&Bound<'py, PyAny>>,
    percent_of_medicare: Option<&Bound<'py, PyAny>>,
    rules: &'py Rules<'py>,
    today: Option<&Bound<'py, PyAny>>,
) -> PyResult<Judge<'py>> {
    let pricing = price_options(py, rules, conversion_factor, percent_of_medicare)?;
    Ok(Judge { options: JudgeOptions { today: self::today(py, today)?, pricing: Some(pricing) }, book: rules.book() })
}

/// Validates, then prices every line by the payer's rule set in force on the date of service.
#[pyfunction]
#[pyo3(signature = (claim, *, conversion_factor = None, rule_set = None, today = None, percent_of_medicare = None))]
fn price(
    py: Python<'_>,
    claim: &Bound<'_, PyAny>,
    conversion_factor: Option<&Bound<'_, PyAny>>,
    rule_set: Option<&Bound<'_, PyAny>>,
    today: Option<&Bound<'_, PyAny>>,
    percent_of_medicare: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let rules = rules(py, rule_set)?;
    let judge = pricing(py, conversion_factor, percent_of_medicare, &rules, today)?;
    let arg = arg(claim);
    priced_to_py(py, py.detach(|| judge.judge(&arg)))
}

/// The claims of a batch argument, `size` at a time (read before each chunk). A lone claim (dict, str, bytes, Claim) is refused:
/// iterating it would read its keys or characters as claims.
fn chunks<'py>(
    claims: &Bound<'py, PyAny>,
    size: &Cell<usize>,
) -> PyResult<impl Iterator<Item = PyResult<Vec<Bound<'py, PyAny>>>>> {
    let py = claims.py();
    if claims.cast::<PyDict>().is_ok()
        || claims.cast::<PyString>().is_ok()
        || claims.cast::<PyBytes>().is_ok()
        || claims.cast::<Claim>().is_ok()
    {
        return Err(invalid(py, "claims", "expected a sequence of claims (a list of dicts, JSON strings or Claims)"));
    }
    let mut items = claims
        .try_iter()
        .map_err(|_| invalid(py, "claims", format!("expected a sequence of claims, got {}", type_name(claims))))?;
    Ok(std::iter::from_fn(move || {
        let chunk: PyResult<Vec<_>> = items.by_ref().take(size.get()).collect();
        match chunk {
            Ok(chunk) if chunk.is_empty() => None,
            other => Some(other),
        }
    }))
}

/// Chunks judged or waiting to be judged at once, beyond the workers' own: enough to keep every worker
/// busy while this thread reads the next chunk and converts the last one's answers.
const QUEUED: usize = 2;

/// A batch's answers, in order: `judge` on [`threads`] worker threads with the GIL released, while this
/// thread, holding the GIL, reads the next chunks of Python objects and passes each finished chunk's
/// answers to `emit` in input order. Reading dicts needs the GIL and judging does not, so the two
/// overlap across the cores instead of taking turns. At most `threads() + QUEUED` chunks are in flight.
/// A batch that starts without dicts is judged chunk by chunk instead (see below).
fn pipeline<R: Send>(
    py: Python<'_>,
    claims: &Bound<'_, PyAny>,
    judge: impl Fn(&Arg) -> R + Sync,
    mut emit: impl FnMut(R) -> PyResult<()>,
) -> PyResult<()> {
    let chunk_size = Cell::new(PIPELINE_CHUNK);
    let mut chunks = chunks(claims, &chunk_size)?;
    let workers = threads();
    let mut emit_chunk = |judged: Vec<R>| judged.into_iter().try_for_each(&mut emit);
    let Some(first) = chunks.next() else { return Ok(()) };
    let first: Vec<Arg> = first?.iter().map(arg).collect();
    // Text and `Claim` objects are read off the GIL anyway: there is nothing to overlap, and judging each
    // chunk on every core ([`par_map`], this thread included) measured faster for them.
    if workers == 1 || !first.iter().any(|a| matches!(a, Arg::Read(_))) {
        let mut args = first;
        chunk_size.set(CHUNK);
        loop {
            let judged = py.detach(|| par_map(&args, &judge));
            emit_chunk(judged)?;
            py.check_signals()?;
            match chunks.next() {
                Some(chunk) => args = chunk?.iter().map(arg).collect(),
                None => return Ok(()),
            }
        }
    }
    type Done<R> = std::thread::Result<(Vec<R>, Vec<Arg>)>;
    let (jobs, queue) = mpsc::channel::<(usize, Vec<Arg>)>();
    let (done_tx, done) = mpsc::channel::<(usize, Done<R>)>();
    // Shared by the workers; `done` is locked only by this thread, to wait on it without the GIL.
    let (queue, done) = (Mutex::new(queue), Mutex::new(done));
    std::thread::scope(|scope| {
        // Owned here: returning (an error included) closes the queue, and the workers stop.
        let (jobs, done_tx) = (jobs, done_tx);
        for _ in 0..workers {
            let (queue, done_tx, judge) = (&queue, done_tx.clone(), &judge);
            scope.spawn(move || {
                loop {
                    let job = queue.lock().map_err(|_| ()).and_then(|q| q.recv().map_err(|_| ()));
                    let Ok((index, mut args)) = job else { return };
                    let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let judged: Vec<R> = args.iter().map(judge).collect();
                        // Claims are freed here, off the GIL; Python objects go back to be released with it.
                        args.retain(|a| matches!(a, Arg::Object(_)));
                        (judged, args)
                    }));
                    if done_tx.send((index, judged)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        jobs.send((0, first)).map_err(|_| worker_gone())?;
        let (mut sent, mut next, mut more) = (1, 0, true);
        let mut finished: BTreeMap<usize, Vec<R>> = BTreeMap::new();
        loop {
            while more && sent - next < workers + QUEUED {
                match chunks.next() {
                    Some(chunk) => {
                        let args: Vec<Arg> = chunk?.iter().map(arg).collect();
                        jobs.send((sent, args)).map_err(|_| worker_gone())?;
                        sent += 1;
                    }
                    None => more = false,
                }
            }
            if next == sent {
                return Ok(());
            }
            while !finished.contains_key(&next) {
                let (index, judged) =
                    py.detach(|| done.lock().ok().and_then(|d| d.recv().ok())).ok_or_else(worker_gone)?;
                // A panic in a worker goes on in this thread (pyo3 turns it into PanicException).
                let (judged, objects) = judged.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                drop(objects);
                finished.insert(index, judged);
            }
            if let Some(judged) = finished.remove(&next) {
                emit_chunk(judged)?;
            }
            next += 1;
            py.check_signals()?;
        }
    })
}

fn worker_gone() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("a claim worker thread stopped")
}

/// Validates a batch: each claim, then the edits across claims (BAT001-BAT009: medical direction by
/// case and at most four concurrent directed cases). One result per claim, in order: its report, or
/// for a claim that cannot be read, the `InvalidInputError` naming the field.
#[pyfunction]
#[pyo3(signature = (claims, *, today = None))]
fn validate_many(py: Python<'_>, claims: &Bound<'_, PyAny>, today: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyList>> {
    let judge = validating(py, today)?;
    let _paused = CollectorPaused::new(py)?;
    // Each claim is judged as it is read (see `pipeline`) and kept for the edits across claims, which
    // need them all. `slots` says, per input, whether it was read (its report is the next in `reports`)
    // or why not.
    // Sized once for a list (whose length is real, unlike any object's `__len__`): grown by doubling,
    // the claims, hundreds of bytes each, were copied into fresh pages again and again.
    let expected = claims.cast::<PyList>().map_or(0, |list| list.len());
    let mut read: Vec<core::Claim> = Vec::with_capacity(expected);
    let mut reports: Vec<core::Result<core::ValidationReport>> = Vec::with_capacity(expected);
    let mut slots: Vec<Result<(), Error>> = Vec::with_capacity(expected);
    pipeline(
        py,
        claims,
        |arg| {
            let claim = arg.claim()?;
            let report = judge.judge_claim(&claim).map(|judged| judged.report);
            Ok((claim.into_owned(), report))
        },
        |judged: Result<_, Error>| {
            slots.push(judged.map(|(claim, report)| {
                read.push(claim);
                reports.push(report);
            }));
            Ok(())
        },
    )?;
    py.detach(|| {
        core::add_batch_findings(&read, &mut reports, judge.book);
        drop(read);
    });
    let mut reports = reports.into_iter();
    let out = PyList::empty(py);
    for slot in slots {
        let report = slot.and_then(|()| reports.next().unwrap_or_else(|| Err(Error::internal("no report"))));
        let item = match report {
            Ok(report) => report.to_py(py)?,
            Err(err) => to_py_err(py, &err, Subject::Other).into_value(py).into_any(),
        };
        out.append(item)?;
    }
    Ok(out.unbind())
}

/// Prices a batch, claim by claim, as `price` does. One result per claim, in order: its `PricedClaim`,
/// or the exception `price` would have raised for it (never raised here, so the good claims still come
/// back). Arguments that apply to every claim (conversion factor, rule set, today) raise at once.
#[pyfunction]
#[pyo3(signature = (claims, *, conversion_factor = None, rule_set = None, today = None, percent_of_medicare = None))]
fn price_many(
    py: Python<'_>,
    claims: &Bound<'_, PyAny>,
    conversion_factor: Option<&Bound<'_, PyAny>>,
    rule_set: Option<&Bound<'_, PyAny>>,
    today: Option<&Bound<'_, PyAny>>,
    percent_of_medicare: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyList>> {
    let rules = rules(py, rule_set)?;
    let judge = pricing(py, conversion_factor, percent_of_medicare, &rules, today)?;
    let _paused = CollectorPaused::new(py)?;
    let out = PyList::empty(py);
    pipeline(
        py,
        claims,
        |arg| judge.judge(arg),
        |judged| {
            // A claim that fails gets the exception `price` would raise, in its slot.
            let item = priced_to_py(py, judged).unwrap_or_else(|err| err.into_value(py).into_any());
            out.append(item)
        },
    )?;
    Ok(out.unbind())
}

/// Loads a payer rule set (the format of the embedded `data/rulesets/*.json`) from a file path, JSON
/// text or a dict. An error names the field (`shares.AA`, `time_units.unit_minutes`).
#[pyfunction]
fn load_rule_set(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    if source.cast::<RuleSet>().is_ok() {
        return Ok(source.clone().unbind());
    }
    let rule_set = if source.cast::<PyDict>().is_ok() {
        depythonize::from_py::<core::RuleSet>(source)
            .map_err(|e| {
                let err = Error::new(e.kind(), format!("rule set: {}", e.message()));
                match e.field() {
                    Some(field) => err.at(field),
                    None => err,
                }
            })
            .and_then(|rule_set| rule_set.check().map(|()| rule_set))
    } else {
        match rule_set_source(py, source)? {
            Source::Text(text) => py.detach(|| core::RuleSet::from_json(&text)),
            // A file goes through the core's one loader (the server's and the CLI's): the same errors.
            Source::Path(path) => py.detach(|| {
                let book = RuleBook::embedded().with_files(&[path])?;
                let id = book.files().next().map(|(_, id)| id.to_owned());
                book.rule_sets()
                    .find(|r| Some(&r.id) == id.as_ref())
                    .cloned()
                    .ok_or_else(|| Error::internal("the loaded rule set is not in its book"))
            }),
        }
    };
    let rule_set = rule_set.map_err(|e| to_py_err(py, &e, Subject::Other))?;
    Ok(Py::new(py, RuleSet::new(rule_set))?.into_any())
}

/// A rule set given as JSON text or as a file.
enum Source {
    Text(String),
    Path(std::path::PathBuf),
}

/// The rule set's JSON text (text or bytes) or its path (`str` or `os.PathLike`).
fn rule_set_source(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Source> {
    if let Ok(bytes) = source.cast::<PyBytes>() {
        return String::from_utf8(bytes.as_bytes().to_vec())
            .map(Source::Text)
            .map_err(|e| invalid(py, "rule_set", format!("the rule set JSON is not UTF-8: {e}")));
    }
    if let Ok(text) = source.cast::<PyString>()
        && text.to_cow()?.trim_start().starts_with('{')
    {
        return Ok(Source::Text(text.to_cow()?.into_owned()));
    }
    if source.cast::<PyString>().is_ok() || source.hasattr("__fspath__")? {
        return Ok(Source::Path(py.import("os")?.getattr("fspath")?.call1((source,))?.extract()?));
    }
    Err(invalid(py, "rule_set", format!("expected a path, JSON text or a dict, got {}", type_name(source))))
}

/// Adds the claim functions to the module.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(validate, module)?)?;
    module.add_function(wrap_pyfunction!(price, module)?)?;
    module.add_function(wrap_pyfunction!(validate_many, module)?)?;
    module.add_function(wrap_pyfunction!(price_many, module)?)?;
    module.add_function(wrap_pyfunction!(load_rule_set, module)?)?;
    module.add_function(wrap_pyfunction!(today_utc, module)?)?;
    Ok(())
}
