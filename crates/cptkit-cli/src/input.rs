//! Reading the claims of a file: an 837P, or claim JSON (one claim object, an array of claims, or JSON
//! lines), told apart by the first non-blank byte (`{` or `[` is JSON). Every claim that can be read
//! is kept; what cannot be read is kept as a problem beside them, so the other claims are still judged.

use std::path::Path;

use cptkit_core::{Claim, Error, ErrorKind, Finding};
use cptkit_x12::{File835, ParsedClaim, ReadOptions, RejectedClaim, X12Error};
use serde_json::value::RawValue;

use crate::Unreadable;
use crate::output::Place;

/// The claims of an input file and what could not be read.
#[derive(Debug)]
pub struct Input {
    pub claims: Vec<InputClaim>,
    pub problems: ReadProblems,
}

/// A claim read from the input.
#[derive(Debug)]
pub struct InputClaim {
    /// JSON claims get the line numbers 1, 2, ... and no X12 source.
    pub parsed: ParsedClaim,
    /// The claim's 0-based position in a JSON input; `None` for an 837P, where a finding's place is
    /// its segment.
    pub index: Option<usize>,
}

impl InputClaim {
    pub fn claim_id(&self) -> &str {
        &self.parsed.claim.claim_id
    }

    /// Where the finding's field is in the input file.
    pub fn place(&self, finding: &Finding) -> Place {
        match self.index {
            Some(index) => Place::Claim(index),
            None => Place::Segment(self.parsed.locate(finding)),
        }
    }

    /// The number of the line a finding is about, as the file numbers it (LX01 in an 837P).
    pub fn line_number(&self, finding: &Finding) -> Option<u32> {
        finding.loc.line_index().map(|i| self.line_number_at(i))
    }

    /// The number of the line at `index` in the core claim.
    pub fn line_number_at(&self, index: usize) -> u32 {
        let from_file = self.parsed.lines.get(index).map(|l| l.line_number);
        from_file.unwrap_or_else(|| u32::try_from(index + 1).unwrap_or(u32::MAX))
    }
}

/// What could not be read: the input is still judged, but the run is not clean (exit 1).
#[derive(Debug, Default)]
pub struct ReadProblems {
    /// Envelope and syntax errors (an 837P, and the 835 of `reconcile`).
    pub x12_errors: Vec<X12Error>,
    /// 837P problems outside any claim.
    pub transaction_problems: Vec<X12Error>,
    /// 837P claims that could not become core claims.
    pub rejected_claims: Vec<RejectedClaim>,
    /// JSON claims that could not be read.
    pub unread_claims: Vec<UnreadClaim>,
}

impl ReadProblems {
    pub fn is_empty(&self) -> bool {
        self.x12_errors.is_empty()
            && self.transaction_problems.is_empty()
            && self.rejected_claims.is_empty()
            && self.unread_claims.is_empty()
    }
}

/// A JSON claim that could not be read; the error names the field (and a position inside the claim's
/// own text, which starts at `line` of the file).
#[derive(Debug)]
pub struct UnreadClaim {
    pub index: usize,
    pub line: usize,
    pub error: Error,
}

fn read_file(path: &Path) -> Result<Vec<u8>, Unreadable> {
    std::fs::read(path).map_err(|e| Unreadable(format!("cannot read {}: {e}", path.display())))
}

/// Reads the claims of an 837P or claim JSON file.
pub fn read_claims(path: &Path, options: ReadOptions) -> Result<Input, Unreadable> {
    let file = read_file(path)?;
    // A byte-order mark some editors write before JSON is not content.
    let bytes = file.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&file);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => claim_texts(bytes, file.len() - bytes.len())
            .map(read_json)
            .map_err(|why| Unreadable(format!("{}: {why}", path.display()))),
        Some(_) => read_837(path, bytes, options),
        None => Err(Unreadable(format!("{}: the file is empty (neither an 837P nor claim JSON)", path.display()))),
    }
}

/// An 837P; input with no transaction set at all (not X12, or only junk) is unreadable.
fn read_837(path: &Path, bytes: &[u8], options: ReadOptions) -> Result<Input, Unreadable> {
    let file = cptkit_x12::read_837(bytes, options);
    if file.transactions.is_empty() {
        return Err(no_transaction(path, "837P", &file.errors));
    }
    let mut input =
        Input { claims: Vec::new(), problems: ReadProblems { x12_errors: file.errors, ..Default::default() } };
    for transaction in file.transactions {
        let body = transaction.body;
        input.claims.extend(body.claims.into_iter().map(|parsed| InputClaim { parsed, index: None }));
        input.problems.rejected_claims.extend(body.rejected);
        input.problems.transaction_problems.extend(body.problems);
    }
    Ok(input)
}

/// A claim's text in a JSON file, with the file line it starts on (or why its line is no text).
type ClaimText<'a> = (usize, Result<&'a str, Error>);

/// Claim JSON, each claim's text with the file line it starts on (or why its line is no text): each claim
/// read on its own, so one bad claim does not hide the others.
fn read_json(claim_texts: Vec<ClaimText<'_>>) -> Input {
    let mut claims = Vec::new();
    let mut problems = ReadProblems::default();
    for (index, (line, claim_text)) in claim_texts.into_iter().enumerate() {
        match claim_text.and_then(Claim::from_json) {
            Ok(claim) => claims.push((index, claim)),
            Err(error) => problems.unread_claims.push(UnreadClaim { index, line, error }),
        }
    }
    let (indexes, claims): (Vec<usize>, Vec<Claim>) = claims.into_iter().unzip();
    let parsed = cptkit_x12::parsed_from_claims(&claims);
    let claims = indexes.into_iter().zip(parsed).map(|(index, parsed)| InputClaim { parsed, index: Some(index) });
    Input { claims: claims.collect(), problems }
}

/// The text of each claim and the file line it starts on (or why its line is no text): the elements of
/// an array; each line of JSON lines ([`json_lines`]); else the whole text, one claim (a pretty-printed
/// object spans lines that are not objects). `bytes` start `skipped` bytes into the file, after a
/// byte-order mark.
fn claim_texts(bytes: &[u8], skipped: usize) -> Result<Vec<ClaimText<'_>>, String> {
    let array = bytes.trim_ascii_start().starts_with(b"[");
    if !array && let Some(lines) = json_lines(bytes, skipped) {
        return Ok(lines);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("JSON that is not UTF-8 text ({e})"))?;
    let trimmed = text.trim();
    let claims: Vec<&str> = if array {
        let items: Vec<&RawValue> =
            serde_json::from_str(trimmed).map_err(|e| format!("not a JSON array of claims: {e}"))?;
        items.into_iter().map(RawValue::get).collect()
    } else {
        vec![trimmed]
    };
    // Each claim's text lies inside `text`, in order: count the lines up to each as we go.
    let (mut at, mut line) = (0, 1);
    Ok(claims
        .into_iter()
        .map(|claim| {
            let start = claim.as_ptr() as usize - text.as_ptr() as usize;
            line += text[at..start].bytes().filter(|&b| b == b'\n').count();
            at = start;
            (line, Ok(claim))
        })
        .collect())
}

/// The lines of JSON lines ([`is_json_lines`]; `None` when the file is not): each non-blank line with its
/// number, its text, or for a line that is not UTF-8 an error naming its byte offset in the file (only
/// that line is lost; `skipped` bytes precede `bytes` in the file).
fn json_lines(bytes: &[u8], skipped: usize) -> Option<Vec<ClaimText<'_>>> {
    let mut offset = skipped;
    let mut lines = Vec::new();
    for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let start = offset;
        offset += line.len() + 1;
        let text = std::str::from_utf8(line).map(str::trim).map_err(|e| {
            let at = start + e.valid_up_to();
            Error::new(ErrorKind::InvalidInput, format!("the line is not UTF-8 text (byte offset {at} of the file)"))
        });
        if text.as_ref().is_ok_and(|text| text.is_empty()) {
            continue;
        }
        lines.push((number + 1, text));
    }
    // A line that is not text counts as a line that is not an object.
    let texts: Vec<&str> = lines.iter().map(|(_, text)| text.as_deref().unwrap_or_default()).collect();
    is_json_lines(&texts).then_some(lines)
}

/// Whether the non-blank lines of a file are JSON lines, one claim each: several lines, each starting an
/// object, or at least half of them whole objects (a damaged line is then a claim of its own, whatever
/// it holds). A pretty-printed object has lines that start no object, and few that are one whole.
fn is_json_lines(lines: &[&str]) -> bool {
    let object = |line: &&&str| line.starts_with('{') && serde_json::from_str::<&RawValue>(line).is_ok();
    lines.len() > 1
        && (lines.iter().all(|l| l.starts_with('{')) || 2 * lines.iter().filter(object).count() >= lines.len())
}

/// The 835 of `reconcile`; input with no 835 transaction set is unreadable.
pub fn read_835(path: &Path) -> Result<File835, Unreadable> {
    let remits = cptkit_x12::read_835(&read_file(path)?[..]);
    if remits.transactions.is_empty() {
        return Err(no_transaction(path, "835", &remits.errors));
    }
    Ok(remits)
}

fn no_transaction(path: &Path, set: &str, errors: &[X12Error]) -> Unreadable {
    let why = errors.first().map_or_else(|| "no X12 interchange found".to_owned(), ToString::to_string);
    Unreadable(format!("{}: no {set} transaction could be read: {why}", path.display()))
}
