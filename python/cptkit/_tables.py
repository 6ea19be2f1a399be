"""Tables in, tables out: the claim-lines layout and the batch functions over it.

Any Arrow stream producer is accepted through the Arrow PyCapsule interface: a pyarrow Table or
RecordBatchReader, a polars DataFrame, a pandas DataFrame (through pyarrow). Results are pyarrow
Tables when pyarrow is installed, else Arrow table objects any of those libraries can read.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from typing import Any

from cptkit import _native
from cptkit.exceptions import InvalidInputError

#: Rows below which no progress bar is shown unless asked for.
_PROGRESS_MIN_ROWS = 200_000


def _schema(native_schema: Any) -> Any:
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a test dependency
        return native_schema
    return pa.schema(native_schema)


#: The layout schemas, each built on first use (PEP 562) so that ``import cptkit`` does not import pyarrow
#: (and numpy with it): ``CLAIM_LINES_SCHEMA``, the claim-lines layout (one row per service line,
#: claim-level columns repeated on every line); ``VALIDATION_SCHEMA``, the results of validate_table (one
#: row per input row, in input order); ``PRICING_SCHEMA``, the results of price_table (explain=False):
#: the validation columns plus the priced amounts.
SCHEMAS: dict[str, Callable[[], Any]] = {
    "CLAIM_LINES_SCHEMA": _native.claim_lines_schema,
    "VALIDATION_SCHEMA": lambda: _native.result_schema(False),
    "PRICING_SCHEMA": lambda: _native.result_schema(True),
}


def __getattr__(name: str) -> Any:
    make = SCHEMAS.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    schema = globals()[name] = _schema(make())
    return schema


def _arrow_input(table: Any) -> Any:
    """A pandas DataFrame as Arrow (see ``_from_pandas``); any other table as it is."""
    pd = sys.modules.get("pandas")  # a pandas frame implies pandas is imported: never import it here
    if pd is not None and isinstance(table, pd.DataFrame):
        return _from_pandas(table)
    return table


def _from_pandas(frame: Any) -> Any:
    """The frame as pyarrow converts it. A layout column pyarrow cannot convert as a whole (a number among
    texts in an object column) is converted cell by cell to text, so each cell that is not a value of
    its column becomes that row's TBL001 and every other row is judged; a layout list column, or a
    scalar column holding a list, that cannot be converted fails the call naming the column. Columns
    outside the layout are not read, so one pyarrow cannot convert is left out."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame)  # as pandas' own Arrow stream does
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    layout = {field.name: field.type for field in __getattr__("CLAIM_LINES_SCHEMA")}
    names, arrays = [], []
    for position, name in enumerate(frame.columns):
        if name not in layout:
            continue
        column = frame.iloc[:, position]
        try:
            array = pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            array = _column_as_text(column, layout[name], name)
        names.append(name)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=names)


def _column_as_text(column: Any, kind: Any, name: str) -> Any:
    """A column pyarrow could not convert, cell by cell as the text the table reader reads for ``kind``
    (None: no value). The reader parses it as it parses a text column: what is not a value of the
    column is that row's TBL001. A list column has no such text: it fails the call naming it. No value
    is ever quoted here (it may be patient data)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    def refused(shape: str) -> InvalidInputError:
        return InvalidInputError(f"the {name} column cannot be converted to Arrow: {shape}", field=name)

    if pa.types.is_list(kind):
        raise refused("a list column with a row that is not a list")

    def text(value: Any) -> str | None:
        if isinstance(value, (list, tuple, dict, set)) or np.ndim(value) > 0:
            raise refused("a list in a row")
        if pd.isna(value):
            return None
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
        if pa.types.is_boolean(kind) and isinstance(value, (bool, int, np.bool_, np.integer)) and value in (0, 1):
            return "true" if value else "false"  # a number as in a column of numbers: 0 and 1 only
        if isinstance(value, datetime.datetime):
            if pa.types.is_date(kind) and value.time() == datetime.time():
                return value.date().isoformat()
            return value.replace(tzinfo=None).isoformat()  # the local clock, as a zoned column is read
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))  # 150000.0 cents: pandas makes whole numbers floats beside a missing one
        return str(value)

    return pa.array([text(value) for value in column], pa.string())


def _rows(table: Any) -> int | None:
    rows = getattr(table, "num_rows", None)
    if isinstance(rows, int):
        return rows
    try:
        return len(table)
    except TypeError:
        return None  # a stream: its length is unknown until read


def _progress(table: Any, progress: bool | Callable[[int], object] | None, what: str) -> tuple[Any, Any]:
    """The callback handed to the native loop (rows done so far), and the bar to close afterwards."""
    if callable(progress):
        return progress, None
    total = _rows(table)
    wanted = progress is True or (progress is None and total is not None and total >= _PROGRESS_MIN_ROWS)
    if not wanted:
        return None, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=total, unit=" lines", desc=what)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return update, bar


def validate_table(
    table: Any,
    *,
    today: Any = None,
    progress: bool | Callable[[int], object] | None = None,
) -> Any:
    """Validates a claim-lines table (see ``CLAIM_LINES_SCHEMA``).

    Returns one row per input row, in order: ``claim_id``, ``line_number``, ``claim_valid`` and
    ``issues`` (a list of {edit_id, severity, field, column, message, hint}). A bad row gets its issues
    in its own result row; it never fails the batch or drops rows (a table that cannot be read as the
    layout at all fails the call with ``InvalidInputError`` naming the column: see python/README.md).
    Runs with the GIL released on all cores (``CPTKIT_THREADS``, read once per process, sets how many
    threads: 1 inside Dask or Spark workers); Ctrl-C stops between chunks. ``progress``: None shows a
    tqdm bar (when installed) for large tables, True always, False never, or a callable taking the
    number of rows done. ``today``: the date "in the future" is judged against (a date or ISO text);
    without it, today's date in UTC as the call began, for every row.
    """
    table = _arrow_input(table)
    callback, bar = _progress(table, progress, "validate")
    try:
        return _native.validate_table(table, today=today, progress=callback)
    finally:
        if bar is not None:
            bar.close()


def price_table(
    table: Any,
    *,
    conversion_factor: Any = None,
    rule_set: Any = None,
    explain: bool = False,
    today: Any = None,
    progress: bool | Callable[[int], object] | None = None,
    percent_of_medicare: Any = None,
) -> Any:
    """Validates and prices a claim-lines table (see ``CLAIM_LINES_SCHEMA``).

    ``conversion_factor`` is the contract factor for commercial and Medicare Advantage claims (never
    public, so an input): a Decimal/str/int for every payer, or a dict of payer id -> factor (key None:
    the rest). ``percent_of_medicare`` is a commercial contract's percentage of the Medicare amount for
    fee-schedule (non-anesthesia) lines. Returns the ``validate_table`` columns plus ``status``
    (priced, not_priced, not_payable, not_valid, error), ``rule_set``, units, factor and share as
    decimals, and charge, fee schedule and allowed in integer cents; ``explain=True`` adds each line's
    worded steps.
    """
    table = _arrow_input(table)
    callback, bar = _progress(table, progress, "price")
    try:
        return _native.price_table(
            table,
            conversion_factor=conversion_factor,
            rule_set=rule_set,
            explain=explain,
            today=today,
            progress=callback,
            percent_of_medicare=percent_of_medicare,
        )
    finally:
        if bar is not None:
            bar.close()


def claims_to_table(claims: Any) -> Any:
    """Claims (dicts in the claim JSON form, JSON text or ``cptkit.Claim``) as a claim-lines table
    (``CLAIM_LINES_SCHEMA``): one row per service line, ready for ``validate_table`` / ``price_table``.
    A claim that cannot be read raises ``InvalidInputError`` naming it (``claims[2].lines[0].quantity``)."""
    return _native.claims_to_table(claims)
