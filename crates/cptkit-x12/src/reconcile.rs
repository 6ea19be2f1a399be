//! Reconciliation: remittance lines matched to claim lines, each compared with cptkit's price.

use std::collections::BTreeMap;

use cptkit_core::{
    Claim, ClaimLine, JudgeOptions, LineStatus, PlanType, PricedClaim, PricedLine, Reference, RuleBook, UnitBasis,
};
use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use crate::error::{SegmentRef, X12Error};
use crate::p835::{Adjustment, AdjustmentGroup, Procedure, RemitClaim, RemitLine, Remittance};
use crate::p837::{ClaimInfo, LineOrigin, ParsedClaim, ReadOptions};
use crate::source::ClaimSource;

/// Reconciliation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// A line is underpaid when the payer's allowed amount is below the expected one by more than this.
    pub tolerance: Decimal,
    /// The options the 837 was read with: a remittance that answers no claim names its payer (N1*PR) by
    /// the same payer ids and payer directory (see [`Reconciliation::totals_by_payer`]).
    pub read_options: ReadOptions,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions { tolerance: Decimal::ONE, read_options: ReadOptions::default() }
    }
}

impl ReconcileOptions {
    /// A tolerance given as text, as every face reads it (Python's `tolerance=`, gRPC's `tolerance`,
    /// the CLI's `--tolerance`): decimal dollars, blanks around them ignored, never negative (a negative
    /// tolerance flags a line paid exactly as expected as underpaid). Errors name `tolerance`.
    pub fn tolerance_from_text(text: &str) -> cptkit_core::Result<Decimal> {
        text.trim().parse::<Decimal>().ok().filter(|t| !t.is_sign_negative()).ok_or_else(|| {
            cptkit_core::Error::invalid("tolerance", format!("expected a non-negative decimal (dollars), got {text:?}"))
        })
    }
}

/// The pricing closure built on the one judge: [`Reference::judge`] with the given options, a
/// claim rejected for its findings answered as one error listing them.
pub fn core_pricer<'a>(
    reference: &'a Reference,
    options: &'a JudgeOptions,
    rules: &'a RuleBook,
) -> impl FnMut(&Claim) -> cptkit_core::Result<PricedClaim> + 'a {
    move |claim| reference.judge(claim, options, rules)?.into_priced()
}

/// How a remittance line was matched to a claim line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// REF*6R in the 835 equals REF*6R of the 837 line.
    ControlNumber,
    /// SVC01 code and modifiers, and the service date.
    CodeModifiersDate,
    /// SVC06 (the code as submitted, when the payer changed it), and the service date.
    OriginalCode,
    /// The code alone (SVC01 or SVC06), and the service date.
    CodeDate,
    /// Neither: the n-th unmatched remittance line to the n-th unmatched claim line.
    Order,
    /// The remittance claim has no SVC lines: the claim-level payment (the line's when the claim has
    /// one line, else the claim's, see [`ClaimReconciliation::claim_level`]).
    ClaimLevel,
}

/// Something worth a look on a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum LineFlag {
    /// Allowed is below expected by more than the tolerance.
    Underpaid { by: Decimal },
    /// Allowed is above expected by more than the tolerance (cptkit's rule or the contract rate may be off).
    AboveExpected { by: Decimal },
    /// Paid 0 with a CO or PI reason whose net amount (a reversal and its correction added up) is positive.
    Denied { reasons: Vec<String> },
    /// Minutes billed (MJ) but SVC05 holds units: `reads_as` is `time units`, `total units` or `units`.
    UnitsNotMinutes { billed_minutes: Decimal, paid_units: Decimal, reads_as: String },
    /// SVC05 holds fewer minutes than billed.
    MinutesReduced { billed_minutes: Decimal, paid_minutes: Decimal },
    /// The payer adjudicated another code (SVC01 differs from the submitted one).
    CodeChanged { billed: String, paid: String },
    /// No remittance line for this claim line.
    Unmatched,
    /// cptkit could not price the line; see `expected_note`.
    NotPriced,
    /// An amount the payer sent for the line (SVC02/03, CAS, AMT*B6; CLP03/04 at claim level) could
    /// not be read: `at` says where. Paid is known only when SVC03 was read; allowed is not judged.
    UnreadableAmount { at: Vec<SegmentRef> },
    /// A reversal (CLP02 = 22) took back the payment and nothing corrected it: every amount nets to 0.
    Reversed,
    /// The payer sent no SVC line for this claim of several lines: the payment is the claim's
    /// ([`ClaimReconciliation::claim_level`]), not split over its lines.
    PaidAtClaimLevel,
}

impl LineFlag {
    /// A claim-level answer that is also each line's: a claim denied, reversed or unreadable as a
    /// whole is so for every line; an amount under or above expected is the claim's alone.
    fn holds_for_every_line(&self) -> bool {
        matches!(self, LineFlag::Denied { .. } | LineFlag::UnreadableAmount { .. } | LineFlag::Reversed)
    }
}

/// One claim line against what the payer did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineReconciliation {
    /// Index into the claims given to [`reconcile`] and the line index inside that claim.
    pub claim_index: usize,
    pub line_index: usize,
    pub line_number: u32,
    pub procedure: String,
    pub date_of_service: Date,
    pub matched_by: Option<MatchedBy>,
    pub charge: Decimal,
    /// cptkit's allowed amount for the line (`Reference::price`).
    pub expected: Option<Decimal>,
    pub expected_note: Option<String>,
    /// AMT*B6, else paid + the adjustments that are not CO or PI.
    pub allowed: Option<Decimal>,
    pub allowed_from_amt_b6: bool,
    /// SVC03 summed over the matched remittance lines; None when no line matched or one could not be read.
    pub paid: Option<Decimal>,
    pub adjustments: Vec<Adjustment>,
    /// `CO-45` -> amount.
    pub adjustments_by_reason: BTreeMap<String, Decimal>,
    /// CO, PR, ... -> amount.
    pub adjustments_by_group: BTreeMap<String, Decimal>,
    /// allowed - expected.
    pub variance: Option<Decimal>,
    /// SVC05 summed over the matched remittance lines (a reversal's negative units net out).
    pub paid_units: Option<Decimal>,
    pub flags: Vec<LineFlag>,
}

/// A claim of several lines the payer adjudicated as a whole (CLP with no SVC): what it paid for the
/// claim, against the sum of cptkit's expected amounts for its lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimLevelResult {
    /// CLP04 summed over the remittance claims with no SVC; None when one could not be read.
    pub paid: Option<Decimal>,
    /// Paid + the claim-level adjustments that are not CO or PI.
    pub allowed: Option<Decimal>,
    /// The sum of the lines' expected amounts; None when a line is not priced.
    pub expected: Option<Decimal>,
    pub variance: Option<Decimal>,
    pub adjustments_by_reason: BTreeMap<String, Decimal>,
    pub adjustments_by_group: BTreeMap<String, Decimal>,
    /// `underpaid`, `above_expected`, `denied`, `reversed`, `unreadable_amount`.
    pub flags: Vec<LineFlag>,
}

/// A remittance line no claim line took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedRemitLine {
    pub claim_id: String,
    pub procedure: String,
    pub date_of_service: Option<Date>,
    /// SVC03; None when it could not be read.
    pub paid_cents: Option<i64>,
    pub at: crate::SegmentRef,
}

impl UnmatchedRemitLine {
    /// A remittance line of claim `claim_id` that no claim line took.
    pub fn new(claim_id: &str, line: &RemitLine) -> Self {
        UnmatchedRemitLine {
            claim_id: claim_id.to_owned(),
            procedure: line.procedure.to_string(),
            date_of_service: line.date_of_service,
            paid_cents: line.paid_cents,
            at: line.at,
        }
    }
}

/// One claim id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimReconciliation {
    pub claim_id: String,
    pub payer: String,
    /// CLP02 of each remittance claim for this id (e.g. `1`, `4` denied, `22` reversal).
    pub statuses: Vec<String>,
    /// Claim-level CAS.
    pub claim_adjustments: Vec<Adjustment>,
    pub lines: Vec<LineReconciliation>,
    pub unmatched_remit_lines: Vec<UnmatchedRemitLine>,
    /// No remittance claim carries this claim id.
    pub no_remittance: bool,
    /// The payment of a remittance claim with no SVC lines, when this claim has several lines.
    pub claim_level: Option<ClaimLevelResult>,
}

/// Sums for a payer or overall.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub claims: usize,
    pub lines: usize,
    pub charge: Decimal,
    /// Over lines with an expected amount.
    pub expected: Decimal,
    pub allowed: Decimal,
    pub paid: Decimal,
    /// allowed - expected, over lines with both.
    pub variance: Decimal,
    /// Every CAS by `GROUP-REASON`: the lines', and the claims' (claim-level CAS, which belong to no line).
    pub adjustments_by_reason: BTreeMap<String, Decimal>,
    pub underpaid_lines: usize,
    pub denied_lines: usize,
    pub units_not_minutes_lines: usize,
    pub unmatched_claim_lines: usize,
    pub unmatched_remit_lines: usize,
    /// Remittance claims whose id matches no claim.
    pub unmatched_remit_claims: usize,
    /// PLB provider-level adjustments (positive reduces the payment); one that could not be read is
    /// not in it (`problems` names it).
    pub provider_adjustments: Decimal,
    /// Lines with an amount that could not be read (their unknown amounts are not in the sums).
    pub unreadable_lines: usize,
    /// Claims of several lines paid at claim level (their payment is in the sums once, as the claim's).
    pub claims_paid_at_claim_level: usize,
    /// Claims paid at claim level whose allowed amount is below the sum of expected by more than the tolerance.
    pub underpaid_claims: usize,
}

/// The whole reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reconciliation {
    pub claims: Vec<ClaimReconciliation>,
    /// Remittance claims whose CLP01 matches no claim: (payer name, claim).
    pub unmatched_remit_claims: Vec<(String, RemitClaim)>,
    /// Totals by cptkit payer id, trimmed and lower-cased, so that one payer is one row. A claim counts
    /// under its own payer id (`Claim::payer`), with every remittance answer matched to it. What a
    /// remittance says apart from any claim (a CLP whose CLP01 matches no claim, its PLB adjustments)
    /// counts under the remittance's payer: one 835 transaction is one payer's, so that is the payer id
    /// of a claim one of its CLPs answers (not as a secondary or later payer), else its N1*PR named as
    /// the 837 reader names NM1*PR ([`ReadOptions::payer_id`] of N102 and N104 / REF*2U, with the plan
    /// type of its first CLP06). A remittance with no CLP (PLB alone) has no plan type to read: it counts
    /// under the key of a remittance from the same N1*PR with CLPs in the same call, if there is one.
    pub totals_by_payer: BTreeMap<String, Totals>,
    pub totals: Totals,
    /// What could not be read in the remittances (each `Remittance::problems`): an amount that could
    /// not be read is here with its element and byte offset, and its line is flagged.
    pub problems: Vec<X12Error>,
}

fn dollars(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn procedure_text(code: &str, modifiers: &[&str]) -> String {
    let mut s = code.to_owned();
    for m in modifiers {
        s.push('-');
        s.push_str(m);
    }
    s
}

fn same_procedure(p: &Procedure, line: &ClaimLine, with_modifiers: bool) -> bool {
    p.code.eq_ignore_ascii_case(line.procedure_code.as_str())
        && (!with_modifiers
            || (p.modifiers.len() == line.modifiers.len()
                && p.modifiers.iter().zip(&line.modifiers).all(|(a, b)| a.eq_ignore_ascii_case(b.as_str()))))
}

fn same_date(r: &RemitLine, line: &ClaimLine) -> bool {
    r.date_of_service.is_none_or(|d| d == line.date_of_service)
}

/// A claim line in the pool of one claim id: (claim index, line index).
type Slot = (usize, usize);

/// Matches one remittance claim's lines to the pool; returns (slot, remit line index, how).
fn match_lines(remit: &RemitClaim, pool: &[(Slot, &ClaimLine, &LineOrigin)]) -> Vec<(usize, usize, MatchedBy)> {
    let mut taken = vec![false; pool.len()];
    let mut done = vec![false; remit.lines.len()];
    let mut out = Vec::new();
    type Rule<'a> = &'a dyn Fn(&RemitLine, &ClaimLine, &LineOrigin) -> bool;
    let rules: [(MatchedBy, Rule<'_>); 4] = [
        (MatchedBy::ControlNumber, &|r, _, o| {
            r.control_number.as_deref().is_some_and(|c| !c.is_empty() && o.control_number.as_deref() == Some(c))
        }),
        (MatchedBy::CodeModifiersDate, &|r, l, _| same_procedure(&r.procedure, l, true) && same_date(r, l)),
        (MatchedBy::OriginalCode, &|r, l, _| {
            r.original_procedure.as_ref().is_some_and(|p| same_procedure(p, l, true)) && same_date(r, l)
        }),
        (MatchedBy::CodeDate, &|r, l, _| {
            (same_procedure(&r.procedure, l, false)
                || r.original_procedure.as_ref().is_some_and(|p| same_procedure(p, l, false)))
                && same_date(r, l)
        }),
    ];
    for (how, rule) in rules {
        for (ri, r) in remit.lines.iter().enumerate() {
            if done[ri] {
                continue;
            }
            if let Some(pi) = (0..pool.len()).find(|&pi| !taken[pi] && rule(r, pool[pi].1, pool[pi].2)) {
                taken[pi] = true;
                done[ri] = true;
                out.push((pi, ri, how));
            }
        }
    }
    // Order: what is left, pairwise.
    let free: Vec<usize> = (0..pool.len()).filter(|&pi| !taken[pi]).collect();
    let left: Vec<usize> = (0..remit.lines.len()).filter(|&ri| !done[ri]).collect();
    for (&pi, &ri) in free.iter().zip(&left) {
        out.push((pi, ri, MatchedBy::Order));
    }
    out
}

/// What the payer said about one claim line (or one claim paid at claim level), over every
/// remittance part that carries it.
#[derive(Default)]
struct Acc {
    matched_by: Option<MatchedBy>,
    paid: i64,
    paid_unknown: bool,
    allowed_b6: Option<i64>,
    adjustments: Vec<Adjustment>,
    paid_units: Option<Decimal>,
    procedures: Vec<Procedure>,
    unreadable: Vec<SegmentRef>,
    /// A part came from a reversal (CLP02 = 22).
    reversal: bool,
    any: bool,
}

/// One remittance part: an SVC line, or a remittance claim with no SVC.
struct Part<'a> {
    paid: Option<i64>,
    allowed_b6: Option<i64>,
    adjustments: &'a [Adjustment],
    units: Option<Decimal>,
    unreadable: &'a [SegmentRef],
}

impl<'a> Part<'a> {
    fn line(r: &'a RemitLine) -> Self {
        Part {
            paid: r.paid_cents,
            allowed_b6: r.allowed_cents,
            adjustments: &r.adjustments,
            units: r.paid_units,
            unreadable: &r.unreadable,
        }
    }

    fn claim(rc: &'a RemitClaim) -> Self {
        Part {
            paid: rc.paid_cents,
            allowed_b6: None,
            adjustments: &rc.adjustments,
            units: None,
            unreadable: &rc.unreadable,
        }
    }
}

impl Acc {
    /// Parts add up, units too: a reversal (negative amounts and units) and its correction net out
    /// whichever comes first in the file. Sums saturate: garbage amounts must not panic.
    fn add(&mut self, how: MatchedBy, part: Part<'_>, reversal: bool) {
        self.matched_by.get_or_insert(how);
        self.any = true;
        self.reversal |= reversal;
        match part.paid {
            Some(cents) => self.paid = self.paid.saturating_add(cents),
            None => self.paid_unknown = true,
        }
        if let Some(a) = part.allowed_b6 {
            let b6 = self.allowed_b6.get_or_insert(0);
            *b6 = b6.saturating_add(a);
        }
        self.adjustments.extend_from_slice(part.adjustments);
        if let Some(units) = part.units {
            *self.paid_units.get_or_insert(Decimal::ZERO) += units;
        }
        self.unreadable.extend_from_slice(part.unreadable);
    }
}

/// The payer's answer, judged against cptkit's expected amount: the one place for allowed,
/// variance, denial and reversal, for lines and claims paid at claim level alike.
struct Judged {
    paid: Option<Decimal>,
    allowed: Option<Decimal>,
    from_b6: bool,
    by_reason: BTreeMap<String, Decimal>,
    by_group: BTreeMap<String, Decimal>,
    variance: Option<Decimal>,
    flags: Vec<LineFlag>,
}

fn judge(acc: &Acc, expected: Option<Decimal>, options: &ReconcileOptions) -> Judged {
    let mut by_reason: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut by_group: BTreeMap<String, Decimal> = BTreeMap::new();
    for a in &acc.adjustments {
        *by_reason.entry(a.key()).or_default() += a.amount();
        *by_group.entry(a.group.as_str().to_owned()).or_default() += a.amount();
    }
    let mut judged = Judged {
        paid: (acc.any && !acc.paid_unknown).then(|| dollars(acc.paid)),
        allowed: None,
        from_b6: false,
        by_reason,
        by_group,
        variance: None,
        flags: Vec::new(),
    };
    if !acc.any {
        return judged;
    }
    if !acc.unreadable.is_empty() {
        // Part of the answer is unknown: judging the rest would report a made-up allowed amount.
        judged.flags.push(LineFlag::UnreadableAmount { at: acc.unreadable.clone() });
        return judged;
    }
    judged.allowed = Some(dollars(match acc.allowed_b6 {
        Some(b6) => {
            judged.from_b6 = true;
            b6
        }
        None => acc
            .adjustments
            .iter()
            .filter(|a| !matches!(a.group, AdjustmentGroup::Co | AdjustmentGroup::Pi))
            .fold(acc.paid, |sum, a| sum.saturating_add(a.amount_cents)),
    }));
    let nets_to_zero =
        acc.paid == 0 && acc.allowed_b6.unwrap_or(0) == 0 && judged.by_reason.values().all(Decimal::is_zero);
    if acc.reversal && nets_to_zero {
        // Taken back in full: a recoupment, not a denial, and nothing left to compare.
        judged.flags.push(LineFlag::Reversed);
        return judged;
    }
    judged.variance = judged.allowed.zip(expected).map(|(a, e)| a - e);
    // Denial is judged on the net amount per reason, so a reversed adjustment is not one.
    let mut denial: Vec<String> = Vec::new();
    for a in acc.adjustments.iter().filter(|a| matches!(a.group, AdjustmentGroup::Co | AdjustmentGroup::Pi)) {
        let key = a.key();
        if judged.by_reason.get(&key).is_some_and(|net| net.is_sign_positive() && !net.is_zero())
            && !denial.contains(&key)
        {
            denial.push(key);
        }
    }
    // Nothing paid is a denial only when nothing was allowed either: a line paid 0 because its whole
    // allowance went to the deductible (PR-1) was allowed, and is judged on that allowance.
    let nothing_allowed = judged.allowed.is_none_or(|allowed| allowed <= Decimal::ZERO);
    if acc.paid == 0 && nothing_allowed && !denial.is_empty() {
        // A denial is its own finding: not also "underpaid".
        judged.flags.push(LineFlag::Denied { reasons: denial });
    } else if let Some(v) = judged.variance {
        if v < -options.tolerance {
            judged.flags.push(LineFlag::Underpaid { by: -v });
        } else if v > options.tolerance {
            judged.flags.push(LineFlag::AboveExpected { by: v });
        }
    }
    judged
}

/// A claim's or a line's amounts into the sums. Amounts that could not be read are left out, never
/// counted as 0.
fn add_amounts(
    t: &mut Totals,
    paid: Option<Decimal>,
    allowed: Option<Decimal>,
    variance: Option<Decimal>,
    by_reason: &BTreeMap<String, Decimal>,
) {
    t.paid += paid.unwrap_or_default();
    t.allowed += allowed.unwrap_or_default();
    t.variance += variance.unwrap_or_default();
    for (k, v) in by_reason {
        *t.adjustments_by_reason.entry(k.clone()).or_default() += *v;
    }
}

/// Wraps plain core claims for [`reconcile`] (no source table, no REF*6R).
pub fn parsed_from_claims(claims: &[Claim]) -> Vec<ParsedClaim> {
    claims
        .iter()
        .map(|c| ParsedClaim {
            claim: c.clone(),
            source: ClaimSource::default(),
            findings: Vec::new(),
            part: None,
            lines: (0..c.lines.len())
                .map(|i| LineOrigin {
                    line_number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    index_in_claim: u32::try_from(i).unwrap_or(u32::MAX),
                    control_number: None,
                })
                .collect(),
            info: ClaimInfo::default(),
        })
        .collect()
}

/// Matches remittance claims to claims by claim id (CLP01 = CLM01; the parts of a split claim are
/// one pool), lines by REF*6R, then code + modifiers + date, SVC06, code + date, then order; prices
/// each claim with `price` and compares. A remittance claim with no SVC is the line's payment for a
/// claim of one line, else the claim's ([`ClaimReconciliation::claim_level`]).
pub fn reconcile<F>(
    claims: &[ParsedClaim],
    remittances: &[Remittance],
    mut price: F,
    options: &ReconcileOptions,
) -> Reconciliation
where
    F: FnMut(&Claim) -> cptkit_core::Result<PricedClaim>,
{
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in claims.iter().enumerate() {
        by_id.entry(c.claim.claim_id.as_str()).or_default().push(i);
    }
    let mut remits_by_id: BTreeMap<&str, Vec<(&Remittance, &RemitClaim)>> = BTreeMap::new();
    let mut result = Reconciliation::default();
    for (remittance, payer_key) in remittances.iter().zip(remittance_payers(remittances, claims, &by_id, options)) {
        result.problems.extend_from_slice(&remittance.problems);
        // The amounts that could be read: `problems` names any other.
        let plb: i64 = remittance.provider_adjustments.iter().filter_map(|p| p.amount_cents).sum();
        result.totals.provider_adjustments += dollars(plb);
        result.totals_by_payer.entry(payer_key.clone()).or_default().provider_adjustments += dollars(plb);
        for rc in &remittance.claims {
            if by_id.contains_key(rc.claim_id.as_str()) {
                remits_by_id.entry(rc.claim_id.as_str()).or_default().push((remittance, rc));
            } else {
                result.unmatched_remit_claims.push((remittance.payer.name.clone(), rc.clone()));
                for totals in [&mut result.totals, result.totals_by_payer.entry(payer_key.clone()).or_default()] {
                    totals.unmatched_remit_claims += 1;
                    totals.paid += rc.paid_cents.map_or(Decimal::ZERO, dollars);
                }
            }
        }
    }
    // Price each claim once.
    let priced: Vec<Result<PricedClaim, String>> =
        claims.iter().map(|c| price(&c.claim).map_err(|e| priced_error(&e))).collect();
    for (claim_id, indexes) in &by_id {
        let pool: Vec<(Slot, &ClaimLine, &LineOrigin)> = indexes
            .iter()
            .flat_map(|&ci| {
                let c = &claims[ci];
                c.claim.lines.iter().enumerate().map(move |(li, l)| {
                    let origin = c.lines.get(li).unwrap_or(&FALLBACK_ORIGIN);
                    ((ci, li), l, origin)
                })
            })
            .collect();
        let mut accs: Vec<Acc> = (0..pool.len()).map(|_| Acc::default()).collect();
        let mut claim_acc = Acc::default();
        let mut rec = ClaimReconciliation {
            claim_id: (*claim_id).to_owned(),
            payer: claims[indexes[0]].claim.payer.id.to_string(),
            statuses: Vec::new(),
            claim_adjustments: Vec::new(),
            lines: Vec::new(),
            unmatched_remit_lines: Vec::new(),
            no_remittance: false,
            claim_level: None,
        };
        let remits = remits_by_id.get(claim_id).map(Vec::as_slice).unwrap_or(&[]);
        rec.no_remittance = remits.is_empty();
        // Claim-level CAS beside SVC lines belong to no line, but are still the payer's adjustments.
        let mut beside_lines: BTreeMap<String, Decimal> = BTreeMap::new();
        // The claim is judged on the primary payer's answer when there is one: a CLP processed as
        // secondary or tertiary (CLP02 2, 3, 20, 21) is another payer's, after coordination of benefits,
        // and adding it would count one service's allowance twice. It is told, not added.
        let has_primary = remits.iter().any(|(_, rc)| rc.is_primary());
        for (_, rc) in remits.iter().filter(|(_, rc)| {
            let later = has_primary && rc.is_secondary_or_later();
            if later {
                let message = format!(
                    "CLP02 {} for claim {claim_id} is a secondary or later payer's answer: not added to the primary \
                     payer's, which the claim is judged on",
                    rc.status
                );
                result.problems.push(X12Error::value(rc.at, message));
            }
            !later
        }) {
            rec.statuses.push(rc.status.clone());
            rec.claim_adjustments.extend_from_slice(&rc.adjustments);
            if rc.lines.is_empty() {
                // Adjudicated as a whole: a claim of one line is that line; several are not split,
                // since how the payer would share the payment is not in the 835.
                let acc = match &mut accs[..] {
                    [only] => only,
                    _ => &mut claim_acc,
                };
                acc.add(MatchedBy::ClaimLevel, Part::claim(rc), rc.is_reversal());
                continue;
            }
            for a in &rc.adjustments {
                *beside_lines.entry(a.key()).or_default() += a.amount();
            }
            let matches = match_lines(rc, &pool);
            let mut used = vec![false; rc.lines.len()];
            for (pi, ri, how) in matches {
                used[ri] = true;
                let r = &rc.lines[ri];
                accs[pi].add(how, Part::line(r), rc.is_reversal());
                accs[pi].procedures.push(r.procedure.clone());
            }
            for (_, r) in rc.lines.iter().enumerate().filter(|(ri, _)| !used[*ri]) {
                rec.unmatched_remit_lines.push(UnmatchedRemitLine::new(&rc.claim_id, r));
            }
        }
        let priced_lines: Vec<Option<&PricedLine>> =
            pool.iter().map(|((ci, li), _, _)| priced[*ci].as_ref().ok().and_then(|p| p.lines.get(*li))).collect();
        if claim_acc.any {
            let expected: Option<Decimal> = priced_lines.iter().map(|p| expected_of(*p)).sum();
            let judged = judge(&claim_acc, expected, options);
            rec.claim_level = Some(ClaimLevelResult {
                paid: judged.paid,
                allowed: judged.allowed,
                expected,
                variance: judged.variance,
                adjustments_by_reason: judged.by_reason,
                adjustments_by_group: judged.by_group,
                flags: judged.flags,
            });
        }
        for ((((ci, li), line, origin), acc), priced_line) in pool.iter().zip(accs).zip(priced_lines) {
            let note = match &priced[*ci] {
                Err(e) => Some(e.clone()),
                Ok(_) => priced_line.filter(|p| p.status != LineStatus::Priced).map(|_| {
                    "cptkit does not price this line (not anesthesia, unlisted, or the payer's rule is unknown)"
                        .to_owned()
                }),
            };
            let at = LineAt { claim_index: *ci, line_index: *li, line, origin };
            rec.lines.push(line_result(at, priced_line, note, acc, rec.claim_level.as_ref(), options));
        }
        for t in [&mut result.totals, result.totals_by_payer.entry(payer_key(&rec.payer)).or_default()] {
            add_totals(t, &rec);
            add_amounts(t, None, None, None, &beside_lines);
        }
        result.claims.push(rec);
    }
    result
}

static FALLBACK_ORIGIN: LineOrigin = LineOrigin { line_number: 0, index_in_claim: 0, control_number: None };

/// A `totals_by_payer` key: payer ids match whatever their case.
fn payer_key(id: &str) -> String {
    id.trim().to_ascii_lowercase()
}

/// The `totals_by_payer` key of each remittance, for what it says apart from any claim (see
/// [`Reconciliation::totals_by_payer`]). A remittance with no CLP (PLB adjustments alone) names no claim
/// and no plan type: it counts under the key of a remittance with CLPs from the same payer (N1*PR name
/// and id) in the same call, so a payer's adjustments sit beside its payments; with none, under its N1*PR
/// as [`remittance_payer`] names it.
fn remittance_payers(
    remittances: &[Remittance],
    claims: &[ParsedClaim],
    by_id: &BTreeMap<&str, Vec<usize>>,
    options: &ReconcileOptions,
) -> Vec<String> {
    let party = |r: &Remittance| (r.payer.name.trim().to_owned(), r.payer.identifier.trim().to_owned());
    let mut key_of_party: BTreeMap<(String, String), String> = BTreeMap::new();
    let keys: Vec<Option<String>> = remittances
        .iter()
        .map(|r| {
            let has_claims = !r.claims.is_empty();
            let key = has_claims.then(|| remittance_payer(r, claims, by_id, options));
            if let Some(key) = &key {
                key_of_party.entry(party(r)).or_insert_with(|| key.clone());
            }
            key
        })
        .collect();
    remittances
        .iter()
        .zip(keys)
        .map(|(r, key)| {
            key.or_else(|| key_of_party.get(&party(r)).cloned())
                .unwrap_or_else(|| remittance_payer(r, claims, by_id, options))
        })
        .collect()
}

/// The `totals_by_payer` key of what `remittance` says apart from any claim, on its own. A secondary
/// payer's CLP names no payer: the claim it answers is billed to another.
fn remittance_payer(
    remittance: &Remittance,
    claims: &[ParsedClaim],
    by_id: &BTreeMap<&str, Vec<usize>>,
    options: &ReconcileOptions,
) -> String {
    let answered = remittance
        .claims
        .iter()
        .filter(|rc| !rc.is_secondary_or_later())
        .find_map(|rc| by_id.get(rc.claim_id.as_str()).and_then(|indexes| indexes.first()))
        .and_then(|&i| claims.get(i));
    let id = match answered {
        Some(claim) => claim.claim.payer.id.to_string(),
        None => {
            let read = &options.read_options;
            let filing = remittance.claims.first().map_or("", |rc| rc.filing_indicator.as_str());
            let plan_type = read.plan_type(filing).unwrap_or(PlanType::Commercial);
            read.payer_id(plan_type, &remittance.payer.name, &remittance.payer.identifier)
        }
    };
    payer_key(&id)
}

fn priced_error(e: &cptkit_core::Error) -> String {
    let fields: Vec<String> = e.violations().iter().map(|v| format!("{}: {}", v.loc, v.message)).collect();
    if fields.is_empty() { e.to_string() } else { format!("{e} ({})", fields.join("; ")) }
}

/// cptkit's allowed amount for a line it priced.
fn expected_of(priced: Option<&PricedLine>) -> Option<Decimal> {
    priced.filter(|p| p.status == LineStatus::Priced).map(|p| p.allowed)
}

/// Which claim line a result is for.
struct LineAt<'a> {
    claim_index: usize,
    line_index: usize,
    line: &'a ClaimLine,
    origin: &'a LineOrigin,
}

fn line_result(
    at: LineAt<'_>,
    priced: Option<&PricedLine>,
    expected_note: Option<String>,
    acc: Acc,
    claim_level: Option<&ClaimLevelResult>,
    options: &ReconcileOptions,
) -> LineReconciliation {
    let LineAt { claim_index, line_index, line, origin } = at;
    let expected = expected_of(priced);
    let judged = judge(&acc, expected, options);
    let mut flags = Vec::new();
    let mut matched_by = acc.matched_by;
    if !acc.any {
        match claim_level {
            Some(claim) => {
                matched_by = Some(MatchedBy::ClaimLevel);
                flags.push(LineFlag::PaidAtClaimLevel);
                flags.extend(claim.flags.iter().filter(|f| f.holds_for_every_line()).cloned());
            }
            None => flags.push(LineFlag::Unmatched),
        }
    }
    if expected.is_none() {
        flags.push(LineFlag::NotPriced);
    }
    let reversed = judged.flags.contains(&LineFlag::Reversed);
    flags.extend(judged.flags);
    let billed_code = line.procedure_code.as_str();
    for p in &acc.procedures {
        if !p.code.is_empty() && !p.code.eq_ignore_ascii_case(billed_code) {
            flags.push(LineFlag::CodeChanged { billed: billed_code.to_owned(), paid: p.to_string() });
        }
    }
    // Units a reversal netted to 0 (or below) are no payer's reading of the minutes.
    if let (UnitBasis::Minutes, Some(units)) = (line.unit_basis, acc.paid_units)
        && units != line.quantity
        && units.is_sign_positive()
        && !units.is_zero()
        && !reversed
    {
        let minutes = line.quantity;
        let near = |a: Decimal, b: Decimal| (a - b).abs() <= Decimal::new(1, 1);
        let reads_as = match priced {
            Some(p) if p.status == LineStatus::Priced && near(units, p.time_units) => Some("time units"),
            Some(p) if p.status == LineStatus::Priced && near(units, p.total_units) => Some("total units"),
            _ if units * Decimal::from(5) <= minutes => Some("units"),
            _ => None,
        };
        match reads_as {
            Some(r) => flags.push(LineFlag::UnitsNotMinutes {
                billed_minutes: minutes,
                paid_units: units,
                reads_as: r.to_owned(),
            }),
            None if units < minutes => {
                flags.push(LineFlag::MinutesReduced { billed_minutes: minutes, paid_minutes: units })
            }
            None => {}
        }
    }
    let modifiers: Vec<&str> = line.modifiers.iter().map(|m| m.as_str()).collect();
    LineReconciliation {
        claim_index,
        line_index,
        line_number: origin.line_number,
        procedure: procedure_text(billed_code, &modifiers),
        date_of_service: line.date_of_service,
        matched_by,
        charge: line.charge(),
        expected,
        expected_note,
        allowed: judged.allowed,
        allowed_from_amt_b6: judged.from_b6,
        paid: judged.paid,
        adjustments: acc.adjustments,
        adjustments_by_reason: judged.by_reason,
        adjustments_by_group: judged.by_group,
        variance: judged.variance,
        paid_units: acc.paid_units,
        flags,
    }
}

fn add_totals(t: &mut Totals, rec: &ClaimReconciliation) {
    t.claims += 1;
    t.unmatched_remit_lines += rec.unmatched_remit_lines.len();
    t.paid += rec.unmatched_remit_lines.iter().filter_map(|u| u.paid_cents).map(dollars).sum::<Decimal>();
    if let Some(c) = &rec.claim_level {
        add_amounts(t, c.paid, c.allowed, c.variance, &c.adjustments_by_reason);
        t.claims_paid_at_claim_level += 1;
        t.underpaid_claims += usize::from(c.flags.iter().any(|f| matches!(f, LineFlag::Underpaid { .. })));
    }
    for l in &rec.lines {
        add_amounts(t, l.paid, l.allowed, l.variance, &l.adjustments_by_reason);
        t.lines += 1;
        t.charge += l.charge;
        if let Some(e) = l.expected {
            t.expected += e;
        }
        for f in &l.flags {
            match f {
                LineFlag::Underpaid { .. } => t.underpaid_lines += 1,
                LineFlag::Denied { .. } => t.denied_lines += 1,
                LineFlag::UnitsNotMinutes { .. } => t.units_not_minutes_lines += 1,
                LineFlag::Unmatched => t.unmatched_claim_lines += 1,
                LineFlag::UnreadableAmount { .. } => t.unreadable_lines += 1,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tolerance_is_read_alike_on_every_face() {
        for (text, cents) in [("1.00", 100), (" 5 ", 500), ("0", 0), ("2.5E1", 2500)] {
            let read = ReconcileOptions::tolerance_from_text(text);
            assert_eq!(read.ok().map(|t| t.normalize()), Some(Decimal::new(cents, 2).normalize()), "{text:?}");
        }
        for text in ["-5", "-0.01", "", " ", "five", "1,00"] {
            let err = ReconcileOptions::tolerance_from_text(text).expect_err(text);
            assert_eq!(err.field(), Some("tolerance"), "{text:?}");
            assert!(err.message().starts_with("expected a non-negative decimal"), "{err}");
        }
    }
}
