//! What more than one command prints: the `--json` types (serde structs borrowing what they show) and
//! the readable lines for places in the file, read problems and findings.

use std::fmt;
use std::io::{self, Write};

use cptkit_core::{Error, FieldPath, Finding, Severity};
use cptkit_x12::{RejectedClaim, SegmentRef, X12Error, X12ErrorKind};
use serde::Serialize;

use crate::input::{InputClaim, ReadProblems, UnreadClaim};

/// Writes a report to stdout. A failed write (a closed pipe, `| head`) ends the report quietly: the
/// exit code still says what was found.
pub fn emit(write: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>) {
    let _ = write(&mut io::stdout().lock());
}

/// Writes one JSON document to stdout.
pub fn emit_json(value: &impl Serialize) {
    emit(|out| {
        serde_json::to_writer_pretty(&mut *out, value)?;
        writeln!(out)
    });
}

/// Where something is in the input file.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// A segment (and element) of an 837P.
    Segment(SegmentRef),
    /// The claim at this 0-based index of a JSON input.
    Claim(usize),
}

/// `segment 68 (SV1 SV104), byte 1923` or `claim index 2`.
impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Segment(at) => {
                write!(f, "segment {} ({}", at.segment_number, at.segment_id())?;
                if let Some(element) = at.element_name() {
                    write!(f, " {element}")?;
                }
                write!(f, "), byte {}", at.byte_offset)
            }
            Place::Claim(index) => write!(f, "claim index {index}"),
        }
    }
}

/// A place in an 837P: `{"segment": 68, "segment_id": "SV1", "element": "SV104", "byte_offset": 1923}`.
#[derive(Debug, Serialize)]
struct At {
    segment: u64,
    segment_id: String,
    element: Option<String>,
    byte_offset: u64,
}

impl From<SegmentRef> for At {
    fn from(at: SegmentRef) -> At {
        At {
            segment: at.segment_number,
            segment_id: at.segment_id().to_owned(),
            element: at.element_name(),
            byte_offset: at.byte_offset,
        }
    }
}

/// A finding with where it is: the core's finding (`edit_id`, `severity`, `field`, `loc`, `message`,
/// `hint`) between the claim and its place in the file.
#[derive(Debug, Serialize)]
pub struct FindingJson<'a> {
    claim_id: &'a str,
    /// JSON input: the claim's index in the file.
    claim_index: Option<usize>,
    /// The line's number in the file (LX01 in an 837P), for a line-level finding.
    line: Option<u32>,
    #[serde(flatten)]
    finding: &'a Finding,
    /// 837P input: the segment the field came from.
    at: Option<At>,
}

impl<'a> FindingJson<'a> {
    pub fn new(claim: &'a InputClaim, finding: &'a Finding) -> Self {
        let at = match claim.place(finding) {
            Place::Segment(at) => Some(At::from(at)),
            Place::Claim(_) => None,
        };
        FindingJson {
            claim_id: claim.claim_id(),
            claim_index: claim.index,
            line: claim.line_number(finding),
            finding,
            at,
        }
    }
}

/// A core error: `{kind, message, field, loc, file, violations: [{field, loc, message}]}`, the fields
/// of Python's `CptkitError`.
#[derive(Debug, Serialize)]
pub struct ErrorJson<'a> {
    kind: &'static str,
    message: &'a str,
    field: Option<&'a str>,
    loc: &'a FieldPath,
    file: Option<String>,
    violations: Vec<ViolationJson>,
}

#[derive(Debug, Serialize)]
struct ViolationJson {
    field: String,
    loc: FieldPath,
    message: String,
}

impl<'a> From<&'a Error> for ErrorJson<'a> {
    fn from(e: &'a Error) -> Self {
        ErrorJson {
            kind: e.kind().as_str(),
            message: e.message(),
            field: e.field(),
            loc: e.loc(),
            file: e.file().map(|f| f.display().to_string()),
            violations: e
                .violations()
                .into_iter()
                .map(|v| ViolationJson { field: v.field(), loc: v.loc, message: v.message })
                .collect(),
        }
    }
}

/// An X12 problem: `{kind, message, at, transaction}`.
#[derive(Debug, Serialize)]
struct X12ErrorJson<'a> {
    kind: X12ErrorKind,
    message: &'a str,
    at: At,
    /// ST02 of the transaction it is in, when known.
    transaction: Option<&'a str>,
}

impl<'a> From<&'a X12Error> for X12ErrorJson<'a> {
    fn from(e: &'a X12Error) -> Self {
        X12ErrorJson {
            kind: e.kind,
            message: &e.message,
            at: e.at.into(),
            transaction: e.control.transaction.as_deref(),
        }
    }
}

/// An 837P claim that could not become a core claim, with every reason.
#[derive(Debug, Serialize)]
struct RejectedJson<'a> {
    claim_id: &'a str,
    at: At,
    errors: Vec<X12ErrorJson<'a>>,
}

impl<'a> From<&'a RejectedClaim> for RejectedJson<'a> {
    fn from(r: &'a RejectedClaim) -> Self {
        RejectedJson { claim_id: &r.claim_id, at: r.at.into(), errors: r.errors.iter().map(Into::into).collect() }
    }
}

/// A JSON claim that could not be read.
#[derive(Debug, Serialize)]
struct UnreadJson<'a> {
    claim_index: usize,
    /// The line of the file the claim starts on (the error's own position counts inside the claim).
    line: usize,
    error: ErrorJson<'a>,
}

impl<'a> From<&'a UnreadClaim> for UnreadJson<'a> {
    fn from(u: &'a UnreadClaim) -> Self {
        UnreadJson { claim_index: u.index, line: u.line, error: (&u.error).into() }
    }
}

/// What could not be read, flattened into each command's JSON.
#[derive(Debug, Serialize)]
pub struct ProblemsJson<'a> {
    x12_errors: Vec<X12ErrorJson<'a>>,
    transaction_problems: Vec<X12ErrorJson<'a>>,
    rejected_claims: Vec<RejectedJson<'a>>,
    unread_claims: Vec<UnreadJson<'a>>,
}

impl<'a> From<&'a ReadProblems> for ProblemsJson<'a> {
    fn from(p: &'a ReadProblems) -> Self {
        ProblemsJson {
            x12_errors: p.x12_errors.iter().map(Into::into).collect(),
            transaction_problems: p.transaction_problems.iter().map(Into::into).collect(),
            rejected_claims: p.rejected_claims.iter().map(Into::into).collect(),
            unread_claims: p.unread_claims.iter().map(Into::into).collect(),
        }
    }
}

/// X12 errors, rejected 837P claims and unreadable JSON claims, one line each.
pub fn print_problems(out: &mut impl Write, problems: &ReadProblems) -> io::Result<()> {
    for e in problems.x12_errors.iter().chain(&problems.transaction_problems) {
        writeln!(out, "X12 {e}")?;
    }
    for r in &problems.rejected_claims {
        for e in &r.errors {
            writeln!(out, "claim {} rejected: {} at {}", r.claim_id, e.message, Place::Segment(e.at))?;
        }
    }
    for u in &problems.unread_claims {
        writeln!(out, "claim at index {} (from line {}) not read: {}", u.index, u.line, u.error)?;
    }
    Ok(())
}

/// `claim C1003 line 1: error UNT005 lines[0].quantity: ... at segment 68 (SV1 SV104), byte 1923`.
pub fn print_finding(out: &mut impl Write, claim: &InputClaim, f: &Finding) -> io::Result<()> {
    let line = claim.line_number(f).map(|n| format!(" line {n}")).unwrap_or_default();
    let severity = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let place = claim.place(f);
    writeln!(out, "claim {}{line}: {severity} {} {}: {} at {place}", claim.claim_id(), f.edit_id, f.loc, f.message)
}
