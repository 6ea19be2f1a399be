//! Validation and pricing of a claim-lines batch: one result row per input row, in input order.
//!
//! Each claim is judged on its own (the per-claim edits and its price), so a result never depends on
//! how the table was cut into batches. Lines of a claim that are not adjacent (TBL003) are found within
//! one batch, or across the batches of a [`ClaimStream`] (within one call of the Python functions, one
//! partition in Spark and Dask): every run of rows of such a claim is made invalid once the whole call
//! is judged ([`ClaimStream::settle`]), however far apart the runs are. The cross-claim case edits
//! (BAT001-009) need all of a case's claims at once and run in `validate_many`, not here. Claims are
//! judged on every core.

use std::fmt::{self, Write as _};
use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::builder::{ArrayBuilder, BooleanBuilder, Int32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer};
use arrow_cast::cast::cast;
use arrow_schema::{DataType, SchemaRef};
use cptkit_core::{
    Claim, Edit, Error, FieldPath, Finding, JudgeOptions, Judgement, LineStatus, PriceOptions, PricedLine, Reference,
    Result, RuleBook, Severity, StepSink, Verdict, cents_count,
};

use crate::layout::{self, DECIMAL_PRECISION, DECIMAL_SCALE};
use crate::read::{EarlierClaims, FAILED, LineColumns, NOT_PRICEABLE, RowIssue, id_runs};
use crate::write::scaled;

/// How a table is priced.
#[derive(Debug, Clone, Default)]
pub struct TablePricing {
    /// The rule set and contract conversion factors, as for one claim (the core resolves, for each
    /// claim, which factor applies: see [`cptkit_core::ConversionFactors`]).
    pub options: PriceOptions,
    /// Add the worded explanation of every priced line (`explanation` column).
    pub explain: bool,
}

/// Validates every claim of the batch. Fails only when the batch is unusable as a whole (a required
/// column is missing or of a type that cannot be cast); anything wrong in a row is in its `issues`.
/// The results come as one or more batches (pieces judged on different cores), rows in input order.
/// `today` is the date "in the future" is judged against: take it once per table (the caller's, or
/// [`cptkit_core::today_utc`]) so that every batch of one table is judged against the same date.
pub fn validate_batch(
    batch: &RecordBatch,
    reference: &Reference,
    rules: &RuleBook,
    today: time::Date,
) -> Result<Vec<RecordBatch>> {
    let mut stream = ClaimStream::default();
    let mut results = stream.validate(batch, reference, rules, today)?;
    stream.settle(&mut results)?;
    Ok(results)
}

/// Validates and prices every claim of the batch (see [`validate_batch`] for what fails the batch and
/// for `today`).
pub fn price_batch(
    batch: &RecordBatch,
    reference: &Reference,
    rules: &RuleBook,
    pricing: &TablePricing,
    today: time::Date,
) -> Result<Vec<RecordBatch>> {
    let mut stream = ClaimStream::default();
    let mut results = stream.price(batch, reference, rules, pricing, today)?;
    stream.settle(&mut results)?;
    Ok(results)
}

/// What became of the claim of a run of rows.
enum Outcome {
    /// A value could not be read (TBL001-003): not judged.
    Unreadable,
    /// The core failed on it (TBL005).
    Failed,
    /// Valid, but pricing refused it (TBL004): no contract factor, no rule set.
    Refused,
    Judged(Verdict),
}

/// Which result columns to build.
struct Shape {
    priced: bool,
    explain: bool,
}

impl Shape {
    fn schema(&self) -> SchemaRef {
        if self.priced { layout::pricing_schema(self.explain) } else { layout::validation_schema() }
    }
}

/// Rows per piece: each piece is a result batch, and pyarrow holds some 40 KB of wrappers per batch
/// to the end of the call (17 MB at 4,096 rows a piece and a million claims, 7% of the result).
/// Four pieces per 64k-row batch still keep two cores busy; one piece per batch would leave one idle.
const PIECE_ROWS: usize = 16_384;

/// Reads, judges and writes the results of every claim of the batch, in pieces spread over the cores
/// (at most `threads`; `None`: every core this process may use). `earlier`: the claims of the table's
/// batches before this one, which then takes in this one's.
fn judge_batch(
    batch: &RecordBatch,
    shape: &Shape,
    judge: impl Fn(&Claim, &mut Vec<PricedLine>) -> Result<Judgement> + Sync,
    earlier: &mut EarlierClaims,
    threads: Option<NonZeroUsize>,
) -> Result<Vec<RecordBatch>> {
    let columns = LineColumns::new(batch)?;
    let batch_issues = columns.unreadable();
    let runs = columns.claim_runs_after(earlier);
    let pieces = pieces(&runs);
    let judge = |runs: &[Range<usize>]| judge_piece(&columns, runs, batch_issues, shape, &judge);
    let cores = threads.or_else(|| std::thread::available_parallelism().ok()).map_or(1, NonZeroUsize::get);
    let workers = cores.min(pieces.len()).max(1);
    if workers == 1 {
        return pieces.iter().map(|runs| judge(runs)).collect();
    }
    // Each worker takes the next piece when it is free, so a core slowed by other work (or a run of
    // heavier claims) does not leave the others waiting at the end, as a fixed split would.
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(runs) = pieces.get(i) else { return Ok::<_, Error>(done) };
            done.push((i, judge(runs)?));
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(worker)).collect();
        // The calling thread is a worker too: one thread fewer to start for each batch, and its pieces
        // reuse the memory the caller freed (another thread allocates from another glibc arena).
        let own = std::panic::catch_unwind(std::panic::AssertUnwindSafe(worker));
        let joined: Vec<_> = std::iter::once(own).chain(handles.into_iter().map(|handle| handle.join())).collect();
        let mut out = Vec::with_capacity(pieces.len());
        for results in joined {
            // A worker panics only on a bug in the core: the batch fails, reported, and nothing is lost silently.
            let results = results.map_err(|_| Error::internal("a table worker failed (a bug in cptkit)"))?;
            out.extend(results?);
        }
        out.sort_unstable_by_key(|(i, _)| *i);
        Ok(out.into_iter().map(|(_, batch)| batch).collect())
    })
}

/// Consecutive claim runs grouped into pieces of about [`PIECE_ROWS`] rows (a claim is never split).
fn pieces(runs: &[Range<usize>]) -> Vec<&[Range<usize>]> {
    let mut pieces = Vec::new();
    let mut first = 0;
    for (i, run) in runs.iter().enumerate() {
        if run.end - runs[first].start >= PIECE_ROWS || i + 1 == runs.len() {
            pieces.push(&runs[first..=i]);
            first = i + 1;
        }
    }
    pieces
}

/// Reads, judges and writes the results of the runs of one piece. Never inlined: it runs once per piece,
/// and `examples/table_instructions.rs` counts the instructions under its name.
#[inline(never)]
fn judge_piece(
    columns: &LineColumns,
    runs: &[Range<usize>],
    batch_issues: &[RowIssue],
    shape: &Shape,
    judge: &impl Fn(&Claim, &mut Vec<PricedLine>) -> Result<Judgement>,
) -> Result<RecordBatch> {
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return Ok(RecordBatch::new_empty(shape.schema()));
    };
    let piece = first.start..last.end;
    let mut results = Results::new(piece.len(), shape);
    let mut batch_issues = batch_issues.iter().skip_while(|i| i.row < piece.start).peekable();
    let mut issues = Vec::new();
    // One claim buffer per piece: each claim is read into the previous one's allocations, and priced
    // into the list of the last priced claim's lines once they are written.
    let mut claim = None;
    let mut spare_lines = Vec::new();
    let mut known_path = KnownPath::default();
    for rows in runs {
        issues.clear();
        let readable = columns.read_claim_into(rows.clone(), &mut issues, &mut claim);
        let judged = claim.as_ref().filter(|_| readable).map(|claim| judge(claim, &mut spare_lines));
        let outcome = match judged {
            None => Outcome::Unreadable,
            Some(Ok(judgement)) => {
                place_findings(rows.start, judgement.report.findings, &mut issues);
                Outcome::Judged(judgement.verdict)
            }
            // A bug met on this claim: its own error, the table goes on.
            Some(Err(error)) => {
                issues.push(refusal(rows.start, &FAILED, error, &mut known_path));
                Outcome::Failed
            }
        };
        // Issues found before reading (unreadable values) belong to these rows too.
        while let Some(issue) = batch_issues.next_if(|i| i.row < rows.end) {
            issues.push(issue.clone());
        }
        let valid = matches!(outcome, Outcome::Judged(_)) && !issues.iter().any(RowIssue::is_error);
        // A table error the core cannot see (an unreadable value) rejects the claim as its own error
        // findings would: no price. ([`ClaimStream::settle`] does the same for TBL003.)
        let outcome = match outcome {
            Outcome::Judged(Verdict::Priced(_) | Verdict::NotPriced(_)) if !valid => Outcome::Judged(Verdict::Rejected),
            // Pricing's refusal of a valid claim is reported, but does not make the claim invalid.
            Outcome::Judged(Verdict::NotPriced(error)) => {
                issues.push(refusal(rows.start, &NOT_PRICEABLE, error, &mut known_path));
                Outcome::Refused
            }
            outcome => outcome,
        };
        issues.sort_by_key(|i| i.row);
        for row in rows.clone() {
            results.line_number.append_value(i32::try_from(row - rows.start + 1).unwrap_or(i32::MAX));
            results.claim_valid.append_value(valid);
            results.issues.push_with(|fields| {
                issues.iter().filter(|i| i.row == row).for_each(|i| write_issue(fields, i, &known_path))
            });
            if let Some(priced) = &mut results.priced {
                priced.push(row - piece.start, &outcome, row - rows.start)?;
            }
        }
        if let Outcome::Judged(Verdict::Priced(priced)) = outcome {
            spare_lines = priced.lines;
        }
    }
    results.finish(columns.claim_ids().slice(piece.start, piece.len()), shape.schema())
}

/// Puts each finding on the row of the line it is about (`lines[2]...`), or on the claim's first row.
fn place_findings(first_row: usize, findings: Vec<Finding>, issues: &mut Vec<RowIssue>) {
    for finding in findings {
        let row = first_row + finding.loc.line_index().unwrap_or(0);
        let column = layout::column_of(&finding.loc);
        issues.push(RowIssue { row, finding, column });
    }
}

/// The result columns of one piece, filled row by row (the claim ids are the input's, sliced).
struct Results {
    line_number: Int32Builder,
    claim_valid: BooleanBuilder,
    issues: StructList<6>,
    priced: Option<PricedColumns>,
}

struct PricedColumns {
    status: StringBuilder,
    rule_set: StringBuilder,
    /// Whether each row has a priced line: the amount columns are null together, so they share one
    /// validity, written once per row rather than once per column.
    priced: BooleanBufferBuilder,
    /// base, time, modifying and total units, conversion factor, share, at the layout's scale.
    /// Sized to the piece and zeroed: each priced row's values are written at its index (cheaper
    /// than a push), and the zeros under the nulls, as Arrow's builders write them, are there already.
    decimals: [Vec<i128>; 6],
    /// charge, fee schedule, allowed; as `decimals`.
    cents: [Vec<i64>; 3],
    explanation: Option<StructList<3>>,
}

impl Results {
    fn new(rows: usize, shape: &Shape) -> Results {
        Results {
            line_number: Int32Builder::with_capacity(rows),
            claim_valid: BooleanBuilder::with_capacity(rows),
            issues: StructList::new(rows),
            priced: shape.priced.then(|| PricedColumns {
                status: StringBuilder::with_capacity(rows, rows * 8),
                rule_set: StringBuilder::with_capacity(rows, rows * 12),
                priced: BooleanBufferBuilder::new(rows),
                decimals: std::array::from_fn(|_| vec![0; rows]),
                cents: std::array::from_fn(|_| vec![0; rows]),
                explanation: shape.explain.then(|| StructList::new(rows)),
            }),
        }
    }

    fn finish(mut self, claim_ids: ArrayRef, schema: SchemaRef) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = vec![
            claim_ids,
            Arc::new(self.line_number.finish()),
            Arc::new(self.claim_valid.finish()),
            Arc::new(self.issues.finish(layout::issue_fields(), false)),
        ];
        if let Some(priced) = self.priced {
            arrays.extend(priced.finish()?);
        }
        result_batch(schema, arrays)
    }
}

/// A claim pricing refused (a valid claim) or the core failed on: the reason as an issue on its
/// first row, naming the field. The error's text and path move into the issue, not copied.
fn refusal(row: usize, edit: &Edit, error: Error, known_path: &mut KnownPath) -> RowIssue {
    let (loc, message) = error.into_loc_and_message();
    let mut issue = RowIssue::new(row, edit, None, message);
    issue.column = known_path.column_of(&loc);
    issue.finding.loc = loc;
    issue
}

/// A path with its column and its text, worked out once: the refused claims of a piece mostly name
/// the same field of the request (`conversion_factor`), whose column search and wording (a check of
/// every byte) cost more than the rest of each one's issue. The default, the root path, has no column
/// and no text, as [`layout::column_of`] and [`FieldPath::write_to`] give it.
#[derive(Default)]
struct KnownPath {
    loc: FieldPath,
    column: Option<&'static str>,
    text: String,
}

impl KnownPath {
    /// The column `loc` names; `loc` becomes the known path.
    fn column_of(&mut self, loc: &FieldPath) -> Option<&'static str> {
        if *loc != self.loc {
            self.column = layout::column_of(loc);
            self.text = loc.to_string();
            self.loc = loc.clone();
        }
        self.column
    }

    /// Appends the text of `loc` to `out`: the known text when it is the known path.
    fn write(&self, loc: &FieldPath, out: &mut StringBuilder) {
        if *loc == self.loc {
            out.append_value(&self.text);
        } else {
            // Writing into a builder cannot fail; `append_value("")` ends the value written.
            let _ = loc.write_to(out);
            out.append_value("");
        }
    }
}

/// One issue appended to the issue fields (an item of the row being pushed); its path is written into
/// its column as it is worded (or as `known_path` has it), with no String per finding.
fn write_issue(
    [edit_id, severity_text, field, column, message, hint]: &mut [StringBuilder; 6],
    issue: &RowIssue,
    known_path: &KnownPath,
) {
    let f = &issue.finding;
    let severity = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    edit_id.append_value(&f.edit_id);
    severity_text.append_value(severity);
    known_path.write(&f.loc, field);
    column.append_option(issue.column);
    message.append_value(&f.message);
    hint.append_value(&f.hint);
}

impl PricedColumns {
    /// The priced columns of the piece's row `at`, the claim's line `line`.
    fn push(&mut self, at: usize, outcome: &Outcome, line: usize) -> Result<()> {
        let priced_line = match outcome {
            Outcome::Judged(Verdict::Priced(priced)) => priced.lines.get(line),
            _ => None,
        };
        let status = match (outcome, priced_line) {
            (_, Some(l)) => match l.status {
                LineStatus::Priced => "priced",
                LineStatus::NotPriced => "not_priced",
                LineStatus::NotPayable => "not_payable",
            },
            (Outcome::Refused | Outcome::Failed, None) => "error",
            _ => "not_valid",
        };
        self.status.append_value(status);
        self.rule_set.append_option(priced_line.map(|l| l.rule.id.as_str()));
        self.priced.append(priced_line.is_some());
        if let Some(l) = priced_line {
            // By reference: an array of the values themselves was copied twice over.
            let decimals =
                [&l.base_units, &l.time_units, &l.modifying_units, &l.total_units, &l.conversion_factor, &l.share];
            for (column, &value) in self.decimals.iter_mut().zip(decimals) {
                column[at] = scaled(value, "units")?;
            }
            for (column, &value) in self.cents.iter_mut().zip([&l.charge, &l.fee_schedule, &l.allowed]) {
                column[at] = cents_count(value);
            }
        }
        if let Some(explanation) = &mut self.explanation {
            match priced_line {
                Some(l) => explanation.push_with(|row| l.write_steps(&mut Explanation(row))),
                None => explanation.push_null(),
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<ArrayRef>> {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.status.finish()), Arc::new(self.rule_set.finish())];
        // As a builder leaves it: no validity at all when every row is priced.
        let nulls = Some(NullBuffer::new(self.priced.finish())).filter(|nulls| nulls.null_count() > 0);
        for values in self.decimals {
            let array = Decimal128Array::new(values.into(), nulls.clone())
                .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
                .map_err(|e| Error::internal(e.to_string()))?;
            arrays.push(Arc::new(array));
        }
        arrays.extend(self.cents.map(|values| Arc::new(Int64Array::new(values.into(), nulls.clone())) as ArrayRef));
        if let Some(explanation) = self.explanation {
            arrays.push(Arc::new(explanation.finish(layout::step_fields(), true)));
        }
        Ok(arrays)
    }
}

/// A line's steps appended to the explanation column as they are worded: no String per step.
struct Explanation<'a>(&'a mut [StringBuilder; 3]);

impl StepSink for Explanation<'_> {
    fn step(&mut self, step: &'static str, detail: &dyn fmt::Display, value: &dyn fmt::Display) {
        let [name, detail_text, value_text] = &mut *self.0;
        name.append_value(step);
        // Writing into a builder cannot fail; `append_value("")` ends the value written.
        let _ = write!(detail_text, "{detail}");
        detail_text.append_value("");
        let _ = write!(value_text, "{value}");
        value_text.append_value("");
    }
}

/// A list-of-struct column of `N` text fields, built as flat child columns plus offsets.
struct StructList<const N: usize> {
    fields: [StringBuilder; N],
    offsets: Vec<i32>,
    valid: Vec<bool>,
}

impl<const N: usize> StructList<N> {
    fn new(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        StructList { fields: std::array::from_fn(|_| StringBuilder::new()), offsets, valid: Vec::with_capacity(rows) }
    }

    /// One row whose items `write` appends to the field builders (each item a value in every field).
    fn push_with(&mut self, write: impl FnOnce(&mut [StringBuilder; N])) {
        write(&mut self.fields);
        self.end_row(true);
    }

    fn push_null(&mut self) {
        self.end_row(false);
    }

    /// Ends a row: its items end where the first field's values end.
    fn end_row(&mut self, valid: bool) {
        let end = self.fields.first().map_or(0, ArrayBuilder::len);
        self.offsets.push(i32::try_from(end).unwrap_or(i32::MAX));
        self.valid.push(valid);
    }

    fn finish(mut self, fields: arrow_schema::Fields, nullable: bool) -> ListArray {
        let children: Vec<ArrayRef> = self.fields.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        let items = StructArray::new(fields.clone(), children, None);
        let item_field = Arc::new(arrow_schema::Field::new_list_field(DataType::Struct(fields), false));
        let nulls = nullable.then(|| NullBuffer::from(self.valid));
        ListArray::new(item_field, OffsetBuffer::new(self.offsets.into()), Arc::new(items), nulls)
    }
}

/// Cuts a stream of claim-lines batches at claim boundaries: a claim whose lines straddle two input
/// batches is held back and judged whole with the next one. Batches that need no stitching pass
/// through as zero-copy slices. The batches it gives are judged in order with its
/// [`ClaimStream::validate`] or [`ClaimStream::price`], so that a claim whose lines come back after other
/// claims is TBL003 however the table is cut (it keeps a Bloom filter of the claim ids judged, about 2
/// bytes a claim, to the end: unless told the table ahead, [`ClaimStream::know_table`]): their results
/// are final once [`ClaimStream::settle`] has corrected the earlier runs of such claims.
#[derive(Debug, Default)]
pub struct ClaimStream {
    /// The last claim's rows of the previous batch, not yet judged.
    pending: Option<RecordBatch>,
    earlier: EarlierClaims,
    /// The most threads a batch is judged on; `None`: every core this process may use.
    threads: Option<NonZeroUsize>,
}

impl ClaimStream {
    /// A stream whose batches are judged on at most `threads` threads (1: on the calling thread alone,
    /// e.g. inside Dask or Spark workers that already use every core; 0 is taken as 1). The caller
    /// decides (the Python functions take `CPTKIT_THREADS`); a default stream uses every core.
    pub fn with_threads(threads: usize) -> ClaimStream {
        ClaimStream { threads: Some(NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN)), ..ClaimStream::default() }
    }

    /// [`validate_batch`] of the stream's next batch (a lone batch is a fresh stream's only one).
    pub fn validate(
        &mut self,
        batch: &RecordBatch,
        reference: &Reference,
        rules: &RuleBook,
        today: time::Date,
    ) -> Result<Vec<RecordBatch>> {
        let options = JudgeOptions { today, pricing: None };
        let shape = Shape { priced: false, explain: false };
        let judge = |claim: &Claim, lines: &mut Vec<PricedLine>| reference.judge_reusing(claim, &options, rules, lines);
        judge_batch(batch, &shape, judge, &mut self.earlier, self.threads)
    }

    /// [`price_batch`] of the stream's next batch.
    pub fn price(
        &mut self,
        batch: &RecordBatch,
        reference: &Reference,
        rules: &RuleBook,
        pricing: &TablePricing,
        today: time::Date,
    ) -> Result<Vec<RecordBatch>> {
        let options = JudgeOptions { today, pricing: Some(pricing.options.clone()) };
        let shape = Shape { priced: true, explain: pricing.explain };
        let judge = |claim: &Claim, lines: &mut Vec<PricedLine>| reference.judge_reusing(claim, &options, rules, lines);
        judge_batch(batch, &shape, judge, &mut self.earlier, self.threads)
    }

    /// The rows of `pending` + `batch` that are ready: every claim except the batch's last one. A batch
    /// is checked as [`validate_batch`] checks it (required columns there, types that can be cast) even
    /// when it has no rows, so that a table of the wrong columns fails whether it has rows or not: push
    /// an empty batch of a stream's schema first to check a stream that may have no batch at all.
    pub fn push(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        if batch.num_rows() == 0 {
            LineColumns::new(&batch)?;
            return Ok(Vec::new());
        }
        let ids = claim_ids(&batch)?;
        let first_run_end = (1..ids.len()).find(|&row| !same_claim(&ids, row, 0)).unwrap_or(ids.len());
        let last_run_start = (1..ids.len()).rev().find(|&row| !same_claim(&ids, row - 1, ids.len() - 1)).unwrap_or(0);
        let mut ready = Vec::new();
        let mut from = 0;
        if let Some(pending) = self.pending.take() {
            let pending_ids = claim_ids(&pending)?;
            let continues = pending_ids.is_valid(0) && ids.is_valid(0) && pending_ids.value(0) == ids.value(0);
            if continues && first_run_end == ids.len() {
                // The whole batch continues the pending claim.
                self.pending = Some(concat(&pending, &batch)?);
                return Ok(ready);
            }
            if continues {
                ready.push(concat(&pending, &batch.slice(0, first_run_end))?);
                from = first_run_end;
            } else {
                ready.push(pending);
            }
        }
        let keep_from = last_run_start.max(from);
        if keep_from > from {
            ready.push(batch.slice(from, keep_from - from));
        }
        self.pending = Some(batch.slice(keep_from, batch.num_rows() - keep_from));
        Ok(ready)
    }

    /// Tells a fresh stream the whole table it will be pushed, in order: the batches of a table held in
    /// memory. Its claim ids are taken in now, and the filter that finds one met again is dropped
    /// before any result is made (at a million claims it held 4 MB to the end of the call). The results
    /// are the same; [`ClaimStream::settle`] fails when the batches pushed were not these.
    pub fn know_table(&mut self, batches: &[RecordBatch]) -> Result<()> {
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        self.earlier.add_ahead(rows, batches.iter().map(claim_ids))
    }

    /// The held-back last claim, at the end of the stream.
    pub fn finish(&mut self) -> Option<RecordBatch> {
        self.pending.take()
    }

    /// Makes the results of every batch the stream judged final: `results` are all of them, in order.
    /// Every run of rows of a claim id that came in more than one run is made invalid, as its own error
    /// findings would make it (`claim_valid` false, `not_valid`, no amounts), with TBL003 on its first
    /// row naming the rows of the claim's other runs: an earlier run was judged before the later one was
    /// seen, and no part of a claim is judged as the whole claim. A table whose claim ids the stream
    /// never took for met again is left as it is, at no cost; else one pass over the ids finds the runs.
    pub fn settle(&self, results: &mut [RecordBatch]) -> Result<()> {
        self.earlier.check()?;
        if self.earlier.again.is_empty() {
            return Ok(());
        }
        let unexpected = || Error::internal("a result batch is not of the result layout");
        let apart = {
            let ids: Vec<&StringArray> = results
                .iter()
                .map(|b| b.column(0).as_string_opt::<i32>())
                .collect::<Option<_>>()
                .ok_or_else(unexpected)?;
            // The runs of rows with one claim id, as the batches' runs were cut, numbered across the call.
            let runs = ids.iter().scan(0, |first_row, ids| {
                let first = *first_row;
                *first_row += ids.len();
                Some(id_runs(ids).map(move |(rows, id)| (first + rows.start..first + rows.end, id)))
            });
            crate::read::apart_claims(runs.flatten(), &self.earlier.again)
        };
        let mut first_row = 0;
        for batch in results.iter_mut() {
            let rows = first_row..first_row + batch.num_rows();
            // The runs in this batch (runs are in row order): a slice, found by halving.
            let here = &apart[apart.partition_point(|(run, _)| run.end <= rows.start)..];
            let here = &here[..here.partition_point(|(run, _)| run.start < rows.end)];
            if !here.is_empty() {
                *batch = devalidated(batch, first_row, here)?;
            }
            first_row = rows.end;
        }
        Ok(())
    }
}

/// A result batch (its first row the table's `first_row`) with the runs of rows of `apart` invalid and
/// each one's TBL003 on its first row: what judging them with the TBL003 known would have given. A run
/// that was valid loses its status, amounts and TBL004 (a valid claim's refusal by pricing); a run
/// invalid already only gains the TBL003.
fn devalidated(batch: &RecordBatch, first_row: usize, apart: &[(Range<usize>, RowIssue)]) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let unexpected = || Error::internal("a result batch is not of the result layout");
    // Each row's run of `apart`, if any (the runs are in row order and do not overlap).
    let runs: Vec<Option<&(Range<usize>, RowIssue)>> = {
        let mut runs = apart.iter().peekable();
        (first_row..first_row + rows)
            .map(|row| {
                while runs.next_if(|(run, _)| run.end <= row).is_some() {}
                runs.peek().copied().filter(|(run, _)| run.contains(&row))
            })
            .collect()
    };
    let run_of = |row: usize| runs[row];
    let valid = batch.column(2).as_boolean_opt().ok_or_else(unexpected)?;
    // The rows of runs that were valid: judged as if whole, now not.
    let was_valid: BooleanArray = (0..rows).map(|row| Some(run_of(row).is_some() && valid.value(row))).collect();
    let claim_valid: BooleanArray = (0..rows).map(|row| Some(run_of(row).is_none() && valid.value(row))).collect();
    let old_issues = batch.column(3).as_list_opt::<i32>().ok_or_else(unexpected)?;
    let items = old_issues.values().as_struct_opt().ok_or_else(unexpected)?;
    let fields: Vec<&StringArray> =
        items.columns().iter().map(|c| c.as_string_opt::<i32>()).collect::<Option<_>>().ok_or_else(unexpected)?;
    let fields: &[&StringArray; 6] = fields.as_slice().try_into().map_err(|_| unexpected())?;
    let mut issues = StructList::<6>::new(rows);
    let offsets = old_issues.value_offsets();
    for row in 0..rows {
        let kept = (offsets[row] as usize..offsets[row + 1] as usize)
            .filter(|&j| !(was_valid.value(row) && fields[0].value(j) == NOT_PRICEABLE.id));
        let added = run_of(row).filter(|(run, _)| run.start == first_row + row).map(|(_, issue)| issue);
        issues.push_with(|builders| {
            for j in kept {
                for (builder, values) in builders.iter_mut().zip(fields) {
                    builder.append_option(values.is_valid(j).then(|| values.value(j)));
                }
            }
            if let Some(issue) = added {
                write_issue(builders, issue, &KnownPath::default());
            }
        });
    }
    let mut columns = batch.columns().to_vec();
    columns[2] = Arc::new(claim_valid);
    columns[3] = Arc::new(issues.finish(layout::issue_fields(), false));
    if let Some(status) = columns.get(4) {
        let status = status.as_string_opt::<i32>().ok_or_else(unexpected)?;
        let status: StringArray =
            (0..rows).map(|row| Some(if was_valid.value(row) { "not_valid" } else { status.value(row) })).collect();
        columns[4] = Arc::new(status);
        // Amounts, rule set and explanation: none for a claim not valid.
        for column in &mut columns[5..] {
            *column = arrow_select::nullif::nullif(column, &was_valid).map_err(|e| Error::internal(e.to_string()))?;
        }
    }
    result_batch(batch.schema(), columns)
}

/// A result batch of `columns`, each cut to its length: a builder's buffers grow by doubling (or were
/// sized for a guess), and a result holds them to the end of the call, so the spare room of every
/// batch would add up to about 4% of the result (9.8 MB of 252 at a million claims). A shared buffer
/// (the input's claim ids) is left as it is.
fn result_batch(schema: SchemaRef, mut columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    columns.iter_mut().for_each(Array::shrink_to_fit);
    RecordBatch::try_new(schema, columns).map_err(|e| Error::internal(e.to_string()))
}

fn claim_ids(batch: &RecordBatch) -> Result<arrow_array::StringArray> {
    let column = batch.column_by_name(layout::CLAIM_ID.name).ok_or_else(|| {
        Error::invalid(layout::CLAIM_ID.name, "the table has no claim_id column, which the claim-lines layout requires")
    })?;
    let text = cast(column, &DataType::Utf8).map_err(|e| Error::invalid(layout::CLAIM_ID.name, e.to_string()))?;
    Ok(arrow_array::cast::AsArray::as_string::<i32>(&text).clone())
}

fn same_claim(ids: &arrow_array::StringArray, a: usize, b: usize) -> bool {
    ids.is_valid(a) && ids.is_valid(b) && ids.value(a) == ids.value(b)
}

fn concat(a: &RecordBatch, b: &RecordBatch) -> Result<RecordBatch> {
    arrow_select::concat::concat_batches(&a.schema(), [a, b]).map_err(|e| Error::invalid("table", e.to_string()))
}
