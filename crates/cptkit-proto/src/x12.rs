//! X12Service conversions: read options in; parsed 837 claims (with source locations), X12 errors
//! and reconciliations out. Money leaves as integer cents (the reconciliation's decimal dollars come
//! from cents or from the core's cent-rounded prices, so the conversion is exact).

use std::collections::HashMap;

use cptkit_core as core;
use cptkit_core::{Error, Result, cents_count};
use cptkit_x12 as x12;
use rust_decimal::Decimal;

use crate::convert::date_string;
use crate::pb;

impl TryFrom<pb::X12ReadOptions> for x12::ReadOptions {
    type Error = Error;
    fn try_from(o: pb::X12ReadOptions) -> Result<Self> {
        let pb::X12ReadOptions { medicare_locality, payer_ids, qualifying_apm_npis } = o;
        let medicare_locality = if medicare_locality.is_empty() {
            None
        } else {
            Some(
                medicare_locality
                    .parse::<core::LocalityId>()
                    .map_err(|e: Error| Error::invalid("medicare_locality", e.message()))?,
            )
        };
        let qualifying_apm_npis = qualifying_apm_npis
            .iter()
            .enumerate()
            .map(|(i, npi)| {
                let field = format!("qualifying_apm_npis[{i}]");
                x12::ReadOptions::qualifying_apm_npi(npi).map_err(|e| Error::invalid(field, e.message()))
            })
            .collect::<Result<_>>()?;
        // The payer tables are the server's (its data directory's), set by the server.
        Ok(x12::ReadOptions {
            payer_ids: x12::ReadOptions::payer_id_map(payer_ids),
            medicare_locality,
            qualifying_apm_npis,
            ..x12::ReadOptions::default()
        })
    }
}

/// Read options from the wire (none given: the defaults); errors name `read_options.<field>`.
pub fn read_options(options: Option<pb::X12ReadOptions>) -> Result<x12::ReadOptions> {
    options.map_or_else(
        || Ok(x12::ReadOptions::default()),
        |o| x12::ReadOptions::try_from(o).map_err(|e| e.at("read_options")),
    )
}

impl From<x12::SegmentRef> for pb::X12Location {
    fn from(at: x12::SegmentRef) -> Self {
        // SegmentRef keeps its id private: read it through its accessors.
        pb::X12Location {
            segment_number: at.segment_number,
            segment_id: at.segment_id().to_owned(),
            element: u32::from(at.element),
            component: u32::from(at.component),
            byte_offset: at.byte_offset,
            element_name: at.element_name().unwrap_or_default(),
        }
    }
}

impl From<x12::X12ErrorKind> for pb::X12ErrorKind {
    fn from(kind: x12::X12ErrorKind) -> Self {
        match kind {
            x12::X12ErrorKind::Syntax => pb::X12ErrorKind::Syntax,
            x12::X12ErrorKind::Envelope => pb::X12ErrorKind::Envelope,
            x12::X12ErrorKind::Truncated => pb::X12ErrorKind::Truncated,
            x12::X12ErrorKind::Value => pb::X12ErrorKind::Value,
            x12::X12ErrorKind::Unsupported => pb::X12ErrorKind::Unsupported,
            x12::X12ErrorKind::Io => pb::X12ErrorKind::Io,
        }
    }
}

impl From<x12::X12Error> for pb::X12Error {
    fn from(e: x12::X12Error) -> Self {
        let x12::X12Error { kind, message, at, control } = e;
        let x12::Control { interchange, group, transaction } = *control;
        pb::X12Error {
            kind: pb::X12ErrorKind::from(kind).into(),
            message,
            location: Some(at.into()),
            interchange_control: interchange.unwrap_or_default(),
            group_control: group.unwrap_or_default(),
            transaction_control: transaction.unwrap_or_default(),
        }
    }
}

impl From<x12::Envelope> for pb::X12Envelope {
    fn from(e: x12::Envelope) -> Self {
        let x12::Envelope {
            sender_id,
            receiver_id,
            interchange_control,
            application_sender,
            application_receiver,
            group_control,
            version,
            transaction_control,
            implementation,
            at,
        } = e;
        pb::X12Envelope {
            sender_id,
            receiver_id,
            interchange_control,
            application_sender,
            application_receiver,
            group_control,
            version,
            transaction_control,
            implementation,
            location: Some(at.into()),
        }
    }
}

/// A finding and where it is in the file.
pub fn located_finding(finding: core::Finding, at: x12::SegmentRef) -> pb::X12Finding {
    pb::X12Finding { finding: Some(finding.into()), location: Some(at.into()) }
}

impl From<x12::BillingProvider> for pb::X12BillingProvider {
    fn from(b: x12::BillingProvider) -> Self {
        let x12::BillingProvider { name, npi, tax_id, address, city, state, zip, taxonomy } = b;
        pb::X12BillingProvider { name, npi, tax_id, address, city, state, zip, taxonomy: taxonomy.unwrap_or_default() }
    }
}

impl From<x12::ClaimInfo> for pb::X12ClaimInfo {
    fn from(i: x12::ClaimInfo) -> Self {
        let x12::ClaimInfo {
            billing_provider,
            payer_name,
            payer_identifier,
            filing_indicator,
            total_charge_cents,
            dates,
        } = i;
        pb::X12ClaimInfo {
            billing_provider: Some(x12::BillingProvider::clone(&billing_provider).into()),
            payer_name: payer_name.to_string(),
            payer_identifier: payer_identifier.to_string(),
            filing_indicator: filing_indicator.to_string(),
            total_charge_cents,
            dates: dates
                .into_iter()
                .map(|(qualifier, date)| pb::X12ClaimDate { qualifier: u32::from(qualifier), date: date.to_string() })
                .collect(),
        }
    }
}

impl From<x12::LineOrigin> for pb::X12LineOrigin {
    fn from(o: x12::LineOrigin) -> Self {
        let x12::LineOrigin { line_number, index_in_claim, control_number } = o;
        pb::X12LineOrigin {
            line_number,
            index_in_claim,
            control_number: control_number.map(|c| c.into_string()).unwrap_or_default(),
        }
    }
}

/// A parsed claim on the wire: its X12 findings located, and `validation` (the core's report, when
/// the caller validated) located the same way.
pub fn parsed_claim(parsed: x12::ParsedClaim, validation: Option<core::ValidationReport>) -> pb::X12ParsedClaim {
    let locate = |f: core::Finding| {
        let at = parsed.locate(&f);
        located_finding(f, at)
    };
    let findings = parsed.findings.iter().cloned().map(locate).collect();
    let validated = validation.is_some();
    let validation_findings = validation.map(|r| r.findings.into_iter().map(locate).collect()).unwrap_or_default();
    let x12::ParsedClaim { claim, source, findings: _, part, lines, info } = parsed;
    let (part_index, part_of) = part.map_or((0, 0), |x12::ClaimPart { index, of }| (u32::from(index), u32::from(of)));
    pb::X12ParsedClaim {
        claim: Some(claim.into()),
        findings,
        validation_findings,
        validated,
        location: Some(source.claim.into()),
        part_index,
        part_of,
        lines: lines.into_iter().map(Into::into).collect(),
        info: Some(info.into()),
        validation_error: None,
    }
}

impl From<x12::ParsedClaim> for pb::X12ParsedClaim {
    fn from(parsed: x12::ParsedClaim) -> Self {
        parsed_claim(parsed, None)
    }
}

impl From<x12::RejectedClaim> for pb::X12RejectedClaim {
    fn from(r: x12::RejectedClaim) -> Self {
        let x12::RejectedClaim { claim_id, at, errors } = r;
        pb::X12RejectedClaim {
            claim_id,
            location: Some(at.into()),
            errors: errors.into_iter().map(Into::into).collect(),
        }
    }
}

/// The `transaction` item of a transaction set (its claims and rejected claims go separately).
pub fn transaction_summary(envelope: x12::Envelope, claims: &x12::Claims837) -> pb::X12Transaction {
    let x12::Claims837 { claims: parsed, rejected, problems } = claims;
    pb::X12Transaction {
        envelope: Some(envelope.into()),
        claims: u32::try_from(parsed.len()).unwrap_or(u32::MAX),
        rejected_claims: u32::try_from(rejected.len()).unwrap_or(u32::MAX),
        problems: problems.iter().cloned().map(Into::into).collect(),
    }
}

// ---- reconciliation ----

impl From<x12::MatchedBy> for pb::MatchedBy {
    fn from(m: x12::MatchedBy) -> Self {
        match m {
            x12::MatchedBy::ControlNumber => pb::MatchedBy::ControlNumber,
            x12::MatchedBy::CodeModifiersDate => pb::MatchedBy::CodeModifiersDate,
            x12::MatchedBy::OriginalCode => pb::MatchedBy::OriginalCode,
            x12::MatchedBy::CodeDate => pb::MatchedBy::CodeDate,
            x12::MatchedBy::Order => pb::MatchedBy::Order,
            x12::MatchedBy::ClaimLevel => pb::MatchedBy::ClaimLevel,
        }
    }
}

fn decimal_string(value: Option<Decimal>) -> String {
    value.map(|d| d.normalize().to_string()).unwrap_or_default()
}

impl From<x12::LineFlag> for pb::LineFlag {
    fn from(flag: x12::LineFlag) -> Self {
        use pb::LineFlagKind as K;
        let blank = |kind: K| pb::LineFlag { kind: kind.into(), ..Default::default() };
        match flag {
            x12::LineFlag::Underpaid { by } => pb::LineFlag { by_cents: cents_count(by), ..blank(K::Underpaid) },
            x12::LineFlag::AboveExpected { by } => {
                pb::LineFlag { by_cents: cents_count(by), ..blank(K::AboveExpected) }
            }
            x12::LineFlag::Denied { reasons } => pb::LineFlag { reasons, ..blank(K::Denied) },
            x12::LineFlag::UnitsNotMinutes { billed_minutes, paid_units, reads_as } => pb::LineFlag {
                billed_minutes: decimal_string(Some(billed_minutes)),
                paid_units: decimal_string(Some(paid_units)),
                reads_as,
                ..blank(K::UnitsNotMinutes)
            },
            x12::LineFlag::MinutesReduced { billed_minutes, paid_minutes } => pb::LineFlag {
                billed_minutes: decimal_string(Some(billed_minutes)),
                paid_minutes: decimal_string(Some(paid_minutes)),
                ..blank(K::MinutesReduced)
            },
            x12::LineFlag::CodeChanged { billed, paid } => {
                pb::LineFlag { billed_procedure: billed, paid_procedure: paid, ..blank(K::CodeChanged) }
            }
            x12::LineFlag::Unmatched => blank(K::Unmatched),
            x12::LineFlag::NotPriced => blank(K::NotPriced),
            x12::LineFlag::UnreadableAmount { at } => {
                pb::LineFlag { locations: at.into_iter().map(Into::into).collect(), ..blank(K::UnreadableAmount) }
            }
            x12::LineFlag::Reversed => blank(K::Reversed),
            x12::LineFlag::PaidAtClaimLevel => blank(K::PaidAtClaimLevel),
        }
    }
}

impl From<x12::Adjustment> for pb::RemitAdjustment {
    fn from(a: x12::Adjustment) -> Self {
        let x12::Adjustment { group, reason, amount_cents, quantity, at } = a;
        pb::RemitAdjustment {
            group: group.as_str().to_owned(),
            reason,
            amount_cents,
            quantity: decimal_string(quantity),
            location: Some(at.into()),
        }
    }
}

fn cents_map(map: std::collections::BTreeMap<String, Decimal>) -> HashMap<String, i64> {
    map.into_iter().map(|(k, v)| (k, cents_count(v))).collect()
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl From<x12::LineReconciliation> for pb::LineReconciliation {
    fn from(l: x12::LineReconciliation) -> Self {
        let x12::LineReconciliation {
            claim_index,
            line_index,
            line_number,
            procedure,
            date_of_service,
            matched_by,
            charge,
            expected,
            expected_note,
            allowed,
            allowed_from_amt_b6,
            paid,
            adjustments,
            adjustments_by_reason,
            adjustments_by_group,
            variance,
            paid_units,
            flags,
        } = l;
        pb::LineReconciliation {
            claim_index: index(claim_index),
            line_index: index(line_index),
            line_number,
            procedure,
            date_of_service: date_of_service.to_string(),
            matched_by: matched_by.map_or(pb::MatchedBy::Unspecified, Into::into).into(),
            charge_cents: cents_count(charge),
            expected_cents: expected.map(cents_count),
            expected_note: expected_note.unwrap_or_default(),
            allowed_cents: allowed.map(cents_count),
            allowed_from_amt_b6,
            paid_cents: paid.map(cents_count),
            adjustments: adjustments.into_iter().map(Into::into).collect(),
            adjustments_by_reason: cents_map(adjustments_by_reason),
            adjustments_by_group: cents_map(adjustments_by_group),
            variance_cents: variance.map(cents_count),
            paid_units: decimal_string(paid_units),
            flags: flags.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<x12::UnmatchedRemitLine> for pb::UnmatchedRemitLine {
    fn from(u: x12::UnmatchedRemitLine) -> Self {
        let x12::UnmatchedRemitLine { claim_id, procedure, date_of_service, paid_cents, at } = u;
        pb::UnmatchedRemitLine {
            claim_id,
            procedure,
            date_of_service: date_string(date_of_service),
            paid_cents,
            location: Some(at.into()),
        }
    }
}

impl From<x12::ClaimReconciliation> for pb::ClaimReconciliation {
    fn from(c: x12::ClaimReconciliation) -> Self {
        let x12::ClaimReconciliation {
            claim_id,
            payer,
            statuses,
            claim_adjustments,
            lines,
            unmatched_remit_lines,
            no_remittance,
            claim_level,
        } = c;
        pb::ClaimReconciliation {
            claim_id,
            payer,
            statuses,
            claim_adjustments: claim_adjustments.into_iter().map(Into::into).collect(),
            lines: lines.into_iter().map(Into::into).collect(),
            unmatched_remit_lines: unmatched_remit_lines.into_iter().map(Into::into).collect(),
            no_remittance,
            claim_level: claim_level.map(Into::into),
        }
    }
}

impl From<x12::ClaimLevelResult> for pb::ClaimLevelResult {
    fn from(c: x12::ClaimLevelResult) -> Self {
        let x12::ClaimLevelResult {
            paid,
            allowed,
            expected,
            variance,
            adjustments_by_reason,
            adjustments_by_group,
            flags,
        } = c;
        pb::ClaimLevelResult {
            paid_cents: paid.map(cents_count),
            allowed_cents: allowed.map(cents_count),
            expected_cents: expected.map(cents_count),
            variance_cents: variance.map(cents_count),
            adjustments_by_reason: cents_map(adjustments_by_reason),
            adjustments_by_group: cents_map(adjustments_by_group),
            flags: flags.into_iter().map(Into::into).collect(),
        }
    }
}

/// A remittance claim no 837 claim took, with its payer's name.
pub fn unmatched_remit_claim(payer_name: String, claim: x12::RemitClaim) -> pb::UnmatchedRemitClaim {
    let x12::RemitClaim {
        claim_id,
        status,
        charge_cents,
        paid_cents,
        patient_responsibility_cents,
        // Not on the wire: the claim's filing indicator, frequency, rendering NPI, dates and AMT
        // amounts are in the 835 itself; this item says which claim to look at and what was paid.
        filing_indicator: _,
        payer_claim_control,
        frequency_code: _,
        adjustments,
        lines,
        rendering_npi: _,
        dates: _,
        amounts: _,
        // The elements are in the reconciliation's problems, with their places.
        unreadable: _,
        at,
    } = claim;
    let lines = lines.iter().map(|l| x12::UnmatchedRemitLine::new(&claim_id, l).into()).collect();
    pb::UnmatchedRemitClaim {
        payer_name,
        claim_id,
        status,
        charge_cents,
        paid_cents,
        patient_responsibility_cents,
        payer_claim_control,
        adjustments: adjustments.into_iter().map(Into::into).collect(),
        lines,
        location: Some(at.into()),
    }
}

impl From<x12::Totals> for pb::ReconcileTotals {
    fn from(t: x12::Totals) -> Self {
        let x12::Totals {
            claims,
            lines,
            charge,
            expected,
            allowed,
            paid,
            variance,
            adjustments_by_reason,
            underpaid_lines,
            denied_lines,
            units_not_minutes_lines,
            unmatched_claim_lines,
            unmatched_remit_lines,
            unmatched_remit_claims,
            provider_adjustments,
            unreadable_lines,
            claims_paid_at_claim_level,
            underpaid_claims,
        } = t;
        pb::ReconcileTotals {
            claims: count(claims),
            lines: count(lines),
            charge_cents: cents_count(charge),
            expected_cents: cents_count(expected),
            allowed_cents: cents_count(allowed),
            paid_cents: cents_count(paid),
            variance_cents: cents_count(variance),
            adjustments_by_reason: cents_map(adjustments_by_reason),
            underpaid_lines: count(underpaid_lines),
            denied_lines: count(denied_lines),
            units_not_minutes_lines: count(units_not_minutes_lines),
            unmatched_claim_lines: count(unmatched_claim_lines),
            unmatched_remit_lines: count(unmatched_remit_lines),
            unmatched_remit_claims: count(unmatched_remit_claims),
            provider_adjustments_cents: cents_count(provider_adjustments),
            unreadable_lines: count(unreadable_lines),
            claims_paid_at_claim_level: count(claims_paid_at_claim_level),
            underpaid_claims: count(underpaid_claims),
        }
    }
}

/// A reconciliation on the wire, the remittances' problems in `remittance_835_errors`; the files'
/// envelope errors and rejected claims are the caller's to add.
impl From<x12::Reconciliation> for pb::ReconcileResponse {
    fn from(r: x12::Reconciliation) -> Self {
        let x12::Reconciliation { claims, unmatched_remit_claims, totals_by_payer, totals, problems } = r;
        pb::ReconcileResponse {
            claims: claims.into_iter().map(Into::into).collect(),
            unmatched_remit_claims: unmatched_remit_claims
                .into_iter()
                .map(|(payer, claim)| unmatched_remit_claim(payer, claim))
                .collect(),
            totals_by_payer: totals_by_payer.into_iter().map(|(k, v)| (k, v.into())).collect(),
            totals: Some(totals.into()),
            claims_837_errors: Vec::new(),
            rejected_claims: Vec::new(),
            remittance_835_errors: problems.into_iter().map(Into::into).collect(),
        }
    }
}

/// A reconciliation tolerance from the wire, read as every face reads it
/// ([`x12::ReconcileOptions::tolerance_from_text`]); empty for the default (1.00), as proto3 cannot
/// tell empty from absent. Errors name `tolerance`.
pub fn tolerance(text: &str) -> Result<Decimal> {
    if text.is_empty() {
        return Ok(x12::ReconcileOptions::default().tolerance);
    }
    x12::ReconcileOptions::tolerance_from_text(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_errors_and_options_convert() {
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/x12/837p_broken_envelope.x12"))
                .expect("fixture");
        let file = x12::read_837(&bytes[..], x12::ReadOptions::default());
        let first = pb::X12Error::from(file.errors[0].clone());
        assert_eq!(first.kind(), pb::X12ErrorKind::Envelope);
        assert_eq!(first.transaction_control, "0002");
        let at = first.location.expect("location");
        assert_eq!(
            (at.segment_number, at.segment_id.as_str(), at.element, at.element_name.as_str()),
            (58, "SE", 1, "SE01")
        );
        assert!(bytes[usize::try_from(at.byte_offset).expect("offset")..].starts_with(b"SE"));

        let options = pb::X12ReadOptions {
            medicare_locality: "bogus".into(),
            payer_ids: HashMap::new(),
            qualifying_apm_npis: Vec::new(),
        };
        assert_eq!(
            read_options(Some(options)).expect_err("bad locality").field(),
            Some("read_options.medicare_locality")
        );
        assert_eq!(tolerance("").expect("default"), Decimal::ONE);
        assert_eq!(tolerance("-1").expect_err("negative").field(), Some("tolerance"));
        // Payer ids are read as on every face: the blanks around them are no part of them.
        let options = pb::X12ReadOptions {
            payer_ids: HashMap::from([(" BCBSOK ".to_owned(), " bcbs-ok".to_owned())]),
            ..pb::X12ReadOptions::default()
        };
        let read = read_options(Some(options)).expect("options");
        assert_eq!(read.payer_ids, [("BCBSOK".to_owned(), "bcbs-ok".to_owned())].into());
    }
}
