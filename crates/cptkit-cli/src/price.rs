//! `cptkit price FILE`: every claim through the one judge (`Reference::judge`) with one set of options,
//! so each answer is the one Python's `price` and gRPC's `PriceClaim` give for the same claim.

use std::io::{self, Write};
use std::path::Path;

use cptkit_core::{Error, JudgeOptions, LineStatus, PricedClaim, Reference, RuleBook, Severity, ValidationReport};
use cptkit_x12::ClaimPart;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::Outcome;
use crate::input::{Input, InputClaim, read_claims};
use crate::options::{Common, Pricing};
use crate::output::{self, ErrorJson, FindingJson, ProblemsJson};

/// `--json`.
#[derive(Debug, Serialize)]
struct PriceJson<'a> {
    claims: Vec<ClaimJson<'a>>,
    /// Over the claims priced.
    total_allowed: Decimal,
    #[serde(flatten)]
    problems: ProblemsJson<'a>,
}

/// One claim's answer: `priced` (the core's priced claim, as Python's `PricedClaim.to_dict()`) or
/// `error` (why not, as Python's exception), and the judge's report.
#[derive(Debug, Serialize)]
struct ClaimJson<'a> {
    claim_id: &'a str,
    claim_index: Option<usize>,
    /// Which part of an 837P claim split by rendering provider.
    part: Option<ClaimPart>,
    priced: Option<&'a PricedClaim>,
    error: Option<ErrorJson<'a>>,
    /// `None` only when the judge failed on the claim (a bug in cptkit).
    report: Option<ReportJson<'a>>,
    /// What the 837P reader found about the claim (`X12...`; none for claim JSON), as `validate` shows it:
    /// the price is the core's, from what could be read.
    x12_findings: Vec<FindingJson<'a>>,
}

/// The core's report (`claim_id`, `findings`), each finding with its place in the file.
#[derive(Debug, Serialize)]
struct ReportJson<'a> {
    claim_id: &'a str,
    findings: Vec<FindingJson<'a>>,
}

/// One claim's judgement.
struct Judged<'a> {
    claim: &'a InputClaim,
    report: Option<ValidationReport>,
    priced: Result<PricedClaim, Error>,
}

impl<'a> Judged<'a> {
    fn new(reference: &Reference, claim: &'a InputClaim, options: &JudgeOptions, rules: &RuleBook) -> Self {
        match reference.judge(&claim.parsed.claim, options, rules) {
            Ok(judgement) => {
                let report = Some(judgement.report.clone());
                Judged { claim, report, priced: judgement.into_priced() }
            }
            Err(error) => Judged { claim, report: None, priced: Err(error) },
        }
    }

    fn to_json(&self) -> ClaimJson<'_> {
        let claim = self.claim;
        ClaimJson {
            claim_id: claim.claim_id(),
            claim_index: claim.index,
            part: claim.parsed.part,
            priced: self.priced.as_ref().ok(),
            error: self.priced.as_ref().err().map(Into::into),
            report: self.report.as_ref().map(|r| ReportJson {
                claim_id: &r.claim_id,
                findings: r.findings.iter().map(|f| FindingJson::new(claim, f)).collect(),
            }),
            x12_findings: claim.parsed.findings.iter().map(|f| FindingJson::new(claim, f)).collect(),
        }
    }
}

pub fn run(path: &Path, pricing: &Pricing, common: &Common) -> Outcome {
    let (rules, options) = pricing.judge_options(common.today)?;
    let input = read_claims(path, common.read_options())?;
    let reference = common.reference()?;
    let judged: Vec<Judged> = input.claims.iter().map(|c| Judged::new(reference, c, &options, &rules)).collect();
    let total_allowed: Decimal = judged.iter().filter_map(|j| j.priced.as_ref().ok()).map(|p| p.total_allowed).sum();

    if common.json {
        output::emit_json(&PriceJson {
            claims: judged.iter().map(Judged::to_json).collect(),
            total_allowed,
            problems: (&input.problems).into(),
        });
    } else {
        output::emit(|out| print(out, &input, &judged, total_allowed));
    }
    // A line that could not be priced is a claim not (wholly) priced; a line not payable by rule is priced.
    // A reader's error (an unreadable time, ...) is not clean either, as `validate` says.
    let priced = |j: &Judged| {
        j.priced.as_ref().is_ok_and(|p| p.lines.iter().all(|l| l.status != LineStatus::NotPriced))
            && j.claim.parsed.findings.iter().all(|f| f.severity != Severity::Error)
    };
    Ok(input.problems.is_empty() && judged.iter().all(priced))
}

fn print(out: &mut impl Write, input: &Input, judged: &[Judged], total_allowed: Decimal) -> io::Result<()> {
    for j in judged {
        let id = j.claim.claim_id();
        // The reader's findings first, as `validate` shows them: the price is from what could be read.
        for finding in &j.claim.parsed.findings {
            output::print_finding(out, j.claim, finding)?;
        }
        match &j.priced {
            Ok(priced) => {
                for (i, l) in priced.lines.iter().enumerate() {
                    let number = j.claim.line_number_at(i);
                    let status = match l.status {
                        LineStatus::Priced => "",
                        LineStatus::NotPriced => " [not priced]",
                        LineStatus::NotPayable => " [not payable]",
                    };
                    // The step that set the amount says how (units x factor x share, RVUs x GPCIs,
                    // a reduction, or why the line is not priced); `allowed` only repeats the amount.
                    let steps = l.steps();
                    let how = steps.iter().rev().find(|s| s.step != "allowed").map_or("", |s| s.detail.as_str());
                    writeln!(
                        out,
                        "claim {id} line {number}: {} allowed {} ({}){status}: {how}",
                        l.procedure_code.as_str(),
                        l.allowed,
                        l.rule.id
                    )?;
                    // Where the factor comes from (a contract, a locality, or the national factor in
                    // place of a locality's) changes what the amount means: said under the line.
                    if let Some(cf) = steps.iter().find(|s| s.step == "conversion_factor") {
                        writeln!(out, "  conversion factor {}: {}", cf.value, cf.detail)?;
                    }
                }
            }
            Err(error) => {
                writeln!(out, "claim {id}: not priced: {error}")?;
                // A claim rejected for its findings: show each with its place in the file.
                let findings = j.report.iter().flat_map(|r| &r.findings);
                for finding in findings.filter(|f| f.severity == Severity::Error) {
                    output::print_finding(out, j.claim, finding)?;
                }
            }
        }
    }
    output::print_problems(out, &input.problems)?;
    writeln!(out, "total allowed: {total_allowed}")
}
