"""A polyglot user's view: a grpcio client, generated from proto/ at test time, against the real
cptkit-server binary. Its answers must agree with the golden fixture and with the Python module.

The server and the generated stubs are conftest.py's fixtures (`server`, `channel`, `pb`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from conftest import REPO_ROOT, RPC_TIMEOUT_S, wire_claim

import pytest

import cptkit

grpc = pytest.importorskip("grpc")
from google.protobuf import json_format  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

@pytest.fixture(scope="session")
def codes(pb: SimpleNamespace, channel: Any) -> Any:
    return pb.codes_pb2_grpc.CodeServiceStub(channel)


def test_health_is_serving(channel: Any) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ["", "cptkit.v1.CodeService"]:
        response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S)
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service


def test_get_code_agrees_with_golden_and_python(pb: SimpleNamespace, codes: Any, golden_00632: dict[str, Any]) -> None:
    response = codes.GetCode(pb.codes_pb2.GetCodeRequest(code="00632"), timeout=RPC_TIMEOUT_S)
    wire = response.profile
    local = cptkit.code("00632")
    golden = golden_00632

    assert wire.code == golden["code"] == local.code
    assert wire.base_units == golden["base_units"] == local.base_units == 7
    assert wire.category == golden["category"] == local.category
    assert wire.description == golden["description"] == local.description
    assert wire.service_type == pb.codes_pb2.SERVICE_TYPE_ANESTHESIA
    assert wire.medicare_inpatient_only == pb.common_pb2.KNOWN_YES
    assert [p.code for p in wire.places_of_service] == [p["code"] for p in golden["places_of_service"]] == ["21"]

    assert [m.code for m in wire.modifiers] == [m["code"] for m in golden["modifiers"]] == [
        m.code for m in local.modifiers
    ]
    assert [m.medicare_payment_effect for m in wire.modifiers] == [m.medicare_payment_effect for m in local.modifiers]
    assert [t.taxonomy.code for t in wire.taxonomies] == [t["taxonomy"]["code"] for t in golden["taxonomies"]] == [
        t.taxonomy.code for t in local.taxonomies
    ]
    assert [d.diagnosis.code for d in wire.diagnoses] == [d["diagnosis"]["code"] for d in golden["diagnoses"]] == [
        d.diagnosis.code for d in local.diagnoses
    ]
    assert [d.diagnosis.title for d in wire.diagnoses] == [d.diagnosis.title for d in local.diagnoses]
    assert [p.payer for p in wire.payers] == [p["payer"] for p in golden["payers"]] == [p.payer for p in local.payers]
    assert [len(p.policies) for p in wire.payers] == [len(p.policies) for p in local.payers]
    assert [r.code for r in wire.related_codes] == [r["code"] for r in golden["related_codes"]] == [
        r.code for r in local.related_codes
    ]
    assert [u.title for u in wire.policy_updates] == [u.title for u in local.policy_updates]

    assert len(wire.benchmarks) == len(golden["benchmarks"]) == len(local.benchmarks) == 3
    for wire_b, golden_b, local_b in zip(wire.benchmarks, golden["benchmarks"], local.benchmarks, strict=True):
        assert wire_b.year == golden_b["year"] == local_b.year
        assert wire_b.conversion_factor == golden_b["conversion_factor"] == str(local_b.conversion_factor)
        assert not wire_b.HasField("locality")
        for wire_a, golden_a, local_a in zip(wire_b.amounts, golden_b["amounts"], local_b.amounts, strict=True):
            assert wire_a.minutes == golden_a["minutes"] == local_a.minutes
            assert wire_a.time_units == golden_a["time_units"] == str(local_a.time_units)
            assert wire_a.total_units == golden_a["total_units"] == str(local_a.total_units)
            assert wire_a.allowed_cents == int(Decimal(golden_a["allowed"]) * 100) == int(local_a.allowed * 100)
    ninety_2025 = wire.benchmarks[0].amounts[2]
    assert (wire.benchmarks[0].year, ninety_2025.minutes, ninety_2025.allowed_cents) == (2025, 90, 26413)


def test_get_code_basic_view_and_read_mask(pb: SimpleNamespace, codes: Any) -> None:
    """AIP-157 views from grpcio: BASIC is small, FULL (and unspecified) the whole profile."""
    full = codes.GetCode(pb.codes_pb2.GetCodeRequest(code="00632"), timeout=RPC_TIMEOUT_S).profile
    basic_request = pb.codes_pb2.GetCodeRequest(code="00632", view=pb.codes_pb2.CODE_VIEW_BASIC)
    basic = codes.GetCode(basic_request, timeout=RPC_TIMEOUT_S).profile
    assert (basic.code, basic.base_units, basic.fee_schedule.status) == ("00632", 7, full.fee_schedule.status)
    assert not basic.modifiers and full.modifiers
    assert basic.ByteSize() < 4096 < 16384 < full.ByteSize()
    masked_request = pb.codes_pb2.GetCodeRequest(code="99213")
    masked_request.read_mask.paths.extend(["code", "fee_schedule"])
    masked = codes.GetCode(masked_request, timeout=RPC_TIMEOUT_S).profile
    assert masked.code == "99213" and masked.fee_schedule.rvus.work == "1.30" and not masked.description


def test_get_code_with_a_locality(pb: SimpleNamespace, codes: Any) -> None:
    request = pb.codes_pb2.GetCodeRequest(code="00632", localities=["13202-01"])
    wire = codes.GetCode(request, timeout=RPC_TIMEOUT_S).profile
    local = cptkit.code("00632", localities=["13202-01"])
    wire_rows = [(b.locality.id, b.conversion_factor) for b in wire.benchmarks if b.HasField("locality")]
    local_rows = [(b.locality.id, str(b.conversion_factor)) for b in local.benchmarks if b.locality is not None]
    assert wire_rows == local_rows == [("13202-01", "22.76")]


def test_fee_schedule_code_agrees_with_python(pb: SimpleNamespace, codes: Any) -> None:
    request = pb.codes_pb2.GetCodeRequest(code="72148", localities=["10112-00"])
    wire = codes.GetCode(request, timeout=RPC_TIMEOUT_S).profile
    local = cptkit.code("72148", localities=["10112-00"])
    assert local.fee_schedule is not None
    assert wire.service_type == pb.codes_pb2.SERVICE_TYPE_FEE_SCHEDULE
    assert (wire.description, wire.category) == (local.description, local.category)
    fee = wire.fee_schedule
    assert (fee.status, fee.rvus.work) == (local.fee_schedule.status, str(local.fee_schedule.rvus.work))
    rows = [(fee.amounts, local.fee_schedule.amounts)] + [
        (w.amounts, l.amounts) for w, l in zip(fee.components, local.fee_schedule.components, strict=True)
    ]
    for wire_amounts, local_amounts in rows:
        for w, l in zip(wire_amounts, local_amounts, strict=True):
            assert w.nonfacility.allowed_cents == int(l.nonfacility.allowed * 100)
            assert w.facility.limiting_charge_cents == int(l.facility.limiting_charge * 100)
    # Each component row's indicators that differ from the code's row, alike on both faces.
    for w, l in zip(fee.components, local.fee_schedule.components, strict=True):
        assert [(i.field, i.value, i.meaning) for i in w.indicators] == [(i.field, i.value, i.meaning) for i in l.indicators]
    search = pb.codes_pb2.SearchCodesRequest(codes="99202-99215", status="A", section="Evaluation and Management")
    found = codes.SearchCodes(search, timeout=RPC_TIMEOUT_S).codes
    assert [c.code for c in found] == [c.code for c in cptkit.search_codes(codes="99202-99215", status="A")]


def test_json_mapping_keeps_the_golden_field_names(pb: SimpleNamespace, codes: Any, golden_00632: dict[str, Any]) -> None:
    wire = codes.GetCode(pb.codes_pb2.GetCodeRequest(code="00632"), timeout=RPC_TIMEOUT_S).profile
    as_json = json_format.MessageToDict(wire, preserving_proto_field_name=True)
    assert set(as_json) <= set(golden_00632)
    assert as_json["taxonomies"][0]["taxonomy"]["code"] == golden_00632["taxonomies"][0]["taxonomy"]["code"]


def test_unknown_code_is_not_found(pb: SimpleNamespace, codes: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        codes.GetCode(pb.codes_pb2.GetCodeRequest(code="00101"), timeout=RPC_TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(cptkit.UnknownCodeError):
        cptkit.code("00101")
    # Both faces name the field from the one core error: `code`.
    with pytest.raises(grpc.RpcError) as info:
        codes.GetCode(pb.codes_pb2.GetCodeRequest(code="99999"), timeout=RPC_TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(cptkit.UnknownCodeError) as unknown:
        cptkit.code("99999")
    assert unknown.value.field == "code"
    assert info.value.details() == str(unknown.value) == f"code: {unknown.value.message}"
    # What was not found, as data (AIP-193): google.rpc.ResourceInfo, described as Python words it.
    (resource,) = details_of(info.value, error_details_pb2.ResourceInfo)
    assert (resource.resource_type, resource.resource_name) == ("procedure code", "99999")
    assert resource.description == unknown.value.message


def test_pricing_refusals_carry_their_details(pb: SimpleNamespace, channel: Any) -> None:
    """NOT_FOUND says what was not found (ResourceInfo); FAILED_PRECONDITION the field a precondition
    failed on (PreconditionFailure), as the message names it."""
    claims = pb.claims_pb2_grpc.ClaimServiceStub(channel)
    claim = json.loads((REPO_ROOT / "tests/fixtures/claims/medicare_00632_aa_90min_2025/claim.json").read_text())
    options = pb.claims_pb2.PriceOptions(rule_set="no-such-rules")
    request = pb.claims_pb2.PriceClaimRequest(claim=wire_claim(pb, claim), options=options, today="2026-11-27")
    with pytest.raises(grpc.RpcError) as info:
        claims.PriceClaim(request, timeout=RPC_TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    (resource,) = details_of(info.value, error_details_pb2.ResourceInfo)
    assert (resource.resource_type, resource.resource_name) == ("rule set", "no-such-rules")

    claim["lines"][0]["date_of_service"] = "2019-03-04"
    request = pb.claims_pb2.PriceClaimRequest(claim=wire_claim(pb, claim), today="2026-11-27")
    with pytest.raises(grpc.RpcError) as info:
        claims.PriceClaim(request, timeout=RPC_TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    (failure,) = details_of(info.value, error_details_pb2.PreconditionFailure)
    (violation,) = failure.violations
    assert (violation.type, violation.subject) == ("UNSUPPORTED", "claim.lines[0].date_of_service")
    assert info.value.details() == f"{violation.subject}: {violation.description}"


def details_of(error: Any, message_type: Any) -> list[Any]:
    """The details of `message_type` in a status's grpc-status-details-bin trailer."""
    status = rpc_status.from_call(error)
    assert status is not None, f"no google.rpc.Status details on {error.code()}"
    found = []
    for detail in status.details:
        if detail.Is(message_type.DESCRIPTOR):
            message = message_type()
            detail.Unpack(message)
            found.append(message)
    return found


def test_every_locality_and_basic_localities_agree(pb: SimpleNamespace, codes: Any) -> None:
    local = cptkit.code("00632", localities="*")
    for spelling in (["*"], ["all"]):
        request = pb.codes_pb2.GetCodeRequest(code="00632", localities=spelling)
        wire = codes.GetCode(request, timeout=RPC_TIMEOUT_S).profile
        assert [b.conversion_factor for b in wire.benchmarks] == [str(b.conversion_factor) for b in local.benchmarks]
    basic = pb.codes_pb2.GetCodeRequest(code="00632", localities=["13202-01"], view=pb.codes_pb2.CODE_VIEW_BASIC)
    wire = codes.GetCode(basic, timeout=RPC_TIMEOUT_S).profile
    assert [(b.locality.id, b.conversion_factor) for b in wire.benchmarks] == [("13202-01", "22.76")]


def test_malformed_code_is_invalid_argument_with_a_bad_request(pb: SimpleNamespace, codes: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        codes.GetCode(pb.codes_pb2.GetCodeRequest(code="0063"), timeout=RPC_TIMEOUT_S)
    error = info.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)  # parses the grpc-status-details-bin trailer
    assert status is not None, "no google.rpc.Status details on INVALID_ARGUMENT"
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(bad_request.field_violations)
    assert [v.field for v in violations] == ["code"]
    assert violations[0].description

    with pytest.raises(cptkit.InvalidInputError) as local:
        cptkit.code("0063")
    assert local.value.field == violations[0].field

