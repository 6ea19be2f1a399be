//! The table layouts: claim lines in (one row per service line, claim-level fields repeated on each
//! line of the claim), and validation and pricing results out (one row per input row, same order).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use cptkit_core::{FieldPath, PathItem};

/// Decimal columns (quantity in; units, conversion factor and share out): 18 digits, 4 after the point.
pub const DECIMAL_PRECISION: u8 = 18;
pub const DECIMAL_SCALE: i8 = 4;

/// What a column holds; input columns of other Arrow types are cast to this (see [`ColumnKind::data_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Date,
    /// Local date-time, no time zone.
    Timestamp,
    Cents,
    Decimal,
    Bool,
    TextList,
    IntList,
}

impl ColumnKind {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnKind::Text => DataType::Utf8,
            ColumnKind::Date => DataType::Date32,
            ColumnKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnKind::Cents => DataType::Int64,
            ColumnKind::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            ColumnKind::Bool => DataType::Boolean,
            ColumnKind::TextList => DataType::new_list(DataType::Utf8, true),
            ColumnKind::IntList => DataType::new_list(DataType::Int32, true),
        }
    }
}

/// One column of the claim-lines layout.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Position in [`CLAIM_LINE_COLUMNS`].
    pub index: usize,
    pub name: &'static str,
    pub kind: ColumnKind,
    /// A required column must be present in the table and have a value in every row: a row without
    /// one is TBL001 on that row (so the schema marks it nullable: see [`claim_lines_schema`]).
    pub required: bool,
    /// Claim-level: the same on every line of a claim (checked: TBL002).
    pub claim_level: bool,
    /// The claim field it maps to, as path names (`["rendering_provider", "npi"]`).
    pub claim_field: &'static [&'static str],
}

macro_rules! columns {
    ($($konst:ident = $index:literal, $name:literal, $kind:ident, $req:ident, $level:ident, [$($field:literal),+];)*) => {
        $(pub const $konst: Column = Column {
            index: $index,
            name: $name,
            kind: ColumnKind::$kind,
            required: columns!(@req $req),
            claim_level: columns!(@level $level),
            claim_field: &[$($field),+],
        };)*
        /// Every claim-lines column, in layout order.
        pub const CLAIM_LINE_COLUMNS: &[Column] = &[$($konst),*];
    };
    (@req required) => { true };
    (@req optional) => { false };
    (@level claim) => { true };
    (@level line) => { false };
}

columns! {
    CLAIM_ID = 0, "claim_id", Text, required, claim, ["claim_id"];
    PAYER_ID = 1, "payer_id", Text, required, claim, ["payer", "id"];
    PLAN_TYPE = 2, "plan_type", Text, required, claim, ["payer", "plan_type"];
    PLACE_OF_SERVICE = 3, "place_of_service", Text, required, claim, ["place_of_service"];
    FREQUENCY_CODE = 4, "frequency_code", Text, optional, claim, ["frequency_code"];
    PATIENT_BIRTH_DATE = 5, "patient_birth_date", Date, required, claim, ["patient", "birth_date"];
    MEMBER_ID = 6, "member_id", Text, optional, claim, ["patient", "member_id"];
    BILLING_PROVIDER_NPI = 7, "billing_provider_npi", Text, required, claim, ["billing_provider_npi"];
    RENDERING_NPI = 8, "rendering_npi", Text, required, claim, ["rendering_provider", "npi"];
    RENDERING_TAXONOMY = 9, "rendering_taxonomy", Text, optional, claim, ["rendering_provider", "taxonomy"];
    RENDERING_ROLE = 10, "rendering_role", Text, optional, claim, ["rendering_provider", "role"];
    QUALIFYING_APM = 11, "qualifying_apm", Bool, optional, claim, ["rendering_provider", "qualifying_apm"];
    MEDICARE_LOCALITY = 12, "medicare_locality", Text, optional, claim, ["medicare_locality"];
    DIAGNOSES = 13, "diagnoses", TextList, required, claim, ["diagnoses"];
    PROCEDURE_CODE = 14, "procedure_code", Text, required, line, ["procedure_code"];
    MODIFIERS = 15, "modifiers", TextList, optional, line, ["modifiers"];
    UNIT_BASIS = 16, "unit_basis", Text, required, line, ["unit_basis"];
    QUANTITY = 17, "quantity", Decimal, required, line, ["quantity"];
    START_TIME = 18, "start_time", Timestamp, optional, line, ["start_time"];
    END_TIME = 19, "end_time", Timestamp, optional, line, ["end_time"];
    DIAGNOSIS_POINTERS = 20, "diagnosis_pointers", IntList, optional, line, ["diagnosis_pointers"];
    CHARGE_CENTS = 21, "charge_cents", Cents, required, line, ["charge_cents"];
    DATE_OF_SERVICE = 22, "date_of_service", Date, required, line, ["date_of_service"];
    CASE_ID = 23, "case_id", Text, optional, line, ["case_id"];
    PRESENT_AT_INDUCTION = 24, "present_at_induction", Bool, optional, line, ["present_at_induction"];
    SERVICE_FACILITY_STATE = 25, "service_facility_state", Text, optional, claim, ["service_facility_location", "state"];
    SERVICE_FACILITY_ZIP = 26, "service_facility_zip", Text, optional, claim, ["service_facility_location", "zip"];
    BILLING_PROVIDER_STATE = 27, "billing_provider_state", Text, optional, claim, ["billing_provider_location", "state"];
    BILLING_PROVIDER_ZIP = 28, "billing_provider_zip", Text, optional, claim, ["billing_provider_location", "zip"];
}

/// The claim-lines layout as an Arrow schema (`cptkit.CLAIM_LINES_SCHEMA`). Every column is nullable,
/// the required ones too: a null in a required column is the row's issue (TBL001), where a non-nullable
/// field would make Arrow refuse the whole table as it is imported (pyarrow does not check the flag
/// when a table is built or edited, so such tables are easily made).
pub fn claim_lines_schema() -> SchemaRef {
    let fields: Vec<Field> = CLAIM_LINE_COLUMNS.iter().map(|c| Field::new(c.name, c.kind.data_type(), true)).collect();
    Arc::new(Schema::new(fields))
}

/// The table column a claim field path names: `lines[2].modifiers[0]` -> `modifiers`,
/// `rendering_provider.npi` -> `rendering_npi`. Paths that are no column (`lines`) give `None`.
pub fn column_of(loc: &FieldPath) -> Option<&'static str> {
    let (items, line_level) = match loc.within_line() {
        Some(items) => (items, true),
        None => (loc.items(), false),
    };
    // The field names up to the first index (`modifiers[0]` -> `modifiers`).
    let names = items.iter().map_while(|item| match item {
        PathItem::Field(name) => Some(name.as_ref()),
        PathItem::Index(_) => None,
    });
    let matches = |c: &&Column| c.claim_level != line_level && names.clone().eq(c.claim_field.iter().copied());
    CLAIM_LINE_COLUMNS.iter().find(matches).map(|c| c.name)
}

/// The struct of one issue in the `issues` column.
pub fn issue_fields() -> Fields {
    Fields::from(
        ["edit_id", "severity", "field", "column", "message", "hint"]
            .map(|name| Field::new(name, DataType::Utf8, name == "column"))
            .to_vec(),
    )
}

/// The struct of one step in the optional `explanation` column.
pub fn step_fields() -> Fields {
    Fields::from(["step", "detail", "value"].map(|name| Field::new(name, DataType::Utf8, false)).to_vec())
}

fn list_of(fields: Fields) -> DataType {
    DataType::new_list(DataType::Struct(fields), false)
}

/// Validation results: one row per input row, in input order.
pub fn validation_schema() -> SchemaRef {
    Arc::new(Schema::new(validation_fields()))
}

fn validation_fields() -> Vec<Field> {
    vec![
        Field::new("claim_id", DataType::Utf8, true),
        Field::new("line_number", DataType::Int32, false),
        Field::new("claim_valid", DataType::Boolean, false),
        Field::new("issues", list_of(issue_fields()), false),
    ]
}

/// Pricing results: the validation columns, then the priced amounts (null where not priced).
pub fn pricing_schema(explain: bool) -> SchemaRef {
    let decimal = || DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE);
    let mut fields = validation_fields();
    fields.extend([
        Field::new("status", DataType::Utf8, false),
        Field::new("rule_set", DataType::Utf8, true),
        Field::new("base_units", decimal(), true),
        Field::new("time_units", decimal(), true),
        Field::new("modifying_units", decimal(), true),
        Field::new("total_units", decimal(), true),
        Field::new("conversion_factor", decimal(), true),
        Field::new("share", decimal(), true),
        Field::new("charge_cents", DataType::Int64, true),
        Field::new("fee_schedule_cents", DataType::Int64, true),
        Field::new("allowed_cents", DataType::Int64, true),
    ]);
    if explain {
        fields.push(Field::new("explanation", list_of(step_fields()), true));
    }
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_name_their_columns() {
        let column = |text: &str| column_of(&FieldPath::parse(text));
        assert_eq!(column("lines[2].modifiers[0]"), Some("modifiers"));
        assert_eq!(column("lines[0].quantity"), Some("quantity"));
        assert_eq!(column("rendering_provider.npi"), Some("rendering_npi"));
        assert_eq!(column("patient.birth_date"), Some("patient_birth_date"));
        assert_eq!(column("diagnoses[1]"), Some("diagnoses"));
        assert_eq!(column("service_facility_location.state"), Some("service_facility_state"));
        assert_eq!(column("lines"), None);
        assert_eq!(column("lines[0]"), None);
        assert_eq!(column("quantity"), None);
    }

    #[test]
    fn every_column_knows_its_position_and_has_a_distinct_name() {
        assert!(CLAIM_LINE_COLUMNS.iter().enumerate().all(|(i, c)| c.index == i));
        let mut names: Vec<_> = CLAIM_LINE_COLUMNS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CLAIM_LINE_COLUMNS.len());
    }
}
