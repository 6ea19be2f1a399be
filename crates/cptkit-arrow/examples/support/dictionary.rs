//! The benchmark table with its text columns dictionary-encoded, as pandas categoricals or Parquet
//! dictionary pages arrive (`DICTIONARY=1` in the table examples).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, Field, Schema};

/// Whether the examples run on the dictionary-encoded table (`DICTIONARY=1`).
pub fn wanted() -> bool {
    std::env::var("DICTIONARY").is_ok_and(|v| v == "1")
}

/// `batch` with each text column but the claim id as `Dictionary(Int32, Utf8)` (claim ids are unique:
/// nobody encodes them).
pub fn encoded(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let wanted = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let (mut fields, mut columns) = (Vec::new(), Vec::new());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if field.data_type() == &DataType::Utf8 && field.name() != "claim_id" {
            fields.push(Field::new(field.name(), wanted.clone(), field.is_nullable()));
            columns.push(arrow_cast::cast(column, &wanted)?);
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}
