#![allow(clippy::unwrap_used)]
//! The table faces against the golden claim cases, bad rows, and claims cut across batches.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use cptkit_arrow::{ClaimStream, LineColumns, TablePricing, claims_to_batch, price_batch, validate_batch};
use cptkit_core::synthetic::SyntheticClaims;
use cptkit_core::{Claim, ConversionFactors, PriceOptions, Reference, RuleBook};
use serde_json::Value;

fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 27)
}

fn contract(cf: &str, explain: bool) -> TablePricing {
    TablePricing { options: PriceOptions::contract(cf.parse().unwrap()).unwrap(), explain }
}

fn text(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(column).unwrap().as_string::<i32>();
    (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i).to_owned())).collect()
}

fn cents(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    let array = batch.column_by_name(column).unwrap().as_primitive::<Int64Type>();
    (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i))).collect()
}

/// (row, edit id, field) of every issue in a result batch.
fn issues(batch: &RecordBatch) -> BTreeSet<(usize, String, String)> {
    let lists = batch.column_by_name("issues").unwrap().as_list::<i32>();
    let mut out = BTreeSet::new();
    for row in 0..lists.len() {
        let items = lists.value(row);
        let items = items.as_struct();
        let ids = items.column_by_name("edit_id").unwrap().as_string::<i32>();
        let fields = items.column_by_name("field").unwrap().as_string::<i32>();
        for i in 0..items.len() {
            out.insert((row, ids.value(i).to_owned(), fields.value(i).to_owned()));
        }
    }
    out
}

/// The result pieces of one call as one batch.
fn joined(pieces: Vec<RecordBatch>) -> RecordBatch {
    arrow_select::concat::concat_batches(&pieces[0].schema(), &pieces).unwrap()
}

fn replace(batch: &RecordBatch, column: &str, values: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let index = schema.index_of(column).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[index] = Field::new(column, values.data_type().clone(), true);
    let mut columns = batch.columns().to_vec();
    columns[index] = values;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn golden_claim_cases_price_the_same_through_a_table() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/claims");
    let mut cases = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(raw) = std::fs::read_to_string(dir.join("claim.json")) else { continue };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let claim = Claim::from_json(&raw).unwrap();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        let options = &expected["price_options"];
        let by_payer = options["payer_conversion_factors"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(payer, cf)| (payer.clone(), cf.as_str().unwrap().parse().unwrap()));
        let conversion_factors =
            ConversionFactors::new(options["conversion_factor"].as_str().map(|s| s.parse().unwrap()), by_payer)
                .unwrap();
        let rule_set = options["rule_set"].as_str().map(str::to_owned);
        let percent_of_medicare = options["percent_of_medicare"].as_str().map(|s| s.parse().unwrap());
        let pricing = TablePricing {
            options: PriceOptions { rule_set, conversion_factors, percent_of_medicare },
            explain: false,
        };
        let batch = claims_to_batch(std::slice::from_ref(&claim)).unwrap();
        let result =
            joined(price_batch(&batch, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap());
        assert_eq!(result.num_rows(), claim.lines.len(), "{name}");

        let want: BTreeSet<(String, String)> = expected["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["edit_id"].as_str().unwrap().to_owned(), f["field"].as_str().unwrap().to_owned()))
            .collect();
        let mut got: BTreeSet<(String, String)> =
            issues(&result).into_iter().map(|(_, id, field)| (id, field)).collect();
        let statuses = text(&result, "status");
        match &expected["priced"] {
            Value::Object(priced) => {
                for (row, line) in priced["lines"].as_array().unwrap().iter().enumerate() {
                    let allowed: rust_decimal::Decimal = line["allowed"].as_str().unwrap().parse().unwrap();
                    let want_cents = (allowed * rust_decimal::Decimal::from(100)).trunc().to_string().parse().ok();
                    assert_eq!(cents(&result, "allowed_cents")[row], want_cents, "{name} line {row}");
                }
            }
            _ if expected["price_error"]["field"].is_string() => {
                // A valid claim pricing refuses (no contract factor, no public rules): TBL004 names the field.
                let field = expected["price_error"]["field"].as_str().unwrap().to_owned();
                assert!(got.remove(&("TBL004".to_owned(), field)), "{name}: {got:?}");
                assert_eq!(statuses[0].as_deref(), Some("error"), "{name}");
                assert!(result.column_by_name("claim_valid").unwrap().as_boolean().value(0), "{name}");
            }
            _ => assert_eq!(statuses[0].as_deref(), Some("not_valid"), "{name}"),
        }
        assert_eq!(got, want, "{name}");
        cases += 1;
    }
    assert!(cases >= 15, "{cases} cases");
}

/// A null in a required column of a table in the layout's own schema is TBL001 on its row, every other
/// row judged: the schema marks every column nullable, so Arrow does not refuse the whole table.
#[test]
fn a_null_in_a_required_column_of_the_layout_schema_is_its_rows_issue() {
    let schema = cptkit_arrow::claim_lines_schema();
    assert!(schema.fields().iter().all(|f| f.is_nullable()));
    let claims: Vec<Claim> = SyntheticClaims::new(2).unwrap().filter(|c| c.lines.len() == 1).take(3).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let mut codes = text(&batch, "procedure_code");
    codes[1] = None;
    let mut columns = batch.columns().to_vec();
    columns[schema.index_of("procedure_code").unwrap()] = Arc::new(StringArray::from(codes));
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    let result = joined(validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    let unreadable: Vec<_> = issues(&result).into_iter().filter(|i| i.1 == "TBL001").collect();
    assert_eq!(unreadable, [(1, "TBL001".into(), "procedure_code".into())]);
    assert_eq!(result.num_rows(), 3);
}

#[test]
fn claims_round_trip_through_the_layout() {
    let claims: Vec<Claim> = SyntheticClaims::new(1).unwrap().take(500).collect();
    let batch = claims_to_batch(&claims).unwrap();
    assert_eq!(batch.schema(), cptkit_arrow::claim_lines_schema());
    let columns = LineColumns::new(&batch).unwrap();
    let mut issues = Vec::new();
    let read: Vec<Claim> = columns
        .claim_runs(&mut issues)
        .into_iter()
        .map(|rows| columns.read_claim(rows, &mut issues).unwrap())
        .collect();
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(read, claims);
    // Read again into one reused buffer: every claim comes out whole, nothing left from the one before.
    let mut buffer = None;
    for (rows, want) in columns.claim_runs(&mut issues).into_iter().zip(&claims) {
        assert!(columns.read_claim_into(rows, &mut issues, &mut buffer));
        assert_eq!(buffer.as_ref(), Some(want));
    }
}

#[test]
fn bad_values_are_issues_on_their_rows_and_every_row_comes_back() {
    let claims: Vec<Claim> = SyntheticClaims::new(2).unwrap().filter(|c| c.lines.len() == 1).take(6).collect();
    let batch = claims_to_batch(&claims).unwrap();
    // Quantity as text: row 1 is not a number; row 3 is empty.
    let quantities: Vec<Option<String>> = claims
        .iter()
        .enumerate()
        .map(|(i, c)| match i {
            1 => Some("ninety".to_owned()),
            3 => None,
            _ => Some(c.lines[0].quantity.to_string()),
        })
        .collect();
    let batch = replace(&batch, "quantity", Arc::new(StringArray::from(quantities)));
    // Row 4 has a procedure code that is no CPT code at all.
    let mut codes = text(&batch, "procedure_code");
    codes[4] = Some("00X".to_owned());
    let batch = replace(&batch, "procedure_code", Arc::new(StringArray::from(codes)));

    let result = joined(validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    assert_eq!(result.num_rows(), 6);
    let found = issues(&result);
    assert!(found.contains(&(1, "TBL001".into(), "quantity".into())), "{found:?}");
    assert!(found.contains(&(3, "TBL001".into(), "quantity".into())), "{found:?}");
    assert!(found.contains(&(4, "TBL001".into(), "procedure_code".into())), "{found:?}");
    let valid = result.column_by_name("claim_valid").unwrap().as_boolean();
    for row in [1, 3, 4] {
        assert!(!valid.value(row), "row {row}");
    }
    let lists = result.column_by_name("issues").unwrap().as_list::<i32>();
    let message = lists.value(1).as_struct().column_by_name("message").unwrap().as_string::<i32>().value(0).to_owned();
    assert!(message.contains("\"ninety\""), "{message}");
}

#[test]
fn every_bad_line_of_a_claim_is_reported() {
    let claims: Vec<Claim> = SyntheticClaims::new(9).unwrap().filter(|c| c.lines.len() == 2).take(1).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let batch = replace(&batch, "quantity", Arc::new(StringArray::from(vec!["many", "lots"])));
    let result = joined(validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    let found = issues(&result);
    assert!(found.contains(&(0, "TBL001".into(), "quantity".into())), "{found:?}");
    assert!(found.contains(&(1, "TBL001".into(), "quantity".into())), "{found:?}");
}

#[test]
fn claim_level_values_must_agree_and_lines_must_be_adjacent() {
    let claims: Vec<Claim> = SyntheticClaims::new(3).unwrap().filter(|c| c.lines.len() == 2).take(2).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let mut payers = text(&batch, "payer_id");
    payers[1] = Some("someone-else".to_owned());
    let batch = replace(&batch, "payer_id", Arc::new(StringArray::from(payers)));
    // Rows: A A B B -> A A B A: the last row's claim A is not adjacent to its first lines.
    let mut ids = text(&batch, "claim_id");
    ids[3] = ids[0].clone();
    let batch = replace(&batch, "claim_id", Arc::new(StringArray::from(ids)));

    let result = joined(validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    let found = issues(&result);
    assert!(found.contains(&(1, "TBL002".into(), "payer_id".into())), "{found:?}");
    assert!(found.contains(&(0, "TBL003".into(), "claim_id".into())), "{found:?}");
    assert!(found.contains(&(3, "TBL003".into(), "claim_id".into())), "{found:?}");
    let numbers = result.column_by_name("line_number").unwrap().as_primitive::<Int32Type>();
    assert_eq!(numbers.values().to_vec(), vec![1, 2, 1, 1]);
}

/// A claim whose rows are apart (TBL003) is invalid as its own error findings would make it: no run of
/// its rows is priced, the first one included (it was judged before the later one was seen), as no
/// other face prices a part of a claim. Each run's first row names the rows of the others.
#[test]
fn a_claim_whose_rows_are_apart_is_not_priced() {
    let claims: Vec<Claim> = SyntheticClaims::new(3).unwrap().filter(|c| c.lines.len() == 1).take(4).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let priced = |batch: &RecordBatch| {
        joined(
            price_batch(batch, Reference::embedded(), RuleBook::embedded(), &contract("60", false), today()).unwrap(),
        )
    };
    let status = |result: &RecordBatch| text(result, "status").into_iter().map(Option::unwrap).collect::<Vec<_>>();
    let before = priced(&batch);
    let before = status(&before);
    assert_eq!([&before[0], &before[2], &before[3]], ["priced"; 3]);
    // Rows: A B C D -> A B A A: runs of A at rows 0 and 2-3.
    let mut ids = text(&batch, "claim_id");
    ids[2] = ids[0].clone();
    ids[3] = ids[0].clone();
    let apart = replace(&batch, "claim_id", Arc::new(StringArray::from(ids)));
    let result = priced(&apart);
    assert_eq!(status(&result), ["not_valid", &before[1], "not_valid", "not_valid"]);
    assert_eq!(cents(&result, "allowed_cents")[0], None);
    let valid = result.column_by_name("claim_valid").unwrap().as_boolean().clone();
    assert_eq!([0, 2, 3].map(|row| valid.value(row)), [false; 3]);
    let found = issues(&result);
    let tbl003: Vec<_> = found.iter().filter(|i| i.1 == "TBL003").map(|i| i.0).collect();
    assert_eq!(tbl003, [0, 2]);
    let messages = result.column_by_name("issues").unwrap().as_list::<i32>().clone();
    let message = |row: usize| {
        let items = messages.value(row);
        items.as_struct().column_by_name("message").unwrap().as_string::<i32>().value(0).to_owned()
    };
    assert!(message(0).contains("rows 2-3 "), "{}", message(0));
    assert!(message(2).contains("rows 0 "), "{}", message(2));
    // The same claims with a valid run that pricing refused (no contract factor for a commercial
    // claim, TBL004) lose the refusal with the verdict: the claim is not valid, as TBL003 says.
    let refused = joined(
        price_batch(&apart, Reference::embedded(), RuleBook::embedded(), &TablePricing::default(), today()).unwrap(),
    );
    assert!(issues(&refused).iter().all(|i| i.1 != "TBL004" || ![0, 2, 3].contains(&i.0)), "{:?}", issues(&refused));
    assert_eq!(status(&refused)[0], "not_valid");
}

/// A list column given as text (a frame that went through text, as Dask's from_pandas makes of lists)
/// is refused naming the column, not read as one-item lists.
#[test]
fn a_list_column_of_text_is_refused_naming_it() {
    let claims: Vec<Claim> = SyntheticClaims::new(3).unwrap().filter(|c| c.lines.len() == 1).take(2).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let text = Arc::new(StringArray::from(vec!["['M54.16' 'M48.062']", "['M54.16']"]));
    let error =
        validate_batch(&replace(&batch, "diagnoses", text), Reference::embedded(), RuleBook::embedded(), today())
            .unwrap_err();
    assert_eq!(error.field(), Some("diagnoses"), "{error}");
    assert!(error.to_string().contains("cannot be read as a list of text"), "{error}");
}

/// A differing state or ZIP is reported on its own column.
#[test]
fn a_differing_state_or_zip_is_named_by_its_column() {
    let claim = SyntheticClaims::new(3).unwrap().find(|c| c.lines.len() == 2).unwrap();
    let batch = claims_to_batch(&[claim]).unwrap();
    for column in ["service_facility_state", "service_facility_zip", "billing_provider_state", "billing_provider_zip"] {
        let value = if column.ends_with("zip") { "10002" } else { "NY" };
        let changed = replace(&batch, column, Arc::new(StringArray::from(vec![None, Some(value)])));
        let result = joined(validate_batch(&changed, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
        let differs: Vec<_> = issues(&result).into_iter().filter(|i| i.1 == "TBL002").collect();
        assert_eq!(differs, [(1, "TBL002".to_owned(), column.to_owned())]);
    }
}

/// The issues of 40 synthetic claims with `column` as `values` (built for the batch's row count), and
/// with it as nulls of its own type.
fn issues_beside_nulls(column: &str, values: impl Fn(usize) -> ArrayRef) -> [BTreeSet<(usize, String, String)>; 2] {
    let claims: Vec<Claim> = SyntheticClaims::new(3).unwrap().take(40).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let rows = batch.num_rows();
    let judge = |values: ArrayRef| {
        let batch = replace(&batch, column, values);
        issues(&joined(validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap()))
    };
    let nulls = arrow_array::new_null_array(batch.column_by_name(column).unwrap().data_type(), rows);
    [judge(values(rows)), judge(nulls)]
}

/// A column whose values are null without a null buffer (the null type pyarrow gives an all-None
/// column, a run-end encoded or dictionary column with null values) reads as the same column of nulls.
#[test]
fn logically_null_columns_read_as_absent() {
    for column in ["member_id", "case_id", "start_time", "end_time", "modifiers", "qualifying_apm", "claim_id"] {
        let [got, want] = issues_beside_nulls(column, |rows| Arc::new(arrow_array::NullArray::new(rows)));
        assert_eq!(got, want, "{column}");
    }
    // A dictionary of times whose one value is null.
    let [got, want] = issues_beside_nulls("start_time", |rows| {
        let keys = arrow_array::Int32Array::from(vec![0; rows]);
        let values: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>]));
        Arc::new(arrow_array::DictionaryArray::<Int32Type>::try_new(keys, values).unwrap())
    });
    assert_eq!(got, want);
}

/// A table read as text (from CSV): an empty value in a column of another type is no value, as in a
/// text column, not an unreadable one.
#[test]
fn empty_text_in_a_column_of_another_type_is_no_value() {
    for column in ["start_time", "present_at_induction", "qualifying_apm", "patient_birth_date"] {
        let [got, want] = issues_beside_nulls(column, |rows| Arc::new(StringArray::from(vec![""; rows])));
        assert_eq!(got, want, "{column}");
    }
    // Dictionary-encoded (a pandas categorical) too.
    for column in ["start_time", "quantity", "patient_birth_date"] {
        let [got, want] = issues_beside_nulls(column, |rows| {
            let keys = arrow_array::Int32Array::from(vec![0; rows]);
            let values: ArrayRef = Arc::new(StringArray::from(vec![""]));
            Arc::new(arrow_array::DictionaryArray::<Int32Type>::try_new(keys, values).unwrap())
        });
        assert_eq!(got, want, "{column}");
    }
}

/// Money given as floats or decimals must be whole cents: a fraction is TBL001, as the same text is,
/// not dropped unseen.
#[test]
fn a_fraction_of_a_cent_is_unreadable_whatever_the_number_type() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().filter(|c| c.lines.len() == 1).take(3).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let charges = [150_000.7, 150_000.0, 99.0];
    let floats: ArrayRef = Arc::new(arrow_array::Float64Array::from(charges.to_vec()));
    let texts: ArrayRef = Arc::new(StringArray::from(vec!["150000.7", "150000", "99"]));
    let judge =
        |b: &RecordBatch| joined(validate_batch(b, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    let want = judge(&replace(&batch, "charge_cents", texts));
    assert_eq!(
        issues(&want).iter().filter(|i| i.1 == "TBL001").collect::<Vec<_>>(),
        [&(0, "TBL001".into(), "charge_cents".into())]
    );
    let got = judge(&replace(&batch, "charge_cents", floats));
    assert_eq!(issues(&got), issues(&want));
    assert_eq!(text(&got, "claim_id"), text(&want, "claim_id"));
}

/// A decimal with places after the point in a column of whole numbers fails the call naming the column:
/// decimal(12, 2) money is dollars, and $1,500.00 would pass the cast as 1500 cents. A decimal of scale
/// 0 is whole numbers, read as they are.
#[test]
fn a_decimal_with_places_is_refused_in_a_column_of_whole_numbers() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().filter(|c| c.lines.len() == 1).take(2).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let judge = |b: &RecordBatch| validate_batch(b, Reference::embedded(), RuleBook::embedded(), today());
    let dollars: ArrayRef =
        Arc::new(arrow_array::Decimal128Array::from(vec![150_000, 9_900]).with_precision_and_scale(12, 2).unwrap());
    let error = judge(&replace(&batch, "charge_cents", dollars)).unwrap_err();
    assert_eq!(error.field(), Some("charge_cents"), "{error}");
    assert!(error.to_string().contains("whole cents as integers"), "{error}");
    let cents = arrow_cast::cast(batch.column_by_name("charge_cents").unwrap(), &DataType::Decimal128(18, 0));
    let whole = joined(judge(&replace(&batch, "charge_cents", cents.unwrap())).unwrap());
    assert_eq!(whole, joined(judge(&batch).unwrap()));
    let mut pointers = arrow_array::builder::ListBuilder::new(
        arrow_array::builder::Decimal128Builder::new().with_precision_and_scale(5, 2).unwrap(),
    );
    for _ in 0..2 {
        pointers.values().append_value(100);
        pointers.append(true);
    }
    let error = judge(&replace(&batch, "diagnosis_pointers", Arc::new(pointers.finish()))).unwrap_err();
    assert_eq!(error.field(), Some("diagnosis_pointers"), "{error}");
}

/// Diagnosis pointers given as fractions are TBL001, not truncated (2.9 is no pointer 2; the claim's
/// JSON refuses it), whole floats are read.
#[test]
fn a_fractional_diagnosis_pointer_is_unreadable() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().filter(|c| c.lines.len() == 1).take(2).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let mut pointers = arrow_array::builder::ListBuilder::new(arrow_array::builder::Float64Builder::new());
    for row in [[1.5, 2.9], [1.0, 2.0]] {
        pointers.values().append_slice(&row);
        pointers.append(true);
    }
    let list: ArrayRef = Arc::new(pointers.finish());
    // Polars gives every list as a large list.
    let large = arrow_cast::cast(&list, &DataType::LargeList(Arc::new(Field::new("item", DataType::Float64, true))));
    for values in [list, large.unwrap()] {
        let judged = validate_batch(
            &replace(&batch, "diagnosis_pointers", values),
            Reference::embedded(),
            RuleBook::embedded(),
            today(),
        );
        let unreadable: Vec<_> = issues(&joined(judged.unwrap())).into_iter().filter(|i| i.1 == "TBL001").collect();
        assert_eq!(unreadable, [(0, "TBL001".into(), "diagnosis_pointers".into())]);
    }
}

/// A patient's value that cannot be read is not repeated in the message (messages reach logs).
#[test]
fn an_unreadable_patient_value_is_not_shown() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().take(1).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let dates: ArrayRef = Arc::new(StringArray::from(vec!["1958-02-30"; batch.num_rows()]));
    let columns = LineColumns::new(&replace(&batch, "patient_birth_date", dates)).unwrap();
    let message = &columns.unreadable().first().expect("TBL001").finding.message;
    assert!(message.starts_with("patient_birth_date: cannot read") && !message.contains("1958"), "{message}");
}

/// A quantity given as text or a decimal with more places than the layout keeps is TBL001, not rounded
/// unseen (the one judge reads it exactly); a float, approximate by nature, is read to 4 places.
#[test]
fn a_quantity_with_more_than_four_places_is_unreadable_unless_a_float() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().filter(|c| c.lines.len() == 1).take(3).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let judge =
        |b: &RecordBatch| joined(validate_batch(b, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    let texts: ArrayRef = Arc::new(StringArray::from(vec!["90.00005", "90.00050", "1.5"]));
    let want = judge(&replace(&batch, "quantity", texts.clone()));
    let unreadable = |b: &RecordBatch| issues(b).into_iter().filter(|i| i.1 == "TBL001").collect::<Vec<_>>();
    assert_eq!(unreadable(&want), [(0, "TBL001".into(), "quantity".into())]);
    let decimals = arrow_cast::cast(&texts, &DataType::Decimal128(20, 5)).unwrap();
    assert_eq!(issues(&judge(&replace(&batch, "quantity", decimals))), issues(&want));
    let floats: ArrayRef = Arc::new(arrow_array::Float64Array::from(vec![90.00005, 90.0005, 1.5]));
    assert_eq!(unreadable(&judge(&replace(&batch, "quantity", floats))), []);
}

/// Times, dates and quantities given as text are read by the claim's own parsers, as JSON and the wire
/// read them: the same forms accepted, the same refused (Arrow's cast took "2025-3-4" and " 90").
#[test]
fn text_times_dates_and_quantities_read_as_the_claim_reads_them() {
    let claims: Vec<Claim> = SyntheticClaims::new(5)
        .unwrap()
        .filter(|c| c.lines.len() == 1 && c.lines[0].start_time.is_some())
        .take(2)
        .collect();
    let batch = claims_to_batch(&claims).unwrap();
    let judge =
        |b: &RecordBatch| joined(validate_batch(b, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    let want = judge(&batch);
    let line = |i: usize| &claims[i].lines[0];
    let as_text = |values: [String; 2]| -> ArrayRef { Arc::new(StringArray::from(values.to_vec())) };
    let minutes = |at: time::PrimitiveDateTime| cptkit_core::local_time::format(&at)[..16].to_owned();
    let texts = [
        ("start_time", as_text([0, 1].map(|i| minutes(line(i).start_time.unwrap())))),
        ("end_time", as_text([0, 1].map(|i| cptkit_core::local_time::format(&line(i).end_time.unwrap())))),
        ("date_of_service", as_text([0, 1].map(|i| line(i).date_of_service.to_string()))),
        ("quantity", as_text([0, 1].map(|i| format!("{}E0", line(i).quantity)))),
    ];
    let text_batch = texts.iter().fold(batch.clone(), |b, (column, values)| replace(&b, column, values.clone()));
    assert_eq!(issues(&judge(&text_batch)), issues(&want), "the claim's own text forms");
    let refused = [
        ("start_time", "2025-03-04T08:00:00+05:00"),
        ("date_of_service", "2025-3-4"),
        ("date_of_service", "20250304"),
        ("quantity", " 90"),
    ];
    for (column, value) in refused {
        let values = as_text([value.to_owned(), value.to_owned()]);
        let unreadable: Vec<_> = issues(&judge(&replace(&text_batch, column, values)))
            .into_iter()
            .filter(|i| i.1 == "TBL001")
            .map(|i| (i.0, i.2))
            .collect();
        assert_eq!(unreadable, [(0, column.to_owned()), (1, column.to_owned())], "{column} {value:?}");
    }
}

/// Times and dates given as timestamps with a time zone are read as the local clock's, as the layout's
/// plain timestamps are: the same answers, across a daylight-saving change and near midnight.
#[test]
fn zoned_timestamps_are_read_as_local_time() {
    let local = |text: &str| {
        let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
        time::PrimitiveDateTime::parse(text, format).unwrap()
    };
    // (start, end, minutes) in New York: 2025-03-09 springs forward at 02:00, so 01:30-03:30 is 120
    // minutes by the clock but 60 by UTC; 21:00 on 2025-01-15 is already 2025-01-16 in UTC.
    let cases = [("2025-03-09T01:30", "2025-03-09T03:30", 120), ("2025-01-15T21:00", "2025-01-15T23:00", 120)];
    let mut claims: Vec<Claim> = SyntheticClaims::new(5)
        .unwrap()
        .filter(|c| c.lines.len() == 1 && c.lines[0].unit_basis == cptkit_core::UnitBasis::Minutes)
        .take(cases.len())
        .collect();
    for (claim, (start, end, minutes)) in claims.iter_mut().zip(cases) {
        let line = &mut claim.lines[0];
        (line.start_time, line.end_time) = (Some(local(start)), Some(local(end)));
        line.quantity = minutes.into();
        line.date_of_service = local(start).date();
    }
    let batch = claims_to_batch(&claims).unwrap();
    // The same instants, as UTC microseconds with the zone beside them.
    let utc = |texts: [&str; 2], hours_behind: [i64; 2]| -> ArrayRef {
        let micros = texts
            .iter()
            .zip(hours_behind)
            .map(|(t, h)| (local(t).assume_utc().unix_timestamp() + h * 3600) * 1_000_000);
        Arc::new(arrow_array::TimestampMicrosecondArray::from_iter_values(micros).with_timezone("America/New_York"))
    };
    let zoned = [
        ("start_time", utc([cases[0].0, cases[1].0], [5, 5])),
        ("end_time", utc([cases[0].1, cases[1].1], [4, 5])),
        ("date_of_service", utc([cases[0].0, cases[1].0], [5, 5])),
    ];
    let zoned = zoned.into_iter().fold(batch.clone(), |b, (column, values)| replace(&b, column, values));
    let pricing = contract("60", true);
    let price = |b: &RecordBatch| {
        joined(price_batch(b, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap())
    };
    let want = price(&batch);
    assert_eq!(issues(&want).into_iter().filter(|i| i.1.starts_with("UNT") || i.1 == "TBL001").count(), 0);
    assert_eq!(price(&zoned), want);
    // A zone Arrow does not know names the column.
    let unknown = replace(
        &batch,
        "start_time",
        Arc::new(arrow_array::TimestampMicrosecondArray::from(vec![0, 0]).with_timezone("Mars/Olympus_Mons")),
    );
    let error = price_batch(&unknown, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap_err();
    assert!(error.to_string().contains("start_time"), "{error}");
}

/// A true/false column given as text reads only `true` and `false`, as the claim's JSON reads a boolean;
/// given as numbers, only 0 and 1 (Arrow's cast would read "Y", "yes", "1", "T", 2 and -1 as true).
/// Anything else is TBL001 on its row naming the column.
#[test]
fn true_false_columns_read_only_what_the_claim_reads() {
    let claims: Vec<Claim> = SyntheticClaims::new(6).unwrap().filter(|c| c.lines.len() == 1).take(4).collect();
    let batch = claims_to_batch(&claims).unwrap();
    for column in ["qualifying_apm", "present_at_induction"] {
        let judge = |values: ArrayRef| {
            joined(
                validate_batch(&replace(&batch, column, values), Reference::embedded(), RuleBook::embedded(), today())
                    .unwrap(),
            )
        };
        let unreadable = |values: ArrayRef| {
            let found = issues(&judge(values));
            found.into_iter().filter(|i| i.1 == "TBL001").map(|i| (i.0, i.2)).collect::<Vec<_>>()
        };
        let at = |rows: &[usize]| rows.iter().map(|&row| (row, column.to_owned())).collect::<Vec<_>>();
        assert_eq!(unreadable(Arc::new(StringArray::from(vec!["true", "false", "", "Y"]))), at(&[3]));
        assert_eq!(unreadable(Arc::new(StringArray::from(vec!["yes", "1", "T", "True"]))), at(&[0, 1, 2, 3]));
        assert_eq!(unreadable(Arc::new(arrow_array::Int64Array::from(vec![0, 1, 2, -1]))), at(&[2, 3]));
        let bools: ArrayRef = Arc::new(arrow_array::BooleanArray::from(vec![true, false, false, true]));
        let want = judge(bools);
        assert_eq!(judge(Arc::new(StringArray::from(vec!["true", "false", "false", "true"]))), want);
        assert_eq!(judge(Arc::new(arrow_array::Int8Array::from(vec![1, 0, 0, 1]))), want);
    }
}

/// A claim id repeated after other claims is TBL003, in whatever order the ids come.
#[test]
fn a_repeated_claim_id_is_found_in_sorted_and_unsorted_tables() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().filter(|c| c.lines.len() == 1).take(4).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let repeated_rows = |ids: [&str; 4]| {
        let batch = replace(&batch, "claim_id", Arc::new(StringArray::from(ids.to_vec())));
        let columns = LineColumns::new(&batch).unwrap();
        let mut issues = Vec::new();
        let runs = columns.claim_runs(&mut issues);
        assert_eq!(runs.len(), 4, "{ids:?}");
        issues.iter().map(|i| (i.row, i.finding.edit_id.clone())).collect::<Vec<_>>()
    };
    assert_eq!(repeated_rows(["A", "B", "C", "D"]), []);
    assert_eq!(repeated_rows(["D", "B", "A", "C"]), []);
    assert_eq!(repeated_rows(["A", "B", "C", "B"]), [(1, "TBL003".to_owned()), (3, "TBL003".to_owned())]);
    assert_eq!(repeated_rows(["C", "A", "B", "A"]), [(1, "TBL003".to_owned()), (3, "TBL003".to_owned())]);
    assert_eq!(repeated_rows(["B", "C", "A", "C"]), [(1, "TBL003".to_owned()), (3, "TBL003".to_owned())]);
    // An empty id is TBL001 (required), not also a claim seen before.
    assert_eq!(repeated_rows(["", "C", "", "D"]), []);
}

/// `claims_to_batch` loses nothing: a claim with no lines (no row to put it in) is refused, naming it,
/// and an empty claim id is written for the reader to report, not a failed batch.
#[test]
fn claims_to_batch_refuses_a_claim_with_no_lines_and_keeps_an_empty_id() {
    let mut claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().take(3).collect();
    claims[1].claim_id = "".into();
    let batch = claims_to_batch(&claims).unwrap();
    let result = joined(validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    let first_row = claims[0].lines.len();
    assert!(issues(&result).contains(&(first_row, "TBL001".into(), "claim_id".into())));
    claims[2].lines.clear();
    let error = claims_to_batch(&claims).unwrap_err();
    assert_eq!(error.field(), Some("claims[2].lines"), "{error}");
    // A pointer past int32 is refused, not written as another number; a quantity past 4 places, not
    // rounded.
    claims[1].lines[0].quantity = "90.00001".parse().unwrap();
    let error = claims_to_batch(&claims[1..2]).unwrap_err();
    assert_eq!(error.field(), Some("claims[0].lines[0].quantity"), "{error}");
    claims[0].lines[0].diagnosis_pointers = cptkit_core::smallvec![u32::MAX];
    let error = claims_to_batch(&claims[..1]).unwrap_err();
    assert_eq!(error.field(), Some("claims[0].lines[0].diagnosis_pointers"), "{error}");
}

#[test]
fn two_columns_of_one_name_fail_the_batch_naming_it() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().take(2).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let schema = batch.schema();
    let code = schema.index_of("procedure_code").unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(fields[code].clone());
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::clone(&columns[code]));
    let twice = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let err = LineColumns::new(&twice).unwrap_err();
    assert_eq!(err.field(), Some("procedure_code"), "{err}");
}

/// A table with no rows is checked as one with rows: missing required columns and columns of types
/// that cannot be cast fail it naming the column, in a stream too.
#[test]
fn a_table_with_no_rows_is_checked_as_one_with_rows() {
    let batch = claims_to_batch(&SyntheticClaims::new(4).unwrap().take(1).collect::<Vec<_>>()).unwrap();
    let wrong = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("foo", DataType::Int64, true)])),
        vec![Arc::new(arrow_array::Int64Array::from(Vec::<i64>::new()))],
    )
    .unwrap();
    let error = ClaimStream::default().push(wrong.clone()).unwrap_err();
    assert_eq!(error.field(), Some("claim_id"), "{error}");
    assert_eq!(
        validate_batch(&wrong, Reference::embedded(), RuleBook::embedded(), today()).unwrap_err().field(),
        Some("claim_id")
    );
    let x: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![1; batch.num_rows()]));
    let npi: ArrayRef =
        Arc::new(arrow_array::StructArray::from(vec![(Arc::new(Field::new("x", DataType::Int64, true)), x)]));
    let error = ClaimStream::default().push(replace(&batch, "rendering_npi", npi).slice(0, 0)).unwrap_err();
    assert_eq!(error.field(), Some("rendering_npi"), "{error}");
    assert!(ClaimStream::default().push(batch.slice(0, 0)).unwrap().is_empty());
}

#[test]
fn a_missing_required_column_fails_the_batch_naming_it() {
    let batch = claims_to_batch(&SyntheticClaims::new(4).unwrap().take(3).collect::<Vec<_>>()).unwrap();
    let index = batch.schema().index_of("date_of_service").unwrap();
    let batch = batch.project(&(0..batch.num_columns()).filter(|&i| i != index).collect::<Vec<_>>()).unwrap();
    let err = validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap_err();
    assert_eq!(err.field(), Some("date_of_service"), "{err}");
}

#[test]
fn input_columns_of_other_types_are_cast() {
    let claims: Vec<Claim> = SyntheticClaims::new(5).unwrap().take(50).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let want = joined(validate_batch(&batch, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    // Dates and quantities as text, charges as float-free integers of another width.
    let as_text = |column: &str| arrow_cast::cast(batch.column_by_name(column).unwrap(), &DataType::Utf8).unwrap();
    let mut other = replace(&batch, "date_of_service", as_text("date_of_service"));
    other = replace(&other, "quantity", as_text("quantity"));
    other = replace(&other, "patient_birth_date", as_text("patient_birth_date"));
    let charges = cents(&batch, "charge_cents").into_iter().map(|c| c.map(|c| c as i32)).collect::<Vec<_>>();
    other = replace(&other, "charge_cents", Arc::new(arrow_array::Int32Array::from(charges)));
    let got = joined(validate_batch(&other, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    assert_eq!(got, want);
}

/// Dictionary-encoded text columns (pandas categoricals, Parquet dictionary pages) are read in place and
/// parse each distinct value once; the answers are the plain table's, issues and messages included.
#[test]
fn dictionary_encoded_text_columns_answer_as_plain_ones() {
    let claims: Vec<Claim> = SyntheticClaims::new(12).unwrap().take(20_000).collect();
    let mut plain = claims_to_batch(&claims).unwrap();
    // A bad code on two rows (one dictionary value that does not parse) and a missing payer id.
    let mut codes = text(&plain, "procedure_code");
    codes[4] = Some("00X".to_owned());
    codes[9] = Some("00X".to_owned());
    plain = replace(&plain, "procedure_code", Arc::new(StringArray::from(codes)));
    let mut payers = text(&plain, "payer_id");
    payers[7] = None;
    plain = replace(&plain, "payer_id", Arc::new(StringArray::from(payers)));

    let dictionary = |key: DataType, value: DataType| DataType::Dictionary(Box::new(key), Box::new(value));
    let mut encoded = plain.clone();
    let schema = plain.schema();
    for field in schema.fields().iter().filter(|f| f.data_type() == &DataType::Utf8) {
        // Narrow keys where the column has few values, as pandas writes them; one column of large text.
        let wanted = match field.name().as_str() {
            "plan_type" | "unit_basis" | "place_of_service" => dictionary(DataType::Int8, DataType::Utf8),
            "payer_id" => dictionary(DataType::UInt16, DataType::LargeUtf8),
            _ => dictionary(DataType::Int32, DataType::Utf8),
        };
        let column = arrow_cast::cast(plain.column_by_name(field.name()).unwrap(), &wanted).unwrap();
        encoded = replace(&encoded, field.name(), column);
    }
    let pricing = contract("60", true);
    let judge = |b: &RecordBatch| {
        joined(price_batch(b, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap())
    };
    let (want, got) = (judge(&plain), judge(&encoded));
    assert_eq!(got, want);
    // A slice keeps the whole dictionary, longer than the slice: its values are parsed row by row.
    for start in [0, 4_000, 9_900] {
        assert_eq!(judge(&encoded.slice(start, 100)), judge(&plain.slice(start, 100)), "rows {start}..");
    }
    let found = issues(&got);
    for row in [4, 9] {
        assert!(found.contains(&(row, "TBL001".into(), "procedure_code".into())), "{found:?}");
    }
    assert!(found.contains(&(7, "TBL001".into(), "payer_id".into())), "{found:?}");
    let valid = joined(validate_batch(&encoded, Reference::embedded(), RuleBook::embedded(), today()).unwrap());
    assert_eq!(valid, joined(validate_batch(&plain, Reference::embedded(), RuleBook::embedded(), today()).unwrap()));
}

#[test]
fn payers_get_their_own_contract_conversion_factor() {
    // Anesthesia claims: a contract conversion factor prices them (fee-schedule lines take a percent of Medicare).
    let claims: Vec<Claim> = SyntheticClaims::new(6)
        .unwrap()
        .filter(|c| (c.payer.id == "cigna" || c.payer.id == "uhc") && !c.claim_id.ends_with('F'))
        .take(40)
        .collect();
    let batch = claims_to_batch(&claims).unwrap();
    let price = |pricing: &TablePricing| {
        let result =
            joined(price_batch(&batch, Reference::embedded(), RuleBook::embedded(), pricing, today()).unwrap());
        let factors = result.column_by_name("conversion_factor").unwrap().as_primitive::<Decimal128Type>().clone();
        (text(&result, "status"), factors)
    };
    let conversion_factors =
        ConversionFactors::new(Some("60".parse().unwrap()), [("uhc".to_owned(), "72.5".parse().unwrap())]).unwrap();
    let pricing = TablePricing {
        options: PriceOptions { rule_set: None, conversion_factors, ..Default::default() },
        explain: false,
    };
    let (statuses, factors) = price(&pricing);
    // The contract factor for everyone leaves Medicare fee-for-service on the CMS factor.
    let medicare: Vec<Claim> = SyntheticClaims::new(6).unwrap().filter(|c| c.payer.id == "medicare").take(5).collect();
    let medicare_batch = claims_to_batch(&medicare).unwrap();
    let result =
        joined(price_batch(&medicare_batch, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap());
    let medicare_factors = result.column_by_name("conversion_factor").unwrap().as_primitive::<Decimal128Type>();
    assert!(medicare_factors.iter().flatten().all(|cf| cf != 600_000), "{medicare_factors:?}");
    for (row, status) in statuses.iter().enumerate() {
        if status.as_deref() != Some("priced") {
            continue;
        }
        let cf = factors.value(row);
        let payer = &text(&batch, "payer_id")[row];
        let want = if payer.as_deref() == Some("uhc") { 725_000 } else { 600_000 };
        assert_eq!(cf, want, "row {row} {payer:?}");
    }
    assert!(statuses.iter().any(|s| s.as_deref() == Some("priced")));
    // Without any contract factor, every valid commercial claim is an error naming conversion_factor.
    let (statuses, _) = price(&TablePricing::default());
    assert!(statuses.iter().all(|s| matches!(s.as_deref(), Some("error" | "not_valid"))), "{statuses:?}");
}

#[test]
fn a_stream_cut_anywhere_gives_the_same_results_as_one_batch() {
    let claims: Vec<Claim> = SyntheticClaims::new(7).unwrap().take(60).collect();
    let batch = claims_to_batch(&claims).unwrap();
    // The first claim's lines again at the end, after the others: TBL003 wherever the cuts fall.
    let first =
        (1..batch.num_rows()).find(|&row| text(&batch, "claim_id")[row] != text(&batch, "claim_id")[0]).unwrap();
    let batch = arrow_select::concat::concat_batches(&batch.schema(), [&batch, &batch.slice(0, first)]).unwrap();
    let pricing = contract("60", true);
    let (reference, rules) = (Reference::embedded(), RuleBook::embedded());
    let whole = joined(price_batch(&batch, reference, rules, &pricing, today()).unwrap());
    assert!(issues(&whole).iter().any(|i| i.1 == "TBL003"));
    // Known ahead (a table in memory) or not, the results are the same.
    for (cut, known_ahead) in
        [1, 2, 3, 7, 13, 64, batch.num_rows() - first].into_iter().flat_map(|c| [(c, false), (c, true)])
    {
        let pieces: Vec<RecordBatch> = (0..batch.num_rows())
            .step_by(cut)
            .map(|start| batch.slice(start, cut.min(batch.num_rows() - start)))
            .collect();
        let mut stream = ClaimStream::default();
        if known_ahead {
            stream.know_table(&pieces).unwrap();
        }
        let results = stream_results(&mut stream, &pieces, &pricing);
        assert_eq!(results.unwrap(), whole, "cut every {cut} rows, known ahead: {known_ahead}");
    }
}

/// The stream's results for `pieces` pushed in order, settled and joined into one batch.
fn stream_results(
    stream: &mut ClaimStream,
    pieces: &[RecordBatch],
    pricing: &TablePricing,
) -> cptkit_core::Result<RecordBatch> {
    let (reference, rules) = (Reference::embedded(), RuleBook::embedded());
    let mut results = Vec::new();
    let mut judge = |stream: &mut ClaimStream, ready: Vec<RecordBatch>| -> cptkit_core::Result<()> {
        for piece in ready {
            results.extend(stream.price(&piece, reference, rules, pricing, today())?);
        }
        Ok(())
    };
    for piece in pieces {
        let ready = stream.push(piece.clone())?;
        judge(stream, ready)?;
    }
    let last = stream.finish().into_iter().collect();
    judge(stream, last)?;
    stream.settle(&mut results)?;
    Ok(joined(results))
}

/// Claim ids taken in ahead count a claim whose rows straddle two batches once (no TBL003), and a stream
/// pushed other batches than it was told of fails to settle rather than miss a claim met again.
#[test]
fn a_stream_told_of_other_batches_fails_to_settle() {
    let claims: Vec<Claim> = SyntheticClaims::new(9).unwrap().take(40).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let pricing = contract("60", true);
    let ids = text(&batch, "claim_id");
    let inside = (1..ids.len()).find(|&row| ids[row] == ids[row - 1]).expect("a claim of more than one line");
    let halves = [batch.slice(0, inside), batch.slice(inside, batch.num_rows() - inside)];
    let mut stream = ClaimStream::default();
    stream.know_table(&halves).unwrap();
    let whole = price_batch(&batch, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap();
    assert_eq!(stream_results(&mut stream, &halves, &pricing).unwrap(), joined(whole));
    let mut told_of_half = ClaimStream::default();
    told_of_half.know_table(&halves[..1]).unwrap();
    let error = stream_results(&mut told_of_half, &halves, &pricing).unwrap_err();
    assert!(error.to_string().contains("not the table whose claim ids were added ahead"), "{error}");
}

#[test]
fn many_rows_judged_on_all_cores_equal_small_batches_on_one() {
    let claims: Vec<Claim> = SyntheticClaims::new(8).unwrap().take(20_000).collect();
    let batch = claims_to_batch(&claims).unwrap();
    let pricing = contract("60", false);
    let judge = |b: &RecordBatch| {
        joined(price_batch(b, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap())
    };
    let all = judge(&batch);
    // Pieces of 1,000 rows are below the threshold for a second worker.
    let mut stream = ClaimStream::default();
    let mut pieces = Vec::new();
    for start in (0..batch.num_rows()).step_by(1_000) {
        let piece = batch.slice(start, 1_000.min(batch.num_rows() - start));
        pieces.extend(stream.push(piece).unwrap().iter().map(judge));
    }
    pieces.extend(stream.finish().iter().map(judge));
    assert_eq!(arrow_select::concat::concat_batches(&all.schema(), &pieces).unwrap(), all);
    // One thread (the caller's CPTKIT_THREADS=1) gives the same rows.
    let one =
        ClaimStream::with_threads(1).price(&batch, Reference::embedded(), RuleBook::embedded(), &pricing, today());
    assert_eq!(joined(one.unwrap()), all);
    assert_eq!(text(&all, "claim_id"), text(&batch, "claim_id"));
    let priced = text(&all, "status").iter().filter(|s| s.as_deref() == Some("priced")).count();
    assert!(priced > all.num_rows() / 2, "{priced} of {} priced", all.num_rows());
}

/// What the one judge says of each line of a claim, worded as a table row: (status, rule set, total
/// units, allowed cents, claim valid).
type RowAnswer = (String, Option<String>, Option<i128>, Option<i64>, bool);

fn row_answers(claim: &Claim, judgement: &cptkit_core::Judgement) -> Vec<RowAnswer> {
    use cptkit_core::{LineStatus, Verdict};
    let valid = judgement.report.is_valid();
    (0..claim.lines.len())
        .map(|i| match &judgement.verdict {
            Verdict::Priced(priced) => {
                let line = &priced.lines[i];
                let status = match line.status {
                    LineStatus::Priced => "priced",
                    LineStatus::NotPriced => "not_priced",
                    LineStatus::NotPayable => "not_payable",
                };
                let mut units = line.total_units;
                units.rescale(4);
                let mut allowed = line.allowed;
                allowed.rescale(2);
                let cents = i64::try_from(allowed.mantissa()).unwrap();
                (status.to_owned(), Some(line.rule.id.clone()), Some(units.mantissa()), Some(cents), valid)
            }
            Verdict::NotPriced(_) => ("error".to_owned(), None, None, None, valid),
            _ => ("not_valid".to_owned(), None, None, None, valid),
        })
        .collect()
}

/// The table engine answers exactly as the one judge (the row path) on a million lines of the mixed
/// synthetic table: anesthesia and fee-schedule lines, every payer, good claims and broken ones.
#[test]
fn a_million_mixed_lines_answer_as_the_row_judge() {
    const LINES: usize = 1_000_000;
    let mut claims = Vec::new();
    let mut lines = 0;
    for claim in SyntheticClaims::new(13).unwrap() {
        lines += claim.lines.len();
        claims.push(claim);
        if lines >= LINES {
            break;
        }
    }
    let pricing = contract("60", false);
    let options = cptkit_core::JudgeOptions { today: today(), pricing: Some(pricing.options.clone()) };
    let (mut want_rows, mut want_issues) = (Vec::with_capacity(lines), BTreeSet::new());
    for claim in &claims {
        let judgement = Reference::embedded().judge(claim, &options, RuleBook::embedded()).unwrap();
        let first_row = want_rows.len();
        for finding in &judgement.report.findings {
            let row = first_row + finding.loc.line_index().unwrap_or(0);
            want_issues.insert((row, finding.edit_id.clone(), finding.field()));
        }
        if let cptkit_core::Verdict::NotPriced(error) = &judgement.verdict {
            want_issues.insert((first_row, "TBL004".to_owned(), error.loc().to_string()));
        }
        want_rows.extend(row_answers(claim, &judgement));
    }

    let mut got_rows = Vec::with_capacity(lines);
    let mut got_issues = BTreeSet::new();
    for chunk in claims.chunks(50_000) {
        let batch = claims_to_batch(chunk).unwrap();
        let result =
            joined(price_batch(&batch, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap());
        let first_row = got_rows.len();
        got_issues.extend(issues(&result).into_iter().map(|(row, id, field)| (first_row + row, id, field)));
        let units = result.column_by_name("total_units").unwrap().as_primitive::<Decimal128Type>();
        let valid = result.column_by_name("claim_valid").unwrap().as_boolean();
        let (status, rule_set, allowed) =
            (text(&result, "status"), text(&result, "rule_set"), cents(&result, "allowed_cents"));
        for row in 0..result.num_rows() {
            let units = units.is_valid(row).then(|| units.value(row));
            got_rows.push((status[row].clone().unwrap(), rule_set[row].clone(), units, allowed[row], valid.value(row)));
        }
    }
    assert_eq!(got_rows.len(), lines);
    let first_difference = (0..lines).find(|&row| got_rows[row] != want_rows[row]);
    assert_eq!(
        first_difference,
        None,
        "first different row: {:?}",
        first_difference.map(|r| (&got_rows[r], &want_rows[r]))
    );
    assert_eq!(got_issues, want_issues);
    // The mix has what it promises: fee-schedule and anesthesia lines priced, and broken claims.
    let priced = want_rows.iter().filter(|r| r.0 == "priced").count();
    let invalid = want_rows.iter().filter(|r| !r.4).count();
    let fee_lines: usize = claims.iter().filter(|c| c.claim_id.ends_with('F')).map(|c| c.lines.len()).sum();
    assert!(
        priced > lines / 2 && invalid > 1_000 && fee_lines > lines / 4,
        "{priced} priced, {invalid} invalid, {fee_lines} fee"
    );
}

/// The explanation column holds each priced line's steps exactly as the one judge words them.
#[test]
fn explanations_are_the_row_judges_steps() {
    let claims: Vec<Claim> = SyntheticClaims::new(21).unwrap().take(8_000).collect();
    let pricing = contract("60", true);
    let options = cptkit_core::JudgeOptions { today: today(), pricing: Some(pricing.options.clone()) };
    let mut want = Vec::new();
    for claim in &claims {
        let verdict = Reference::embedded().judge(claim, &options, RuleBook::embedded()).unwrap().verdict;
        for i in 0..claim.lines.len() {
            want.push(match &verdict {
                cptkit_core::Verdict::Priced(priced) => {
                    Some(priced.lines[i].steps().into_iter().map(|s| (s.step.to_owned(), s.detail, s.value)).collect())
                }
                _ => None,
            });
        }
    }
    let batch = claims_to_batch(&claims).unwrap();
    let result = joined(price_batch(&batch, Reference::embedded(), RuleBook::embedded(), &pricing, today()).unwrap());
    let explanation = result.column_by_name("explanation").unwrap().as_list::<i32>();
    let got: Vec<Option<Vec<(String, String, String)>>> = (0..result.num_rows())
        .map(|row| {
            explanation.is_valid(row).then(|| {
                let steps = explanation.value(row);
                let steps = steps.as_struct();
                let field = |i: usize| steps.column(i).as_string::<i32>().clone();
                let (name, detail, value) = (field(0), field(1), field(2));
                (0..steps.len())
                    .map(|i| (name.value(i).to_owned(), detail.value(i).to_owned(), value.value(i).to_owned()))
                    .collect()
            })
        })
        .collect();
    assert_eq!(got.len(), want.len());
    let first_difference = (0..got.len()).find(|&row| got[row] != want[row]);
    assert_eq!(first_difference, None, "row {:?}", first_difference.map(|r| (&got[r], &want[r])));
    let explained = got.iter().flatten().count();
    assert!(explained > got.len() / 2, "{explained} of {} rows explained", got.len());
}
