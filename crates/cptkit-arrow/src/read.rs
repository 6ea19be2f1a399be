//! Claim lines in: a record batch of any compatible column types becomes core claims. Each column is
//! cast once to its layout type; a value that cannot be read, a missing required value or claim-level
//! values that differ between a claim's lines become issues on their own rows, never a failed batch.

use std::any::Any;
use std::ops::Range;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::temporal_conversions::as_datetime_with_timezone;
use arrow_array::timezone::Tz;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, GenericListArray,
    Int32Array, Int64Array, ListArray, OffsetSizeTrait, PrimitiveArray, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_cast::cast::{CastOptions, cast_with_options};
use arrow_cast::display::array_value_to_string;
use arrow_schema::{DataType, TimeUnit};
use cptkit_core::{
    Claim, ClaimLine, Error, FieldPath, Finding, LocalityId, Location, Npi, Patient, Payer, PostalCode, ProviderRole,
    RenderingProvider, Result, Severity, ShortText, SmallVec, TaxonomyCode, UsState,
};
use foldhash::HashSet;
use rust_decimal::Decimal;
use time::{Date, PrimitiveDateTime};

use crate::layout::{self, Column, ColumnKind};

cptkit_core::edits! {
    /// A value is missing from a required column or cannot be read as its column's type.
    UNREADABLE = "TBL001", Error, "a value in the table cannot be read";
    /// A claim-level column (payer, patient, providers, diagnoses, ...) differs between lines of one claim.
    CLAIM_LEVEL_DIFFERS = "TBL002", Error, "claim-level values differ between the lines of one claim";
    /// Lines of one claim must be adjacent rows; this claim id has other rows in the same call, apart
    /// from these (every run of rows of the claim gets it, on its first row).
    CLAIM_NOT_ADJACENT = "TBL003", Error, "the lines of a claim are not adjacent rows";
    /// The claim was read and is valid, but pricing refused it (e.g. no contract conversion factor given).
    NOT_PRICEABLE = "TBL004", Error, "the claim could not be priced";
    FAILED = "TBL005", Error, "cptkit failed on this claim (a bug: please report it)";
}

/// A finding placed on one row of the table, with the column it is about when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowIssue {
    pub row: usize,
    pub finding: Finding,
    pub column: Option<&'static str>,
}

impl RowIssue {
    pub(crate) fn new(row: usize, edit: &cptkit_core::Edit, column: Option<&'static str>, message: String) -> Self {
        let hint = match edit.id {
            "TBL001" => "fix the value, or drop the row",
            "TBL002" => "repeat the same claim-level values on every line of the claim",
            "TBL003" => "sort the table by claim_id (keeping line order) so each claim's lines are adjacent",
            _ => "",
        };
        // A table issue is about a column: its path is the column's name.
        let loc = column.map_or_else(FieldPath::root, FieldPath::field);
        RowIssue { row, finding: Finding::new(*edit, loc, message, hint), column }
    }

    pub fn is_error(&self) -> bool {
        self.finding.severity == Severity::Error
    }
}

/// A value parsed from a text column (an id, a code): kept per distinct value of a dictionary column.
trait TextValue: FromStr<Err = Error> + Clone + Send + Sync + 'static {}
impl<T: FromStr<Err = Error> + Clone + Send + Sync + 'static> TextValue for T {}

/// A parsed id whose own text parses back to it, so a row holding that text can be given the value
/// without parsing it again (see [`RowReader::parsed_or_kept`]).
trait OwnText: Copy {
    fn is_own_text(&self, text: &str) -> bool;
}

macro_rules! own_text {
    ($($id:ty),*) => {
        $(impl OwnText for $id {
            // Bytes, not `as_str`: its UTF-8 check costs more than the comparison.
            #[inline(always)]
            fn is_own_text(&self, text: &str) -> bool {
                same_bytes(text.as_bytes(), self.as_bytes())
            }
        })*
    };
}

// The header's ids whose parsing costs several times the comparison (a state's does not).
own_text!(Npi, TaxonomyCode, LocalityId);

/// The claim read from a run of adjacent rows with one claim id; `None` when a row could not be read.
#[derive(Debug)]
pub struct TableClaim {
    pub rows: Range<usize>,
    pub claim: Option<Claim>,
}

/// A batch with every layout column cast to its layout type and downcast once (by column index), and
/// the values the cast could not read, by row.
#[derive(Debug)]
pub struct LineColumns {
    rows: usize,
    /// By column index: a fixed length, so a column's values are found with no bounds check.
    values: Box<[Values; COLUMNS]>,
    /// The claim-level columns a claim's other lines are compared on (see
    /// [`LineColumns::same_claim_level_values`]), found once for the batch: the plain text ones apart,
    /// compared with no dispatch on the column's type per value.
    compared_texts: Vec<StringArray>,
    compared: Vec<usize>,
    unreadable: Vec<RowIssue>,
}

/// The number of columns of the layout.
const COLUMNS: usize = layout::CLAIM_LINE_COLUMNS.len();

/// A column cast to its layout type and downcast once: rows are read with no type check or dynamic
/// call per value. An explicit tag: left to the compiler, the variant is told from a niche in an
/// array's fields, four instructions more on every value read where a tag takes one compare.
#[derive(Debug)]
#[repr(u8)]
enum Values {
    /// An optional column the table does not have.
    Absent,
    Text(StringArray),
    /// A dictionary-encoded text column, read in place.
    Dictionary(DictionaryText),
    Date(Date32Array),
    Timestamp(TimestampMicrosecondArray),
    Cents(Int64Array),
    Decimal(Decimal128Array),
    Bool(BooleanArray),
    /// A list column and its elements.
    TextList(ListArray, StringArray),
    IntList(ListArray, Int32Array),
}

impl Values {
    /// `array` (cast to `column`'s layout type, or a dictionary of text) downcast; `None` when it
    /// is not of that type.
    fn new(array: Option<&ArrayRef>, column: &Column) -> Option<Values> {
        let Some(array) = array else { return Some(Values::Absent) };
        let list = || array.as_list_opt::<i32>().cloned();
        Some(match column.kind {
            ColumnKind::Text => match array.as_string_opt::<i32>() {
                Some(text) => Values::Text(text.clone()),
                None => Values::Dictionary(DictionaryText::new(array)?),
            },
            ColumnKind::Date => Values::Date(array.as_primitive_opt()?.clone()),
            ColumnKind::Timestamp => Values::Timestamp(array.as_primitive_opt()?.clone()),
            ColumnKind::Cents => Values::Cents(array.as_primitive_opt()?.clone()),
            ColumnKind::Decimal => Values::Decimal(array.as_primitive_opt()?.clone()),
            ColumnKind::Bool => Values::Bool(array.as_boolean_opt()?.clone()),
            ColumnKind::TextList => {
                let list = list()?;
                let texts = list.values().as_string_opt::<i32>()?.clone();
                Values::TextList(list, texts)
            }
            ColumnKind::IntList => {
                let list = list()?;
                let ints = list.values().as_primitive_opt::<Int32Type>()?.clone();
                Values::IntList(list, ints)
            }
        })
    }

    /// Whether two rows hold the same value (two nulls are the same), for the kinds of the
    /// claim-level columns; any other kind answers "not known to be the same". Inlined: called for
    /// every claim-level column of a claim's other lines, and outlined its call costs more than the comparing.
    #[inline]
    fn same(&self, a: usize, b: usize) -> bool {
        fn same_in<A: Array, T: PartialEq>(array: &A, a: usize, b: usize, value: impl Fn(usize) -> T) -> bool {
            match (array.is_valid(a), array.is_valid(b)) {
                (true, true) => value(a) == value(b),
                (valid_a, valid_b) => valid_a == valid_b,
            }
        }
        match self {
            Values::Absent => true,
            Values::Text(texts) => same_text(texts, a, b),
            Values::Dictionary(dictionary) => dictionary.same(a, b),
            Values::Date(dates) => same_in(dates, a, b, |i| dates.value(i)),
            Values::Bool(bools) => same_in(bools, a, b, |i| bools.value(i)),
            Values::TextList(list, texts) => {
                let range = |i: usize| list.value_offsets()[i] as usize..list.value_offsets()[i + 1] as usize;
                same_in(list, a, b, |i| range(i).len()) && range(a).zip(range(b)).all(|(x, y)| same_text(texts, x, y))
            }
            Values::Timestamp(_) | Values::Cents(_) | Values::Decimal(_) | Values::IntList(..) => false,
        }
    }
}

/// Whether two rows of a text column hold the same text (two nulls are the same).
#[inline]
fn same_text(texts: &StringArray, a: usize, b: usize) -> bool {
    match (texts.is_valid(a), texts.is_valid(b)) {
        (true, true) => same_bytes(texts.value(a).as_bytes(), texts.value(b).as_bytes()),
        (valid_a, valid_b) => valid_a == valid_b,
    }
}

/// Whether two texts are the same, those of up to 16 bytes (the ids and codes of a claim's columns)
/// compared as the two overlapping words at their ends: a `memcmp` call for each cost twice the
/// comparing.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn same_ends<const N: usize>(a: &[u8], b: &[u8]) -> bool {
        a.first_chunk::<N>() == b.first_chunk::<N>() && a.last_chunk::<N>() == b.last_chunk::<N>()
    }
    a.len() == b.len()
        && match a.len() {
            0 => true,
            1..=3 => same_ends::<1>(a, b) && a[a.len() / 2] == b[a.len() / 2],
            4..=7 => same_ends::<4>(a, b),
            8..=16 => same_ends::<8>(a, b),
            _ => a == b,
        }
}

/// A dictionary-encoded text column, read in place rather than unpacked (see [`dictionary_in_place`]).
#[derive(Debug)]
struct DictionaryText {
    keys: Int32Array,
    values: StringArray,
    /// Each dictionary value parsed once, on first use, as the type its column is read as; made when
    /// the column is first parsed (see [`DictionaryText::cache`]).
    parsed: OnceLock<Box<[OnceLock<Parsed>]>>,
}

/// A dictionary value parsed: `Some` of the column's type, `None` when it does not parse.
type Parsed = Box<dyn Any + Send + Sync>;

impl DictionaryText {
    fn new(array: &dyn Array) -> Option<DictionaryText> {
        let dictionary: &DictionaryArray<Int32Type> = array.as_dictionary_opt()?;
        let values = dictionary.values().as_string_opt::<i32>()?.clone();
        Some(DictionaryText { keys: dictionary.keys().clone(), values, parsed: OnceLock::new() })
    }

    /// A slot per dictionary value for its parsed value; `None` when the dictionary is longer than the
    /// batch (a slice of a big table keeps the whole dictionary): slots for values the batch never uses
    /// would cost more than parsing each row.
    fn cache(&self) -> Option<&[OnceLock<Parsed>]> {
        (self.values.len() <= self.keys.len())
            .then(|| &**self.parsed.get_or_init(|| (0..self.values.len()).map(|_| OnceLock::new()).collect()))
    }

    /// The dictionary index of a row's value; `None` when the row has none. (A null key's slot may
    /// hold anything; the range check guards against a foreign array that was never validated.)
    #[inline]
    fn key(&self, row: usize) -> Option<usize> {
        let key = usize::try_from(self.keys.value(row)).ok().filter(|_| self.keys.is_valid(row))?;
        (key < self.values.len() && self.values.is_valid(key)).then_some(key)
    }

    fn text(&self, row: usize) -> Option<&str> {
        self.key(row).map(|key| self.values.value(key))
    }

    /// Whether two rows hold the same text (two nulls are the same): equal keys without reading the
    /// text (a value may repeat in the dictionary, so unequal keys compare theirs).
    fn same(&self, a: usize, b: usize) -> bool {
        match (self.key(a), self.key(b)) {
            (Some(x), Some(y)) => x == y || self.values.value(x) == self.values.value(y),
            (x, y) => x.is_none() && y.is_none(),
        }
    }
}

/// The claim ids of a table judged so far: of one batch, or of every batch of a [`crate::ClaimStream`]
/// one after another. A claim whose lines come back after other claims is not adjacent (TBL003).
///
/// The ids themselves are not kept: a filter of their fingerprints, two bytes a claim, tells an id met
/// before, and may take an id for one met before when it is not. Those it names are checked against
/// the ids once the table is judged ([`apart_claims`]). A set of 128-bit fingerprints, as before, held
/// 36 MB per million claims to the end of the call: most of what the call needed beyond its result.
///
/// A table whose every claim id is known before any is judged (one in memory) has them added ahead
/// ([`EarlierClaims::add_ahead`]): the filter is then dropped before the first result is made, and the
/// call holds no more than its input and its result.
#[derive(Debug, Default)]
pub(crate) struct EarlierClaims {
    seen: SeenFilter,
    /// The fingerprints of the ids met again, or that the filter took for met again.
    pub(crate) again: HashSet<u64>,
    /// The runs of rows whose ids were added ahead less the runs of the batches judged since, which
    /// comes to 0 at the end; `None`: ids are added as their batches are judged.
    ahead: Option<i64>,
}

impl EarlierClaims {
    /// Adds a claim id's run of rows; an id (perhaps) met before is noted in `again`.
    fn insert(&mut self, id: &str) {
        let fingerprint = fingerprint(id);
        if !self.seen.insert(fingerprint) {
            self.again.insert(fingerprint);
        }
    }

    /// Adds the claim ids of every run of rows of a table of `rows` rows (`ids`: its batches' claim id
    /// columns, in order, a run going on from one batch into the next), then drops the filter: the
    /// batches judged next only count their runs off, which must come to the same number
    /// ([`EarlierClaims::check`]).
    pub(crate) fn add_ahead(&mut self, rows: usize, ids: impl IntoIterator<Item = Result<StringArray>>) -> Result<()> {
        self.seen.expect(rows);
        let mut added = 0;
        let mut last_id: Option<String> = None;
        for ids in ids {
            let ids = ids?;
            let Some(last) = ids.len().checked_sub(1) else { continue };
            for (run, id) in id_runs(&ids) {
                let goes_on = run.start == 0 && last_id.as_deref() == Some(id);
                if !goes_on && names_claim(id) {
                    self.insert(id);
                    added += 1;
                }
            }
            last_id = ids.is_valid(last).then(|| ids.value(last).to_owned());
        }
        self.seen = SeenFilter::default();
        self.ahead = Some(added);
        Ok(())
    }

    /// Adds the id of a batch's run of rows, or counts it off the runs added ahead.
    fn add(&mut self, id: &str) {
        match &mut self.ahead {
            Some(left) => *left -= 1,
            None => self.insert(id),
        }
    }

    /// An error when the batches judged did not have the runs of rows added ahead: a claim id met again
    /// could have gone unseen.
    pub(crate) fn check(&self) -> Result<()> {
        match self.ahead {
            Some(left) if left != 0 => {
                Err(Error::internal("the batches judged were not the table whose claim ids were added ahead"))
            }
            _ => Ok(()),
        }
    }
}

/// The runs of adjacent rows with one claim id (a row with none is in no run), with their rows.
pub(crate) fn id_runs(ids: &StringArray) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut row = 0;
    std::iter::from_fn(move || {
        while row < ids.len() && ids.is_null(row) {
            row += 1;
        }
        let start = row;
        let id = (start < ids.len()).then(|| ids.value(start))?;
        row += 1;
        while row < ids.len() && ids.is_valid(row) && ids.value(row) == id {
            row += 1;
        }
        Some((start..row, id))
    })
}

/// Whether a run's claim id is one TBL003 looks for: an empty or blank id is TBL001 already, and its
/// rows are no claim to find again. One rule for the ids added ahead, those added as their batches are
/// judged (the two counts must agree) and those checked at the end.
fn names_claim(id: &str) -> bool {
    cptkit_core::required_id(id).is_ok()
}

fn fingerprint(id: &str) -> u64 {
    twox_hash::XxHash3_64::oneshot(id.as_bytes())
}

/// The fingerprints added so far, as a scalable blocked Bloom filter: each sets up to five bits of one
/// 64-bit word (one cache line read per filter), a word per four fingerprints. A full filter is kept
/// and asked, and a new one twice its size takes the next fingerprints. An added fingerprint is never
/// missed; about 1 in 55 others is taken for added at a million claims (0.4% per full filter).
#[derive(Debug, Default)]
struct SeenFilter {
    /// Each filter's words; the last one takes new fingerprints.
    filters: Vec<Vec<u64>>,
    /// How many fingerprints the last filter took.
    in_last: usize,
}

impl SeenFilter {
    /// The least words of a first filter (8 KB, for 4k claims).
    const MIN_WORDS: usize = 1 << 10;
    const PER_WORD: usize = 4;

    /// Sizes the first filter for about `claims` fingerprints (a table's first batch): a big table
    /// then has fewer filters to ask, each of which may err.
    fn expect(&mut self, claims: usize) {
        if self.filters.is_empty() {
            self.filters.push(vec![0; (claims / Self::PER_WORD).max(Self::MIN_WORDS)]);
        }
    }

    /// Adds a fingerprint; false when it may have been added before.
    fn insert(&mut self, fingerprint: u64) -> bool {
        if self.filters.iter().any(|words| Self::has(words, fingerprint)) {
            return false;
        }
        let full = self.filters.last().is_none_or(|last| self.in_last >= last.len() * Self::PER_WORD);
        if full {
            let words = self.filters.last().map_or(Self::MIN_WORDS, |last| last.len() * 2);
            self.filters.push(vec![0; words]);
            self.in_last = 0;
        }
        if let Some(words) = self.filters.last_mut() {
            let (word, bits) = Self::slot(words.len(), fingerprint);
            words[word] |= bits;
            self.in_last += 1;
        }
        true
    }

    fn has(words: &[u64], fingerprint: u64) -> bool {
        let (word, bits) = Self::slot(words.len(), fingerprint);
        words[word] & bits == bits
    }

    /// The word (the high half scaled to `words`) and the bits (five 6-bit fields of the low half) of a
    /// fingerprint.
    fn slot(words: usize, fingerprint: u64) -> (usize, u64) {
        let word = (((fingerprint >> 32) * words as u64) >> 32) as usize;
        let bits = (0..5).fold(0, |bits, field| bits | 1 << (fingerprint >> (6 * field) & 63));
        (word, bits)
    }
}

/// Runs listed in a TBL003 message, at most: a claim id loaded many times would make a huge one.
const RUNS_NAMED: usize = 5;

/// TBL003 for every run of rows (`runs`: each with its claim id, in row order) of a claim id that has
/// more than one run, among the ids whose fingerprints are in `again` (the others have one run):
/// on the run's first row, naming the rows of the claim's other runs (counted from 0, as the rows of
/// the table and of its result). Each comes with the run's rows, which it makes invalid; they are in
/// row order.
pub(crate) fn apart_claims<'a>(
    runs: impl Iterator<Item = (Range<usize>, &'a str)>,
    again: &HashSet<u64>,
) -> Vec<(Range<usize>, RowIssue)> {
    let runs: Vec<_> = runs.filter(|(_, id)| again.contains(&fingerprint(id)) && names_claim(id)).collect();
    let mut by_claim: foldhash::HashMap<&str, Vec<Range<usize>>> = foldhash::HashMap::default();
    for (rows, id) in &runs {
        by_claim.entry(id).or_default().push(rows.clone());
    }
    let shown = |rows: &Range<usize>| match rows.len() {
        1 => rows.start.to_string(),
        _ => format!("{}-{}", rows.start, rows.end - 1),
    };
    runs.iter()
        .filter_map(|(rows, id)| {
            let claim_runs = by_claim.get(id).map_or(&[][..], Vec::as_slice);
            if claim_runs.len() < 2 {
                return None; // a fingerprint the filter took for met again, or met again by another id
            }
            let others = claim_runs.iter().filter(|r| *r != rows);
            let mut named = others.take(RUNS_NAMED).map(shown).collect::<Vec<_>>().join(", ");
            let more = claim_runs.len().saturating_sub(1 + RUNS_NAMED);
            if more > 0 {
                named.push_str(&format!(" and {more} more runs of rows"));
            }
            let message = format!(
                "claim {id} also has lines in rows {named} (counted from 0), not adjacent to these: no part of \
                 it is judged as the whole claim"
            );
            Some((rows.clone(), RowIssue::new(rows.start, &CLAIM_NOT_ADJACENT, Some(layout::CLAIM_ID.name), message)))
        })
        .collect()
}

impl LineColumns {
    /// Casts each column; a missing required column or a column of an unusable type is an error naming
    /// it (the whole batch is unusable). Values that cannot be read become issues on their rows.
    pub fn new(batch: &RecordBatch) -> Result<LineColumns> {
        let mut unreadable = Vec::new();
        let columns: Vec<(Values, bool)> = layout::CLAIM_LINE_COLUMNS
            .iter()
            .map(|column| {
                let array = normalized(batch, column, &mut unreadable)?;
                let has_values = array.as_ref().is_some_and(|array| array.null_count() < array.len());
                let unexpected = || Error::internal(format!("the {} column was not cast to its type", column.name));
                Values::new(array.as_ref(), column).map(|values| (values, has_values)).ok_or_else(unexpected)
            })
            .collect::<Result<_>>()?;
        let (values, has_values): (Vec<Values>, Vec<bool>) = columns.into_iter().unzip();
        let values: Box<[Values; COLUMNS]> =
            values.into_boxed_slice().try_into().map_err(|_| Error::internal("a column is missing"))?;
        unreadable.sort_by_key(|issue| issue.row);
        // Not the claim id: a claim's rows are a run of one id. Nor a column absent or null on every row
        // (an optional column the table leaves empty, as it often does): no value differs.
        let (mut compared_texts, mut compared) = (Vec::new(), Vec::new());
        for column in layout::CLAIM_LINE_COLUMNS {
            if column.claim_level && column.index != layout::CLAIM_ID.index && has_values[column.index] {
                match &values[column.index] {
                    Values::Text(texts) => compared_texts.push(texts.clone()),
                    _ => compared.push(column.index),
                }
            }
        }
        Ok(LineColumns { rows: batch.num_rows(), values, compared_texts, compared, unreadable })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The issues of values that could not be read, by row.
    pub fn unreadable(&self) -> &[RowIssue] {
        &self.unreadable
    }

    fn unreadable_in(&self, rows: Range<usize>) -> &[RowIssue] {
        let from = self.unreadable.partition_point(|i| i.row < rows.start);
        let to = self.unreadable.partition_point(|i| i.row < rows.end);
        &self.unreadable[from..to]
    }

    /// The claim id of a row, when it has one.
    pub fn claim_id(&self, row: usize) -> Option<&str> {
        self.text_array(&layout::CLAIM_ID).filter(|a| a.is_valid(row)).map(|a| a.value(row))
    }

    /// The claim id column as text (it is required, so always there).
    pub fn claim_ids(&self) -> ArrayRef {
        Arc::new(self.text_array(&layout::CLAIM_ID).cloned().unwrap_or_else(|| StringArray::new_null(self.rows)))
    }

    /// Runs of adjacent rows with the same claim id, in order (a row without a claim id is a run of
    /// its own). Every run of a claim id that has more than one run in this batch is an issue (TBL003).
    pub fn claim_runs(&self, issues: &mut Vec<RowIssue>) -> Vec<Range<usize>> {
        let mut earlier = EarlierClaims::default();
        let runs = self.claim_runs_after(&mut earlier);
        let ids = runs.iter().filter_map(|rows| Some((rows.clone(), self.claim_id(rows.start)?)));
        issues.extend(apart_claims(ids, &earlier.again).into_iter().map(|(_, issue)| issue));
        runs
    }

    /// The runs of [`LineColumns::claim_runs`] of a batch that follows the batches of `earlier` in one
    /// table: this batch's claims join them, and a claim id met again is noted in `earlier.again`.
    pub(crate) fn claim_runs_after(&self, earlier: &mut EarlierClaims) -> Vec<Range<usize>> {
        let mut runs: Vec<Range<usize>> = Vec::new();
        if earlier.ahead.is_none() {
            earlier.seen.expect(self.rows);
        }
        for row in 0..self.rows {
            let id = self.claim_id(row);
            match runs.last_mut() {
                Some(run) if id.is_some() && self.claim_id(run.start) == id => run.end = row + 1,
                _ => {
                    if let Some(claim_id) = id.filter(|id| names_claim(id)) {
                        earlier.add(claim_id);
                    }
                    runs.push(row..row + 1);
                }
            }
        }
        runs
    }

    /// Reads the claim of `rows` (a run of [`LineColumns::claim_runs`]: rows of one claim id); issues go
    /// to `issues`. `None` if any row has an error issue.
    pub fn read_claim(&self, rows: Range<usize>, issues: &mut Vec<RowIssue>) -> Option<Claim> {
        let mut claim = None;
        self.read_claim_into(rows, issues, &mut claim).then_some(claim).flatten()
    }

    /// [`LineColumns::read_claim`] into `claim`, reusing the strings and lists of the claim it held
    /// before, so reading a table allocates almost nothing per claim. False when a row cannot be read
    /// (then `claim` holds no meaningful claim).
    pub fn read_claim_into(&self, rows: Range<usize>, issues: &mut Vec<RowIssue>, claim: &mut Option<Claim>) -> bool {
        let before = issues.len();
        let header = self.read_header(rows.start, issues, claim);
        // A cleanly read header is not read again from a line whose claim-level values are the same
        // values: the reading could only repeat it.
        let clean_header = header && issues.len() == before;
        let mut readable = header;
        let mut lines = 0;
        for row in rows.clone() {
            if row > rows.start && !(clean_header && self.same_claim_level_values(rows.start, row)) {
                self.compare_header(rows.start, row, claim.as_ref().filter(|_| header), issues);
            }
            // Every line is read, so every bad value of the claim is reported, readable or not.
            readable &= match claim.as_mut().filter(|_| header) {
                Some(claim) => self.read_line(row, issues, &mut claim.lines, lines),
                None => {
                    self.read_line(row, issues, &mut Vec::new(), 0);
                    false
                }
            };
            lines += 1;
        }
        if let Some(claim) = claim.as_mut() {
            claim.lines.truncate(lines);
        }
        readable && !self.unreadable_in(rows).iter().chain(&issues[before..]).any(RowIssue::is_error)
    }

    /// Reads the claim-level values of `row`, a later line of the claim whose first row is `first_row`,
    /// and reports the first that differs from the claim's (`first`, `None` when it could not be read).
    /// Apart from the loop over the lines: the claim it reads in, dropped on every line when declared
    /// there, is made only for the lines that need it.
    fn compare_header(&self, first_row: usize, row: usize, first: Option<&Claim>, issues: &mut Vec<RowIssue>) {
        let mut other = None;
        if self.read_header(row, issues, &mut other)
            && let (Some(first), Some(this)) = (first, other.as_ref())
            && let Some(column) = first_difference(first, this)
        {
            let message = format!("{column} differs from the claim's first line (row {first_row})");
            issues.push(RowIssue::new(row, &CLAIM_LEVEL_DIFFERS, Some(column), message));
        }
    }

    /// Whether two rows of one claim hold the same value in every claim-level column.
    fn same_claim_level_values(&self, a: usize, b: usize) -> bool {
        self.compared_texts.iter().all(|texts| same_text(texts, a, b))
            && self.compared.iter().all(|&index| self.values[index].same(a, b))
    }

    /// Reads a row's claim-level values into `claim` (created on first use).
    fn read_header(&self, row: usize, issues: &mut Vec<RowIssue>, claim: &mut Option<Claim>) -> bool {
        let mut r = RowReader { columns: self, row, issues, failed: false, last_day: None };
        // The ids the claim buffer holds from the last claim read, kept where this row repeats them.
        let last = claim.as_ref();
        let claim_id = r.required_id(&layout::CLAIM_ID);
        let payer_id = r.required_id(&layout::PAYER_ID);
        let plan_type = r.required(&layout::PLAN_TYPE);
        let place_of_service = r.required(&layout::PLACE_OF_SERVICE);
        let frequency_code = cptkit_core::frequency_code(r.text(&layout::FREQUENCY_CODE).unwrap_or_default());
        let birth_date = r.required_date(&layout::PATIENT_BIRTH_DATE);
        let member_id = r.text(&layout::MEMBER_ID).unwrap_or("");
        let billing_provider_npi =
            r.parsed_or_kept(&layout::BILLING_PROVIDER_NPI, last.map(|c| c.billing_provider_npi));
        let npi = r.parsed_or_kept(&layout::RENDERING_NPI, last.map(|c| c.rendering_provider.npi));
        let taxonomy = r.parsed_or_kept(&layout::RENDERING_TAXONOMY, last.and_then(|c| c.rendering_provider.taxonomy));
        // No stated role: the one the taxonomy implies (none: validation says so, PRV004).
        let role =
            r.optional::<ProviderRole>(&layout::RENDERING_ROLE).or_else(|| taxonomy.and_then(ProviderRole::implied_by));
        let qualifying_apm = r.bool(&layout::QUALIFYING_APM);
        let medicare_locality = r.parsed_or_kept(&layout::MEDICARE_LOCALITY, last.and_then(|c| c.medicare_locality));
        let mut location = |state, zip| {
            let location = Location { state: r.optional(state), zip: r.optional(zip) };
            // (Not compared with the default location: that compares the ZIP's 16 bytes.)
            (location.state.is_some() || location.zip.is_some()).then_some(location)
        };
        let service_facility_location = location(&layout::SERVICE_FACILITY_STATE, &layout::SERVICE_FACILITY_ZIP);
        let billing_provider_location = location(&layout::BILLING_PROVIDER_STATE, &layout::BILLING_PROVIDER_ZIP);
        let (
            Some(claim_id),
            Some(payer_id),
            Some(plan_type),
            Some(place_of_service),
            Some(birth_date),
            Some(billing_provider_npi),
            Some(npi),
            false,
        ) = (claim_id, payer_id, plan_type, place_of_service, birth_date, billing_provider_npi, npi, r.failed)
        else {
            return false;
        };
        let rendering_provider = RenderingProvider { npi, taxonomy, role, qualifying_apm };
        let claim = claim.get_or_insert_with(|| Claim {
            claim_id: ShortText::default(),
            payer: Payer { id: ShortText::default(), plan_type },
            place_of_service,
            frequency_code: ShortText::default(),
            patient: Patient { birth_date, member_id: ShortText::default() },
            billing_provider_npi,
            rendering_provider: rendering_provider.clone(),
            medicare_locality,
            diagnoses: SmallVec::new(),
            lines: Vec::new(),
            service_facility_location,
            billing_provider_location,
        });
        // The ids as the core made them in reading them: no second copy.
        claim.claim_id = claim_id;
        claim.payer.id = payer_id;
        claim.payer.plan_type = plan_type;
        claim.place_of_service = place_of_service;
        set(&mut claim.frequency_code, frequency_code);
        claim.patient.birth_date = birth_date;
        set(&mut claim.patient.member_id, member_id);
        claim.billing_provider_npi = billing_provider_npi;
        claim.rendering_provider = rendering_provider;
        claim.medicare_locality = medicare_locality;
        claim.service_facility_location = service_facility_location;
        claim.billing_provider_location = billing_provider_location;
        r.text_list_into(&layout::DIAGNOSES, &mut claim.diagnoses) && !r.failed
    }

    /// Reads a row's line-level values into `lines[index]` (pushed when `lines` is shorter).
    fn read_line(&self, row: usize, issues: &mut Vec<RowIssue>, lines: &mut Vec<ClaimLine>, index: usize) -> bool {
        let mut r = RowReader { columns: self, row, issues, failed: false, last_day: None };
        let procedure_code = r.required(&layout::PROCEDURE_CODE);
        let unit_basis = r.required(&layout::UNIT_BASIS);
        let quantity = r.required_decimal(&layout::QUANTITY);
        let start_time = r.timestamp(&layout::START_TIME);
        let end_time = r.timestamp(&layout::END_TIME);
        let charge_cents = r.required_cents(&layout::CHARGE_CENTS);
        let date_of_service = r.required_date(&layout::DATE_OF_SERVICE);
        let case_id = r.text(&layout::CASE_ID).unwrap_or("");
        let present_at_induction = r.bool(&layout::PRESENT_AT_INDUCTION);
        let (Some(procedure_code), Some(unit_basis), Some(quantity), Some(charge_cents), Some(date_of_service), false) =
            (procedure_code, unit_basis, quantity, charge_cents, date_of_service, r.failed)
        else {
            return false;
        };
        let line = match lines.get_mut(index) {
            Some(line) => {
                // Each value set in place: the line keeps its lists and case id (their allocations),
                // and no line is built, moved in and dropped. Every field is named, so a field added to
                // `ClaimLine` cannot keep the last claim's value here unnoticed.
                let ClaimLine {
                    procedure_code: code,
                    modifiers: _,
                    unit_basis: basis,
                    quantity: minutes_or_units,
                    start_time: start,
                    end_time: end,
                    diagnosis_pointers: _,
                    charge_cents: charge,
                    date_of_service: day,
                    case_id: _,
                    present_at_induction: induction,
                } = line;
                (*code, *basis, *minutes_or_units) = (procedure_code, unit_basis, quantity);
                (*start, *end, *charge) = (start_time, end_time, charge_cents);
                (*day, *induction) = (date_of_service, present_at_induction);
                line
            }
            None => {
                lines.push(ClaimLine {
                    procedure_code,
                    modifiers: SmallVec::new(),
                    unit_basis,
                    quantity,
                    start_time,
                    end_time,
                    diagnosis_pointers: SmallVec::new(),
                    charge_cents,
                    date_of_service,
                    case_id: ShortText::default(),
                    present_at_induction,
                });
                let last = lines.len() - 1;
                &mut lines[last]
            }
        };
        set(&mut line.case_id, case_id);
        r.text_list_into(&layout::MODIFIERS, &mut line.modifiers)
            && r.pointers_into(&layout::DIAGNOSIS_POINTERS, &mut line.diagnosis_pointers)
            && !r.failed
    }

    fn values(&self, column: &Column) -> &Values {
        &self.values[column.index]
    }

    fn text_array(&self, column: &Column) -> Option<&StringArray> {
        match self.values(column) {
            Values::Text(text) => Some(text),
            _ => None,
        }
    }

    fn dictionary(&self, column: &Column) -> Option<&DictionaryText> {
        match self.values(column) {
            Values::Dictionary(dictionary) => Some(dictionary),
            _ => None,
        }
    }
}

/// The first claim-level column whose value differs between two headers read from one claim's rows.
fn first_difference(a: &Claim, b: &Claim) -> Option<&'static str> {
    let (pa, pb) = (&a.rendering_provider, &b.rendering_provider);
    let differs = [
        (layout::PAYER_ID.name, a.payer.id != b.payer.id),
        (layout::PLAN_TYPE.name, a.payer.plan_type != b.payer.plan_type),
        (layout::PLACE_OF_SERVICE.name, a.place_of_service != b.place_of_service),
        (layout::FREQUENCY_CODE.name, a.frequency_code != b.frequency_code),
        (layout::PATIENT_BIRTH_DATE.name, a.patient.birth_date != b.patient.birth_date),
        (layout::MEMBER_ID.name, a.patient.member_id != b.patient.member_id),
        (layout::BILLING_PROVIDER_NPI.name, a.billing_provider_npi != b.billing_provider_npi),
        (layout::RENDERING_NPI.name, pa.npi != pb.npi),
        (layout::RENDERING_TAXONOMY.name, pa.taxonomy != pb.taxonomy),
        (layout::RENDERING_ROLE.name, pa.role != pb.role),
        (layout::QUALIFYING_APM.name, pa.qualifying_apm != pb.qualifying_apm),
        (layout::MEDICARE_LOCALITY.name, a.medicare_locality != b.medicare_locality),
        (layout::DIAGNOSES.name, a.diagnoses != b.diagnoses),
        (
            layout::SERVICE_FACILITY_STATE.name,
            state(&a.service_facility_location) != state(&b.service_facility_location),
        ),
        (layout::SERVICE_FACILITY_ZIP.name, zip(&a.service_facility_location) != zip(&b.service_facility_location)),
        (
            layout::BILLING_PROVIDER_STATE.name,
            state(&a.billing_provider_location) != state(&b.billing_provider_location),
        ),
        (layout::BILLING_PROVIDER_ZIP.name, zip(&a.billing_provider_location) != zip(&b.billing_provider_location)),
    ];
    differs.into_iter().find_map(|(column, differs)| differs.then_some(column))
}

/// A location's state and ZIP, each from its own column (absent when the location is).
fn state(location: &Option<Location>) -> Option<&UsState> {
    location.as_ref()?.state.as_ref()
}

fn zip(location: &Option<Location>) -> Option<&PostalCode> {
    location.as_ref()?.zip.as_ref()
}

/// Casts `column` of `batch` to its layout type. Values the cast turns to null could not be read:
/// each becomes an issue on its row, naming the value.
fn normalized(batch: &RecordBatch, column: &Column, issues: &mut Vec<RowIssue>) -> Result<Option<ArrayRef>> {
    // Two columns of one name: which one holds the claims' values is anyone's guess.
    let named = batch.schema_ref().fields().iter().filter(|f| f.name() == column.name).count();
    if named > 1 {
        return Err(Error::invalid(
            column.name,
            format!("the table has {named} columns named {}: keep one", column.name),
        ));
    }
    let Some(input) = batch.column_by_name(column.name) else {
        if column.required {
            return Err(Error::invalid(
                column.name,
                format!("the table has no {} column, which the claim-lines layout requires", column.name),
            ));
        }
        return Ok(None);
    };
    let wanted = column.kind.data_type();
    if input.data_type() == &wanted {
        return Ok(Some(input.clone()));
    }
    // Arrow would wrap each value of a scalar column into a list of one ("['M54.16' 'M48.062']" as one
    // diagnosis): a list column must hold lists.
    let is_list = |t: &DataType| matches!(t, DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..));
    if is_list(&wanted) && !is_list(input.data_type()) && input.data_type() != &DataType::Null {
        return Err(Error::invalid(
            column.name,
            format!(
                "a {} column cannot be read as {}: give a list per row (a frame that passed through text, as \
                 Dask's from_pandas makes of list columns, holds text)",
                input.data_type(),
                kind_name(column.kind)
            ),
        ));
    }
    if let Some(refused) = decimal_with_places(input.data_type(), column) {
        return Err(refused);
    }
    let options = CastOptions { safe: true, ..CastOptions::default() };
    if let Some(dictionary) = dictionary_in_place(input, column, &options) {
        return Ok(Some(dictionary));
    }
    let cast = match claim_text(input, column) {
        Some(parsed) => parsed,
        None => {
            let zoned = local_clock(input, column)?;
            cast_with_options(zoned.as_ref().unwrap_or(input), &wanted, &options).map_err(|e| {
                Error::invalid(column.name, format!("a {} column cannot be read as {wanted}: {e}", input.data_type()))
            })?
        }
    };
    // Logical nulls: a column of the null type, run-end encoded or a dictionary has nulls that its
    // own null buffer does not show (pyarrow gives an all-None column the null type).
    let input_nulls = input.logical_nulls();
    let input_null = |row: usize| input_nulls.as_ref().is_some_and(|nulls| nulls.is_null(row));
    let cast = match changed_by_cast(input, &cast, column) {
        Some(lost) => arrow_select::nullif::nullif(&cast, &lost).map_err(|e| Error::internal(e.to_string()))?,
        None => cast,
    };
    if cast.null_count() > input_nulls.as_ref().map_or(0, |nulls| nulls.null_count()) {
        for row in (0..input.len()).filter(|&row| !input_null(row) && cast.is_null(row)) {
            let value = array_value_to_string(input, row).unwrap_or_default();
            // Empty text is no value, as in a text column (a table read from CSV as text).
            if value.is_empty() && is_text(input.data_type()) {
                continue;
            }
            // Patient data is never repeated in a message (messages reach logs).
            let shown = if cptkit_core::is_patient_field(column.claim_field[0]) {
                "the value (patient data: not shown)".to_owned()
            } else {
                format!("{value:?}")
            };
            let message = format!("{}: cannot read {shown} as {}", column.name, kind_name(column.kind));
            issues.push(RowIssue::new(row, &UNREADABLE, Some(column.name), message));
        }
    }
    Ok(Some(cast))
}

/// A decimal with places after the point (any scale but 0) in a column of whole numbers, cents or
/// diagnosis pointers, refused for the whole table: such a money column holds dollars (decimal(12, 2) is
/// the usual SQL and Parquet type of an amount), and its whole values (1500.00) would pass the cast as
/// 1500 cents, a hundred times too small. The claim's other faces take only integers there. A float
/// column stays accepted (pandas makes one of an integer column with missing values); its fractions are
/// TBL001 ([`changed_by_cast`]).
fn decimal_with_places(input: &DataType, column: &Column) -> Option<Error> {
    let element = match (column.kind, input) {
        (ColumnKind::Cents, _) => input,
        (ColumnKind::IntList, DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _)) => {
            item.data_type()
        }
        _ => return None,
    };
    let scale = match element {
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal128(_, scale)
        | DataType::Decimal256(_, scale) => *scale,
        _ => return None,
    };
    let (what, why) = match column.kind {
        ColumnKind::Cents => ("whole cents", " (an amount in dollars would be read as cents)"),
        _ => ("whole numbers", ""),
    };
    (scale != 0).then(|| {
        Error::invalid(
            column.name,
            format!("a {input} column, a decimal with places after the point: give {what} as integers{why}"),
        )
    })
}

/// Text in a time, date, quantity or true/false column, read by the parsers the claim's JSON and wire
/// forms use: Arrow's cast takes other forms ("2025-3-4", " 90", "2025-03-04 08:00:00", a zone offset
/// read as UTC; "Y", "yes", "1", "T" as true) and refuses some of the claim's ("2025-03-04T08:00").
/// `None` for other columns and types.
fn claim_text(input: &ArrayRef, column: &Column) -> Option<ArrayRef> {
    if !is_text(input.data_type())
        || !matches!(column.kind, ColumnKind::Timestamp | ColumnKind::Date | ColumnKind::Decimal | ColumnKind::Bool)
    {
        return None;
    }
    let text = arrow_cast::cast(input, &DataType::Utf8).ok()?;
    let values = text.as_string::<i32>().iter().map(|value| value.filter(|v| !v.is_empty()));
    Some(match column.kind {
        ColumnKind::Timestamp => {
            let read = |v: &str| cptkit_core::local_time::parse(v).ok().map(crate::write::micros);
            Arc::new(values.map(|v| v.and_then(read)).collect::<TimestampMicrosecondArray>())
        }
        ColumnKind::Date => {
            let read = |v: &str| cptkit_core::parse_date(v).ok().map(days_from_date);
            Arc::new(values.map(|v| v.and_then(read)).collect::<Date32Array>())
        }
        ColumnKind::Bool => {
            // As the claim's JSON reads a boolean: true or false, nothing else.
            let read = |v: &str| match v {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
            Arc::new(values.map(|v| v.and_then(read)).collect::<BooleanArray>())
        }
        _ => {
            // As the wire reads a quantity; more places than the layout keeps are not rounded.
            let read = |v: &str| {
                let quantity = cptkit_core::quantity(v.parse::<Decimal>().ok()?);
                let fits = quantity.scale() <= layout::DECIMAL_SCALE as u32;
                fits.then(|| crate::write::scaled(quantity, column.name).ok()).flatten()
            };
            let decimals = values.map(|v| v.and_then(read)).collect::<Decimal128Array>();
            Arc::new(decimals.with_precision_and_scale(layout::DECIMAL_PRECISION, layout::DECIMAL_SCALE).ok()?)
        }
    })
}

/// Text, plain or dictionary-encoded.
fn is_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Dictionary(_, values) => values.is_string(),
        other => other.is_string(),
    }
}

/// A timestamp with a time zone, as the local time it means: the layout's times and dates are the local
/// clock's, where Arrow's cast would keep the UTC clock's (08:00 in New York read as 13:00). Other
/// columns: `None`, cast as they are.
fn local_clock(input: &ArrayRef, column: &Column) -> Result<Option<ArrayRef>> {
    let DataType::Timestamp(_, Some(zone)) = input.data_type() else { return Ok(None) };
    if !matches!(column.kind, ColumnKind::Timestamp | ColumnKind::Date) {
        return Ok(None);
    }
    let tz: Tz = zone.parse().map_err(|e| Error::invalid(column.name, format!("{}: {e}", column.name)))?;
    let instants = arrow_cast::cast(input, &DataType::Timestamp(TimeUnit::Microsecond, Some(zone.clone())))
        .map_err(|e| Error::invalid(column.name, format!("{}: {e}", column.name)))?;
    let local: TimestampMicrosecondArray = instants.as_primitive::<TimestampMicrosecondType>().unary_opt(|utc| {
        let local = as_datetime_with_timezone::<TimestampMicrosecondType>(utc, tz)?.naive_local();
        Some(local.and_utc().timestamp_micros())
    });
    Ok(Some(Arc::new(local)))
}

/// The rows whose value the cast changed, which must not pass unseen: money given as floats or decimals
/// that are not whole cents (150000.7, where the same text cannot be read at all), diagnosis pointers
/// given as fractions (2.9 would be pointer 2; the claim's JSON refuses it), and a quantity given as a
/// decimal with more places than the layout keeps (90.00005 minutes would be 90.0001; the one judge
/// reads it exactly, and so does [`claim_text`]). A float quantity is approximate by nature: it is read
/// to the nearest ten-thousandth. A true/false column given as numbers is read only as 0 and 1 (a flag
/// as SQL and CSV exports write it): Arrow reads any other number as true.
fn changed_by_cast(input: &ArrayRef, cast: &ArrayRef, column: &Column) -> Option<BooleanArray> {
    let changed = match column.kind {
        ColumnKind::Bool if input.data_type().is_numeric() => cast_back_differs(input, cast)?,
        ColumnKind::Cents if is_decimal(input.data_type()) || input.data_type().is_floating() => {
            cast_back_differs(input, cast)?
        }
        ColumnKind::Decimal if is_decimal(input.data_type()) => cast_back_differs(input, cast)?,
        ColumnKind::IntList => {
            let cast = cast.as_list_opt::<i32>()?;
            match input.data_type() {
                DataType::List(_) => list_rows_changed(input.as_list_opt::<i32>()?, cast)?,
                // Polars gives every list as a large list.
                DataType::LargeList(_) => list_rows_changed(input.as_list_opt::<i64>()?, cast)?,
                _ => return None,
            }
        }
        _ => return None,
    };
    (changed.true_count() > 0).then_some(changed)
}

/// The rows of a list of numbers whose elements the cast to whole numbers changed (2.9 to 2): the
/// elements are cast in place, the offsets kept, so a row changed if any of its elements did.
fn list_rows_changed<O: OffsetSizeTrait>(input: &GenericListArray<O>, cast: &ListArray) -> Option<BooleanArray> {
    let element = input.value_type();
    if !(element.is_floating() || is_decimal(&element)) {
        return None;
    }
    let elements = cast_back_differs(input.values(), cast.values())?;
    let offsets = input.value_offsets();
    let changed = |row: usize| {
        (offsets[row].as_usize()..offsets[row + 1].as_usize()).any(|j| elements.is_valid(j) && elements.value(j))
    };
    Some((0..input.len()).map(|row| Some(changed(row))).collect())
}

fn is_decimal(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Decimal128(..) | DataType::Decimal256(..))
}

fn cast_back_differs(input: &ArrayRef, cast: &ArrayRef) -> Option<BooleanArray> {
    let back = arrow_cast::cast(cast, input.data_type()).ok()?;
    arrow_ord::cmp::neq(&back, input).ok()
}

/// A dictionary-encoded text column with 32-bit keys and plain text values, for reading in place:
/// its values are parsed once each and its rows never unpacked (they would cost a copy of every
/// row's text). Other key and value types are converted to these; `None` (unpack it instead) when the
/// column is not text, is the claim id (the results give it back as plain text), or a key does not fit.
fn dictionary_in_place(input: &ArrayRef, column: &Column, options: &CastOptions) -> Option<ArrayRef> {
    let DataType::Dictionary(_, value) = input.data_type() else { return None };
    let text_values = matches!(**value, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    if column.kind != ColumnKind::Text || column.index == layout::CLAIM_ID.index || !text_values {
        return None;
    }
    let wanted = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let dictionary = cast_with_options(input, &wanted, options).ok()?;
    (dictionary.null_count() == input.null_count()).then_some(dictionary)
}

fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Text => "text",
        ColumnKind::Date => "a date",
        ColumnKind::Timestamp => "a local date-time",
        ColumnKind::Cents => "whole cents",
        ColumnKind::Decimal => "a decimal of at most 4 places",
        ColumnKind::Bool => "true or false",
        ColumnKind::TextList => "a list of text",
        ColumnKind::IntList => "a list of whole numbers",
    }
}

/// Reads the values of one row, recording an issue for each that is missing or unreadable.
struct RowReader<'a> {
    columns: &'a LineColumns,
    row: usize,
    issues: &'a mut Vec<RowIssue>,
    failed: bool,
    /// The day of the row's last date or time read, and its date: a line's start and end times mostly
    /// fall on its date of service, and the day's date costs some thirty-five instructions to make.
    last_day: Option<(i32, Date)>,
}

impl<'a> RowReader<'a> {
    fn issue(&mut self, column: &Column, message: String) {
        self.failed = true;
        // A value the cast could not read is already reported for this row.
        let row = self.row;
        let reported = self.columns.unreadable_in(row..row + 1).iter().any(|i| i.column == Some(column.name));
        if !reported {
            self.issues.push(RowIssue::new(self.row, &UNREADABLE, Some(column.name), message));
        }
    }

    #[cold]
    fn missing<T>(&mut self, column: &Column, why: &str) -> Option<T> {
        self.issue(column, format!("{}: {why}", column.name));
        None
    }

    fn values(&self, column: &Column) -> &'a Values {
        self.columns.values(column)
    }

    /// Text, with empty text read as absent. Inlined, as are the other readers of one value of every
    /// claim or line: outlined, each call cost a fifth to a third of the reading.
    #[inline(always)]
    fn text(&self, column: &Column) -> Option<&'a str> {
        match self.columns.text_array(column) {
            Some(texts) => self.plain_text(texts),
            None => self.columns.dictionary(column)?.text(self.row).filter(|t| !t.is_empty()),
        }
    }

    /// This row's value of a plain text column, empty read as absent.
    fn plain_text(&self, texts: &'a StringArray) -> Option<&'a str> {
        texts.is_valid(self.row).then(|| texts.value(self.row)).filter(|t| !t.is_empty())
    }

    #[inline(always)]
    fn required_text(&mut self, column: &Column) -> Option<&'a str> {
        match self.text(column) {
            Some(text) => Some(text),
            None => self.absent(column, true),
        }
    }

    /// An id the claim cannot do without, read as every face reads it ([`cptkit_core::required_id`]).
    #[inline(always)]
    fn required_id(&mut self, column: &Column) -> Option<ShortText> {
        let text = self.required_text(column)?;
        match cptkit_core::required_id(text) {
            Ok(id) => Some(id),
            Err(_) => self.missing(column, "required, but blank"),
        }
    }

    /// No value: an issue when the column is required.
    fn absent<T>(&mut self, column: &Column, required: bool) -> Option<T> {
        if required { self.missing(column, "required, but empty") } else { None }
    }

    /// Inlined, with the issue made out of line: a header parses a dozen values, and the call cost
    /// as much as a short id's parsing. Always: left to the compiler, a state's was not.
    #[inline(always)]
    fn parse<T: FromStr<Err = Error>>(&mut self, column: &Column, text: &str) -> Option<T> {
        match text.parse() {
            Ok(value) => Some(value),
            Err(e) => self.unparsed(column, &e),
        }
    }

    #[cold]
    fn unparsed<T>(&mut self, column: &Column, e: &Error) -> Option<T> {
        self.issue(column, format!("{}: {}", column.name, e.message()));
        None
    }

    fn required<T: TextValue>(&mut self, column: &Column) -> Option<T> {
        self.parsed(column, true)
    }

    fn optional<T: TextValue>(&mut self, column: &Column) -> Option<T> {
        self.parsed(column, false)
    }

    /// A text value parsed, empty read as absent.
    #[inline(always)]
    fn parsed<T: TextValue>(&mut self, column: &Column, required: bool) -> Option<T> {
        // Plain text first: the dictionary is looked for only when a column is not plain.
        let text = match self.columns.text_array(column) {
            Some(texts) => self.plain_text(texts),
            None => match self.columns.dictionary(column) {
                Some(dictionary) => return self.parsed_once(dictionary, column, required),
                None => None,
            },
        };
        match text {
            Some(text) => self.parse(column, text),
            None => self.absent(column, required),
        }
    }

    /// [`RowReader::parsed`] (required as the layout says), giving `last` (the value the claim buffer
    /// holds from the last claim read) when this row's text is its text, which parses back to it:
    /// consecutive claims often repeat an id (a billing provider's NPI, a practitioner's NPI and
    /// taxonomy), and comparing costs a fraction of parsing. A dictionary column parses each distinct
    /// value once already.
    #[inline(always)]
    fn parsed_or_kept<T: TextValue + OwnText>(&mut self, column: &Column, last: Option<T>) -> Option<T> {
        let Some(texts) = self.columns.text_array(column) else { return self.parsed(column, column.required) };
        match self.plain_text(texts) {
            Some(text) if last.is_some_and(|last| last.is_own_text(text)) => last,
            Some(text) => self.parse(column, text),
            None => self.absent(column, column.required),
        }
    }

    /// [`RowReader::parsed`] from a dictionary column: each distinct value is parsed once (one that
    /// does not parse is parsed again on each of its rows, for the issue).
    fn parsed_once<T: TextValue>(&mut self, dictionary: &DictionaryText, column: &Column, required: bool) -> Option<T> {
        let value = dictionary.key(self.row).map(|key| (key, dictionary.values.value(key)));
        let Some((key, text)) = value.filter(|(_, text)| !text.is_empty()) else {
            return self.absent(column, required);
        };
        let Some(cache) = dictionary.cache() else { return self.parse(column, text) };
        let cached = cache[key].get_or_init(|| Box::new(text.parse::<T>().ok()));
        match cached.downcast_ref::<Option<T>>() {
            Some(Some(value)) => Some(value.clone()),
            _ => self.parse(column, text),
        }
    }

    fn bool(&self, column: &Column) -> bool {
        matches!(self.values(column), Values::Bool(bools) if bools.is_valid(self.row) && bools.value(self.row))
    }

    /// This row's value of a primitive column (`None`: the column is not of this type, or absent).
    fn primitive<T: ArrowPrimitiveType>(
        &mut self,
        column: &Column,
        array: Option<&PrimitiveArray<T>>,
    ) -> Option<T::Native> {
        match array.filter(|a| a.is_valid(self.row)) {
            Some(a) => Some(a.value(self.row)),
            None if column.required => self.missing(column, "required, but empty"),
            None => None,
        }
    }

    /// The date of a day counted from 1970-01-01, the row's last one kept.
    #[inline(always)]
    fn date(&mut self, days: i32) -> Option<Date> {
        match self.last_day {
            Some((day, date)) if day == days => Some(date),
            _ => {
                let date = date_from_days(days)?;
                self.last_day = Some((days, date));
                Some(date)
            }
        }
    }

    #[inline(always)]
    fn required_date(&mut self, column: &Column) -> Option<Date> {
        let dates = match self.values(column) {
            Values::Date(dates) => Some(dates),
            _ => None,
        };
        let days = self.primitive(column, dates)?;
        match self.date(days) {
            Some(date) => Some(date),
            None => self.missing(column, "the date is out of range"),
        }
    }

    fn required_cents(&mut self, column: &Column) -> Option<i64> {
        let cents = match self.values(column) {
            Values::Cents(cents) => Some(cents),
            _ => None,
        };
        self.primitive(column, cents)
    }

    /// The quantity (the layout's one decimal column), held as every face holds it.
    fn required_decimal(&mut self, column: &Column) -> Option<Decimal> {
        let decimals = match self.values(column) {
            Values::Decimal(decimals) => Some(decimals),
            _ => None,
        };
        let raw = self.primitive(column, decimals)?;
        let value = match i64::try_from(raw) {
            // Trailing zeros dropped on the integer, where it is cheap: the core's normalizing then has
            // none left to divide off its 96-bit parts.
            Ok(mut mantissa) => {
                let mut scale = layout::DECIMAL_SCALE as u32;
                // Most quantities are whole (minutes, units): every place dropped by one division.
                let whole = 10i64.pow(scale);
                if mantissa % whole == 0 {
                    (mantissa, scale) = (mantissa / whole, 0);
                }
                while scale > 0 && mantissa % 10 == 0 {
                    (mantissa, scale) = (mantissa / 10, scale - 1);
                }
                Ok(Decimal::new(mantissa, scale))
            }
            Err(_) => Decimal::try_from_i128_with_scale(raw, layout::DECIMAL_SCALE as u32),
        };
        match value {
            Ok(value) => Some(cptkit_core::quantity(value)),
            Err(_) => self.missing(column, "the number is too large"),
        }
    }

    #[inline(always)]
    fn timestamp(&mut self, column: &Column) -> Option<PrimitiveDateTime> {
        const MICROS_PER_DAY: i64 = 86_400_000_000;
        let timestamps = match self.values(column) {
            Values::Timestamp(timestamps) => Some(timestamps),
            _ => None,
        };
        let micros = self.primitive(column, timestamps)?;
        let day = i32::try_from(micros.div_euclid(MICROS_PER_DAY)).ok().and_then(|days| self.date(days));
        let in_day = micros.rem_euclid(MICROS_PER_DAY);
        let time = time::Time::from_hms_micro(
            (in_day / 3_600_000_000) as u8,
            (in_day / 60_000_000 % 60) as u8,
            (in_day / 1_000_000 % 60) as u8,
            (in_day % 1_000_000) as u32,
        );
        match (day, time) {
            (Some(day), Ok(time)) => Some(PrimitiveDateTime::new(day, time)),
            _ => self.missing(column, "the date-time is out of range"),
        }
    }

    /// A list column's values at this row into `out` (a null list: empty). A null element is an issue.
    /// `list` is the column with its elements (`None`: not of this type, or absent).
    fn list_into<E: Array, T, const N: usize>(
        &mut self,
        column: &Column,
        list: Option<(&ListArray, &'a E)>,
        out: &mut SmallVec<[T; N]>,
        read: impl Fn(&mut Self, &'a E, usize) -> Option<T>,
    ) -> bool {
        out.clear();
        let Some((list, elements)) = list.filter(|(list, _)| list.is_valid(self.row)) else {
            return !column.required || self.missing::<()>(column, "required, but empty").is_some();
        };
        // Offsets into the shared elements: no per-row slice of the list.
        let offsets = list.value_offsets();
        let (start, end) = (offsets[self.row] as usize, offsets[self.row + 1] as usize);
        for i in start..end {
            let value = if elements.is_null(i) {
                self.missing(column, &format!("element {} is empty or cannot be read", i - start))
            } else {
                read(self, elements, i)
            };
            match value {
                Some(value) => out.push(value),
                None => return false,
            }
        }
        true
    }

    fn text_list_into<T: FromStr<Err = Error>, const N: usize>(
        &mut self,
        column: &Column,
        out: &mut SmallVec<[T; N]>,
    ) -> bool {
        let list = match self.values(column) {
            Values::TextList(list, texts) => Some((list, texts)),
            _ => None,
        };
        self.list_into(column, list, out, |r, texts, i| r.parse(column, texts.value(i)))
    }

    fn pointers_into<const N: usize>(&mut self, column: &Column, out: &mut SmallVec<[u32; N]>) -> bool {
        let list = match self.values(column) {
            Values::IntList(list, ints) => Some((list, ints)),
            _ => None,
        };
        self.list_into(column, list, out, |r, ints, i| {
            let pointer = ints.value(i);
            match u32::try_from(pointer) {
                Ok(p) => Some(p),
                Err(_) => r.missing(column, &format!("pointer {pointer} is negative")),
            }
        })
    }
}

/// Replaces the text: inline when short (no allocation), else keeping the heap block it had. Inlined:
/// outlined, its call cost a third of the replacing.
#[inline(always)]
fn set(text: &mut ShortText, value: &str) {
    if value.len() <= std::mem::size_of::<ShortText>() {
        *text = ShortText::new(value);
    } else {
        text.clear();
        text.push_str(value);
    }
}

/// Arrow Date32 counts days from 1970-01-01.
pub(crate) fn date_from_days(days: i32) -> Option<Date> {
    Date::from_julian_day(UNIX_EPOCH_JULIAN_DAY.checked_add(days)?).ok()
}

pub(crate) fn days_from_date(date: Date) -> i32 {
    date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY
}

const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims_to_batch;
    use cptkit_core::synthetic::SyntheticClaims;

    /// Dictionary text columns of any key width and text type are kept as dictionaries, not unpacked;
    /// the claim id (given back in the results as plain text) and non-text columns are cast as before.
    #[test]
    fn dictionary_text_columns_are_read_in_place() {
        let claims: Vec<Claim> = SyntheticClaims::new(4).unwrap().take(100).collect();
        let batch = claims_to_batch(&claims).unwrap();
        let dictionary = |key: DataType, value: DataType| DataType::Dictionary(Box::new(key), Box::new(value));
        let encode = |name: &str, wanted: DataType| {
            cast_with_options(batch.column_by_name(name).unwrap(), &wanted, &CastOptions::default()).unwrap()
        };
        let mut columns = batch.columns().to_vec();
        let mut fields: Vec<_> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        for (name, wanted) in [
            ("claim_id", dictionary(DataType::Int32, DataType::Utf8)),
            ("payer_id", dictionary(DataType::Int8, DataType::LargeUtf8)),
            ("procedure_code", dictionary(DataType::UInt32, DataType::Utf8View)),
        ] {
            let index = batch.schema().index_of(name).unwrap();
            columns[index] = encode(name, wanted.clone());
            fields[index] = arrow_schema::Field::new(name, wanted, true);
        }
        let encoded = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap();
        let read = LineColumns::new(&encoded).unwrap();
        for column in [&layout::PAYER_ID, &layout::PROCEDURE_CODE] {
            assert!(read.dictionary(column).is_some() && read.text_array(column).is_none(), "{}", column.name);
        }
        assert!(read.text_array(&layout::CLAIM_ID).is_some());
        let mut issues = Vec::new();
        let runs = read.claim_runs(&mut issues);
        let plain = LineColumns::new(&batch).unwrap();
        for run in runs {
            assert_eq!(read.read_claim(run.clone(), &mut issues), plain.read_claim(run, &mut issues));
        }
        assert!(issues.is_empty(), "{issues:?}");
    }

    /// A claim whose ids repeat the last claim's, as the same text or written otherwise (blanks, lower
    /// case) or not at all, reads into the reused buffer as it reads alone.
    #[test]
    fn ids_kept_from_the_last_claim_read_as_read_alone() {
        let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().filter(|c| c.lines.len() == 1).take(8).collect();
        let batch = claims_to_batch(&claims).unwrap();
        let npi = claims[0].billing_provider_npi.as_str();
        let texts = |column: &str, first: &str, others: [Option<&str>; 7]| {
            let mut values = vec![Some(first.to_owned())];
            values.extend(others.map(|v| v.map(str::to_owned)));
            (column.to_owned(), Arc::new(StringArray::from(values)) as ArrayRef)
        };
        let spaced = format!(" {npi} ");
        let replaced = [
            texts(
                "billing_provider_npi",
                npi,
                [Some(npi), Some(spaced.as_str()), Some(npi), Some("1234567890"), Some(npi), None, Some(npi)],
            ),
            texts(
                "rendering_taxonomy",
                "207L00000X",
                [
                    Some("207L00000X"),
                    Some("207l00000x"),
                    None,
                    Some("207L00000X"),
                    Some("2O7L00000X"),
                    Some("207L00000X"),
                    Some("207L00000X"),
                ],
            ),
            texts(
                "medicare_locality",
                "13202-01",
                [
                    Some("13202-01"),
                    None,
                    Some("13202-01"),
                    Some("01112-05"),
                    Some("01112-05"),
                    Some("13202-01"),
                    Some("13202-01"),
                ],
            ),
        ];
        let schema = batch.schema();
        let mut columns = batch.columns().to_vec();
        for (name, column) in replaced {
            columns[schema.index_of(&name).unwrap()] = column;
        }
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let read = LineColumns::new(&batch).unwrap();
        let (mut alone_issues, mut kept_issues) = (Vec::new(), Vec::new());
        let mut buffer = None;
        for rows in read.claim_runs(&mut Vec::new()) {
            let alone = read.read_claim(rows.clone(), &mut alone_issues);
            let readable = read.read_claim_into(rows, &mut kept_issues, &mut buffer);
            assert_eq!(readable.then(|| buffer.clone()).flatten(), alone);
        }
        assert_eq!(kept_issues, alone_issues);
        assert!(!alone_issues.is_empty());
    }

    /// The filter never misses a fingerprint it took, and takes few it did not for taken.
    #[test]
    fn the_seen_filter_misses_nothing_and_rarely_errs() {
        let mut filter = SeenFilter::default();
        filter.expect(65_536);
        let taken = |i: u64| fingerprint(&format!("C{i:09}"));
        let mut wrong = 0;
        for i in 0..1_000_000 {
            wrong += usize::from(!filter.insert(taken(i)));
        }
        assert!((0..1_000_000).all(|i| !filter.insert(taken(i))));
        let others = (0..1_000_000).filter(|i| !filter.insert(fingerprint(&format!("D{i:09}")))).count();
        // Measured: 1.1% while adding a million, 1.8% of another million (3% allowed).
        assert!(wrong < 30_000 && others < 30_000, "{wrong} while adding, {others} of another million");
    }

    /// TBL003 only for the ids that really have more than one run: not for the ids the filter took for
    /// met again, which are many in a large table.
    #[test]
    fn only_ids_met_again_are_apart() {
        let ids: Vec<String> = (0..300_000).map(|i| format!("C{i:07}")).collect();
        let mut earlier = EarlierClaims::default();
        ids.iter().for_each(|id| earlier.insert(id));
        let taken_for_met = earlier.again.len();
        assert!(taken_for_met > 0, "the filter took no id for met again: the test shows nothing");
        let runs = || ids.iter().enumerate().map(|(row, id)| (row..row + 1, id.as_str()));
        assert!(apart_claims(runs(), &earlier.again).is_empty());
        // One id met again, after the others; a blank id twice is no claim (TBL001 already), even with
        // its fingerprint among those met again.
        earlier.insert(&ids[7]);
        earlier.again.insert(fingerprint(" "));
        let again = [(300_000..300_002, ids[7].as_str()), (300_002..300_003, " "), (300_004..300_005, " ")];
        let apart = apart_claims(runs().chain(again), &earlier.again);
        let rows: Vec<_> = apart.iter().map(|(rows, _)| rows.clone()).collect();
        assert_eq!(rows, [7..8, 300_000..300_002]);
        assert!(apart[0].1.finding.message.contains("rows 300000-300001"), "{}", apart[0].1.finding.message);
    }
}
