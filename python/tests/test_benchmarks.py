"""Payer rate benchmarks (TiC): cptkit.ingest_tic on the fixtures of tests/fixtures/tic (invented payers
and rates, see its README), the Arrow table against the Parquet store, warnings and the summary for broken
records, load_benchmarks, cptkit.benchmarks filters and CodeProfile.payer_benchmarks. The quantiles are
the hand-computed ones of crates/cptkit-tic/tests/tic.rs and the gRPC tests (grpc/rates.rs)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cptkit

TIC = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "tic"
STORE_FILES = ["v1_in_file_refs.json", "v1_separate_refs.json", "v2_provider_groups.json"]

# The Parquet layout of crates/cptkit-tic/README.md, in order.
COLUMNS = [
    "source_file",
    "reporting_entity_name",
    "reporting_entity_type",
    "last_updated_on",
    "schema_version",
    "ingested_on",
    "billing_code_type",
    "billing_code",
    "billing_class",
    "place_of_service",
    "modifiers",
    "taxonomy",
    "negotiated_type",
    "rate_basis",
    "count",
    "min",
    "p10",
    "p25",
    "median",
    "p75",
    "p90",
    "max",
    "medicare_year",
    "medicare_conversion_factor",
    "median_percent_of_medicare",
]

# Every 00632 row of the three files, in load order. v1_in_file_refs: per-unit 85 and 90 (n = 2, h = p:
# p10 85.5, p25 86.25, median 87.5, p75 88.75, p90 89.5), the 1200 case rate, 80 with QZ, 85 at POS 22.
# v1_separate_refs: 75 and 78, per unit (below 7 base units x the CY2025 CF 20.3178).
ROWS_00632 = [
    "Example Health Plan 21 [] negotiated per_unit | 2 85 85.5 86.25 87.5 88.75 89.5 90",
    "Example Health Plan 21 [] negotiated per_case | 1 1200 1200 1200 1200 1200 1200 1200",
    "Example Health Plan 21 [QZ] negotiated per_unit | 1 80 80 80 80 80 80 80",
    "Example Health Plan 22 [] negotiated per_unit | 1 85 85 85 85 85 85 85",
    "Example Health Plan North 21 [] negotiated per_unit | 2 75 75.3 75.75 76.5 77.25 77.7 78",
]


def _n(value: Decimal) -> str:
    """A decimal without trailing zeros (Arrow's decimal128(18, 4) keeps four places)."""
    return format(value.normalize(), "f")


def _line(payer: str, pos: str | None, modifiers: Any, negotiated_type: str, basis: str, stats: list[Any]) -> str:
    quantiles = " ".join(_n(v) for v in stats[1:])
    return (
        f"{payer.removesuffix(' (fixture)')} {pos or '-'} [{','.join(modifiers)}] {negotiated_type} {basis} | "
        f"{stats[0]} {quantiles}"
    )


def _row_line(b: cptkit.PayerBenchmark) -> str:
    stats = [b.count, b.min, b.p10, b.p25, b.median, b.p75, b.p90, b.max]
    return _line(b.provenance.reporting_entity_name, b.place_of_service, b.modifiers, b.negotiated_type, b.rate_basis, stats)


def _table_lines(table: pa.Table, code: str) -> list[str]:
    out = []
    for r in table.to_pylist():
        if r["billing_code"] != code:
            continue
        stats = [r[k] for k in ["count", "min", "p10", "p25", "median", "p75", "p90", "max"]]
        out.append(
            _line(r["reporting_entity_name"], r["place_of_service"], r["modifiers"], r["negotiated_type"], r["rate_basis"], stats)
        )
    return out


def _ingest(*names: str, **kwargs: Any) -> Any:
    """The fixtures' anesthesia rates unless the test asks for other codes (the default keeps every code)."""
    kwargs.setdefault("codes", "anesthesia")
    return cptkit.ingest_tic([TIC / n for n in names], progress=False, **kwargs)


# ---- ingest_tic ----


def test_ingest_tic_gives_a_pyarrow_table_in_the_store_layout() -> None:
    table = _ingest("v1_in_file_refs.json")
    assert isinstance(table, pa.Table)
    assert table.column_names == COLUMNS
    assert table.schema.field("median").type == pa.decimal128(18, 4)
    assert table.schema.field("ingested_on").type == pa.date32()
    assert _table_lines(table, "00632") == ROWS_00632[:4]
    first = table.slice(0, 1).to_pylist()[0]
    assert first["source_file"] == "v1_in_file_refs.json"
    assert (first["schema_version"], first["last_updated_on"]) == ("1.3.1", "2025-03-01")
    # 87.5 / 20.3178 (CY2025 national CF) x 100 = 430.657... -> 430.66.
    assert (first["medicare_year"], first["medicare_conversion_factor"], first["median_percent_of_medicare"]) == (
        2025,
        Decimal("20.3178"),
        Decimal("430.66"),
    )
    assert first["taxonomy"] is None, "no NPPES join"


def test_one_path_a_pathlike_or_str_and_gzip_read_the_same() -> None:
    plain = cptkit.ingest_tic(str(TIC / "v1_in_file_refs.json"), progress=False)
    gzip = cptkit.ingest_tic(TIC / "v1_in_file_refs.json.gz", progress=False)
    assert gzip.drop_columns(["source_file"]).equals(plain.drop_columns(["source_file"]))


def test_out_writes_the_same_rows_to_parquet(tmp_path: Path) -> None:
    out = tmp_path / "store" / "payer.parquet"
    table = _ingest(*STORE_FILES, out=out)
    back = pq.read_table(out)
    assert back.schema.names == table.schema.names
    assert back.to_pylist() == table.to_pylist()


def test_summary_counts_what_was_read() -> None:
    table, summary = _ingest("v1_in_file_refs.json", "v2_provider_groups.json", summary=True)
    first, second = summary["files"]
    assert (first["records"], first["kept"], first["skipped"], first["not_fee_for_service"]) == (4, 2, 1, 1)
    assert (first["version"], first["gzip"], first["malformed"], first["error"]) == ("1.3.1", False, [], None)
    assert (first["left_out"], summary["malformed"], summary["left_out"]) == ([], 0, 0)
    assert (second["version"], second["records"], second["prices"]) == ("2.0.0", 2, 7)
    assert summary["benchmark_rows"] == table.num_rows == first["benchmark_rows"] + second["benchmark_rows"]


def test_broken_records_warn_and_reading_goes_on() -> None:
    text = (TIC / "bad_record.json").read_bytes()
    with pytest.warns(UserWarning, match=r"3 malformed in_network record\(s\) skipped") as caught:
        table, summary = _ingest("bad_record.json", summary=True)
    message = str(caught[0].message)
    rate_offset = text.find(b'"eighty"')
    assert f"byte {rate_offset}" in message, message
    malformed = summary["files"][0]["malformed"]
    assert len(malformed) == 3
    wrong_type = malformed[1]
    assert wrong_type["path"] == "negotiated_rates[0].negotiated_prices[0].negotiated_rate"
    assert wrong_type["error_offset"] == rate_offset
    assert wrong_type["message"] == 'expected a number, found "eighty"'
    # The good records on both sides of the broken ones still count.
    assert [(r["billing_code"], r["median"]) for r in table.to_pylist()] == [
        ("00632", Decimal("88")),
        ("00840", Decimal("92")),
    ]


def test_a_bad_npi_is_left_out_alone_and_its_record_counts() -> None:
    text = (TIC / "bad_npi.json").read_bytes()
    with pytest.warns(UserWarning, match=r"7 value\(s\) left out alone, the rest of their in_network record or provider reference read") as caught:
        table, summary = _ingest("bad_npi.json", summary=True)
    message = str(caught[0].message)
    assert "malformed" not in message, message
    assert f"byte {text.find(b'12345, ')}" in message, message
    first = summary["files"][0]
    assert (first["records"], first["kept"], first["malformed"], first["prices"]) == (2, 2, [], 4)
    assert (summary["malformed"], summary["left_out"], len(first["left_out"])) == (0, 7, 7)
    npi = first["left_out"][0]
    assert npi["path"] == "negotiated_rates[0].provider_groups[0].npi[1]"
    assert npi["error_offset"] == text.find(b"12345, ")
    assert npi["message"].startswith("expected a 10-digit NPI, found 12345: this NPI is left out")
    # Every rate of the record with bad NPIs counts: 85, 90 and 95 on 00632.
    assert [(r["billing_code"], r["count"], r["median"]) for r in table.to_pylist()] == [
        ("00632", 3, Decimal("90")),
        ("00840", 1, Decimal("92")),
    ]


def test_a_clean_file_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ingest("v2_provider_groups.json")


def test_codes_filter() -> None:
    only = _ingest("v2_provider_groups.json", codes=["00790"])
    assert set(only.column("billing_code").to_pylist()) == {"00790"}
    everything = _ingest("v2_provider_groups.json", codes="all")
    assert set(everything.column("billing_code").to_pylist()) == {"00790", "27447"}
    anesthesia = _ingest("v1_in_file_refs.json")
    assert "99213" not in anesthesia.column("billing_code").to_pylist(), "codes='anesthesia'"
    default = _ingest("v1_in_file_refs.json", codes=None)
    assert "99213" in default.column("billing_code").to_pylist(), "every code by default"


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(cptkit.InvalidInputError) as e:
        _ingest("v1_in_file_refs.json", codes="00632")
    assert e.value.field == "codes"
    with pytest.raises(cptkit.InvalidInputError) as e:
        _ingest("v1_in_file_refs.json", codes=["00632", "0063"])
    assert e.value.field == "codes[1]"
    with pytest.raises(cptkit.MissingFileError, match="no_such_file.json"):
        _ingest("no_such_file.json")


@pytest.mark.skipif(importlib.util.find_spec("tqdm") is not None, reason="tqdm is installed here")
def test_progress_true_without_tqdm_says_so() -> None:
    with pytest.warns(UserWarning, match="needs tqdm"):
        cptkit.ingest_tic(TIC / "v2_provider_groups.json", progress=True)


def test_without_pyarrow_the_table_speaks_the_arrow_pycapsule_interface() -> None:
    script = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import cptkit\n"
        f"t = cptkit.ingest_tic({str(TIC / 'v2_provider_groups.json')!r}, progress=False)\n"
        "print(type(t).__name__, hasattr(t, '__arrow_c_stream__'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Table", "True"]


# ---- load_benchmarks, benchmarks, CodeProfile.payer_benchmarks ----


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """A store with one Parquet file per fixture payer, loaded for the test and unloaded after it."""
    for name in STORE_FILES:
        _ingest(name, out=tmp_path / name.replace(".json", ".parquet"))
    yield tmp_path
    cptkit.load_benchmarks(None)


def test_loaded_rows_show_in_profiles_and_cached_profiles_are_dropped(store: Path) -> None:
    assert cptkit.code("00632").payer_benchmarks == ()
    # v1_in_file_refs: 4 rows of 00632, 3 of 00840; v1_separate_refs: 1; v2_provider_groups: 3.
    assert cptkit.load_benchmarks(store) == 11
    rows = cptkit.code("00632").payer_benchmarks
    assert [_row_line(b) for b in rows] == ROWS_00632
    assert cptkit.code("00632") is cptkit.code("00632"), "cached again"
    assert len(cptkit.code("00632").benchmarks) == 3, "the Medicare benchmarks are still there"
    card = cptkit.code("00632")._repr_html_()
    assert "Payer rate benchmarks" in card and f"${rows[0].median}" in card
    assert cptkit.load_benchmarks(None) == 0
    assert "Payer rate benchmarks" not in cptkit.code("00632")._repr_html_()
    assert cptkit.code("00632").payer_benchmarks == ()


def test_payer_benchmark_objects(store: Path) -> None:
    cptkit.load_benchmarks(store)
    b = cptkit.benchmarks("00632")[0]
    assert isinstance(b, cptkit.PayerBenchmark)
    assert (b.billing_code_type, b.billing_code, b.billing_class, b.modifiers) == ("CPT", "00632", "professional", ())
    assert (b.p25, b.median) == (Decimal("86.25"), Decimal("87.5"))
    assert isinstance(b.provenance, cptkit.RateProvenance)
    assert (b.provenance.source_file, b.provenance.reporting_entity_type) == (
        "v1_in_file_refs.json",
        "health insurance issuer",
    )
    assert isinstance(b.medicare, cptkit.MedicareComparison)
    assert (b.medicare.year, b.medicare.median_percent_of_medicare) == (2025, Decimal("430.66"))
    d = b.to_dict()
    assert d["median"] == "87.5" and d["rate_basis"] == "per_unit"
    assert d["provenance"]["reporting_entity_name"] == "Example Health Plan (fixture)"
    assert d["medicare"] == {"year": 2025, "conversion_factor": "20.3178", "median_percent_of_medicare": "430.66"}
    assert "rate_basis='per_unit'" in repr(b)
    with pytest.raises(AttributeError):
        b.median = Decimal("1")  # type: ignore[misc]


def test_benchmark_filters(store: Path) -> None:
    cptkit.load_benchmarks(store)

    def lines(**filters: Any) -> list[str]:
        return [_row_line(b) for b in cptkit.benchmarks("00632", **filters)]

    assert lines(payer="NORTH") == [ROWS_00632[4]]
    assert lines(rate_basis="per_case") == [ROWS_00632[1]]
    assert lines(place_of_service="22") == [ROWS_00632[3]]
    assert lines(modifier="qz") == [ROWS_00632[2]]
    assert lines(payer="example health plan", billing_class="professional", negotiated_type="negotiated",
                 place_of_service="21", rate_basis="per_unit") == [ROWS_00632[0], ROWS_00632[2], ROWS_00632[4]]
    fee = [_row_line(b) for b in cptkit.benchmarks("00790", negotiated_type="fee schedule")]
    assert fee == ["Example Health Plan West 21 [] fee schedule per_unit | 5 70 71 72.5 75 80 89.15 95.25"]
    assert cptkit.benchmarks("00630") == [], "a known code without rows"


def test_benchmark_errors(store: Path) -> None:
    cptkit.load_benchmarks(store)
    for bad, field in [
        ({"billing_class": "both"}, "billing_class"),
        ({"place_of_service": "2A"}, "place_of_service"),
        ({"negotiated_type": "bundle"}, "negotiated_type"),
        ({"rate_basis": "per_minute"}, "rate_basis"),
        ({"modifier": "QZZ"}, "modifier"),
    ]:
        with pytest.raises(cptkit.InvalidInputError) as e:
            cptkit.benchmarks("00632", **bad)
        assert e.value.field == field
    with pytest.raises(cptkit.InvalidInputError) as e:
        cptkit.benchmarks("0063")
    assert e.value.field == "code"
    with pytest.raises(cptkit.UnknownCodeError) as not_found:
        cptkit.benchmarks("99999")
    assert not_found.value.field == "code"
    assert cptkit.benchmarks("72148") == []  # a fee schedule code with no rows loaded"
    with pytest.raises(cptkit.MissingFileError):
        cptkit.load_benchmarks(store / "missing")
    (store / "zz_broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(cptkit.InvalidInputError, match="zz_broken.parquet"):
        cptkit.load_benchmarks(store)


def test_user_code_type_checks(type_checks: Callable[[str], None]) -> None:
    type_checks(
        "from decimal import Decimal\n"
        "from typing import Any\n"
        "import cptkit\n"
        "table: Any = cptkit.ingest_tic(['a.json.gz'], codes=['00632'], progress=False)\n"
        "table2, summary = cptkit.ingest_tic('a.json', codes='all', summary=True)\n"
        "files: list[Any] = summary['files']\n"
        "n: int = cptkit.load_benchmarks('rates')\n"
        "for b in cptkit.benchmarks('00632', payer='aetna', rate_basis='per_unit'):\n"
        "    median: Decimal = b.median\n"
        "    payer: str = b.provenance.reporting_entity_name\n"
        "    pct: Decimal | None = b.medicare.median_percent_of_medicare if b.medicare else None\n"
        "rows: tuple[cptkit.PayerBenchmark, ...] = cptkit.code('00632').payer_benchmarks\n"
    )
