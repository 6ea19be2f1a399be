"""The table functions on Dask and on Spark (local[2], the machine's Java 17): the same rows as one
process on the same data, read from a Parquet export as an analyst would."""

from __future__ import annotations

import datetime
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cptkit
from cptkit import dist
from cptkit.testing import synthetic_claims

TODAY = "2026-11-27"
ORDER = [("claim_id", "ascending"), ("line_number", "ascending")]


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    """8,000 synthetic claims written in small row groups, so claims straddle partitions."""
    table = synthetic_claims(8_000, seed=21)
    path = tmp_path_factory.mktemp("export") / "claims.parquet"
    pq.write_table(table, path, row_group_size=999)
    return table, path


def single_process(table: pa.Table, price: bool) -> pa.Table:
    if price:
        result = cptkit.price_table(table, conversion_factor="60", today=TODAY, progress=False)
    else:
        result = cptkit.validate_table(table, today=TODAY, progress=False)
    return result.sort_by(ORDER)


@pytest.mark.parametrize("price", [False, True], ids=["validate", "price"])
def test_dask_matches_one_process(export: tuple[pa.Table, Path], price: bool) -> None:
    import dask.dataframe as dd

    table, path = export
    ddf = dd.read_parquet(path, split_row_groups=True)
    assert ddf.npartitions > 4
    if price:
        lazy = dist.dask_price(ddf, conversion_factor="60", today=TODAY)
    else:
        lazy = dist.dask_validate(ddf, today=TODAY)
    computed = lazy.compute()
    # Every partition has the columns' declared types (a line not priced has null cents, not a float).
    assert dict(computed.dtypes) == dict(lazy.dtypes)
    if price:
        assert str(computed["allowed_cents"].dtype) == "Int64" and computed["allowed_cents"].isna().any()
    got = pa.Table.from_pandas(computed, preserve_index=False)
    want = single_process(table, price)
    assert got.num_rows == table.num_rows
    assert got.sort_by(ORDER).to_pylist() == want.to_pylist()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17) on PATH")
    from pyspark.sql import SparkSession

    # Workers must run this interpreter, which has cptkit and pyarrow installed.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cptkit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        # Small input splits: the export is read as several partitions, cutting claims apart.
        .config("spark.sql.files.maxPartitionBytes", "65536")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.mark.parametrize("price", [False, True], ids=["validate", "price"])
def test_spark_matches_one_process(spark: Any, export: tuple[pa.Table, Path], price: bool) -> None:
    table, path = export
    df = spark.read.parquet(str(path))
    assert df.rdd.getNumPartitions() > 1
    if price:
        result = dist.spark_price(df, conversion_factor="60", today=TODAY)
    else:
        result = dist.spark_validate(df, today=TODAY)
    got = result.toArrow()
    want = single_process(table, price)
    assert got.num_rows == table.num_rows
    # Spark names list items "element" where Arrow says "item": compare the values.
    assert got.sort_by(ORDER).to_pylist() == want.to_pylist()


def test_without_today_every_partition_is_judged_against_the_drivers_date(tmp_path: Path) -> None:
    import dask.dataframe as dd

    # Every line dated tomorrow (UTC): in the future, so DAT001, on whichever day a partition runs.
    tomorrow = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)
    table = synthetic_claims(40, seed=3)
    column = table.schema.get_field_index("date_of_service")
    table = table.set_column(column, "date_of_service", pa.array([tomorrow] * table.num_rows, pa.date32()))
    pq.write_table(table, tmp_path / "claims.parquet", row_group_size=10)
    ddf = dd.read_parquet(tmp_path / "claims.parquet", split_row_groups=True)
    got = pa.Table.from_pandas(dist.dask_validate(ddf).compute(), preserve_index=False)
    want = cptkit.validate_table(table, progress=False)
    assert got.sort_by(ORDER).to_pylist() == want.sort_by(ORDER).to_pylist()
    assert any(issue["edit_id"] == "DAT001" for row in want.to_pylist() for issue in row["issues"])
    # The date is taken once, by the helper, and handed to every partition.
    assert dist._dated({})["today"] == tomorrow - datetime.timedelta(days=1)
    assert dist._dated({"today": "2025-01-02"}) == {"today": "2025-01-02"}


def test_a_dask_frame_holding_list_columns_as_text_is_refused_at_once_with_the_fix() -> None:
    import dask
    import dask.dataframe as dd

    frame = synthetic_claims(20, seed=5).to_pandas()
    # Dask's default turns object columns, lists among them, into strings.
    with dask.config.set({"dataframe.convert-string": True}):
        as_text = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(cptkit.InvalidInputError, match=r"^diagnoses, modifiers, diagnosis_pointers: .*convert-string"):
        dist.dask_price(as_text, conversion_factor="60")
    # The fix the message names: the lists stay lists and every row is judged.
    with dask.config.set({"dataframe.convert-string": False}):
        as_lists = dd.from_pandas(frame, npartitions=2)
    got = pa.Table.from_pandas(dist.dask_validate(as_lists, today=TODAY).compute(), preserve_index=False)
    want = cptkit.validate_table(pa.Table.from_pandas(frame, preserve_index=False), progress=False, today=TODAY)
    assert got.sort_by(ORDER).to_pylist() == want.sort_by(ORDER).to_pylist()


def _with_index(frame: Any) -> Any:
    """The synthetic frame with an index of its own (line ids), as a Dask user's frame would have."""
    import pandas as pd

    frame.index = pd.Index([f"line-{i:05d}" for i in range(len(frame))], name="line_id")
    return frame


def _rows_by_index(frame: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pa.Table.from_pandas(frame.sort_index(), preserve_index=True).to_pylist()
    return rows


@pytest.mark.parametrize("by_claim", [True, False], ids=["shuffled", "laid-out"])
def test_each_dask_result_row_carries_the_index_of_the_input_row_it_answers(by_claim: bool) -> None:
    import dask
    import dask.dataframe as dd

    table = synthetic_claims(300, seed=8)
    frame = _with_index(table.to_pandas())
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(frame, npartitions=4)
    lazy = dist.dask_price(ddf, conversion_factor="60", today=TODAY, by_claim=by_claim)
    computed = lazy.compute()
    assert computed.index.name == "line_id" and not computed.index.has_duplicates
    # The single-process answer to each input row, under that row's index.
    want = dist._pandas(cptkit.price_table(table, conversion_factor="60", today=TODAY, progress=False))
    want.index = frame.index
    assert _rows_by_index(computed) == _rows_by_index(want)
    # Joined back on the index, each result sits beside its own input row.
    joined = ddf.join(lazy, rsuffix="_result").compute()
    assert (joined["claim_id"] == joined["claim_id_result"]).all()
    assert (joined["charge_cents"] == joined["charge_cents_result"]).all()


def _one_bad_cell(column: str, values: list[Any]) -> Any:
    """Two claims as a frame whose ``column`` holds ``values`` (object dtype), and a column outside the
    layout holding a patient's name among numbers."""
    import pandas as pd

    frame = synthetic_claims(2, seed=4).to_pandas().head(2)
    frame["patient_name"] = pd.Series(["Jane Q Patient", 7], dtype=object)
    frame[column] = pd.Series(values, dtype=object)
    return frame


@pytest.mark.parametrize(
    ("column", "values", "shown"),
    [
        ("member_id", ["1EG4TE5MK73", 12345.5], False),
        ("patient_birth_date", [19580614, datetime.date(1958, 6, 14)], False),
        ("quantity", [90, "9O"], True),
    ],
    ids=["member-id", "birth-date", "quantity"],
)
def test_a_cell_pyarrow_cannot_convert_is_its_rows_issue_in_dask_as_in_price_table_naming_no_patient_value(
    column: str, values: list[Any], shown: bool
) -> None:
    import dask
    import dask.dataframe as dd

    frame = _one_bad_cell(column, values)
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(frame, npartitions=1)
    got = dist.dask_price(ddf, conversion_factor="60", today=TODAY).compute()
    assert len(got) == len(frame) and "patient_name" not in got.columns
    # price_table on the same frame answers alike: one conversion for both.
    table = cptkit.price_table(frame.drop(columns=["patient_name"]), conversion_factor="60", today=TODAY)
    assert [list(row) for row in got["issues"]] == table.column("issues").to_pylist()
    told = [(i["edit_id"], i["column"], i["message"]) for row in got["issues"] for i in row]
    bad = [t for t in told if t[0] == "TBL001"]
    assert [t[1] for t in bad] == ([] if column == "member_id" else [column])
    for value in ["1EG4TE5MK73", "12345", "1958", "Jane"]:
        assert all(value not in message for *_, message in told)
    assert any("9O" in message for *_, message in bad) == shown


def test_a_column_outside_the_layout_is_not_read_by_the_dask_helpers() -> None:
    import dask
    import dask.dataframe as dd

    frame = _one_bad_cell("member_id", ["M1", "M2"])  # the name column alone holds a bad cell
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(frame, npartitions=1)
    got = dist.dask_validate(ddf, today=TODAY).compute()
    assert len(got) == len(frame) and "patient_name" not in got.columns


def test_each_spark_result_row_carries_the_key_columns_of_the_input_row_it_answers(
    spark: Any, tmp_path: Path
) -> None:
    table = synthetic_claims(1_500, seed=9)
    line_ids = pa.array([f"line-{i:05d}" for i in range(table.num_rows)])
    keyed = table.append_column("line_id", line_ids).append_column("batch", pa.array([7] * table.num_rows))
    pq.write_table(keyed, tmp_path / "claims.parquet", row_group_size=400)
    df = spark.read.parquet(str(tmp_path / "claims.parquet"))
    assert df.rdd.getNumPartitions() > 1
    result = dist.spark_price(df, conversion_factor="60", today=TODAY, key=["line_id", "batch"])
    assert result.columns[:3] == ["line_id", "batch", "claim_id"]
    got = result.toArrow().sort_by("line_id").to_pylist()
    # The single-process answer to each input row, beside that row's key.
    want = cptkit.price_table(table, conversion_factor="60", today=TODAY, progress=False)
    want = want.add_column(0, "line_id", line_ids).add_column(1, "batch", pa.array([7] * table.num_rows))
    assert got == want.sort_by("line_id").to_pylist()
    # And joined back on it, each result sits beside its own input row.
    checked = dist.spark_validate(df, today=TODAY, key="line_id").withColumnRenamed("claim_id", "result_claim_id")
    joined = df.join(checked, "line_id")
    assert joined.count() == table.num_rows
    assert joined.filter("claim_id <=> result_claim_id").count() == table.num_rows


def test_a_spark_key_must_be_an_input_column_and_not_a_result_column(spark: Any, export: tuple[pa.Table, Path]) -> None:
    df = spark.read.parquet(str(export[1]))
    with pytest.raises(cptkit.InvalidInputError, match=r"^key: line_id: not a column of the DataFrame"):
        dist.spark_price(df, conversion_factor="60", key="line_id")
    with pytest.raises(cptkit.InvalidInputError, match=r"^key: claim_id: a result column already has this name"):
        dist.spark_validate(df, key=["member_id", "claim_id"])
