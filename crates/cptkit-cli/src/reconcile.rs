//! `cptkit reconcile CLAIMS FILE.835`: remittance lines matched to claim lines, each compared with
//! cptkit's price from the one judge (`cptkit_x12::core_pricer`).

use std::io::{self, Write};
use std::path::Path;

use cptkit_x12::{LineFlag, ParsedClaim, ReconcileOptions, Reconciliation, Remittance, Totals};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::Outcome;
use crate::input::{ReadProblems, read_835, read_claims};
use crate::options::{Common, Pricing};
use crate::output::{self, ProblemsJson};

/// `--json`: the X12 crate's reconciliation, and what could not be read in either file.
#[derive(Debug, Serialize)]
struct ReconcileJson<'a> {
    #[serde(flatten)]
    result: &'a Reconciliation,
    #[serde(flatten)]
    problems: ProblemsJson<'a>,
}

/// Clean when no line or claim is underpaid and every amount of the 835 was read: claims not read or
/// not priced are reported, not counted.
pub fn run(path_837: &Path, path_835: &Path, tolerance: Decimal, pricing: &Pricing, common: &Common) -> Outcome {
    let (rules, options) = pricing.judge_options(common.today)?;
    let input = read_claims(path_837, common.read_options())?;
    let remits = read_835(path_835)?;
    let mut problems = input.problems;
    problems.x12_errors.extend(remits.errors);
    let claims: Vec<ParsedClaim> = input.claims.into_iter().map(|c| c.parsed).collect();
    let remittances: Vec<Remittance> = remits.transactions.into_iter().map(|t| t.body).collect();
    let result = cptkit_x12::reconcile(
        &claims,
        &remittances,
        cptkit_x12::core_pricer(common.reference()?, &options, &rules),
        &ReconcileOptions { tolerance, read_options: common.read_options() },
    );

    if common.json {
        output::emit_json(&ReconcileJson { result: &result, problems: (&problems).into() });
    } else {
        output::emit(|out| print(out, &result, &problems));
    }
    let t = &result.totals;
    Ok(t.underpaid_lines == 0 && t.underpaid_claims == 0 && t.unreadable_lines == 0)
}

fn flag_text(flag: &LineFlag) -> String {
    match flag {
        LineFlag::Underpaid { by } => format!("underpaid by {by}"),
        LineFlag::AboveExpected { by } => format!("above expected by {by}"),
        LineFlag::Denied { reasons } => format!("denied ({})", reasons.join(", ")),
        LineFlag::UnitsNotMinutes { billed_minutes, paid_units, reads_as } => {
            format!("units not minutes ({billed_minutes} min billed, {paid_units} returned: {reads_as})")
        }
        LineFlag::MinutesReduced { billed_minutes, paid_minutes } => {
            format!("minutes reduced ({billed_minutes} -> {paid_minutes})")
        }
        LineFlag::CodeChanged { billed, paid } => format!("code changed ({billed} -> {paid})"),
        LineFlag::Unmatched => "no remittance line".to_owned(),
        LineFlag::NotPriced => "not priced".to_owned(),
        LineFlag::UnreadableAmount { at } => {
            let places: Vec<String> = at.iter().map(|a| output::Place::Segment(*a).to_string()).collect();
            format!("amount not readable ({})", places.join("; "))
        }
        LineFlag::Reversed => "reversed".to_owned(),
        LineFlag::PaidAtClaimLevel => "paid at claim level".to_owned(),
    }
}

/// ` [denied (CO-50); not priced]`, or nothing.
fn flags_text(flags: &[LineFlag]) -> String {
    let flags: Vec<String> = flags.iter().map(flag_text).collect();
    if flags.is_empty() { String::new() } else { format!(" [{}]", flags.join("; ")) }
}

fn money(value: Option<Decimal>) -> String {
    value.map_or_else(|| "-".to_owned(), |d| d.to_string())
}

fn print(out: &mut impl Write, result: &Reconciliation, problems: &ReadProblems) -> io::Result<()> {
    output::print_problems(out, problems)?;
    for e in &result.problems {
        writeln!(out, "X12 {e}")?;
    }
    for c in &result.claims {
        if c.no_remittance {
            writeln!(out, "claim {} ({}): no remittance", c.claim_id, c.payer)?;
        }
        if let Some(level) = &c.claim_level {
            writeln!(
                out,
                "claim {} ({}): paid at claim level: expected {} allowed {} paid {} variance {}{}",
                c.claim_id,
                c.payer,
                money(level.expected),
                money(level.allowed),
                money(level.paid),
                money(level.variance),
                flags_text(&level.flags),
            )?;
        }
        for l in &c.lines {
            writeln!(
                out,
                "claim {} line {} {} {}: expected {} allowed {} paid {} variance {}{}",
                c.claim_id,
                l.line_number,
                l.procedure,
                l.date_of_service,
                money(l.expected),
                money(l.allowed),
                money(l.paid),
                money(l.variance),
                flags_text(&l.flags),
            )?;
        }
    }
    for (payer, rc) in &result.unmatched_remit_claims {
        writeln!(out, "remittance claim {} ({payer}): no claim with this id", rc.claim_id)?;
    }
    for (payer, t) in &result.totals_by_payer {
        writeln!(
            out,
            "payer {payer}: {} claims, {} lines, expected {} allowed {} paid {} variance {}, {} underpaid, {} denied",
            t.claims, t.lines, t.expected, t.allowed, t.paid, t.variance, t.underpaid_lines, t.denied_lines
        )?;
    }
    let t = &result.totals;
    writeln!(
        out,
        "total: {} claims, {} lines, expected {} allowed {} paid {} variance {}, {} underpaid, {} denied, PLB {}{}",
        t.claims,
        t.lines,
        t.expected,
        t.allowed,
        t.paid,
        t.variance,
        t.underpaid_lines,
        t.denied_lines,
        t.provider_adjustments,
        totals_notes(t),
    )
}

/// What the sums leave out or hold as whole claims, when there is any.
fn totals_notes(t: &Totals) -> String {
    let mut notes = String::new();
    if t.unreadable_lines > 0 {
        notes.push_str(&format!(", {} lines with an amount not readable (not in the sums)", t.unreadable_lines));
    }
    if t.claims_paid_at_claim_level > 0 {
        notes.push_str(&format!(
            ", {} claims paid at claim level ({} underpaid)",
            t.claims_paid_at_claim_level, t.underpaid_claims
        ));
    }
    notes
}
