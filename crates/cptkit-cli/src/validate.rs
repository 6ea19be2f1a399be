//! `cptkit validate FILE`: every claim through the core's batch validation (the one judge, plus the
//! edits that need the whole batch), with what could not be read and each finding's place in the file.

use std::io::{self, Write};
use std::path::Path;

use cptkit_core::{Claim, Error, Finding, Severity, ValidationReport};
use serde::Serialize;

use crate::Outcome;
use crate::input::{Input, InputClaim, read_claims};
use crate::options::Common;
use crate::output::{self, ErrorJson, FindingJson, ProblemsJson};

/// `--json`.
#[derive(Debug, Serialize)]
struct ValidateJson<'a> {
    /// Claims read.
    claims: usize,
    #[serde(flatten)]
    problems: ProblemsJson<'a>,
    /// The reader's findings (`X12...`) and the core's, claim by claim.
    findings: Vec<FindingJson<'a>>,
    /// Claims the judge failed on (a bug in cptkit).
    claim_errors: Vec<ClaimErrorJson<'a>>,
}

#[derive(Debug, Serialize)]
struct ClaimErrorJson<'a> {
    claim_id: &'a str,
    claim_index: Option<usize>,
    error: ErrorJson<'a>,
}

/// One claim's validation: the core's report, or the judge's failure on this claim.
struct Validated<'a> {
    claim: &'a InputClaim,
    report: Result<ValidationReport, Error>,
}

impl Validated<'_> {
    /// The reader's findings first: they are about the file the core's claim was read from.
    fn findings(&self) -> impl Iterator<Item = &Finding> {
        let core = self.report.as_ref().map(|r| r.findings.as_slice()).unwrap_or_default();
        self.claim.parsed.findings.iter().chain(core)
    }

    fn is_clean(&self) -> bool {
        self.report.is_ok() && self.findings().all(|f| f.severity != Severity::Error)
    }
}

pub fn run(path: &Path, common: &Common) -> Outcome {
    let input = read_claims(path, common.read_options())?;
    let claims: Vec<Claim> = input.claims.iter().map(|c| c.parsed.claim.clone()).collect();
    let reports = common.reference()?.validate_batch(&claims, common.today.unwrap_or_else(cptkit_core::today_utc));
    let validated: Vec<Validated> =
        input.claims.iter().zip(reports).map(|(claim, report)| Validated { claim, report }).collect();

    let clean = input.problems.is_empty() && validated.iter().all(Validated::is_clean);
    if common.json {
        output::emit_json(&ValidateJson {
            claims: input.claims.len(),
            problems: (&input.problems).into(),
            findings: validated.iter().flat_map(|v| v.findings().map(|f| FindingJson::new(v.claim, f))).collect(),
            claim_errors: validated
                .iter()
                .filter_map(|v| {
                    let error = v.report.as_ref().err()?;
                    Some(ClaimErrorJson {
                        claim_id: v.claim.claim_id(),
                        claim_index: v.claim.index,
                        error: error.into(),
                    })
                })
                .collect(),
        });
    } else {
        output::emit(|out| print(out, path, &input, &validated, clean));
    }
    Ok(clean)
}

fn print(out: &mut impl Write, path: &Path, input: &Input, validated: &[Validated], clean: bool) -> io::Result<()> {
    output::print_problems(out, &input.problems)?;
    for v in validated {
        for finding in v.findings() {
            output::print_finding(out, v.claim, finding)?;
        }
        if let Err(error) = &v.report {
            writeln!(out, "claim {}: not validated: {error}", v.claim.claim_id())?;
        }
    }
    let p = &input.problems;
    writeln!(
        out,
        "{}: {} claims read, {} rejected, {} X12 errors: {}",
        path.display(),
        input.claims.len(),
        p.rejected_claims.len() + p.unread_claims.len(),
        p.x12_errors.len(),
        if clean { "clean" } else { "ERRORS" }
    )
}
