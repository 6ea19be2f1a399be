"""Shared fixtures. The tests exercise the INSTALLED wheel: scripts/test.sh builds it with maturin,
installs it into .venv and runs pytest from this folder with --import-mode=importlib, so the source
tree's python/cptkit (which has no native module) is never what `import cptkit` finds."""

from __future__ import annotations

import importlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import IO, Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"

# ---- the real gRPC server and a grpcio client (test_grpc_client.py, test_one_judge.py) ----------------
# The server binary comes from $CPTKIT_SERVER_BIN (scripts/test.sh builds it and sets it), else
# target/debug/cptkit-server in the repository; without one these tests are skipped, saying why.

PROTO_DIR = REPO_ROOT / "proto"
# The generated modules are importable as `cptkitpb.v1.*`: the proto path `cptkit/v1/...` would make
# them `cptkit.v1.*`, which the installed cptkit package shadows. Only the Python module path changes;
# the proto package, and so every wire name (`cptkit.v1.CodeService`), stays as it is.
GENERATED_PACKAGE = "cptkitpb"
LISTENING = re.compile(r"^cptkit-server listening on (127\.0\.0\.1:\d+)$")
STARTUP_TIMEOUT_S = 30.0
RPC_TIMEOUT_S = 10.0


def server_binary() -> Path | None:
    configured = os.environ.get("CPTKIT_SERVER_BIN")
    if configured:
        return Path(configured)
    default = REPO_ROOT / "target" / "debug" / "cptkit-server"
    return default if default.is_file() else None


@pytest.fixture(scope="session")
def pb(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Python stubs generated from proto/cptkit/v1/*.proto with grpc_tools.protoc."""
    protoc = pytest.importorskip("grpc_tools.protoc")
    root = tmp_path_factory.mktemp("grpc_stubs")
    sources = root / "proto"
    package_dir = sources / GENERATED_PACKAGE / "v1"
    package_dir.mkdir(parents=True)
    protos = sorted((PROTO_DIR / "cptkit" / "v1").glob("*.proto"))
    assert protos, f"no .proto files under {PROTO_DIR}"
    for proto in protos:
        text = proto.read_text(encoding="utf-8").replace('import "cptkit/v1/', f'import "{GENERATED_PACKAGE}/v1/')
        (package_dir / proto.name).write_text(text, encoding="utf-8")
    out = root / "out"
    out.mkdir()
    well_known = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{sources}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *(str(package_dir / p.name) for p in protos),
    ]
    assert protoc.main(args) == 0, f"protoc failed: {args}"
    sys.path.insert(0, str(out))
    try:
        modules: dict[str, ModuleType] = {
            name: importlib.import_module(f"{GENERATED_PACKAGE}.v1.{name}")
            for name in ["common_pb2", "codes_pb2", "codes_pb2_grpc", "claims_pb2", "claims_pb2_grpc"]
        }
    finally:
        sys.path.remove(str(out))
    return SimpleNamespace(**modules)


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on an ephemeral port; yields its address. Stopped with SIGTERM: must exit 0."""
    with running_server([], tmp_path_factory.mktemp("server") / "stderr.log") as running:
        yield running.address


@pytest.fixture(scope="session")
def channel(server: str) -> Iterator[Any]:
    grpc = pytest.importorskip("grpc")
    with grpc.insecure_channel(server) as channel:
        grpc.channel_ready_future(channel).result(timeout=STARTUP_TIMEOUT_S)
        yield channel




@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def golden_00632() -> dict[str, Any]:
    """The serde JSON of the core's 00632 profile, shared with the Rust and gRPC tests."""
    with (FIXTURES / "code_profile_00632" / "profile.json").open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@pytest.fixture
def type_checks(tmp_path: Path) -> Callable[[str], None]:
    """Asserts that user code type-checks under ``mypy --strict`` against the installed package's stubs."""

    def check(source: str) -> None:
        user = tmp_path / "user.py"
        user.write_text(source, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # away from the source tree: check the installed package
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    return check


@dataclass
class RunningServer:
    """A cptkit-server binary started by `running_server`."""

    address: str
    process: subprocess.Popen[str]
    #: The rest of its stdout, line by line (None at the end), e.g. the metrics address line.
    stdout: queue.Queue[str | None]
    log_path: Path


@contextmanager
def running_server(args: list[str], log_path: Path) -> Iterator[RunningServer]:
    """The real binary with `args` on an ephemeral port; SIGTERM at the end must exit 0."""
    binary = server_binary()
    if binary is None:
        pytest.skip("no cptkit-server binary: set CPTKIT_SERVER_BIN or run `cargo build -p cptkit-server`")
    if not binary.is_file():
        pytest.fail(f"CPTKIT_SERVER_BIN={binary} does not exist")
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        address = None
        while address is None:
            try:
                line = lines.get(timeout=STARTUP_TIMEOUT_S)
            except queue.Empty:
                pytest.fail(f"cptkit-server printed no listening line in {STARTUP_TIMEOUT_S}s: {log_path.read_text()}")
            if line is None:
                pytest.fail(f"cptkit-server exited before listening: {log_path.read_text()}")
            match = LISTENING.match(line)
            address = match.group(1) if match else None
        yield RunningServer(address, process, lines, log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("cptkit-server did not stop on SIGTERM")
    assert code == 0, f"cptkit-server exited with {code}: {log_path.read_text()}"


def wire_claim(pb: SimpleNamespace, claim: dict[str, Any]) -> Any:
    """The claim JSON as the wire Claim (enums by their proto names)."""
    from google.protobuf import json_format  # type: ignore[import-untyped]

    wire = json.loads(json.dumps(claim))
    wire["payer"]["plan_type"] = "PLAN_TYPE_" + claim["payer"]["plan_type"].upper()
    role = claim["rendering_provider"].get("role")
    if role:
        wire["rendering_provider"]["role"] = "PROVIDER_ROLE_" + role.upper()
    else:  # no role ("" or null) is the enum's unspecified value
        wire["rendering_provider"].pop("role", None)
    for line in wire["lines"]:
        line["unit_basis"] = "UNIT_BASIS_" + line["unit_basis"]
    return json_format.ParseDict(wire, pb.claims_pb2.Claim())


def claims_from_table(table: Any) -> list[dict[str, Any]]:
    """The claim JSON of each claim of a claim-lines table (`CLAIM_LINES_SCHEMA`): the inverse of
    `cptkit.claims_to_table` (test_one_judge_fuzz.py's corpus fixture checks it). A claim is a run of rows."""
    claims: list[dict[str, Any]] = []
    for row in table.to_pylist():
        if not claims or claims[-1]["claim_id"] != row["claim_id"]:
            claims.append(claim_header(row))
        claims[-1]["lines"].append(claim_line(row))
    return claims


def claim_header(row: dict[str, Any]) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "claim_id": row["claim_id"],
        "payer": {"id": row["payer_id"], "plan_type": row["plan_type"]},
        "place_of_service": row["place_of_service"],
        "frequency_code": row["frequency_code"],
        "patient": {"birth_date": row["patient_birth_date"].isoformat(), "member_id": row["member_id"]},
        "billing_provider_npi": row["billing_provider_npi"],
        "rendering_provider": {
            "npi": row["rendering_npi"],
            "taxonomy": row["rendering_taxonomy"],
            "role": row["rendering_role"],
            "qualifying_apm": row["qualifying_apm"],
        },
        "medicare_locality": row["medicare_locality"],
        "diagnoses": list(row["diagnoses"]),
        "lines": [],
    }
    for where in ("service_facility", "billing_provider"):
        state, zip_code = row[f"{where}_state"], row[f"{where}_zip"]
        if state is not None or zip_code is not None:
            claim[f"{where}_location"] = {"state": state, "zip": zip_code}
    return claim


def claim_line(row: dict[str, Any]) -> dict[str, Any]:
    time = lambda t: None if t is None else t.isoformat(timespec="minutes")  # noqa: E731
    return {
        "procedure_code": row["procedure_code"],
        "modifiers": row["modifiers"],
        "unit_basis": row["unit_basis"],
        "quantity": str(row["quantity"].normalize()),
        "start_time": time(row["start_time"]),
        "end_time": time(row["end_time"]),
        "diagnosis_pointers": row["diagnosis_pointers"],
        "charge_cents": row["charge_cents"],
        "date_of_service": row["date_of_service"].isoformat(),
        "case_id": row["case_id"],
        "present_at_induction": row["present_at_induction"],
    }
