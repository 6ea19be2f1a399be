//! The table face: claim lines in as any Arrow stream producer (pyarrow, polars, pandas through the
//! Arrow PyCapsule interface), results out as Arrow. Work runs with the GIL released, in chunks;
//! between chunks the GIL is taken back briefly to honour Ctrl-C and report progress.

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::SchemaRef;
use cptkit_arrow::{ClaimStream, TablePricing, claims_to_batch, layout};
use cptkit_core::synthetic::SyntheticClaims;
use cptkit_core::{Claim, Error, FieldPath, RuleBook};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PySchema, PyTable};

use crate::claims::{price_options, rules, today};
use crate::errors::{Subject, to_py_err};

/// Rows judged between two Ctrl-C checks and progress reports: big input batches are cut to this.
const CHUNK_ROWS: usize = 65_536;

/// The claim-lines layout (`cptkit.CLAIM_LINES_SCHEMA` wraps it as a pyarrow schema).
#[pyfunction]
fn claim_lines_schema() -> PySchema {
    PySchema::new(layout::claim_lines_schema())
}

/// The result layouts: validation, and pricing with or without the explanation column.
#[pyfunction]
#[pyo3(signature = (priced, explain = false))]
fn result_schema(priced: bool, explain: bool) -> PySchema {
    PySchema::new(if priced { layout::pricing_schema(explain) } else { layout::validation_schema() })
}

/// Validates a claim-lines table: one result row per input row.
#[pyfunction]
#[pyo3(signature = (table, *, today = None, progress = None))]
fn validate_table<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyAny>,
    today: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let today = self::today(py, today)?;
    let input = TableInput::of(table)?;
    let (reference, book) = (crate::data::reference(), RuleBook::embedded());
    let results = run_chunks(py, input, progress, |stream, batch| stream.validate(batch, reference, book, today))?;
    arrow_table(py, results, layout::validation_schema())
}

/// Validates and prices a claim-lines table: one result row per input row, each claim judged as
/// `price` judges it.
///
/// `conversion_factor`: the contract factor for every payer, or a dict of payer id -> factor (a
/// `None` key: every other payer), as for `price`.
#[pyfunction]
#[pyo3(signature = (
    table, *, conversion_factor = None, rule_set = None, explain = false, today = None, progress = None,
    percent_of_medicare = None,
))]
#[allow(clippy::too_many_arguments)]
fn price_table<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyAny>,
    conversion_factor: Option<&Bound<'py, PyAny>>,
    rule_set: Option<&Bound<'py, PyAny>>,
    explain: bool,
    today: Option<&Bound<'py, PyAny>>,
    progress: Option<Py<PyAny>>,
    percent_of_medicare: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let today = self::today(py, today)?;
    let rules = rules(py, rule_set)?;
    let options = price_options(py, &rules, conversion_factor, percent_of_medicare)?;
    let pricing = TablePricing { options, explain };
    let input = TableInput::of(table)?;
    let (reference, book) = (crate::data::reference(), rules.book());
    let results =
        run_chunks(py, input, progress, |stream, batch| stream.price(batch, reference, book, &pricing, today))?;
    arrow_table(py, results, layout::pricing_schema(explain))
}

/// `count` synthetic claims from `seed` as a claim-lines table (`cptkit.testing.synthetic_claims`).
#[pyfunction]
#[pyo3(signature = (count, seed = 0))]
fn synthetic_claims(py: Python<'_>, count: usize, seed: u64) -> PyResult<Bound<'_, PyAny>> {
    let batches = py.detach(|| -> Result<Vec<RecordBatch>, Error> {
        let mut claims = SyntheticClaims::new(seed)?.take(count);
        let mut batches = Vec::new();
        loop {
            let chunk: Vec<Claim> = claims.by_ref().take(CHUNK_ROWS).collect();
            if chunk.is_empty() {
                return Ok(batches);
            }
            batches.push(claims_to_batch(&chunk)?);
        }
    });
    let batches = batches.map_err(|e| to_py_err(py, &e, Subject::Other))?;
    arrow_table(py, batches, layout::claim_lines_schema())
}

/// Claims (dicts, JSON text or `Claim`s) as a claim-lines table (`cptkit.claims_to_table`); a claim
/// that cannot be read raises `InvalidInputError` naming it (`claims[2].lines[0].quantity`).
#[pyfunction]
fn claims_to_table<'py>(py: Python<'py>, claims: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let mut read = Vec::new();
    for (i, item) in claims.try_iter()?.enumerate() {
        let claim = crate::claims::read_claim(py, &item?)
            .and_then(|claim| cptkit_arrow::has_rows(&claim).map(|()| claim))
            .map_err(|e| to_py_err(py, &e.at(FieldPath::field("claims").index(i)), Subject::Other))?;
        read.push(claim);
    }
    let claims: Vec<&Claim> = read.iter().collect();
    claims_table(py, &claims)
}

/// Claims as a claim-lines table (`Read837Result.to_table`).
pub(crate) fn claims_table<'py>(py: Python<'py>, claims: &[&Claim]) -> PyResult<Bound<'py, PyAny>> {
    let batches = py.detach(|| claims.chunks(CHUNK_ROWS).map(claims_to_batch).collect::<Result<Vec<_>, _>>());
    let batches = batches.map_err(|e| to_py_err(py, &e, Subject::Other))?;
    arrow_table(py, batches, layout::claim_lines_schema())
}

/// A table handed to `validate_table` or `price_table`: its batches, and whether they are in memory.
struct TableInput {
    reader: Box<dyn RecordBatchReader + Send>,
    /// A pyarrow Table or RecordBatch: every batch is held already, so reading them all before judging
    /// holds nothing more, and the stream can know the table's claim ids ahead
    /// ([`ClaimStream::know_table`]: the call then holds no more than its input and its result). Any
    /// other input is read a batch at a time: a stream may be larger than memory, and others (polars)
    /// may convert their columns as they give them.
    in_memory: bool,
}

impl TableInput {
    fn of(table: &Bound<'_, PyAny>) -> PyResult<TableInput> {
        let in_memory = table.py().import("pyarrow").is_ok_and(|pyarrow| {
            ["Table", "RecordBatch"]
                .iter()
                .any(|class| pyarrow.getattr(*class).is_ok_and(|class| table.is_instance(&class).unwrap_or(false)))
        });
        Ok(TableInput { reader: arrow_reader(table)?, in_memory })
    }
}

fn arrow_reader(table: &Bound<'_, PyAny>) -> PyResult<Box<dyn RecordBatchReader + Send>> {
    let input: AnyRecordBatch = table.extract().map_err(|e: PyErr| {
        let type_name = table.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
        if table.hasattr("__arrow_c_stream__").unwrap_or(false) {
            // A table that could not make its Arrow stream (a wrapper around a pandas frame with a
            // column of mixed types: a pandas frame itself is converted cell by cell in Python, see
            // `_tables._from_pandas`): pyarrow's error names the column ("Conversion failed for column
            // quantity with type object"), and may quote a value, which for patient data is not
            // repeated. InvalidInputError (a ValueError) with the column as its field.
            let why = e.to_string();
            let column =
                layout::CLAIM_LINE_COLUMNS.iter().find(|c| why.contains(&format!("for column {} with type", c.name)));
            let prefix = format!("the {type_name} cannot be read as an Arrow table");
            let Some(column) = column else {
                let error = PyValueError::new_err(format!("{prefix}: {why}"));
                error.set_cause(table.py(), Some(e));
                return error;
            };
            if cptkit_core::is_patient_field(column.claim_field[0]) {
                let message = format!(
                    "{prefix}: its {} column cannot be converted (patient data: the values are not shown)",
                    column.name
                );
                return to_py_err(table.py(), &Error::invalid(column.name, message), Subject::Other);
            }
            let error = to_py_err(table.py(), &Error::invalid(column.name, format!("{prefix}: {why}")), Subject::Other);
            error.set_cause(table.py(), Some(e));
            return error;
        }
        PyTypeError::new_err(format!(
            "expected an Arrow table or stream (pyarrow Table or RecordBatchReader, polars DataFrame, pandas \
             DataFrame, anything with __arrow_c_stream__), got {type_name}"
        ))
    })?;
    input.into_reader()
}

/// Cuts the input at claim boundaries into chunks of at most about [`CHUNK_ROWS`] rows and judges each
/// with the GIL released, on `CPTKIT_THREADS` threads as the batch functions are (see
/// [`crate::claims::threads`]). Between chunks: Ctrl-C (KeyboardInterrupt) and `progress(rows_done)`.
fn run_chunks(
    py: Python<'_>,
    input: TableInput,
    progress: Option<Py<PyAny>>,
    judge: impl Fn(&mut ClaimStream, &RecordBatch) -> Result<Vec<RecordBatch>, Error> + Sync,
) -> PyResult<Vec<RecordBatch>> {
    let outcome = py.detach(|| -> Result<Vec<RecordBatch>, Failure> {
        let mut stream = ClaimStream::with_threads(crate::claims::threads());
        let mut results = Vec::new();
        let mut done = 0;
        let mut judge_ready = |stream: &mut ClaimStream,
                               ready: Vec<RecordBatch>,
                               results: &mut Vec<RecordBatch>|
         -> Result<(), Failure> {
            for batch in ready {
                results.extend(judge(stream, &batch).map_err(Failure::Core)?);
                done += batch.num_rows();
                Python::attach(|py| -> PyResult<()> {
                    py.check_signals()?;
                    match &progress {
                        Some(report) => report.call1(py, (done,)).map(drop),
                        None => Ok(()),
                    }
                })
                .map_err(Failure::Python)?;
            }
            Ok(())
        };
        // The columns are checked before any row: a table with no rows (or a stream with no batch) of
        // the wrong columns fails as one with rows does.
        stream.push(RecordBatch::new_empty(input.reader.schema())).map_err(Failure::Core)?;
        let unreadable = |e: arrow_schema::ArrowError| Failure::Core(Error::invalid("table", e.to_string()));
        let batches: Box<dyn Iterator<Item = Result<RecordBatch, Failure>>> = if input.in_memory {
            let batches = input.reader.collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
            stream.know_table(&batches).map_err(Failure::Core)?;
            Box::new(batches.into_iter().map(Ok))
        } else {
            Box::new(input.reader.map(|batch| batch.map_err(unreadable)))
        };
        for batch in batches {
            let batch = batch?;
            for start in (0..batch.num_rows()).step_by(CHUNK_ROWS) {
                let piece = batch.slice(start, CHUNK_ROWS.min(batch.num_rows() - start));
                let ready = stream.push(piece).map_err(Failure::Core)?;
                judge_ready(&mut stream, ready, &mut results)?;
            }
        }
        let last = stream.finish().into_iter().collect();
        judge_ready(&mut stream, last, &mut results)?;
        // A claim whose rows come back in a later chunk: its earlier runs' rows are corrected.
        stream.settle(&mut results).map_err(Failure::Core)?;
        Ok(results)
    });
    outcome.map_err(|failure| match failure {
        Failure::Core(err) => to_py_err(py, &err, Subject::Other),
        Failure::Python(err) => err,
    })
}

/// Why a chunked run stopped: the table as a whole is unusable, or Python (Ctrl-C, the progress callback).
enum Failure {
    Core(Error),
    Python(PyErr),
}

/// The batches as a pyarrow Table when pyarrow is installed, else as an Arrow table object that
/// pyarrow, polars, pandas and others read through `__arrow_c_stream__`.
pub(crate) fn arrow_table(py: Python<'_>, batches: Vec<RecordBatch>, schema: SchemaRef) -> PyResult<Bound<'_, PyAny>> {
    let table = PyTable::try_new(batches, schema)?;
    if py.import("pyarrow").is_ok() { table.into_pyarrow(py) } else { Ok(Bound::new(py, table)?.into_any()) }
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(claim_lines_schema, module)?)?;
    module.add_function(wrap_pyfunction!(result_schema, module)?)?;
    module.add_function(wrap_pyfunction!(validate_table, module)?)?;
    module.add_function(wrap_pyfunction!(price_table, module)?)?;
    module.add_function(wrap_pyfunction!(synthetic_claims, module)?)?;
    module.add_function(wrap_pyfunction!(claims_to_table, module)?)?;
    Ok(())
}
