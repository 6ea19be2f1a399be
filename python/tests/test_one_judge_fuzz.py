"""One judge under fuzz: a thousand claims, the synthetic mix (`cptkit.testing.synthetic_claims`: six
payers, anesthesia and fee-schedule claims, billing mistakes) and seeded mutations of it (a line dropped
or repeated, modifiers reordered, odd quantities, times and diagnoses, unknown codes, other payers, ids
in other cases, blanks around codes, services across a new year, no state or ZIP...), are judged
through every face: Python `price`, `price_many` and `price_table`, gRPC `PriceClaim` and
`ProcessClaims` against the real server, the `cptkit` CLI on one file of every claim, and an 837P
written and read back (Python and the CLI on the file), under four sets of price options. Every face
must give the answer `cptkit.price` gives (test_one_judge.py's normalised answer: lines, statuses,
units, factors, amounts, steps, or the refusal's kind and field, plus what a face says beside it: the
total charge, each line's number, code and date, its units, factor and share as written), with the
findings `cptkit.validate` gives (edit id, severity, field, message) wherever a face reports some; and
every validating face (`validate_many`, `validate_table`, `ValidateClaim`, `ProcessClaims`, `cptkit
validate`) those findings.

The corpus is the same on every run (fixed seeds); a failure names the claim (its id says which
synthetic claim and which mutation made it), the mutation, and the faces that differ."""

from __future__ import annotations

import copy
import datetime
import json
import random
import re
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import cptkit
from conftest import RPC_TIMEOUT_S, claims_from_table, wire_claim
from cptkit.testing import synthetic_claims
from test_one_judge import (
    Answer,
    cli_binary,
    cli_flags,
    from_details,
    from_python,
    from_python_dict,
    from_python_error,
    from_status,
    from_table,
    from_wire,
    same,
)

pa = pytest.importorskip("pyarrow")
grpc = pytest.importorskip("grpc")

TODAY = "2026-11-27"
# The same date as the validating faces are given it, with blanks around it, which every face ignores.
PADDED_TODAY = f" {TODAY} "
SYNTHETIC_CLAIMS = 250  # claims of the synthetic mix, each judged as made and in MUTANTS_PER_CLAIM variants
SYNTHETIC_SEED = 20260512
MUTATION_SEED = 7
MUTANTS_PER_CLAIM = 3

# The sets of price options every claim is priced with: none (a commercial claim is then refused, naming
# conversion_factor); contract factors for every payer and for one payer id; a contract paying
# fee-schedule lines at a percentage of Medicare; one rule set forced on every claim.
OPTIONS: dict[str, dict[str, Any]] = {
    "no_factors": {},
    "contract": {"conversion_factor": "60.00", "payer_conversion_factors": {"cigna": "62.50"}},
    "percent_of_medicare": {"conversion_factor": "58.25", "percent_of_medicare": "125"},
    "forced_rule_set": {"rule_set": "cigna-2023-03", "payer_conversion_factors": {"medicare": "21.50", "uhc": "70"}},
}

Claim = dict[str, Any]


# ---- the corpus ------------------------------------------------------------------------------------


Mutation = Callable[[random.Random, Claim], str]


def pick_line(rng: random.Random, claim: Claim) -> dict[str, Any]:
    line: dict[str, Any] = rng.choice(claim["lines"])
    return line


def drop_line(rng: random.Random, claim: Claim) -> str:
    claim["lines"].pop(rng.randrange(len(claim["lines"])))
    return "no line" if not claim["lines"] else "a line dropped"


def repeat_line(rng: random.Random, claim: Claim) -> str:
    claim["lines"].append(copy.deepcopy(pick_line(rng, claim)))
    return "a line repeated"


def many_lines(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    claim["lines"] = [copy.deepcopy(line) for _ in range(rng.choice([49, 50, 51]))]
    return f"{len(claim['lines'])} lines"


def reorder_modifiers(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    modifiers = list(line.get("modifiers") or [])
    extra = rng.choice(["P3", "QS", "GC", "59", "LT", "RT", "26", "TC", "AA", "QK", "QX", "QZ", "AD", "23", "47"])
    modifiers = modifiers[::-1] if len(modifiers) > 1 and rng.random() < 0.5 else [extra, *modifiers]
    line["modifiers"] = modifiers[: rng.choice([4, 5])]
    return f"modifiers {line['modifiers']}"


def odd_modifier_text(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    modifiers = list(line.get("modifiers") or ["AA"])
    i = rng.randrange(len(modifiers))
    modifiers[i] = rng.choice([modifiers[i].lower(), f" {modifiers[i]}", f"{modifiers[i]} ", "ZZ", "9", ""])
    line["modifiers"] = modifiers
    return f"modifier {modifiers[i]!r}"


def odd_quantity(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    line["quantity"] = rng.choice(
        [
            *["0", "-0", "-15", "-1", "0.5", "90.25", "7.5", "1.0000", "00090", "9E1", "1e2", "1440", "100000"],
            *["99999999", "99999999999999", "0.0001", "0.00001", "123456789012345", "1e28", "+90", ".5"],
        ]
    )
    return f"quantity {line['quantity']}"


def odd_times(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    dos = datetime.date.fromisoformat(line["date_of_service"])
    start = datetime.datetime.combine(dos, datetime.time(rng.choice([0, 7, 13, 23]), rng.choice([0, 15, 59])))
    minutes = rng.choice([0, 1, 14, 15, 16, 90, 600, 1441, -30])
    end = start + datetime.timedelta(minutes=minutes)
    choice = rng.randrange(5)
    if choice == 0:
        line["start_time"] = line["end_time"] = None
        return "no times"
    if choice == 1:
        line["start_time"], line["end_time"] = start.isoformat(timespec="minutes"), None
        return "a start time only"
    if choice == 2:
        line["start_time"], line["end_time"] = None, end.isoformat(timespec="minutes")
        return "an end time only"
    line["start_time"], line["end_time"] = start.isoformat(timespec="minutes"), end.isoformat(timespec="minutes")
    if choice == 3:
        line["quantity"] = str(minutes)
    return f"times {minutes} minutes apart"


def odd_diagnoses(rng: random.Random, claim: Claim) -> str:
    choice = rng.randrange(8)
    if choice == 0:
        claim["diagnoses"] = []
    elif choice == 1:
        claim["diagnoses"] = [d.lower().replace(".", "") for d in claim["diagnoses"]]
    elif choice == 2:
        claim["diagnoses"] = [*claim["diagnoses"], claim["diagnoses"][0]] if claim["diagnoses"] else ["M54.50"]
    elif choice == 3:
        claim["diagnoses"] = ["4019", "M54.5", "R69", "Z00.00"][: rng.randint(1, 4)]
    elif choice == 4:
        claim["diagnoses"] = [f" {d}" for d in claim["diagnoses"]]
    elif choice == 5:
        claim["diagnoses"] = ["M54.50", "M48.062", "M48.061", "M54.17", "G90.521", "R61", "M54.16", "I10", "E11.9"][
            : rng.choice([5, 9])
        ]
    elif choice == 6:
        claim["diagnoses"] = ["XYZ12", "12", "M54.50"]
    else:
        claim["diagnoses"] = ["M54.50"] * 13
    return f"diagnoses {claim['diagnoses'][:3]} ({len(claim['diagnoses'])})"


def odd_pointers(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    line["diagnosis_pointers"] = rng.choice([[], None, [0], [1, 1], [5], [1, 2, 3, 4, 5], [12], [2, 1], [13]])
    return f"pointers {line['diagnosis_pointers']}"


def odd_code(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    code = line["procedure_code"]
    line["procedure_code"] = rng.choice(
        [
            *["00000", "99999", "0063A", "9921X", "j1100", "J1100", "99100", "01996", "01995", "99213", "G0008"],
            *["47135", "33945", "64721", "72148", "97110", code.lower()],
        ]
    )
    if rng.random() < 0.3:
        line["unit_basis"] = "UN" if line["unit_basis"] == "MJ" else "MJ"
    return f"code {line['procedure_code']} {line['unit_basis']}"


def other_payer(rng: random.Random, claim: Claim) -> str:
    payers = [
        ("medicare", "medicare_ffs"),
        ("medicare", "commercial"),
        ("cigna", "commercial"),
        ("CIGNA", "commercial"),
        ("uhc", "commercial"),
        ("uhc", "medicare_advantage"),
        ("anthem", "commercial"),
        ("aetna", "commercial"),
        ("bcbs-ok", "commercial"),
        ("humana-ma", "medicare_advantage"),
        ("acme-health", "commercial"),
        (" cigna ", "commercial"),
        ("Medicare", "medicare_ffs"),
    ]
    claim["payer"]["id"], claim["payer"]["plan_type"] = rng.choice(payers)
    if rng.random() < 0.3:
        claim["frequency_code"] = rng.choice(["7", "8", "", None, "1", "X"])
    return f"payer {claim['payer']['id']!r} {claim['payer']['plan_type']} freq {claim.get('frequency_code')!r}"


def lowercase_ids(rng: random.Random, claim: Claim) -> str:
    claim["claim_id"] = claim["claim_id"].lower()
    claim["payer"]["id"] = claim["payer"]["id"].upper() if rng.random() < 0.5 else claim["payer"]["id"]
    for line in claim["lines"]:
        if line.get("case_id"):
            line["case_id"] = line["case_id"].lower()
    return "lower-case ids"


def blanks_around_codes(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    field = rng.choice(["procedure_code", "place_of_service", "billing_provider_npi", "taxonomy", "claim_id"])
    if field == "procedure_code":
        line["procedure_code"] = f" {line['procedure_code']} "
    elif field == "taxonomy":
        taxonomy = claim["rendering_provider"].get("taxonomy") or "207L00000X"
        claim["rendering_provider"]["taxonomy"] = f"{taxonomy} "
    else:
        claim[field] = f" {claim[field]}"
    return f"blanks around {field}"


def across_new_year(rng: random.Random, claim: Claim) -> str:
    year = rng.choice([2023, 2024, 2025, 2026])
    last_day = datetime.datetime(year, 12, 31, 23, rng.choice([0, 30, 45]))
    for line in claim["lines"]:
        line["date_of_service"] = last_day.date().isoformat()
        if line.get("start_time") or line["unit_basis"] == "MJ":
            quantity = Decimal(line["quantity"])
            minutes = int(quantity) if 0 < quantity <= 1440 else 60
            line["start_time"] = last_day.isoformat(timespec="minutes")
            line["end_time"] = (last_day + datetime.timedelta(minutes=minutes)).isoformat(timespec="minutes")
    if rng.random() < 0.5:
        for line in claim["lines"]:
            line["date_of_service"] = f"{year + 1}-01-01"
    return f"across {year}/{year + 1}"


def other_dates(rng: random.Random, claim: Claim) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        claim["patient"]["birth_date"] = "2027-01-01"
        return "born after the service"
    date = rng.choice(["2019-06-01", "2020-12-31", "2021-01-01", "2026-11-28", "2027-03-01", "2024-02-29"])
    for line in claim["lines"]:
        line["date_of_service"] = date
        for key in ("start_time", "end_time"):
            if line.get(key):
                line[key] = date + line[key][10:]
    return f"served {date}"


def locations(rng: random.Random, claim: Claim) -> str:
    choice = rng.randrange(7)
    if choice == 0:
        claim.pop("service_facility_location", None)
        claim.pop("billing_provider_location", None)
        return "no location"
    if choice == 1:
        claim["service_facility_location"] = {"state": rng.choice(["NY", "CT", "CA", "OH", "AR"]), "zip": None}
        return "a state without ZIP"
    if choice == 2:
        claim["service_facility_location"] = {"state": None, "zip": rng.choice(["10001", "100011234", "94105", "73301"])}
        return "a ZIP without state"
    if choice == 3:
        claim["billing_provider_location"] = {"state": "ny", "zip": "10001"}
        return "a lower-case state"
    if choice == 4:
        claim["service_facility_location"] = {"state": "", "zip": ""}
        return "an empty location"
    if choice == 5:
        claim["medicare_locality"] = rng.choice(["13202-01", "01182-18", "99999-99", "", None])
        return f"locality {claim['medicare_locality']!r}"
    claim["service_facility_location"] = {"state": rng.choice(["NY", "CT", "TX"]), "zip": rng.choice(["10001", "06101"])}
    claim["billing_provider_location"] = {"state": "CA", "zip": "94105-1234"}
    return "two locations"


def provider(rng: random.Random, claim: Claim) -> str:
    rendering = claim["rendering_provider"]
    choice = rng.randrange(6)
    if choice == 0:
        rendering["taxonomy"] = None
        return "no taxonomy"
    if choice == 1:
        rendering["role"] = rng.choice(["crna", "anesthesiologist", "anesthesiologist_assistant", "other_physician"])
        return f"role {rendering['role']}"
    if choice == 2:
        rendering["taxonomy"], rendering["role"] = rng.choice(
            [("367H00000X", None), ("208VP0014X", None), ("363L00000X", None), ("207LP2900X", "crna")]
        )
        return f"taxonomy {rendering['taxonomy']}"
    if choice == 3:
        rendering["qualifying_apm"] = not rendering.get("qualifying_apm")
        return "qualifying APM flipped"
    if choice == 4:
        npi = rng.choice(["1234567890", "0234567893", "123456789", "1558598797"])
        if rng.random() < 0.5:
            rendering["npi"] = npi
        else:
            claim["billing_provider_npi"] = npi
        return f"NPI {npi}"
    claim["place_of_service"] = rng.choice(["11", "22", "24", "23", "99", "1", "02", "10"])
    return f"place of service {claim['place_of_service']}"


def line_details(rng: random.Random, claim: Claim) -> str:
    line = pick_line(rng, claim)
    choice = rng.randrange(5)
    if choice == 0:
        line["charge_cents"] = rng.choice([0, -100, 1, 10**12, 2**62])
        return f"charge {line['charge_cents']}"
    if choice == 1:
        line["present_at_induction"] = not line.get("present_at_induction")
        return "presence at induction flipped"
    if choice == 2:
        line["case_id"] = rng.choice([None, "", "CASE-X", "x12-0000000000000000"])
        return f"case id {line['case_id']!r}"
    if choice == 3:
        line["modifiers"] = None
        return "no modifiers"
    other = rng.choice(["2025-03-04", "2026-01-01"])
    line["date_of_service"] = other
    return f"one line served {other}"


MUTATIONS: list[Mutation] = [
    drop_line,
    repeat_line,
    many_lines,
    reorder_modifiers,
    odd_modifier_text,
    odd_quantity,
    odd_times,
    odd_diagnoses,
    odd_pointers,
    odd_code,
    other_payer,
    lowercase_ids,
    blanks_around_codes,
    across_new_year,
    other_dates,
    locations,
    provider,
    line_details,
]


def mutants(claims: list[Claim]) -> Iterator[tuple[Claim, str]]:
    """Each claim as it is, then MUTANTS_PER_CLAIM variants, each of one to three mutations."""
    rng = random.Random(MUTATION_SEED)
    for n, claim in enumerate(claims):
        yield copy.deepcopy(claim), "as made"
        for m in range(MUTANTS_PER_CLAIM):
            mutant = copy.deepcopy(claim)
            # A unique id per claim: a table's claims are told apart by it (lines of one id must be adjacent).
            mutant["claim_id"] = f"M{n}-{m}-{claim['claim_id']}"
            chosen = rng.sample(MUTATIONS, rng.choice([1, 1, 2, 3]))
            # A claim left with no line is mutated no further.
            said = [mutation(rng, mutant) for mutation in sorted(chosen, key=lambda m: m is drop_line)]
            yield mutant, "; ".join(said)


@pytest.fixture(scope="module")
def corpus() -> list[tuple[Claim, str]]:
    table = synthetic_claims(SYNTHETIC_CLAIMS, seed=SYNTHETIC_SEED)
    claims = claims_from_table(table)
    # The dicts are the synthetic claims exactly: they make the same table back.
    assert cptkit.claims_to_table(claims).equals(table)
    return list(mutants(claims))


# ---- the faces -------------------------------------------------------------------------------------


def python_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options as the Python faces take them."""
    every = options.get("conversion_factor")
    by_payer = options.get("payer_conversion_factors", {})
    return {
        "conversion_factor": {None: every, **by_payer} if by_payer else every,
        "rule_set": options.get("rule_set"),
        "percent_of_medicare": options.get("percent_of_medicare"),
    }


def python_answer(result: Any) -> Answer:
    return from_python(result) if isinstance(result, cptkit.PricedClaim) else from_python_error(result)


def reference_of(claim: Claim, options: dict[str, Any]) -> Judged:
    """What `cptkit.price` answers for the claim, with `cptkit.validate`'s findings (None when the claim
    cannot be read) and the extras of the price and of the report."""
    try:
        priced = cptkit.price(claim, today=TODAY, **options)
        answer = from_python(priced)
    except cptkit.CptkitError as error:
        priced, answer = error, from_python_error(error)
    try:
        report = cptkit.validate(claim, today=TODAY)
    except cptkit.CptkitError:
        return answer, None, python_extras(priced)
    return answer, findings(report.findings), {**python_extras(priced), "valid": report.valid}


# A face's answer and the findings it reports with it (None where the face reports none: Python's
# `price` raises or returns the price alone).
Judged = tuple[Answer, "Findings | None", "Extras"]
# What some faces say beyond the normalised answer of test_one_judge.py, compared where two faces say it:
# the total charge, each priced line's number, code and date of service, and its units, factor and share
# as written (test_one_judge.py compares them as numbers: "6.0" and "6" alike).
Extras = dict[str, Any]
NUMBERS = ("base_units", "time_units", "modifying_units", "total_units", "conversion_factor", "share")


def python_extras(priced: Any) -> Extras:
    if not isinstance(priced, cptkit.PricedClaim):
        return {}
    lines = tuple((line.line, line.procedure_code, line.date_of_service.isoformat()) for line in priced.lines)
    texts = tuple(tuple(str(getattr(line, name)) for name in NUMBERS) for line in priced.lines)
    codes = tuple((n, code) for n, code, _ in lines)
    return {"total_charge": priced.total_charge, "numbers": tuple(n for n, _, _ in lines), "lines": lines, "codes": codes, "texts": texts}


def wire_extras(priced: Any) -> Extras:
    lines = tuple((line.line, line.procedure_code) for line in priced.lines)
    charge = Decimal(priced.total_charge_cents) / 100
    texts = tuple(tuple(getattr(line, name) for name in NUMBERS) for line in priced.lines)
    return {"total_charge": charge, "numbers": tuple(n for n, _ in lines), "codes": lines, "texts": texts}


def dict_extras(priced: dict[str, Any]) -> Extras:
    lines = tuple((line["line"], line["procedure_code"], line["date_of_service"]) for line in priced["lines"])
    texts = tuple(tuple(line[name] for name in NUMBERS) for line in priced["lines"])
    charge = Decimal(priced["total_charge"])
    codes = tuple((n, code) for n, code, _ in lines)
    return {"total_charge": charge, "numbers": tuple(n for n, _, _ in lines), "lines": lines, "codes": codes, "texts": texts}
Findings = tuple[tuple[str, str, str, str], ...]

# Edits across claims (BAT001-009) need a whole case or batch: README, "Pricing (`price_many`,
# `PriceClaim`, `ProcessClaims`, the tables) judges each claim on its own and does not run them";
# `validate_many`, the CLI's `validate` and `read_837(validate=True)` run them over their batch. They are
# left out wherever findings are compared.
CROSS_CLAIM = "BAT"
# A table's own issues (README, Tables: TBL004 a valid claim that could not be priced, TBL005 a bug met
# on the claim) are the table's form of a refusal, compared in the answer.
TABLE_REFUSALS = ("TBL004", "TBL005")


def findings(items: Any) -> Findings:
    """(edit id, severity, field, message) of each finding, sorted; dicts (the CLI's JSON, table issues)
    or objects."""
    got = (
        (f["edit_id"], f["severity"], f["field"], f["message"])
        if isinstance(f, dict)
        else (f.edit_id, f.severity, f.field, f.message)
        for f in items
    )
    return tuple(sorted(f for f in got if not f[0].startswith(CROSS_CLAIM) and f[0] not in TABLE_REFUSALS))


SEVERITY = {1: "error", 2: "warning"}


def wire_findings(report: Any) -> Findings:
    return tuple(sorted((f.edit_id, SEVERITY[f.severity], f.field, f.message) for f in report.findings))


def fits_the_layout(claim: Claim, field: str) -> bool:
    """Whether the quantity at `field` fits the layout's decimal128(18, 4)."""
    line = claim["lines"][int(field[len("lines[") : field.index("]")])]
    try:
        quantity = Decimal(line["quantity"]).normalize()
    except (ArithmeticError, TypeError, ValueError):
        return True  # not a number: refused on every face, the table's refusal is compared
    exponent = quantity.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -4 and abs(quantity) < Decimal(10) ** 14


def tabled(claims: list[Claim], answers: list[Any]) -> list[int]:
    """The indexes of the claims a claim-lines table can hold; a claim `claims_to_table` refuses is
    answered with that refusal, its field named in the claim as the other faces name it."""
    kept = []
    for i, claim in enumerate(claims):
        if not claim["lines"]:
            # README, Tables: "The claim-lines layout (`cptkit.CLAIM_LINES_SCHEMA`): one row per service
            # line": a claim with no line has no row (claims_to_table refuses it, naming `lines`).
            continue
        try:
            cptkit.claims_to_table([claim])
        except cptkit.CptkitError as error:
            field = (error.field or "").removeprefix("claims[0].")
            if re.fullmatch(r"lines\[\d+\]\.quantity", field) and not fits_the_layout(claim, field):
                # README, Tables: `quantity` is decimal128(18, 4), and "a quantity with more than 4
                # places" cannot be a table's value: this claim has no table.
                continue
            answers[i] = (("refused", error.kind, field), None, {})
            continue
        kept.append(i)
    return kept


def table_rows(claims: list[Claim], answers: list[Any], judge: Callable[[Any], Any]) -> Iterator[tuple[int, Any]]:
    """Each claim the table holds, with its result rows from `judge` run once over one table of them."""
    kept = tabled(claims, answers)
    rows = judge(cptkit.claims_to_table([claims[i] for i in kept])).to_pylist()
    at = 0
    for i in kept:
        lines = len(claims[i]["lines"])
        yield i, rows[at : at + lines]
        at += lines
    assert at == len(rows)


def table_answers(claims: list[Claim], options: dict[str, Any]) -> list[Judged | None]:
    """`price_table` over one table of every claim it can hold."""
    answers: list[Judged | None] = [None] * len(claims)
    price = lambda t: cptkit.price_table(t, today=TODAY, explain=True, progress=False, **options)  # noqa: E731
    for i, rows in table_rows(claims, answers, price):
        found = findings(f for row in rows for f in row["issues"])
        charges = [row["charge_cents"] for row in rows]
        # A table's `line_number` counts the claim's lines from 1; a priced line's `line` is its index.
        numbers = tuple(row["line_number"] - 1 for row in rows)
        extras = {"numbers": numbers, "valid": all(row["claim_valid"] for row in rows)}
        if None not in charges:
            extras["total_charge"] = Decimal(sum(charges)) / 100
        answers[i] = (from_table(rows, claims[i]["claim_id"]), found, extras)
    return answers


def wire_options(pb: SimpleNamespace, options: dict[str, Any]) -> Any:
    return pb.claims_pb2.PriceOptions(
        rule_set=options.get("rule_set", ""),
        conversion_factor=options.get("conversion_factor", ""),
        payer_conversion_factors=options.get("payer_conversion_factors", {}),
        percent_of_medicare=options.get("percent_of_medicare", ""),
    )


def wire_or_refusal(pb: SimpleNamespace, claim: Claim) -> Any:
    """The wire claim, or None when the claim JSON has no wire form (the test's own conversion)."""
    try:
        return wire_claim(pb, claim)
    except Exception:  # noqa: BLE001 - json_format's errors for values proto3 cannot hold
        return None


def process_answer(response: Any) -> Judged:
    report = wire_findings(response.report) if response.HasField("report") else None
    if response.HasField("priced"):
        return from_wire(response.priced), report, wire_extras(response.priced)
    if not response.HasField("error"):
        return ("validated",), report, {}
    return from_details(response.error.code, response.error.details), report, {}


def cli_run(args: list[str]) -> dict[str, Any]:
    binary = cli_binary()
    if binary is None:
        pytest.skip("no cptkit CLI binary: set CPTKIT_CLI_BIN or run `cargo build -p cptkit-cli`")
    run = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode in (0, 1), run.stderr
    output: dict[str, Any] = json.loads(run.stdout)
    return output


def cli_error(error: dict[str, Any]) -> Answer:
    return ("refused", error["kind"], error.get("field") or "")


def cli_price(args: list[str], options: dict[str, Any]) -> dict[str, Any]:
    """`cptkit price ... --json` with the options as flags."""
    return cli_run(["price", *args, "--json", "--today", TODAY, *cli_flags(options)])


def cli_judged(answer: dict[str, Any]) -> Judged:
    priced = answer.get("priced")
    got = from_python_dict(priced) if priced is not None else cli_error(answer["error"])
    found = findings(answer["report"]["findings"]) if answer.get("report") else None
    return got, found, dict_extras(priced) if priced is not None else {}


def cli_price_answers(claim_file: Path, count: int, options: dict[str, Any]) -> list[Judged | None]:
    output = cli_price([str(claim_file)], options)
    answers: list[Judged | None] = [None] * count
    for unread in output["unread_claims"]:
        answers[unread["claim_index"]] = (cli_error(unread["error"]), None, {})
    for answer in output["claims"]:
        answers[answer["claim_index"]] = cli_judged(answer)
    return answers


# ---- findings --------------------------------------------------------------------------------------


def python_findings(claim: Claim) -> Findings | Answer:
    try:
        return findings(cptkit.validate(claim, today=TODAY).findings)
    except cptkit.CptkitError as error:
        return from_python_error(error)


def table_findings(claims: list[Claim]) -> list[Findings | Answer | None]:
    """`validate_table`'s issues per claim. A core finding sits on the row of the line it is about, with
    its field in the claim, as every face names it."""
    answers: list[Any] = [None] * len(claims)
    validate = lambda t: cptkit.validate_table(t, today=PADDED_TODAY)  # noqa: E731
    for i, rows in table_rows(claims, [None] * len(claims), validate):
        answers[i] = findings(f for row in rows for f in row["issues"])
    return answers


def cli_findings(claim_file: Path, count: int) -> list[Findings | Answer | None]:
    output = cli_run(["validate", str(claim_file), "--json", "--today", PADDED_TODAY])
    answers: list[Findings | Answer | None] = [None] * count
    for unread in output["unread_claims"]:
        answers[unread["claim_index"]] = cli_error(unread["error"])
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in range(count) if answers[i] is None}
    for f in output["findings"]:
        found[f["claim_index"]].append(f)
    for i, items in found.items():
        answers[i] = findings(items)
    return answers


# ---- the tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def claims_stub(pb: SimpleNamespace, channel: Any) -> Any:
    return pb.claims_pb2_grpc.ClaimServiceStub(channel)


def report(failures: list[str]) -> str:
    return f"{len(failures)} claims judged differently:\n" + "\n".join(failures[:20])


def judged_alike(reference: Judged, answers: dict[str, Judged | None]) -> list[str]:
    """The faces whose answer, findings or extras (where they report them) differ from the reference's."""
    answer, found, extras = reference
    wrong = []
    for face, judged in answers.items():
        if judged is None:
            continue
        if not same(judged[0], answer):
            wrong.append(f"  {face}: {judged[0]}")
        if judged[1] is not None and judged[1] != found:
            wrong.append(f"  {face} findings: {judged[1]}\n  validate findings: {found}")
        differ = {k: (v, extras[k]) for k, v in judged[2].items() if k in extras and extras[k] != v}
        if differ:
            wrong.append(f"  {face} (its value, the reference's): {differ}")
    return wrong


@pytest.mark.parametrize("option_set", sorted(OPTIONS))
def test_every_face_prices_the_fuzzed_claims_alike(
    option_set: str,
    corpus: list[tuple[Claim, str]],
    tmp_path: Path,
    pb: SimpleNamespace,
    claims_stub: Any,
) -> None:
    options = OPTIONS[option_set]
    kwargs = python_options(options)
    claims = [claim for claim, _ in corpus]
    claim_file = tmp_path / "claims.json"
    claim_file.write_text(json.dumps(claims), encoding="utf-8")

    faces: dict[str, list[Judged | None]] = {
        "price_many": [
            (python_answer(r), None, python_extras(r)) for r in cptkit.price_many(claims, today=TODAY, **kwargs)
        ],
        "price_table": table_answers(claims, kwargs),
        "cli": cli_price_answers(claim_file, len(claims), options),
    }
    wire = [wire_or_refusal(pb, claim) for claim in claims]
    request_options = wire_options(pb, options)
    unary: list[Judged | None] = []
    for message in wire:
        if message is None:
            unary.append(None)
            continue
        request = pb.claims_pb2.PriceClaimRequest(claim=message, options=request_options, today=TODAY)
        try:
            response = claims_stub.PriceClaim(request, timeout=RPC_TIMEOUT_S)
            unary.append((from_wire(response.priced), wire_findings(response.report), wire_extras(response.priced)))
        except grpc.RpcError as error:
            unary.append((from_status(error), None, {}))
    faces["PriceClaim"] = unary
    requests = [
        pb.claims_pb2.ProcessClaimsRequest(
            request_id=str(i), claim=message, price=True, options=request_options, today=TODAY
        )
        for i, message in enumerate(wire)
        if message is not None
    ]
    streamed: list[Judged | None] = [None] * len(claims)
    for response in claims_stub.ProcessClaims(iter(requests), timeout=RPC_TIMEOUT_S * 6):
        streamed[int(response.request_id)] = process_answer(response)
    faces["ProcessClaims"] = streamed

    failures = []
    for i, (claim, how) in enumerate(corpus):
        reference = reference_of(claim, kwargs)
        wrong = judged_alike(reference, {face: got[i] for face, got in faces.items()})
        if wrong:
            failures.append(f"{claim['claim_id']} ({how}): price gives {reference[0]}\n" + "\n".join(wrong))
    assert not failures, report(failures)


def test_every_face_validates_the_fuzzed_claims_alike(
    corpus: list[tuple[Claim, str]], tmp_path: Path, pb: SimpleNamespace, claims_stub: Any
) -> None:
    claims = [claim for claim, _ in corpus]
    claim_file = tmp_path / "claims.json"
    claim_file.write_text(json.dumps(claims), encoding="utf-8")
    faces: dict[str, list[Any]] = {
        "validate_many": [
            findings(r.findings) if isinstance(r, cptkit.ValidationReport) else from_python_error(r)
            for r in cptkit.validate_many(claims, today=PADDED_TODAY)
        ],
        "validate_table": table_findings(claims),
        "cli": cli_findings(claim_file, len(claims)),
    }
    wire = [wire_or_refusal(pb, claim) for claim in claims]
    unary: list[Any] = []
    for message in wire:
        if message is None:
            unary.append(None)
            continue
        request = pb.claims_pb2.ValidateClaimRequest(claim=message, today=PADDED_TODAY)
        try:
            unary.append(wire_findings(claims_stub.ValidateClaim(request, timeout=RPC_TIMEOUT_S).report))
        except grpc.RpcError as error:
            unary.append(from_status(error))
    faces["ValidateClaim"] = unary
    requests = [
        pb.claims_pb2.ProcessClaimsRequest(request_id=str(i), claim=message, price=False, today=PADDED_TODAY)
        for i, message in enumerate(wire)
        if message is not None
    ]
    streamed: list[Any] = [None] * len(claims)
    for response in claims_stub.ProcessClaims(iter(requests), timeout=RPC_TIMEOUT_S * 6):
        answer, found, _ = process_answer(response)
        streamed[int(response.request_id)] = found if response.HasField("report") else answer
    faces["ProcessClaims"] = streamed

    def alike(answer: Any, reference: Any) -> bool:
        refused = [isinstance(a, tuple) and bool(a) and a[0] == "refused" for a in (answer, reference)]
        return same(answer, reference) if all(refused) else not any(refused) and answer == reference

    failures = []
    for i, (claim, how) in enumerate(corpus):
        reference = python_findings(claim)
        wrong = [f"  {face}: {got[i]}" for face, got in faces.items() if got[i] is not None and not alike(got[i], reference)]
        if wrong:
            failures.append(f"{claim['claim_id']} ({how}): validate gives {reference}\n" + "\n".join(wrong))
    assert not failures, report(failures)


# ---- X12: an 837P written from the claims and read back ---------------------------------------------


def for_837(claim: Claim) -> Claim:
    """The claim as an 837P carries it (README, X12: "What the 837P has no place for is not written, so a
    claim read back can be priced differently: `medicare_locality` and `qualifying_apm`"), with a whole
    billing location (2010AA N4 requires it and it is read back as the claim's own; the writer never
    makes one up, so it is given here, on both sides of the comparison)."""
    claim = copy.deepcopy(claim)
    claim["medicare_locality"] = None
    claim["rendering_provider"]["qualifying_apm"] = False
    location = claim.get("billing_provider_location") or {}
    if not (location.get("state") and location.get("zip")):
        claim["billing_provider_location"] = {"state": "NY", "zip": "10001"}
    return claim


def test_an_837_written_from_the_fuzzed_claims_is_judged_alike(
    corpus: list[tuple[Claim, str]], tmp_path: Path
) -> None:
    """Each claim an 837P can hold is written to one file and read back; the claims read back, through
    Python and through the CLI on the file, are judged as the claims written are."""
    options = OPTIONS["contract"]
    kwargs = python_options(options)
    written: list[tuple[Claim, str]] = []
    for claim, how in corpus:
        claim = for_837(claim)
        try:
            cptkit.write_837([claim])
        except cptkit.CptkitError:
            # README, X12: write_837 "refuses, naming the field, what an 837P would change on the way
            # back ... and what it requires and the claim lacks".
            continue
        written.append((claim, how))
    assert len(written) > len(corpus) / 2, "most claims can be written as an 837P"
    x12_file = tmp_path / "claims.837"
    cptkit.write_837([claim for claim, _ in written], x12_file)
    read = cptkit.read_837(x12_file, validate=True, today=TODAY)
    assert read.errors == () and read.rejected == ()
    by_id: dict[str, list[Any]] = {}
    for parsed in read.claims:
        by_id.setdefault(parsed.claim_id, []).append(parsed)
    cli = {answer["claim_id"]: cli_judged(answer) for answer in cli_price([str(x12_file)], options)["claims"]}

    failures = []
    for claim, how in written:
        parts = by_id.get(claim["claim_id"], [])
        assert len(parts) == 1, f"{claim['claim_id']} ({how}) read back as {len(parts)} claims"
        (parsed,) = parts
        reference = reference_of(claim, kwargs)
        answers: dict[str, Judged | None] = {
            "price(read back)": reference_of(parsed.claim.to_dict(), kwargs),
            "read_837(validate=True)": (reference[0], findings(parsed.report.findings), {}),
            "cli price FILE.837": cli.get(parsed.claim_id),
        }
        wrong = judged_alike(reference, answers)
        if wrong:
            failures.append(f"{claim['claim_id']} ({how}): price gives {reference[0]}\n" + "\n".join(wrong))
    assert not failures, report(failures)
