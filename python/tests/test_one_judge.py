"""One judge, every face: each golden claim (tests/fixtures/claims) is priced through Python `price`,
`price_many` and `price_table`, gRPC `PriceClaim` and `ProcessClaims` (a grpcio client against the real
server) and the `cptkit` CLI, and every face must give the same answer: the same lines, statuses,
units, factors, amounts and worded steps, or the same refusal naming the same field."""

from __future__ import annotations

import json
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import cptkit
from conftest import REPO_ROOT, RPC_TIMEOUT_S, wire_claim

pa = pytest.importorskip("pyarrow")
grpc = pytest.importorskip("grpc")

CLAIMS = REPO_ROOT / "tests" / "fixtures" / "claims"
CASES = sorted(d.name for d in CLAIMS.iterdir() if (d / "claim.json").is_file())

# A face's answer, normalised: ("priced", claim id, total allowed, lines) or ("refused", kind, field),
# the field None where the face does not carry one (gRPC names fields in BadRequest for INVALID_ARGUMENT
# and as the PreconditionFailure subject for FAILED_PRECONDITION; NOT_FOUND's ResourceInfo names none).
Answer = tuple[Any, ...]
KINDS = {
    "INVALID_ARGUMENT": "invalid_input",
    "NOT_FOUND": "not_found",
    "FAILED_PRECONDITION": "unsupported",
    "INTERNAL": "internal",
}


def written(tmp_path: Path, claim: dict[str, Any]) -> Path:
    """`claim` as a claim JSON file in `tmp_path`, for the CLI."""
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(claim), encoding="utf-8")
    return claim_file


def case(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    claim = json.loads((CLAIMS / name / "claim.json").read_text(encoding="utf-8"))
    expected = json.loads((CLAIMS / name / "expected.json").read_text(encoding="utf-8"))
    return claim, expected


def factors(expected: dict[str, Any]) -> Any:
    """The case's conversion factors as the Python faces take them."""
    options = expected.get("price_options", {})
    every = Decimal(options["conversion_factor"]) if "conversion_factor" in options else None
    by_payer = {payer: Decimal(cf) for payer, cf in options.get("payer_conversion_factors", {}).items()}
    return {None: every, **by_payer} if by_payer else every


def line_answer(status: str, rule_set: str, numbers: list[Any], steps: list[tuple[str, str, str]]) -> Answer:
    """One priced line: status, rule set, units/factor/share and money as Decimals, the steps."""
    return (status, rule_set, tuple(Decimal(str(n)).normalize() for n in numbers), tuple(steps))


def from_python(priced: cptkit.PricedClaim) -> Answer:
    lines = tuple(
        line_answer(
            line.status,
            line.rule_set,
            [
                line.base_units,
                line.time_units,
                line.modifying_units,
                line.total_units,
                line.conversion_factor,
                line.share,
                line.fee_schedule,
                line.charge,
                line.allowed,
            ],
            [(s.step, s.detail, s.value) for s in line.steps],
        )
        for line in priced.lines
    )
    return ("priced", priced.claim_id, priced.total_allowed, lines)


def from_python_error(error: cptkit.CptkitError) -> Answer:
    # FAILED_PRECONDITION stands for both unsupported and conflict on the wire.
    kind = "unsupported" if error.kind == "conflict" else error.kind
    return ("refused", kind, error.field or "")


STATUS = {1: "priced", 2: "not_priced", 3: "not_payable"}


def from_wire(priced: Any) -> Answer:
    cents = lambda c: Decimal(c) / 100  # noqa: E731
    lines = tuple(
        line_answer(
            STATUS[line.status],
            line.rule_set,
            [
                line.base_units,
                line.time_units,
                line.modifying_units,
                line.total_units,
                line.conversion_factor,
                line.share,
                cents(line.fee_schedule_cents),
                cents(line.charge_cents),
                cents(line.allowed_cents),
            ],
            [(s.step, s.detail, s.value) for s in line.steps],
        )
        for line in priced.lines
    )
    return ("priced", priced.claim_id, cents(priced.total_allowed_cents), lines)


def wire_options(pb: SimpleNamespace, expected: dict[str, Any]) -> Any:
    options = expected.get("price_options", {})
    return pb.claims_pb2.PriceOptions(
        rule_set=options.get("rule_set", ""),
        conversion_factor=options.get("conversion_factor", ""),
        payer_conversion_factors=options.get("payer_conversion_factors", {}),
        percent_of_medicare=options.get("percent_of_medicare", ""),
    )


def from_status(error: Any) -> Answer:
    """A refused PriceClaim, read from its status's details."""
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    return from_details(error.code().name, status.details if status else [])


def from_details(code: str, details: Any) -> Answer:
    """A refusal on the wire (a status, or a ProcessClaims `ClaimError`, which carries the same details):
    the code's kind, and the field of its BadRequest (INVALID_ARGUMENT) or the subject of its
    PreconditionFailure (FAILED_PRECONDITION)."""
    from google.rpc import error_details_pb2

    kind = KINDS[code]
    for detail in details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            # A claim rejected for its findings lists each ("EDIT: message", named by no one field, as
            # Python's ClaimValidationError); the refusal of a valid claim names one field.
            if any(re.match(r"[A-Z][A-Z0-9]{1,5}\d{2}: ", v.description) for v in bad.field_violations):
                return ("refused", kind, "")
            fields = [unrooted(v.field) for v in bad.field_violations]
            return ("refused", kind, fields[0] if len(fields) == 1 else "")
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            (violation,) = failure.violations
            return ("refused", kind, unrooted(violation.subject) if violation.subject else "")
    return ("refused", kind, None)


def unrooted(field: str) -> str:
    """A gRPC field as the other faces name it: gRPC names fields in the request (AIP-193), a claim's
    under `claim.` and a price option's under `options.`; the other faces name them in the claim, or by
    the option's own name."""
    root, dot, rest = field.partition(".")
    assert root in ("claim", "options") and dot, field
    return rest


def from_table(rows: list[dict[str, Any]], claim_id: str) -> Answer:
    statuses = {row["status"] for row in rows}
    if statuses <= {"error", "not_valid"}:
        # A valid claim refused: TBL004 naming the field; a claim rejected for its findings: not_valid.
        issues = [i for row in rows for i in row["issues"] if i["edit_id"] == "TBL004"]
        if issues:
            return ("refused", None, issues[0]["field"])
        # A value that cannot be read (TBL001) names its field, as a claim that cannot be read does.
        unreadable = [i["field"] for row in rows for i in row["issues"] if i["edit_id"] == "TBL001"]
        return ("refused", "invalid_input", unreadable[0] if len(unreadable) == 1 else "")
    lines = tuple(
        line_answer(
            row["status"],
            row["rule_set"],
            [
                row["base_units"],
                row["time_units"],
                row["modifying_units"],
                row["total_units"],
                row["conversion_factor"],
                row["share"],
                Decimal(row["fee_schedule_cents"]) / 100,
                Decimal(row["charge_cents"]) / 100,
                Decimal(row["allowed_cents"]) / 100,
            ],
            [(s["step"], s["detail"], s["value"]) for s in row["explanation"]],
        )
        for row in rows
    )
    total = sum((Decimal(row["allowed_cents"]) / 100 for row in rows), Decimal("0.00"))
    return ("priced", claim_id, total, lines)


def cli_binary() -> Path | None:
    configured = os.environ.get("CPTKIT_CLI_BIN")
    if configured:
        return Path(configured)
    default = REPO_ROOT / "target" / "debug" / "cptkit"
    return default if default.is_file() else None


def cli_flags(options: dict[str, Any]) -> list[str]:
    """Price options (an expected.json's `price_options`) as the CLI's flags."""
    flags = []
    if "conversion_factor" in options:
        flags += ["--conversion-factor", options["conversion_factor"]]
    for payer, cf in options.get("payer_conversion_factors", {}).items():
        flags += ["--payer-conversion-factor", f"{payer}={cf}"]
    if "rule_set" in options:
        flags += ["--use-rule-set", options["rule_set"]]
    if "percent_of_medicare" in options:
        flags += ["--percent-of-medicare", options["percent_of_medicare"]]
    return flags


def from_cli(claim_file: Path, expected: dict[str, Any]) -> Answer:
    binary = cli_binary()
    if binary is None:
        pytest.skip("no cptkit CLI binary: set CPTKIT_CLI_BIN or run `cargo build -p cptkit-cli`")
    options = expected.get("price_options", {})
    args = [str(binary), "price", str(claim_file), "--json", "--today", expected["today"], *cli_flags(options)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode in (0, 1), run.stderr
    output = json.loads(run.stdout)
    if not output["claims"]:
        # A claim that cannot be read is listed apart, with its error.
        (unread,) = output["unread_claims"]
        return ("refused", unread["error"]["kind"], unread["error"].get("field") or "")
    (answer,) = output["claims"]
    if answer.get("priced") is not None:
        return from_python_dict(answer["priced"])
    error = answer["error"]
    return ("refused", error["kind"], error.get("field") or "")


def from_python_dict(priced: dict[str, Any]) -> Answer:
    """The core's serde JSON of a priced claim (what `PricedClaim.to_dict()` and the CLI print)."""
    lines = tuple(
        line_answer(
            line["status"],
            line["rule_set"],
            [
                line[key]
                for key in (
                    "base_units",
                    "time_units",
                    "modifying_units",
                    "total_units",
                    "conversion_factor",
                    "share",
                    "fee_schedule",
                    "charge",
                    "allowed",
                )
            ],
            [(s["step"], s["detail"], s["value"]) for s in line["steps"]],
        )
        for line in priced["lines"]
    )
    return ("priced", priced["claim_id"], Decimal(priced["total_allowed"]), lines)


def same(answer: Answer, reference: Answer) -> bool:
    """Equal answers; for refusals, a kind or field a face does not carry (None) is not compared."""
    if answer[0] != "refused" or reference[0] != "refused":
        return answer == reference
    return all(a is None or r is None or a == r for a, r in zip(answer[1:], reference[1:], strict=True))


@pytest.fixture(scope="module")
def claims_stub(pb: SimpleNamespace, channel: Any) -> Any:
    return pb.claims_pb2_grpc.ClaimServiceStub(channel)


def every_face(
    claim: dict[str, Any], expected: dict[str, Any], claim_file: Path, pb: SimpleNamespace, claims_stub: Any
) -> dict[str, Answer]:
    """The claim's answer from each face; `claim_file` holds the same claim for the CLI."""
    options = expected.get("price_options", {})
    kwargs = {
        "conversion_factor": factors(expected),
        "rule_set": options.get("rule_set"),
        "percent_of_medicare": options.get("percent_of_medicare"),
    }
    today = expected["today"]
    answers: dict[str, Answer] = {}

    try:
        answers["price"] = from_python(cptkit.price(claim, today=today, **kwargs))
    except cptkit.CptkitError as error:
        answers["price"] = from_python_error(error)
    (many,) = cptkit.price_many([claim], today=today, **kwargs)
    answers["price_many"] = from_python(many) if isinstance(many, cptkit.PricedClaim) else from_python_error(many)

    try:
        table = cptkit.claims_to_table([claim])
    except cptkit.CptkitError as error:
        # A claim that cannot be read has no table: claims_to_table names it in the list it was given.
        kind, field = error.kind, (error.field or "").removeprefix("claims[0].")
        answers["claims_to_table"] = ("refused", kind, field)
        table = None
    if table is not None:
        rows = cptkit.price_table(table, today=today, explain=True, progress=False, **kwargs).to_pylist()
        answers["price_table"] = from_table(rows, claim["claim_id"])

    request = pb.claims_pb2.PriceClaimRequest(
        claim=wire_claim(pb, claim), options=wire_options(pb, expected), today=today
    )
    try:
        answers["PriceClaim"] = from_wire(claims_stub.PriceClaim(request, timeout=RPC_TIMEOUT_S).priced)
    except grpc.RpcError as error:
        answers["PriceClaim"] = from_status(error)

    stream = pb.claims_pb2.ProcessClaimsRequest(
        request_id="1", claim=request.claim, price=True, options=request.options, today=today
    )
    (response,) = list(claims_stub.ProcessClaims(iter([stream]), timeout=RPC_TIMEOUT_S))
    if response.HasField("priced"):
        answers["ProcessClaims"] = from_wire(response.priced)
    else:
        answers["ProcessClaims"] = from_details(response.error.code, response.error.details)

    answers["cli"] = from_cli(claim_file, expected)
    return answers


def assert_every_face_gives(reference: Answer, answers: dict[str, Answer], name: str) -> None:
    for face, answer in answers.items():
        assert same(answer, reference), f"{name}: {face} differs\n{face}: {answer}\nreference: {reference}"


@pytest.mark.parametrize("name", CASES)
def test_every_face_gives_the_same_answer(name: str, pb: SimpleNamespace, claims_stub: Any) -> None:
    claim, expected = case(name)
    answers = every_face(claim, expected, CLAIMS / name / "claim.json", pb, claims_stub)
    reference = answers["price"]
    assert_every_face_gives(reference, answers, name)
    if "priced" in expected:
        assert reference[0] == "priced" and str(reference[2]) == expected["priced"]["total_allowed"]
    else:
        assert reference[0] == "refused"


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("medicare_00632_aa_90min_2025", ["frequency_code"]),
        ("medicare_00632_aa_90min_2025", ["rendering_provider", "taxonomy"]),
        ("medicare_00632_aa_90min_2025", ["rendering_provider", "role"]),
        ("medicare_00632_aa_90min_2025_manhattan", ["medicare_locality"]),
        ("pfs_99213_locality_from_service_facility_zip", ["service_facility_location", "zip"]),
        ("pfs_99213_locality_from_service_facility_zip", ["service_facility_location", "state"]),
    ],
)
def test_an_empty_optional_field_is_no_value_on_every_face(
    name: str, path: list[str], tmp_path: Path, pb: SimpleNamespace, claims_stub: Any
) -> None:
    # Proto3 cannot tell an empty string from an absent one, so every face reads "" (and null) as absent;
    # an absent frequency code is 1 (original).
    claim, expected = case(name)
    *parents, key = path
    holder = claim
    for parent in parents:
        holder = holder[parent]
    assert key in holder, f"{name} has no {path}"

    def answers_with(value: Any) -> dict[str, Answer]:
        if value == "absent":
            holder.pop(key, None)
        else:
            holder[key] = value
        return every_face(claim, expected, written(tmp_path, claim), pb, claims_stub)

    reference = answers_with("absent")["price"]
    for value in ("", None):
        assert_every_face_gives(reference, answers_with(value), f"{name} {path}={value!r}")


def golden_answer(name: str, pb: SimpleNamespace, claims_stub: Any) -> tuple[dict[str, Any], dict[str, Any], Answer]:
    """A golden case's claim and expectations, and its answer on the Python face: the reference every face's
    answer to a variant of the case is held to."""
    claim, expected = case(name)
    return claim, expected, every_face(claim, expected, CLAIMS / name / "claim.json", pb, claims_stub)["price"]


def test_trailing_zeros_in_a_quantity_are_worded_alike_on_every_face(
    tmp_path: Path, pb: SimpleNamespace, claims_stub: Any
) -> None:
    # Tables and X12 read quantities as numbers: "90.00" minutes is 90 in every step's words, too.
    claim, expected, reference = golden_answer("medicare_00632_aa_90min_2025", pb, claims_stub)
    claim["lines"][0]["quantity"] = "90.00"
    claim_file = written(tmp_path, claim)
    assert_every_face_gives(reference, every_face(claim, expected, claim_file, pb, claims_stub), "90.00")


@pytest.mark.parametrize("blank", ["", " "])
@pytest.mark.parametrize("path", [["claim_id"], ["payer", "id"]])
def test_an_empty_id_is_refused_on_every_face(
    path: list[str], blank: str, tmp_path: Path, pb: SimpleNamespace, claims_stub: Any
) -> None:
    # An empty or blank id is no id: the claim cannot be read, on every face (proto3 cannot tell it
    # from an absent one, X12 requires CLM01 and trims it, a table's empty required text is TBL001),
    # never judged on one face and refused on another.
    name = "medicare_00632_aa_90min_2025"
    claim, expected = case(name)
    *parents, key = path
    holder = claim
    for parent in parents:
        holder = holder[parent]
    holder[key] = blank
    claim_file = written(tmp_path, claim)
    answers = every_face(claim, expected, claim_file, pb, claims_stub)
    # A table that holds the empty id (claims_to_table refuses to write one): TBL001 naming the field.
    good, _ = case(name)
    table = cptkit.claims_to_table([good])
    column = "claim_id" if path == ["claim_id"] else "payer_id"
    table = table.set_column(table.schema.get_field_index(column), column, pa.array([blank] * table.num_rows))
    rows = cptkit.price_table(table, today=expected["today"], progress=False, conversion_factor=factors(expected))
    # A table issue names its column (`payer_id` holds `payer.id`).
    assert from_table(rows.to_pylist(), "") == ("refused", "invalid_input", column)
    assert set(answers) >= {"price", "price_many", "claims_to_table", "PriceClaim", "ProcessClaims", "cli"}
    assert_every_face_gives(("refused", "invalid_input", ".".join(path)), answers, f"empty {path}")


def cli_refuses(args: list[str]) -> str:
    """The CLI's stderr for options it refuses for the whole run (exit 2)."""
    binary = cli_binary()
    if binary is None:
        pytest.skip("no cptkit CLI binary: set CPTKIT_CLI_BIN or run `cargo build -p cptkit-cli`")
    run = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2, (run.returncode, run.stdout)
    return run.stderr


def process_refusal(claims_stub: Any, request: Any) -> tuple[str, list[str]]:
    """A ProcessClaims answer's error: its code and the fields it names (as the request names them)."""
    (response,) = list(claims_stub.ProcessClaims(iter([request]), timeout=RPC_TIMEOUT_S))
    assert response.HasField("error") and not response.HasField("priced"), response
    return response.error.code, [v.field for v in response.error.violations]


def test_blanks_around_today_are_read_alike_on_every_face(
    tmp_path: Path, pb: SimpleNamespace, claims_stub: Any
) -> None:
    # `today` is read as YYYY-MM-DD with the blanks around it ignored on every face: gRPC refused
    # " 2026-11-27" that Python and the CLI read.
    name = "medicare_00632_aa_90min_2025"
    claim, expected, reference = golden_answer(name, pb, claims_stub)
    assert reference[0] == "priced"
    padded = {**expected, "today": f" {expected['today']} "}
    assert_every_face_gives(reference, every_face(claim, padded, CLAIMS / name / "claim.json", pb, claims_stub), "today")


@pytest.mark.parametrize("text", ["20261127", "2026-W48-5", "2026-331", "2026-11-27T00:00"])
def test_a_today_that_is_not_yyyy_mm_dd_is_refused_on_every_face(
    text: str, pb: SimpleNamespace, claims_stub: Any
) -> None:
    # Python read `today` with `date.fromisoformat`, which (from Python 3.11) also takes the basic form
    # and week dates: it judged claims against a date that gRPC and the CLI refuse.
    name = "medicare_00632_aa_90min_2025"
    claim, _ = case(name)
    calls = [
        lambda: cptkit.price(claim, today=text),
        lambda: cptkit.price_many([claim], today=text),
        lambda: cptkit.validate(claim, today=text),
        lambda: cptkit.validate_many([claim], today=text),
        lambda: cptkit.price_table(cptkit.claims_to_table([claim]), today=text, progress=False),
        lambda: cptkit.validate_table(cptkit.claims_to_table([claim]), today=text),
    ]
    for call in calls:
        with pytest.raises(cptkit.InvalidInputError) as raised:
            call()
        assert raised.value.field == "today" and "expected a date as YYYY-MM-DD" in raised.value.message
    wire = wire_claim(pb, claim)
    with pytest.raises(grpc.RpcError) as status:
        claims_stub.PriceClaim(pb.claims_pb2.PriceClaimRequest(claim=wire, today=text), timeout=RPC_TIMEOUT_S)
    assert status.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "today" in (status.value.details() or "")
    request = pb.claims_pb2.ProcessClaimsRequest(request_id="1", claim=wire, price=True, today=text)
    assert process_refusal(claims_stub, request) == ("INVALID_ARGUMENT", ["today"])
    stderr = cli_refuses(["price", str(CLAIMS / name / "claim.json"), "--json", "--today", text])
    assert "--today" in stderr and "expected a date as YYYY-MM-DD" in stderr


def test_a_factor_with_more_places_than_a_priced_line_carries_is_refused_on_every_face(
    tmp_path: Path, pb: SimpleNamespace, claims_stub: Any
) -> None:
    # A priced line carries its conversion factor, units and share to 4 places on every face (a
    # table's result columns are decimal(18, 4)): price_table showed a contract factor of 60.12345 as
    # 60.1235 while price, gRPC and the CLI showed it whole. The core refuses such a factor, and a rule
    # set's share or unit count with more places, where it is given.
    name = "cigna_00632_qz_90min_2024"
    claim, expected = case(name)
    factor = "60.12345"
    table = cptkit.claims_to_table([claim])
    for given, field in [(factor, "conversion_factor"), ({"cigna": factor}, "conversion_factor.cigna")]:
        for call in (
            lambda: cptkit.price(claim, conversion_factor=given, today=expected["today"]),
            lambda: cptkit.price_many([claim], conversion_factor=given, today=expected["today"]),
            lambda: cptkit.price_table(table, conversion_factor=given, today=expected["today"], progress=False),
        ):
            with pytest.raises(cptkit.InvalidInputError) as raised:
                call()
            assert raised.value.field == field and "at most 4 decimal places" in raised.value.message
    wire = wire_claim(pb, claim)
    for options, field in [
        (pb.claims_pb2.PriceOptions(conversion_factor=factor), "options.conversion_factor"),
        (pb.claims_pb2.PriceOptions(payer_conversion_factors={"cigna": factor}), "options.payer_conversion_factors.cigna"),
    ]:
        request = pb.claims_pb2.PriceClaimRequest(claim=wire, options=options, today=expected["today"])
        with pytest.raises(grpc.RpcError) as status:
            claims_stub.PriceClaim(request, timeout=RPC_TIMEOUT_S)
        assert from_status(status.value)[:2] == ("refused", "invalid_input")
        stream = pb.claims_pb2.ProcessClaimsRequest(request_id="1", claim=wire, price=True, options=options)
        assert process_refusal(claims_stub, stream) == ("INVALID_ARGUMENT", [field])
    for flag in (["--conversion-factor", factor], ["--payer-conversion-factor", f"cigna={factor}"]):
        stderr = cli_refuses(["price", str(CLAIMS / name / "claim.json"), "--json", "--today", expected["today"], *flag])
        assert "at most 4 decimal places" in stderr
    # A rule set's share with more places than a priced line carries is refused as it loads.
    rules = json.loads((REPO_ROOT / "crates/cptkit-core/data/rulesets/cigna_2023.json").read_text(encoding="utf-8"))
    rules = {**rules, "id": "my-cigna", "shares": {**rules["shares"], "QZ": "0.33333"}}
    with pytest.raises(cptkit.InvalidInputError) as raised:
        cptkit.load_rule_set(rules)
    assert raised.value.field == "shares.QZ"
    rule_file = tmp_path / "my_cigna.json"
    rule_file.write_text(json.dumps(rules), encoding="utf-8")
    stderr = cli_refuses(["price", str(CLAIMS / name / "claim.json"), "--json", "--rule-set", str(rule_file)])
    assert "shares.QZ" in stderr


def test_an_amount_past_what_every_face_carries_is_not_priced_on_every_face(
    tmp_path: Path, pb: SimpleNamespace, claims_stub: Any
) -> None:
    # 99,999,999,999,999 units (the most a table's quantity holds) of 47135 in a facility, 4736.69
    # each, are 4.7e17 dollars: past the signed 64-bit count of cents gRPC and the tables carry money
    # in, they showed 92233720368547758.07 where Python and the CLI showed the whole amount. The core
    # does not price such a line, on any face.
    name = "pfs_99213_locality_from_service_facility_zip"
    claim, expected = case(name)
    claim["place_of_service"] = "21"
    claim["lines"][0].update(procedure_code="47135", quantity="99999999999999")
    claim_file = written(tmp_path, claim)
    answers = every_face(claim, expected, claim_file, pb, claims_stub)
    reference = answers["price"]
    assert reference[0] == "priced"
    ((status, *_, steps),) = reference[3]
    assert status == "not_priced" and any("every face carries" in detail for _, detail, _ in steps)
    assert_every_face_gives(reference, answers, "47135 x 99999999999999")
