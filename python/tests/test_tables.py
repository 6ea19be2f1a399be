"""The table API: claim-lines tables from pyarrow, polars and pandas, validated and priced in bulk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import cptkit
from conftest import claims_from_table
from cptkit.testing import synthetic_claims

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
TODAY = "2026-11-27"


@pytest.fixture(scope="module")
def lines() -> pa.Table:
    return synthetic_claims(3_000, seed=11)


def price(table: Any, **options: Any) -> pa.Table:
    return cptkit.price_table(table, conversion_factor="60", today=TODAY, progress=False, **options)


def test_the_layout_is_published_as_an_arrow_schema(lines: pa.Table) -> None:
    assert isinstance(cptkit.CLAIM_LINES_SCHEMA, pa.Schema)
    assert lines.schema == cptkit.CLAIM_LINES_SCHEMA
    assert cptkit.CLAIM_LINES_SCHEMA.field("claim_id").type == pa.string()
    assert cptkit.CLAIM_LINES_SCHEMA.field("quantity").type == pa.decimal128(18, 4)
    assert cptkit.CLAIM_LINES_SCHEMA.field("diagnoses").type == pa.list_(pa.string())
    result = price(lines.slice(0, 10))
    assert result.schema == cptkit.PRICING_SCHEMA
    assert cptkit.validate_table(lines.slice(0, 10), today=TODAY).schema == cptkit.VALIDATION_SCHEMA


def test_synthetic_claims_are_deterministic_and_varied() -> None:
    a, b, c = synthetic_claims(500, seed=1), synthetic_claims(500, seed=1), synthetic_claims(500, seed=2)
    assert a.equals(b)
    assert not a.equals(c)
    payers = set(a["payer_id"].to_pylist())
    assert {"medicare", "cigna", "bcbs-ok", "uhc", "aetna", "humana-ma"} <= payers
    # Medically directed cases: a QK physician claim and a QX anesthetist claim share a case id.
    modifiers = {m[0] for m in a["modifiers"].to_pylist() if m}
    assert {"AA", "QK", "QX", "QZ"} <= modifiers
    with pytest.raises(ValueError, match="negative"):
        synthetic_claims(-1)


def test_one_result_row_per_input_row_in_order(lines: pa.Table) -> None:
    result = price(lines)
    assert result.num_rows == lines.num_rows
    assert result["claim_id"].to_pylist() == lines["claim_id"].to_pylist()
    statuses = set(result["status"].to_pylist())
    assert {"priced", "not_priced", "not_valid", "error"} >= statuses >= {"priced", "not_valid"}


def test_table_prices_equal_price_many_on_the_same_claims(lines: pa.Table) -> None:
    """The table face and the object face agree to the cent on every priced line."""
    medicare = lines.filter(pc.equal(lines["payer_id"], "medicare")).slice(0, 400)
    result = price(medicare)
    claims = claims_from_table(medicare)
    # Medicare FFS: the table keeps the CMS factor even with a contract factor given for other payers.
    priced = cptkit.price_many(claims, today=TODAY)
    expected: list[int | None] = []
    for claim, item in zip(claims, priced, strict=True):
        if isinstance(item, Exception):  # a claim with error findings: no amounts in the table either
            expected.extend([None] * len(claim["lines"]))
        else:
            expected.extend(int(line.allowed * 100) for line in item.lines)
    assert result["allowed_cents"].to_pylist() == expected
    assert None in expected and len(set(expected)) > 50


def test_pyarrow_polars_pandas_and_parquet_give_the_same_results(lines: pa.Table, tmp_path: Path) -> None:
    want = price(lines)
    path = tmp_path / "claims.parquet"
    pq.write_table(lines, path, row_group_size=700)
    inputs = {
        "reader": pa.RecordBatchReader.from_batches(lines.schema, lines.to_batches(max_chunksize=333)),
        "polars": pl.from_arrow(lines),
        "pandas": lines.to_pandas(),
        "parquet via pyarrow": pq.read_table(path),
        "parquet via pandas": pd.read_parquet(path),
        "parquet via polars": pl.read_parquet(path),
        "parquet batches": pq.ParquetFile(path).iter_batches(batch_size=512),
    }
    for name, table in inputs.items():
        if name == "parquet batches":
            table = pa.RecordBatchReader.from_batches(lines.schema, table)
        got = price(table)
        assert got.equals(want), name


def test_dictionary_encoded_text_columns_give_the_same_results(lines: pa.Table, tmp_path: Path) -> None:
    """Categorical text (pandas, polars, Parquet dictionary pages) is read in place: the same answers."""
    want = price(lines)
    text = [f.name for f in lines.schema if f.type == pa.string()]
    encoded = lines
    for name in text:
        encoded = encoded.set_column(encoded.schema.get_field_index(name), name, pc.dictionary_encode(lines[name]))
    path = tmp_path / "claims.parquet"
    pq.write_table(lines, path, row_group_size=700)
    categorical = lines.to_pandas()
    for name in text:
        categorical[name] = categorical[name].astype("category")
    inputs = {
        "pyarrow dictionary_encode": encoded,
        "pandas categoricals": categorical,
        "polars categoricals": pl.from_arrow(lines).with_columns(pl.col(text).cast(pl.Categorical)),
        "parquet dictionary pages": pq.read_table(path, read_dictionary=text),
    }
    for name, table in inputs.items():
        assert price(table).equals(want), name
    assert cptkit.validate_table(encoded, today=TODAY).equals(cptkit.validate_table(lines, today=TODAY))


def test_claims_to_table_loses_no_claim() -> None:
    """A claim with no lines has no row, and one with an empty id cannot be read: each is refused naming
    it. A table that holds an empty claim id gets TBL001 on its rows, not a crash."""
    claim = json_claim("medicare_00632_aa_90min_2025")
    refused = [({**claim, "lines": []}, "claims[1].lines"), ({**claim, "claim_id": ""}, "claims[1].claim_id")]
    for broken, field in refused:
        with pytest.raises(cptkit.InvalidInputError) as info:
            cptkit.claims_to_table([claim, broken])
        assert info.value.field == field
    table = cptkit.claims_to_table([claim, {**claim, "claim_id": "SECOND"}])
    ids = pa.array([claim["claim_id"], ""])
    report = cptkit.validate_table(table.set_column(0, "claim_id", ids), today=TODAY).to_pylist()
    assert [i["edit_id"] for i in report[1]["issues"]] == ["TBL001"] and report[0]["claim_valid"]


def test_a_null_required_value_in_the_layout_schema_is_its_rows_issue() -> None:
    """pyarrow does not check a schema's non-null flags when a table is built or edited, but the Arrow
    import does: the published schema is nullable, so one null is TBL001 on its row, not a failed call.
    The tables cptkit makes use that schema."""
    assert all(field.nullable for field in cptkit.CLAIM_LINES_SCHEMA)
    table = synthetic_claims(200, seed=7)
    assert table.schema == cptkit.CLAIM_LINES_SCHEMA
    assert cptkit.claims_to_table([json_claim("medicare_00632_aa_90min_2025")]).schema == cptkit.CLAIM_LINES_SCHEMA
    rows = table.to_pylist()
    rows[5]["procedure_code"] = None
    result = cptkit.validate_table(pa.Table.from_pylist(rows, schema=cptkit.CLAIM_LINES_SCHEMA), today=TODAY)
    issues = result["issues"].to_pylist()
    assert result.num_rows == table.num_rows
    assert [(i["edit_id"], i["column"]) for i in issues[5]] == [("TBL001", "procedure_code")]
    assert sum(1 for row in issues if any(i["edit_id"] == "TBL001" for i in row)) == 1
    charges = table["charge_cents"]
    nulled = table.set_column(
        table.schema.get_field_index("charge_cents"),
        table.schema.field("charge_cents"),
        pc.if_else(pa.array([row == 3 for row in range(table.num_rows)]), pa.scalar(None, pa.int64()), charges),
    )
    issues = cptkit.validate_table(nulled, today=TODAY)["issues"].to_pylist()
    assert [(i["edit_id"], i["column"]) for i in issues[3]] == [("TBL001", "charge_cents")]


def json_claim(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "claims" / name / "claim.json").read_text(encoding="utf-8"))


def test_zoned_times_are_read_as_their_local_clock(lines: pa.Table) -> None:
    """pandas tz-aware times mean their own zone's clock, as the layout's plain times do: a service at
    20:00 in Los Angeles is on that day, though UTC has moved on to the next (read as UTC, every rule
    set and fee schedule step would name another date)."""
    zoned = lines.to_pandas()
    for name in ("start_time", "end_time"):
        zoned[name] = zoned[name].dt.tz_localize("Asia/Kolkata")
    evening = pd.to_datetime(zoned["date_of_service"]) + pd.Timedelta(hours=20)
    zoned["date_of_service"] = evening.dt.tz_localize("America/Los_Angeles")
    assert pa.Table.from_pandas(zoned).schema.field("date_of_service").type.tz == "America/Los_Angeles"
    assert price(zoned, explain=True).equals(price(lines, explain=True))


def test_bad_rows_get_issues_in_their_own_row_and_nothing_is_dropped(lines: pa.Table) -> None:
    table = lines.slice(0, 50)
    quantity = [str(q) for q in table["quantity"].to_pylist()]
    quantity[3] = "forty"
    codes = table["procedure_code"].to_pylist()
    codes[7] = None
    table = table.set_column(table.schema.get_field_index("quantity"), "quantity", pa.array(quantity))
    table = table.set_column(table.schema.get_field_index("procedure_code"), "procedure_code", pa.array(codes))
    result = price(table)
    assert result.num_rows == 50
    issues = result["issues"].to_pylist()
    assert [(i["edit_id"], i["column"]) for i in issues[3]] == [("TBL001", "quantity")]
    assert '"forty"' in issues[3][0]["message"]
    assert [(i["edit_id"], i["column"]) for i in issues[7]] == [("TBL001", "procedure_code")]
    assert result["status"][3].as_py() == "not_valid" and result["claim_valid"][3].as_py() is False
    # Rows of claims with no issue on any of their lines (a claim's other lines share its fate).
    bad_claims = {result["claim_id"][row].as_py() for row in range(50) if issues[row]}
    good = [row for row in range(50) if result["claim_id"][row].as_py() not in bad_claims]
    assert good and all(result["status"][row].as_py() in ("priced", "not_priced", "error") for row in good)


def test_lines_of_a_claim_that_come_back_later_are_tbl003_in_any_chunk(lines: pa.Table) -> None:
    # The first claim's lines again at the end, in a batch of their own, after the others: an
    # all-None column of the null type on the way (pyarrow's type for it) reads as absent.
    first = lines["claim_id"][0].as_py()
    rows = sum(1 for claim_id in lines["claim_id"].to_pylist() if claim_id == first)
    table = pa.concat_tables([lines.slice(0, 200), lines.slice(0, rows)])
    result = cptkit.validate_table(table, today=TODAY)
    issues = result["issues"].to_pylist()
    assert [i["edit_id"] for i in issues[200]] == ["TBL003"] and not any(issues[200 + 1 : 200 + rows])
    # The first run too, judged before the second was seen: no part of the claim passes as the claim.
    assert "TBL003" in [i["edit_id"] for i in issues[0]]
    assert not any(result["claim_valid"].to_pylist()[:rows] + result["claim_valid"].to_pylist()[200:])
    nulls = table.set_column(table.schema.get_field_index("member_id"), "member_id", pa.nulls(table.num_rows))
    assert nulls.schema.field("member_id").type == pa.null()
    typed = table.set_column(
        table.schema.get_field_index("member_id"), "member_id", pa.nulls(table.num_rows, pa.string())
    )
    assert cptkit.validate_table(nulls, today=TODAY).equals(cptkit.validate_table(typed, today=TODAY))


def test_no_run_of_a_claim_whose_rows_are_apart_is_priced(lines: pa.Table) -> None:
    """A claim whose rows come back after another claim's, in a later chunk of a stream: every run of
    it is not valid and unpriced, each run's first row naming the rows of the others (counted from 0)."""
    ids = lines["claim_id"].to_pylist()
    start = next(row for row in range(len(ids) - 1) if ids[row] == ids[row + 1])  # a claim of 2+ lines
    end = next(row for row in range(start, len(ids)) if ids[row] != ids[start])
    other_end = next(row for row in range(end, len(ids)) if ids[row] != ids[end])
    claim, other = lines.slice(start, end - start), lines.slice(end, other_end - end)
    whole = pa.concat_tables([claim.slice(0, 1), other, claim.slice(1)])
    later = 1 + other.num_rows  # the row the claim comes back at
    for table in (whole, pa.RecordBatchReader.from_batches(whole.schema, whole.to_batches(max_chunksize=1))):
        result = price(table).to_pylist()
        apart = [r for r in result if r["claim_id"] == ids[start]]
        assert [r["status"] for r in apart] == ["not_valid"] * claim.num_rows
        assert not any(r["claim_valid"] or r["allowed_cents"] for r in apart)
        assert [i["edit_id"] for i in result[0]["issues"]] == ["TBL003"]
        assert f"rows {later}" in result[0]["issues"][0]["message"]
        assert [i["edit_id"] for i in result[later]["issues"]] == ["TBL003"]
        assert "rows 0 " in result[later]["issues"][0]["message"]
        assert result[1:later] == price(other).to_pylist()


def test_a_decimal_money_column_with_places_fails_the_call(lines: pa.Table) -> None:
    """decimal(12, 2) is dollars: 1500.00 would pass as 1500 cents, and the lower-of-charge rule would
    pay $15.00. It is refused naming the column; whole-valued floats (pandas' integers with gaps) stay."""
    table = lines.slice(0, 20)
    index = table.schema.get_field_index("charge_cents")
    dollars = pa.array([Decimal(c).scaleb(-2) for c in table["charge_cents"].to_pylist()], pa.decimal128(12, 2))
    with pytest.raises(cptkit.InvalidInputError, match="whole cents as integers") as err:
        price(table.set_column(index, pa.field("charge_cents", pa.decimal128(12, 2)), dollars))
    assert err.value.field == "charge_cents"
    floats = table.set_column(index, "charge_cents", table["charge_cents"].cast(pa.float64()))
    assert price(floats).equals(price(table))


def test_true_false_text_reads_as_the_claim_json_reads_it(lines: pa.Table) -> None:
    """Only true/false (the dict face refuses "Y"; for qualifying_apm it changes the amount), and as
    numbers only 0/1: anything else is TBL001 naming the column."""
    table = lines.slice(0, 4)
    index = table.schema.get_field_index("qualifying_apm")
    texts = table.set_column(index, "qualifying_apm", pa.array(["Y", "yes", "1", "T"]))
    issues = price(texts)["issues"].to_pylist()
    assert all(("TBL001", "qualifying_apm") in [(i["edit_id"], i["column"]) for i in row] for row in issues)
    numbers = table.set_column(index, "qualifying_apm", pa.array([0, 1, 2, -1]))
    issues = price(numbers)["issues"].to_pylist()
    flagged = [any(i["column"] == "qualifying_apm" for i in row) for row in issues]
    assert flagged == [False, False, True, True]
    words = pa.array(["true" if v else "false" for v in table["qualifying_apm"].to_pylist()])
    spelled = table.set_column(index, "qualifying_apm", words)
    assert price(spelled).equals(price(table))


def test_a_missing_required_column_is_an_error_naming_it(lines: pa.Table) -> None:
    with pytest.raises(cptkit.InvalidInputError) as err:
        cptkit.validate_table(lines.drop_columns(["date_of_service"]), today=TODAY)
    assert err.value.field == "date_of_service"
    with pytest.raises(TypeError, match="Arrow table or stream"):
        cptkit.validate_table([{"claim_id": "x"}])


def test_a_table_with_no_rows_is_checked_as_one_with_rows(lines: pa.Table) -> None:
    """A filter that left an empty frame of the wrong columns fails now, not on the first day with rows."""
    for rows in (1, 0):
        with pytest.raises(cptkit.InvalidInputError) as err:
            price(pa.table({"foo": pa.array([7] * rows, pa.int64())}))
        assert err.value.field == "claim_id"
    npi = pa.array([{"x": 1}] * lines.num_rows)
    wrong = lines.set_column(lines.schema.get_field_index("rendering_npi"), "rendering_npi", npi)
    for table in (wrong.slice(0, 0), pa.RecordBatchReader.from_batches(wrong.schema, [])):
        with pytest.raises(cptkit.InvalidInputError) as err:
            cptkit.validate_table(table, today=TODAY)
        assert err.value.field == "rendering_npi"
    assert price(lines.slice(0, 0)).num_rows == 0


def test_contract_factors_per_payer(lines: pa.Table) -> None:
    commercial = lines.filter(pc.is_in(lines["payer_id"], pa.array(["cigna", "bcbs-ok"])))
    result = cptkit.price_table(
        commercial, conversion_factor={"cigna": "62.50", None: Decimal("58")}, today=TODAY, progress=False
    )
    priced = result.filter(pc.equal(result["status"], "priced"))
    by_payer = dict(zip(commercial["claim_id"].to_pylist(), commercial["payer_id"].to_pylist(), strict=True))
    for claim_id, factor in zip(priced["claim_id"].to_pylist(), priced["conversion_factor"].to_pylist(), strict=True):
        assert factor == (Decimal("62.5") if by_payer[claim_id] == "cigna" else Decimal("58")), claim_id
    with pytest.raises(cptkit.InvalidInputError, match="never a float"):
        cptkit.price_table(commercial, conversion_factor={"cigna": 62.5})


def test_explain_adds_the_worded_steps(lines: pa.Table) -> None:
    result = price(lines.slice(0, 20), explain=True)
    steps = [s for s, status in zip(result["explanation"].to_pylist(), result["status"].to_pylist(), strict=True) if status == "priced"]
    assert steps and all(any(step["step"] == "rule_set" for step in s) for s in steps)


def test_threads_and_repeats_give_the_same_results(lines: pa.Table) -> None:
    want = price(lines)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: price(lines), range(8)))
    assert all(r.equals(want) for r in results)
    assert price(synthetic_claims(3_000, seed=11)).equals(want)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts the threads in /proc/self/task")
def test_cptkit_threads_bounds_the_table_workers() -> None:
    """CPTKIT_THREADS=1 (inside Dask or Spark workers) judges a table on the calling thread alone; 2
    starts workers, so the count would see them."""
    script = textwrap.dedent(
        """
        import os, threading, time, cptkit
        from cptkit.testing import synthetic_claims
        table = synthetic_claims(20_000, seed=1)
        peak, stop = [0], [False]
        def watch():
            while not stop[0]:
                peak[0] = max(peak[0], len(os.listdir("/proc/self/task")))
                time.sleep(0.0005)
        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.01)
        before = len(os.listdir("/proc/self/task"))
        for _ in range(3):
            cptkit.price_table(table, conversion_factor="60", today="2026-11-27", progress=False)
        stop[0] = True
        watcher.join()
        print(peak[0] - before)
        """
    )
    extra = {}
    for threads in ("1", "2"):
        run = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "CPTKIT_THREADS": threads},
            capture_output=True,
            text=True,
            check=True,
        )
        extra[threads] = int(run.stdout.strip())
    assert extra["1"] == 0 and extra["2"] > 0, extra


def test_progress_reports_rows_done() -> None:
    table = synthetic_claims(150_000, seed=5)
    seen: list[int] = []
    cptkit.validate_table(table, today=TODAY, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == table.num_rows and len(seen) >= 2


def test_read_837_as_a_table() -> None:
    path = FIXTURES / "x12" / "837p_commercial_pipe_newline.x12"
    read = cptkit.read_837(path)
    table = cptkit.read_837(path, as_table=True)
    assert table.schema == cptkit.CLAIM_LINES_SCHEMA
    assert table.equals(read.to_table())
    claims = [c.claim.to_dict() for c in read.claims]
    assert table.num_rows == sum(len(c["lines"]) for c in claims)
    assert table["claim_id"].to_pylist()[0] == claims[0]["claim_id"]
    # The file's claims priced as a table agree with pricing the objects.
    result = price(table)
    objects = cptkit.price_many(read.core_claims(), conversion_factor="60", today=TODAY)
    expected: list[int | None] = []
    for claim, priced in zip(claims, objects, strict=True):
        if isinstance(priced, Exception):
            expected.extend([None] * len(claim["lines"]))
        else:
            expected.extend(int(line.allowed * 100) for line in priced.lines)
    assert result["allowed_cents"].to_pylist() == expected
    with pytest.warns(UserWarning, match="1 claims were rejected"):
        partial = cptkit.read_837(FIXTURES / "x12" / "837p_medicare_star_crlf.x12", as_table=True)
    assert partial.num_rows >= 8


def test_ctrl_c_stops_a_long_batch_between_chunks(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time, cptkit
        from cptkit.testing import synthetic_claims
        table = synthetic_claims(3_000_000, seed=1)
        print("ready", flush=True)
        cptkit.price_table(table, conversion_factor="60", progress=False)
        print("finished", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # well inside the pricing of 3M lines (several seconds)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "finished" not in out
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0


def test_without_pyarrow_the_results_are_arrow_tables_polars_reads() -> None:
    """pyarrow is optional: the native Arrow table goes to polars through the PyCapsule interface."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pyarrow"] = None  # as if pyarrow were not installed
        import cptkit, polars as pl
        from cptkit.testing import synthetic_claims
        lines = pl.DataFrame(synthetic_claims(200, seed=3))
        result = pl.DataFrame(cptkit.price_table(lines, conversion_factor="60", today="2026-11-27"))
        assert result.height == lines.height, (result.height, lines.height)
        assert result["claim_id"].to_list() == lines["claim_id"].to_list()
        print(sorted(set(result["status"].to_list())))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "priced" in done.stdout


def test_import_leaves_pyarrow_until_a_schema_is_asked_for() -> None:
    """`import cptkit` stays light (no pyarrow, no numpy and its BLAS threads) for code that never uses
    tables; the layout schemas are built on first use, once."""
    script = (
        "import sys, cptkit\n"
        "assert 'pyarrow' not in sys.modules and 'numpy' not in sys.modules, 'imported eagerly'\n"
        "assert 'CLAIM_LINES_SCHEMA' in dir(cptkit)\n"
        "schema = cptkit.CLAIM_LINES_SCHEMA\n"
        "assert 'pyarrow' in sys.modules and cptkit.CLAIM_LINES_SCHEMA is schema\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_a_pandas_cell_pyarrow_cannot_convert_is_its_rows_issue_and_the_other_rows_are_judged(
    lines: pa.Table,
) -> None:
    # pyarrow cannot make a column of mixed types; the column is read cell by cell as text instead.
    table = lines.slice(0, 12)
    frame = table.to_pandas()
    frame["charge_cents"] = frame["charge_cents"].astype(object)
    frame.loc[1, "charge_cents"] = "N/A"
    frame["patient_birth_date"] = frame["patient_birth_date"].astype(object)
    frame.loc[4, "patient_birth_date"] = 19580614
    frame["qualifying_apm"] = frame["qualifying_apm"].astype(object)
    frame.loc[5, "qualifying_apm"] = 0  # a number in a true/false column: 0 and 1 are read
    frame["patient_name"] = pd.Series(["Jane Q Patient", 7] * 6, dtype=object)  # not in the layout
    got = price(frame)
    assert got.num_rows == table.num_rows
    issues = got.column("issues").to_pylist()
    assert [(i["edit_id"], i["column"]) for i in issues[1]] == [("TBL001", "charge_cents")]
    assert issues[1][0]["message"] == 'charge_cents: cannot read "N/A" as whole cents'
    assert [(i["edit_id"], i["column"]) for i in issues[4]] == [("TBL001", "patient_birth_date")]
    assert "19580614" not in issues[4][0]["message"]  # patient data is never quoted
    assert not [i for i in issues[5] if i["edit_id"] == "TBL001"]
    # The rows of the other claims are judged as from the untouched table.
    spoiled = {got.column("claim_id")[row].as_py() for row in (1, 4)}
    kept = [row for row in range(table.num_rows) if table.column("claim_id")[row].as_py() not in spoiled]
    assert kept and got.take(kept).equals(price(table).take(kept))
    # A list column holding a row that is not a list cannot be read cell by cell: the call fails naming it.
    frame = table.to_pandas()
    frame["modifiers"] = pd.Series(["AA", *frame["modifiers"][1:]], dtype=object)
    with pytest.raises(cptkit.InvalidInputError) as raised:
        price(frame)
    assert raised.value.field == "modifiers" and "a list column with a row that is not a list" in str(raised.value)


def test_a_stream_that_cannot_be_made_fails_naming_the_column_and_no_patient_value(lines: pa.Table) -> None:
    # Another library's wrapper around a pandas frame exports pandas' own stream, which fails as a whole.
    class Wrapped:
        def __init__(self, frame: pd.DataFrame) -> None:
            self.frame = frame

        def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
            return self.frame.__arrow_c_stream__(requested_schema)

    frame = lines.slice(0, 3).to_pandas()
    frame["member_id"] = pd.Series([12345, "1EG4TE5MK73", 12345], dtype=object)
    with pytest.raises(cptkit.InvalidInputError) as raised:
        price(Wrapped(frame))
    assert raised.value.field == "member_id" and "cannot be read as an Arrow table" in str(raised.value)
    assert "1EG4TE5MK73" not in str(raised.value) and raised.value.__cause__ is None
