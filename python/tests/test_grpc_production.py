"""The server in production, from a grpcio client's side, against the real binary: load shedding with
health still answering, SIGHUP with a good and a broken rule-set file, SIGTERM under load, and the
metrics endpoint scraped while traffic runs. Correctness only: no timing is asserted."""

from __future__ import annotations

import json
import queue
import re
import signal
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import FIXTURES, REPO_ROOT, RPC_TIMEOUT_S, STARTUP_TIMEOUT_S, RunningServer, running_server, wire_claim

grpc = pytest.importorskip("grpc")

TODAY = "2026-11-27"
#: 00632-AA, 90 minutes, Medicare, 2025: 264.13.
CLAIM = FIXTURES / "claims/medicare_00632_aa_90min_2025/claim.json"


def acme_rule_set(aa_share: str) -> str:
    """Cigna's 2023 rule set as payer `acme`, with modifier AA paid at `aa_share`."""
    rule_set = json.loads((REPO_ROOT / "crates/cptkit-core/data/rulesets/cigna_2023.json").read_text())
    rule_set.update(id="acme-2025", payer="Acme Health")
    rule_set["selects"]["payer_ids"] = ["acme"]
    rule_set["shares"]["AA"] = aa_share
    return json.dumps(rule_set)


def acme_request(pb: SimpleNamespace) -> Any:
    """00632-AA, 90 minutes, for payer acme at a contract factor of 60.00: (7 + 6.0) x 60.00 x AA share."""
    claim = json.loads(CLAIM.read_text())
    claim["payer"] = {"id": "acme", "plan_type": "commercial"}
    options = pb.claims_pb2.PriceOptions(conversion_factor="60.00")
    return pb.claims_pb2.PriceClaimRequest(claim=wire_claim(pb, claim), options=options, today=TODAY)


def acme_total(pb: SimpleNamespace, channel: Any) -> int:
    stub = pb.claims_pb2_grpc.ClaimServiceStub(channel)
    cents: int = stub.PriceClaim(acme_request(pb), timeout=RPC_TIMEOUT_S).priced.total_allowed_cents
    return cents


def health(pb: SimpleNamespace, channel: Any) -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

    status: int = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT_S).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    return status


def get_code(pb: SimpleNamespace, channel: Any, code: str = "00632") -> Any:
    stub = pb.codes_pb2_grpc.CodeServiceStub(channel)
    return stub.GetCode(pb.codes_pb2.GetCodeRequest(code=code), timeout=RPC_TIMEOUT_S).profile


def log_line(server: RunningServer, pattern: str, after: int = 0) -> str:
    """Waits for a stderr line matching `pattern` past character `after` of the log."""
    guard = threading.Event()
    for _ in range(int(STARTUP_TIMEOUT_S * 20)):
        text = server.log_path.read_text(encoding="utf-8")[after:]
        for line in text.splitlines():
            if re.search(pattern, line):
                return line
        guard.wait(0.05)
    pytest.fail(f"no log line matching {pattern!r}:\n{server.log_path.read_text(encoding='utf-8')}")


def test_requests_beyond_the_limit_are_shed_and_health_answers(pb: SimpleNamespace, tmp_path: Path) -> None:
    with running_server(["--max-concurrent-requests", "1"], tmp_path / "stderr.log") as server:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb.claims_pb2_grpc.ClaimServiceStub(channel)
            requests: queue.Queue[Any] = queue.Queue()

            def held_open() -> Iterator[Any]:
                while (request := requests.get()) is not None:
                    yield request

            claim = wire_claim(pb, json.loads(CLAIM.read_text()))
            requests.put(pb.claims_pb2.ProcessClaimsRequest(request_id="1", claim=claim, price=True, today=TODAY))
            answers = stub.ProcessClaims(held_open(), timeout=RPC_TIMEOUT_S * 3)
            assert next(answers).request_id == "1"  # the stream is in progress: the one place is taken

            with pytest.raises(grpc.RpcError) as shed:
                get_code(pb, channel)
            assert shed.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limit of 1 requests" in shed.value.details()
            health(pb, channel)

            requests.put(None)  # the stream ends: its place is free
            assert list(answers) == []
            assert get_code(pb, channel).base_units == 7


def test_sighup_reloads_a_good_rule_set_and_keeps_it_when_the_file_breaks(
    pb: SimpleNamespace, tmp_path: Path
) -> None:
    rules = tmp_path / "acme.json"
    rules.write_text(acme_rule_set("0.90"), encoding="utf-8")
    with running_server(["--rule-set", str(rules)], tmp_path / "stderr.log") as server:
        with grpc.insecure_channel(server.address) as channel:
            assert acme_total(pb, channel) == 70200  # 13 units x 60.00 x 0.90

            rules.write_text(acme_rule_set("0.80"), encoding="utf-8")
            seen = len(server.log_path.read_text(encoding="utf-8"))
            server.process.send_signal(signal.SIGHUP)
            assert "ok=true" in log_line(server, "reload finished", seen)
            assert acme_total(pb, channel) == 62400

            rules.write_text("{ not a rule set", encoding="utf-8")
            seen = len(server.log_path.read_text(encoding="utf-8"))
            server.process.send_signal(signal.SIGHUP)
            failure = log_line(server, "reload failed", seen)
            assert str(rules) in failure, failure
            assert "ok=false" in log_line(server, "reload finished", seen)
            assert acme_total(pb, channel) == 62400, "the broken file keeps the rules loaded before"
            health(pb, channel)


def test_sigterm_under_load_finishes_the_work_in_flight_and_exits_0(pb: SimpleNamespace, tmp_path: Path) -> None:
    with running_server([], tmp_path / "stderr.log") as server:
        answered: list[int] = []
        refused: list[Any] = []
        wrong: list[str] = []
        started = threading.Barrier(5)

        def client() -> None:
            with grpc.insecure_channel(server.address) as channel:
                started.wait()
                while True:
                    try:
                        profile = get_code(pb, channel)
                    except grpc.RpcError as error:
                        refused.append(error.code())
                        return
                    if profile.base_units != 7:
                        wrong.append(profile.code)
                    answered.append(1)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        started.wait()
        while len(answered) < 200:
            threading.Event().wait(0.01)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=STARTUP_TIMEOUT_S) == 0
        for thread in threads:
            thread.join(timeout=STARTUP_TIMEOUT_S)
        assert not wrong
        # Every answer before the end was right; after it, new work is refused as unavailable.
        assert refused and set(refused) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, refused


def scrape(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=RPC_TIMEOUT_S) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def test_metrics_scraped_while_traffic_runs(pb: SimpleNamespace, tmp_path: Path) -> None:
    with running_server(["--metrics-listen", "127.0.0.1:0"], tmp_path / "stderr.log") as server:
        line = server.stdout.get(timeout=STARTUP_TIMEOUT_S)
        assert line is not None and line.startswith("cptkit-server metrics on "), line
        metrics = line.removeprefix("cptkit-server metrics on ")
        get_codes = 'cptkit_grpc_requests_total{grpc_service="cptkit.v1.CodeService",grpc_method="GetCode",grpc_code="OK"}'
        stop = threading.Event()
        sent: list[int] = []

        def traffic() -> None:
            with grpc.insecure_channel(server.address) as channel:
                while not stop.is_set():
                    get_code(pb, channel)
                    sent.append(1)

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            while len(sent) < 50:
                threading.Event().wait(0.01)
            during = scrape(metrics)
            assert during.get(get_codes, 0) >= 50
        finally:
            stop.set()
            worker.join(timeout=STARTUP_TIMEOUT_S)
        after = scrape(metrics)
        assert after[get_codes] == len(sent)
        assert after["cptkit_grpc_requests_in_flight"] == 0
        assert any(series.startswith("cptkit_build_info") for series in after)
