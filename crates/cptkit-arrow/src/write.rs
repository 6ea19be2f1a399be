//! Claims out: core claims as a claim-lines batch (synthetic tables, an 837 file as a table).

use std::borrow::Borrow;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use cptkit_core::{Claim, ClaimLine, Error, FieldPath, Result, small_mantissa};
use rust_decimal::Decimal;
use time::PrimitiveDateTime;

use crate::layout::{self, CLAIM_LINE_COLUMNS, Column, ColumnKind, DECIMAL_PRECISION, DECIMAL_SCALE};
use crate::read::days_from_date;

/// A builder for one column of the layout, of its kind.
enum ColumnBuilder {
    Text(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Cents(Int64Builder),
    Decimal(Decimal128Builder),
    Bool(BooleanBuilder),
    TextList(ListBuilder<StringBuilder>),
    IntList(ListBuilder<Int32Builder>),
}

impl ColumnBuilder {
    fn new(kind: ColumnKind, rows: usize) -> ColumnBuilder {
        match kind {
            ColumnKind::Text => ColumnBuilder::Text(StringBuilder::with_capacity(rows, rows * 8)),
            ColumnKind::Date => ColumnBuilder::Date(Date32Builder::with_capacity(rows)),
            ColumnKind::Timestamp => ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows)),
            ColumnKind::Cents => ColumnBuilder::Cents(Int64Builder::with_capacity(rows)),
            ColumnKind::Decimal => ColumnBuilder::Decimal(Decimal128Builder::with_capacity(rows)),
            ColumnKind::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            ColumnKind::TextList => ColumnBuilder::TextList(ListBuilder::new(StringBuilder::new())),
            ColumnKind::IntList => ColumnBuilder::IntList(ListBuilder::new(Int32Builder::new())),
        }
    }

    fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
            ColumnBuilder::Cents(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b) => Arc::new(
                b.finish()
                    .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
                    .map_err(|e| Error::internal(e.to_string()))?,
            ),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::TextList(b) => Arc::new(b.finish()),
            ColumnBuilder::IntList(b) => Arc::new(b.finish()),
        })
    }
}

/// The claims' lines as one batch in the claim-lines layout. Fails for a claim with no lines (it would
/// have no row: lost, where the one judge finds CLM001), a quantity beyond the layout's 18-digit decimal
/// or its 4 places, and a diagnosis pointer beyond its int32. Takes owned or borrowed claims
/// (`&[Claim]`, `&[&Claim]`), so a caller holding claims inside other values need not copy them.
pub fn claims_to_batch<C: Borrow<Claim>>(claims: &[C]) -> Result<RecordBatch> {
    for (i, claim) in claims.iter().enumerate() {
        has_rows(claim.borrow()).map_err(|e| e.at(FieldPath::field("claims").index(i)))?;
    }
    let rows: usize = claims.iter().map(|c| c.borrow().lines.len()).sum();
    let mut columns = Columns(CLAIM_LINE_COLUMNS.iter().map(|c| ColumnBuilder::new(c.kind, rows)).collect());
    for (i, claim) in claims.iter().map(Borrow::borrow).enumerate() {
        for (j, line) in claim.lines.iter().enumerate() {
            let at = || FieldPath::field("claims").index(i).key("lines").index(j);
            columns.append(claim, line).map_err(|e| e.at(at()))?;
        }
    }
    let arrays = columns.0.iter_mut().map(ColumnBuilder::finish).collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(layout::claim_lines_schema(), arrays).map_err(|e| Error::internal(e.to_string()))
}

/// A claim with no lines has no row in the claim-lines layout: refused, naming `lines`, where the one
/// judge finds CLM001, so that it is never lost.
pub fn has_rows(claim: &Claim) -> Result<()> {
    if claim.lines.is_empty() {
        return Err(Error::invalid("lines", "a claim with no lines has no row in the claim-lines layout (CLM001)"));
    }
    Ok(())
}

/// Builders in layout order, indexed by [`Column::index`].
struct Columns(Vec<ColumnBuilder>);

impl Columns {
    /// Empty text is no value in an optional column; a required column keeps it, for the reader to
    /// report (TBL001) rather than the batch to fail on a null it does not allow.
    fn text(&mut self, column: &Column, value: Option<&str>) {
        if let ColumnBuilder::Text(b) = &mut self.0[column.index] {
            b.append_option(value.filter(|v| column.required || !v.is_empty()));
        }
    }

    fn append(&mut self, claim: &Claim, line: &ClaimLine) -> Result<()> {
        use crate::layout::*;
        use ColumnBuilder as B;
        let provider = &claim.rendering_provider;
        self.text(&CLAIM_ID, Some(&claim.claim_id));
        self.text(&PAYER_ID, Some(&claim.payer.id));
        self.text(&PLAN_TYPE, Some(claim.payer.plan_type.as_str()));
        self.text(&PLACE_OF_SERVICE, Some(claim.place_of_service.as_str()));
        self.text(&FREQUENCY_CODE, Some(&claim.frequency_code));
        self.text(&MEMBER_ID, Some(&claim.patient.member_id));
        self.text(&BILLING_PROVIDER_NPI, Some(claim.billing_provider_npi.as_str()));
        self.text(&RENDERING_NPI, Some(provider.npi.as_str()));
        self.text(&RENDERING_TAXONOMY, provider.taxonomy.as_ref().map(|t| t.as_str()));
        self.text(&RENDERING_ROLE, provider.role.map(|r| r.as_str()));
        self.text(&MEDICARE_LOCALITY, claim.medicare_locality.as_ref().map(|l| l.as_str()));
        for (location, (state, zip)) in [
            (&claim.service_facility_location, (&SERVICE_FACILITY_STATE, &SERVICE_FACILITY_ZIP)),
            (&claim.billing_provider_location, (&BILLING_PROVIDER_STATE, &BILLING_PROVIDER_ZIP)),
        ] {
            self.text(state, location.and_then(|l| l.state).as_ref().map(|s| s.as_str()));
            self.text(zip, location.and_then(|l| l.zip).as_ref().map(|z| z.as_str()));
        }
        self.text(&PROCEDURE_CODE, Some(line.procedure_code.as_str()));
        self.text(&UNIT_BASIS, Some(line.unit_basis.as_str()));
        self.text(&CASE_ID, Some(&line.case_id));
        for (column, value) in
            [(&PATIENT_BIRTH_DATE, claim.patient.birth_date), (&DATE_OF_SERVICE, line.date_of_service)]
        {
            if let B::Date(b) = &mut self.0[column.index] {
                b.append_value(days_from_date(value));
            }
        }
        for (column, value) in [(&START_TIME, line.start_time), (&END_TIME, line.end_time)] {
            if let B::Timestamp(b) = &mut self.0[column.index] {
                b.append_option(value.map(micros));
            }
        }
        for (column, value) in
            [(&QUALIFYING_APM, provider.qualifying_apm), (&PRESENT_AT_INDUCTION, line.present_at_induction)]
        {
            if let B::Bool(b) = &mut self.0[column.index] {
                b.append_value(value);
            }
        }
        if let B::TextList(b) = &mut self.0[DIAGNOSES.index] {
            b.append_value(claim.diagnoses.iter().map(|d| Some(d.as_str())));
        }
        if let B::TextList(b) = &mut self.0[MODIFIERS.index] {
            b.append_value(line.modifiers.iter().map(|m| Some(m.as_str())));
        }
        if let B::IntList(b) = &mut self.0[DIAGNOSIS_POINTERS.index] {
            // A pointer past int32 would be written as another number (DX005 then names it wrongly).
            if let Some(p) = line.diagnosis_pointers.iter().find(|&&p| i32::try_from(p).is_err()) {
                let message = format!("pointer {p} does not fit the layout's int32");
                return Err(Error::invalid(DIAGNOSIS_POINTERS.name, message));
            }
            b.append_value(line.diagnosis_pointers.iter().map(|&p| i32::try_from(p).ok()));
        }
        if let B::Cents(b) = &mut self.0[CHARGE_CENTS.index] {
            b.append_value(line.charge_cents);
        }
        if let B::Decimal(b) = &mut self.0[QUANTITY.index] {
            // More places than the layout keeps would be rounded unseen (the reader's TBL001 for them).
            if line.quantity.normalize().scale() > DECIMAL_SCALE as u32 {
                let message = format!("{} has more than {DECIMAL_SCALE} decimal places", line.quantity);
                return Err(Error::invalid(QUANTITY.name, message));
            }
            b.append_value(scaled(line.quantity, QUANTITY.name)?);
        }
        Ok(())
    }
}

/// A decimal at the layout's scale, as Arrow stores it; `column` names it in the error. Inlined: the
/// results write six per priced row, and the call cost more than the work.
#[inline]
pub(crate) fn scaled(value: Decimal, column: &str) -> Result<i128> {
    const POWERS: [i64; 5] = [1, 10, 100, 1_000, 10_000];
    const LIMIT: u64 = 10u64.pow(DECIMAL_PRECISION as u32);
    // Money and units mostly carry 0-4 decimals: widen the mantissa, no rounding needed. Anything
    // that fits 18 digits fits an i64, whose multiply and bounds are a fraction of i128 ones.
    let mantissa = match POWERS.get((DECIMAL_SCALE as u32).wrapping_sub(value.scale()) as usize) {
        Some(&power) => small_mantissa(value).and_then(|m| m.checked_mul(power)),
        None => i64::try_from(value.round_dp(DECIMAL_SCALE as u32).mantissa()).ok(),
    };
    match mantissa {
        Some(m) if m.unsigned_abs() < LIMIT => Ok(i128::from(m)),
        _ => Err(Error::invalid(column, format!("{value} does not fit a decimal of 18 digits, 4 after the point"))),
    }
}

/// A local date-time as Arrow's microseconds (its clock read as UTC: the layout's times are local).
pub(crate) fn micros(at: PrimitiveDateTime) -> i64 {
    let nanos = at.assume_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cptkit_core::synthetic::edge_decimals;

    /// The layout's scale as it was worked out in i128, for every edge case: same value or same refusal.
    #[test]
    fn scaled_works_out_the_i128_it_did() {
        let in_i128 = |value: Decimal| {
            let exact = (value.scale() <= 4).then(|| {
                i64::try_from(value.mantissa()).ok()?.checked_mul(10i64.pow(4 - value.scale())).map(i128::from)
            });
            let mantissa = exact.unwrap_or_else(|| Some(value.round_dp(4).mantissa()));
            mantissa.filter(|m| m.abs() < 10i128.pow(18))
        };
        for value in edge_decimals() {
            assert_eq!(scaled(value, "units").ok(), in_i128(value), "{value:?}");
        }
    }
}
