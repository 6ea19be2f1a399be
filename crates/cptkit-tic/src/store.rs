//! Benchmark rows to Parquet and back. The column layout is in README.md ("Parquet layout"); [`arrow_schema`]
//! is its single definition, used for writing, for checking what is read, and for the Arrow tables the
//! Python module hands out ([`record_batch`]), so a Parquet file and a table have the same columns.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, Decimal128Builder, Int32Builder, ListBuilder, StringBuilder, UInt64Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Int32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use cptkit_core::{MedicareComparison, PayerBenchmark, RateBasis, RateProvenance};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rust_decimal::Decimal;
use time::Date;

use crate::TicError;

/// Money and conversion factors: 4 decimals (CMS publishes conversion factors to 4, e.g. 20.3178).
const DECIMAL_PRECISION: u8 = 18;
const DECIMAL_SCALE: i8 = 4;

/// The first amount the store's `decimal(18,4)` cannot hold: 10^14 dollars.
pub(crate) fn amount_limit() -> Decimal {
    Decimal::from(10i64.pow(u32::from(DECIMAL_PRECISION) - DECIMAL_SCALE.unsigned_abs() as u32))
}

/// Rows per Parquet row group.
const BATCH_ROWS: usize = 8192;

/// Days from 0001-01-01 (Julian day 1721426) to the Unix epoch (Julian day 2440588), for Date32.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

fn decimal_type() -> DataType {
    DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
}

/// The Arrow schema of benchmark rows (README.md, "Parquet layout").
pub fn arrow_schema() -> Schema {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let money = |name: &str, nullable: bool| Field::new(name, decimal_type(), nullable);
    Schema::new(vec![
        text("source_file", false),
        text("reporting_entity_name", false),
        text("reporting_entity_type", false),
        text("last_updated_on", false),
        text("schema_version", false),
        Field::new("ingested_on", DataType::Date32, false),
        text("billing_code_type", false),
        text("billing_code", false),
        text("billing_class", false),
        text("place_of_service", true),
        Field::new("modifiers", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        text("taxonomy", true),
        text("negotiated_type", false),
        text("rate_basis", false),
        Field::new("count", DataType::UInt64, false),
        money("min", false),
        money("p10", false),
        money("p25", false),
        money("median", false),
        money("p75", false),
        money("p90", false),
        money("max", false),
        Field::new("medicare_year", DataType::Int32, true),
        money("medicare_conversion_factor", true),
        money("median_percent_of_medicare", true),
    ])
}

fn store_error(path: &Path, message: impl ToString) -> TicError {
    TicError::Store { path: path.to_owned(), message: message.to_string() }
}

/// A Decimal as an i128 at `DECIMAL_SCALE` (rounded half away from zero if it has more places).
fn to_i128(d: Decimal) -> i128 {
    let mut d = d.round_dp_with_strategy(DECIMAL_SCALE as u32, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    d.rescale(DECIMAL_SCALE as u32);
    d.mantissa()
}

fn from_i128(v: i128) -> Decimal {
    Decimal::from_i128_with_scale(v, DECIMAL_SCALE as u32).normalize()
}

fn date_to_days(d: Date) -> i32 {
    d.to_julian_day() - UNIX_EPOCH_JULIAN_DAY
}

fn days_to_date(days: i32) -> Option<Date> {
    Date::from_julian_day(days + UNIX_EPOCH_JULIAN_DAY).ok()
}

/// Benchmark rows as one Arrow record batch of [`arrow_schema`].
pub fn record_batch(rows: &[PayerBenchmark]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let text = |f: &dyn Fn(&PayerBenchmark) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::new();
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    };
    let money = |f: &dyn Fn(&PayerBenchmark) -> Option<Decimal>| -> Result<ArrayRef, arrow_schema::ArrowError> {
        let mut b = Decimal128Builder::new();
        rows.iter().for_each(|r| b.append_option(f(r).map(to_i128)));
        Ok(Arc::new(b.finish().with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?))
    };
    let mut ingested = Date32Builder::new();
    let mut modifiers = ListBuilder::new(StringBuilder::new());
    let mut count = UInt64Builder::new();
    let mut year = Int32Builder::new();
    for r in rows {
        ingested.append_value(date_to_days(r.provenance.ingested_on));
        r.modifiers.iter().for_each(|m| modifiers.values().append_value(m));
        modifiers.append(true);
        count.append_value(r.count);
        year.append_option(r.medicare.as_ref().map(|m| m.year));
    }
    let columns: Vec<ArrayRef> = vec![
        text(&|r| Some(&r.provenance.source_file)),
        text(&|r| Some(&r.provenance.reporting_entity_name)),
        text(&|r| Some(&r.provenance.reporting_entity_type)),
        text(&|r| Some(&r.provenance.last_updated_on)),
        text(&|r| Some(&r.provenance.schema_version)),
        Arc::new(ingested.finish()),
        text(&|r| Some(&r.billing_code_type)),
        text(&|r| Some(&r.billing_code)),
        text(&|r| Some(&r.billing_class)),
        text(&|r| r.place_of_service.as_deref()),
        Arc::new(modifiers.finish()),
        text(&|r| r.taxonomy.as_deref()),
        text(&|r| Some(&r.negotiated_type)),
        text(&|r| Some(r.rate_basis.as_str())),
        Arc::new(count.finish()),
        money(&|r| Some(r.min))?,
        money(&|r| Some(r.p10))?,
        money(&|r| Some(r.p25))?,
        money(&|r| Some(r.median))?,
        money(&|r| Some(r.p75))?,
        money(&|r| Some(r.p90))?,
        money(&|r| Some(r.max))?,
        Arc::new(year.finish()),
        money(&|r| r.medicare.as_ref().map(|m| m.conversion_factor))?,
        money(&|r| r.medicare.as_ref().map(|m| m.median_percent_of_medicare))?,
    ];
    RecordBatch::try_new(Arc::new(arrow_schema()), columns)
}

/// Writes the rows to one Parquet file (snappy-compressed), replacing it. The parent directory is created.
pub fn write_parquet(path: impl AsRef<Path>, rows: &[PayerBenchmark]) -> Result<(), TicError> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| TicError::Io { path: dir.to_owned(), source: e })?;
    }
    let file = File::create(path).map_err(|e| TicError::Io { path: path.to_owned(), source: e })?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer =
        ArrowWriter::try_new(file, Arc::new(arrow_schema()), Some(properties)).map_err(|e| store_error(path, e))?;
    for chunk in rows.chunks(BATCH_ROWS) {
        let batch = record_batch(chunk).map_err(|e| store_error(path, e))?;
        writer.write(&batch).map_err(|e| store_error(path, e))?;
    }
    writer.close().map_err(|e| store_error(path, e))?;
    Ok(())
}

/// Reads every `*.parquet` file of a directory (not recursive), in file-name order.
pub fn read_dir(dir: impl AsRef<Path>) -> Result<Vec<PayerBenchmark>, TicError> {
    let dir = dir.as_ref();
    let entries = std::fs::read_dir(dir).map_err(|e| TicError::Io { path: dir.to_owned(), source: e })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for file in files {
        rows.extend(read_parquet(&file)?);
    }
    Ok(rows)
}

/// Reads one benchmark Parquet file written by [`write_parquet`].
pub fn read_parquet(path: impl AsRef<Path>) -> Result<Vec<PayerBenchmark>, TicError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| TicError::Io { path: path.to_owned(), source: e })?;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| store_error(path, e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| store_error(path, e))?;
        rows.extend(rows_of(&batch).map_err(|m| store_error(path, m))?);
    }
    Ok(rows)
}

fn rows_of(batch: &RecordBatch) -> Result<Vec<PayerBenchmark>, String> {
    let expected = arrow_schema();
    let column = |name: &str| -> Result<&ArrayRef, String> {
        let want = expected.field_with_name(name).map_err(|e| e.to_string())?;
        let got = batch.column_by_name(name).ok_or_else(|| format!("no column {name}"))?;
        if got.data_type() != want.data_type() {
            return Err(format!("column {name} is {}, expected {}", got.data_type(), want.data_type()));
        }
        Ok(got)
    };
    let text = |name: &str| column(name).map(|c| c.as_string::<i32>().clone());
    let money = |name: &str| column(name).map(|c| c.as_primitive::<Decimal128Type>().clone());
    let (source_file, entity, entity_type, updated, version) = (
        text("source_file")?,
        text("reporting_entity_name")?,
        text("reporting_entity_type")?,
        text("last_updated_on")?,
        text("schema_version")?,
    );
    let ingested = column("ingested_on")?.as_primitive::<Date32Type>().clone();
    let (code_type, code, class, place) =
        (text("billing_code_type")?, text("billing_code")?, text("billing_class")?, text("place_of_service")?);
    let modifiers = column("modifiers")?.as_list::<i32>().clone();
    let (taxonomy, negotiated_type, basis) = (text("taxonomy")?, text("negotiated_type")?, text("rate_basis")?);
    let count = column("count")?.as_primitive::<UInt64Type>().clone();
    let [min, p10, p25, median, p75, p90, max] =
        [money("min")?, money("p10")?, money("p25")?, money("median")?, money("p75")?, money("p90")?, money("max")?];
    let year = column("medicare_year")?.as_primitive::<Int32Type>().clone();
    let (cf, percent) = (money("medicare_conversion_factor")?, money("median_percent_of_medicare")?);
    let optional = |a: &arrow_array::StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_owned());
    (0..batch.num_rows())
        .map(|i| {
            let rate_basis = RateBasis::parse(basis.value(i))
                .ok_or_else(|| format!("row {i}: unknown rate_basis {:?}", basis.value(i)))?;
            let ingested_on =
                days_to_date(ingested.value(i)).ok_or_else(|| format!("row {i}: ingested_on out of range"))?;
            let list = modifiers.value(i);
            let list = list.as_string::<i32>();
            let medicare = (!year.is_null(i) && !cf.is_null(i) && !percent.is_null(i)).then(|| MedicareComparison {
                year: year.value(i),
                conversion_factor: from_i128(cf.value(i)),
                median_percent_of_medicare: from_i128(percent.value(i)),
            });
            Ok(PayerBenchmark {
                provenance: RateProvenance {
                    source_file: source_file.value(i).to_owned(),
                    reporting_entity_name: entity.value(i).to_owned(),
                    reporting_entity_type: entity_type.value(i).to_owned(),
                    last_updated_on: updated.value(i).to_owned(),
                    schema_version: version.value(i).to_owned(),
                    ingested_on,
                },
                billing_code_type: code_type.value(i).to_owned(),
                billing_code: code.value(i).to_owned(),
                billing_class: class.value(i).to_owned(),
                place_of_service: optional(&place, i),
                modifiers: (0..list.len()).map(|j| list.value(j).to_owned()).collect(),
                taxonomy: optional(&taxonomy, i),
                negotiated_type: negotiated_type.value(i).to_owned(),
                rate_basis,
                count: count.value(i),
                min: from_i128(min.value(i)),
                p10: from_i128(p10.value(i)),
                p25: from_i128(p25.value(i)),
                median: from_i128(median.value(i)),
                p75: from_i128(p75.value(i)),
                p90: from_i128(p90.value(i)),
                max: from_i128(max.value(i)),
                medicare,
            })
        })
        .collect()
}
