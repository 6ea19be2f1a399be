"""The table functions on a cluster: Spark (``mapInArrow``) and Dask (``map_partitions``).

Each claim is judged on its own, so a partitioned run gives the same rows as a single-process run as
long as every claim's lines are in one partition, adjacent and in line order. The helpers ensure that:
they shuffle by ``claim_id`` and sort within each partition by claim id and original row order (pass
``by_claim=False`` when the data is already laid out so). Results come back in partition order; sort by
``claim_id`` and ``line_number`` to compare with a single-process run.

Each result row can be joined back to the input row it answers: a Dask result keeps the input's index
(``ddf.join(result, rsuffix="_result")``), and a Spark result starts with the input columns named by
``key=`` (``df.join(result, "line_id")``).

A Dask partition is read as ``price_table`` reads a pandas DataFrame: a cell pyarrow cannot convert (a
number in a date column) is its row's TBL001, never showing a patient column's value; columns outside
the layout are not read.

>>> from cptkit import dist
>>> priced = dist.spark_price(spark_df, conversion_factor="60.00")          # doctest: +SKIP
>>> priced = dist.dask_price(dask_df, conversion_factor="60.00").compute()  # doctest: +SKIP

Without ``today``, every partition is judged against the driver's date (UTC) when the helper is called,
as one ``price_table`` call judges its whole table against one date, not each worker's on the day it
runs its partition.

Workers need cptkit installed (the same wheel as the driver); nothing else is shipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import cptkit
from cptkit import _tables

__all__ = ["spark_validate", "spark_price", "dask_validate", "dask_price"]

#: Row-order column the helpers add before shuffling, so a claim's lines keep their order.
_ROW = "__cptkit_row"


def _dated(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``today`` set: the one date every partition is judged against."""
    if options.get("today") is not None:
        return options
    return {**options, "today": cptkit._native.today_utc()}


def _judge(table: Any, price: bool, options: dict[str, Any]) -> Any:
    if price:
        return cptkit.price_table(table, progress=False, **options)
    return cptkit.validate_table(table, progress=False, **options)


def _result_schema(price: bool, explain: bool) -> Any:
    if not price:
        return _tables.VALIDATION_SCHEMA
    return _tables._schema(cptkit._native.result_schema(True, explain))


# Spark ----------------------------------------------------------------------------------------------


def _spark(df: Any, price: bool, by_claim: bool, key: str | Sequence[str], options: dict[str, Any]) -> Any:
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema
    from pyspark.sql.types import StructType

    options = _dated(options)
    schema = _result_schema(price, bool(options.get("explain")))
    keys = [key] if isinstance(key, str) else list(key)
    _check_keys(keys, df.columns, schema.names)
    out = StructType([df.schema[k] for k in keys] + list(from_arrow_schema(schema).fields))
    if by_claim:
        df = (
            df.withColumn(_ROW, F.monotonically_increasing_id())
            .repartition("claim_id")
            .sortWithinPartitions("claim_id", _ROW)
            .drop(_ROW)
        )

    def judge_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = iter(batches)
        first = next(batches, None)
        if first is None:
            return
        carried: list[pa.RecordBatch] = []

        def read() -> Iterator[pa.RecordBatch]:
            for batch in itertools.chain([first], batches):
                if keys:
                    carried.append(batch.select(keys))
                yield batch

        result = _judge(pa.RecordBatchReader.from_batches(first.schema, read()), price, options)
        if keys:
            # One result row per input row, in order: each carries its input row's key columns.
            carried_keys = pa.Table.from_batches(carried)
            keyed = pa.schema([*carried_keys.schema, *result.schema])
            result = pa.Table.from_arrays([*carried_keys.columns, *result.columns], schema=keyed)
        yield from result.to_batches()

    return df.mapInArrow(judge_partition, out)


def _check_keys(keys: list[str], columns: list[str], results: list[str]) -> None:
    """On the driver: each key is an input column, and not one of the result columns."""
    missing = [k for k in keys if k not in columns]
    if missing:
        raise cptkit.InvalidInputError(f"{', '.join(missing)}: not a column of the DataFrame", field="key")
    clash = [k for k in keys if k in results]
    if clash:
        raise cptkit.InvalidInputError(
            f"{', '.join(clash)}: a result column already has this name; name another column", field="key"
        )


def spark_validate(df: Any, *, by_claim: bool = True, key: str | Sequence[str] = (), **options: Any) -> Any:
    """``validate_table`` over a Spark DataFrame in the claim-lines layout; a Spark DataFrame of results.

    ``key``: input columns (a name or several) copied onto each result row, first, to join the results
    back to the input rows. ``options`` are ``validate_table``'s keywords (``today``)."""
    return _spark(df, False, by_claim, key, options)


def spark_price(df: Any, *, by_claim: bool = True, key: str | Sequence[str] = (), **options: Any) -> Any:
    """``price_table`` over a Spark DataFrame in the claim-lines layout; a Spark DataFrame of results.

    ``key``: input columns (a name or several) copied onto each result row, first, to join the results
    back to the input rows. ``options`` are ``price_table``'s keywords (``conversion_factor``,
    ``rule_set``, ``explain``, ``today``, ``percent_of_medicare``)."""
    return _spark(df, True, by_claim, key, options)


# Dask -----------------------------------------------------------------------------------------------


def _list_columns_as_text(ddf: Any) -> list[str]:
    """The layout's list columns that a Dask frame holds as text: ``dd.from_pandas`` turns object columns
    (lists among them) into strings unless ``dataframe.convert-string`` is off."""
    import pandas as pd
    import pyarrow as pa

    lists = [f.name for f in cptkit.CLAIM_LINES_SCHEMA if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)]
    return [c for c in lists if c in ddf.columns and isinstance(ddf.dtypes[c], pd.StringDtype)]


def _dask(ddf: Any, price: bool, by_claim: bool, options: dict[str, Any]) -> Any:
    text = _list_columns_as_text(ddf)
    if text:
        # Said now, on the driver, not by every worker when the graph runs.
        raise cptkit.InvalidInputError(
            f"{', '.join(text)}: the Dask frame holds these list columns as text, so no claim can be read; "
            'build it with dask.config.set({"dataframe.convert-string": False}) around dd.from_pandas, '
            "or read it from Parquet or Arrow, which keep lists"
        )
    options = _dated(options)
    schema = _result_schema(price, bool(options.get("explain")))
    meta = _pandas(schema.empty_table())
    meta.index = ddf._meta.index
    if by_claim:
        # A global row number (a running count across partitions) keeps each claim's line order.
        ddf = ddf.assign(**{_ROW: 1})
        ddf = ddf.assign(**{_ROW: ddf[_ROW].cumsum()}).shuffle(on="claim_id")

    def judge_partition(part: Any) -> Any:
        if len(part) == 0:
            return meta
        if _ROW in part.columns:
            part = part.sort_values(["claim_id", _ROW], kind="stable")
        result = _pandas(_judge(_layout_frame(part), price, options))
        # One result row per input row, in order: each carries the index of the row it answers.
        result.index = part.index
        return result

    return ddf.map_partitions(judge_partition, meta=meta)


def _layout_frame(part: Any) -> Any:
    """The partition's claim-lines columns, which ``price_table`` reads as it reads any pandas frame.

    No other column is converted (one may hold a patient's name, which a conversion error would quote),
    nor the index (Arrow would make it a column)."""
    layout = {f.name for f in cptkit.CLAIM_LINES_SCHEMA}
    return part[[c for c in part.columns if c in layout]].reset_index(drop=True)


def _pandas(table: Any) -> Any:
    """A result table as pandas with nullable integers: the cents of a line that is not priced are null,
    which NumPy's int64 cannot hold (pandas would make that partition's column float64, unlike ``meta``
    and the other partitions)."""
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}
    return table.to_pandas(types_mapper=nullable.get)


def dask_validate(ddf: Any, *, by_claim: bool = True, **options: Any) -> Any:
    """``validate_table`` over a Dask DataFrame in the claim-lines layout; a lazy Dask DataFrame of results.

    The result keeps the input's index: each row carries the index of the row it answers. ``options`` are
    ``validate_table``'s keywords (``today``)."""
    return _dask(ddf, False, by_claim, options)


def dask_price(ddf: Any, *, by_claim: bool = True, **options: Any) -> Any:
    """``price_table`` over a Dask DataFrame in the claim-lines layout; a lazy Dask DataFrame of results.

    The result keeps the input's index: each row carries the index of the row it answers. ``options`` are
    ``price_table``'s keywords (``conversion_factor``, ``rule_set``, ``explain``, ``today``,
    ``percent_of_medicare``)."""
    return _dask(ddf, True, by_claim, options)
