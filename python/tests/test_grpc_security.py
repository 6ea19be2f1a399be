"""TLS, mutual TLS and bearer tokens from a grpcio client's side, against the real cptkit-server binary.

Certificates are made at test time with the `openssl` command line (a CA, a server certificate for
127.0.0.1 and localhost, a client certificate); the tokens file holds the SHA-256 of a token, as an
operator would write it (`printf %s "$TOKEN" | sha256sum`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from conftest import RPC_TIMEOUT_S, running_server

import pytest

grpc = pytest.importorskip("grpc")

TOKEN = "py-" + secrets.token_hex(16)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(directory: Path, name: str, subject: str, extensions: str) -> None:
    """`name`.key and `name`.pem: a P-256 key and a certificate signed by the CA in `directory`."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)  # fmt: skip
    (directory / f"{name}.ext").write_text(extensions, encoding="utf-8")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-set_serial", f"0x{secrets.token_hex(8)}", "-days", "2", "-extfile", f"{name}.ext",
             "-out", f"{name}.pem", cwd=directory)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make test certificates")
    directory = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cptkit test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)  # fmt: skip
    leaf = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
    _issue(directory, "server", "/CN=localhost",
           leaf + "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")  # fmt: skip
    _issue(directory, "client", "/CN=batch-worker", leaf + "extendedKeyUsage=clientAuth\n")
    tokens = {
        "tokens": [
            {
                "name": "billing-api",
                "sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                "services": ["cptkit.v1.CodeService"],
            }
        ]
    }
    (directory / "tokens.json").write_text(json.dumps(tokens), encoding="utf-8")
    return SimpleNamespace(
        dir=directory,
        ca=(directory / "ca.pem").read_bytes(),
        client_cert=(directory / "client.pem").read_bytes(),
        client_key=(directory / "client.key").read_bytes(),
        tls_args=["--tls-cert", str(directory / "server.pem"), "--tls-key", str(directory / "server.key")],
    )


def _echo(pb: SimpleNamespace, channel: Any, metadata: tuple[tuple[str, str], ...] = ()) -> str:
    stub = pb.codes_pb2_grpc.CodeServiceStub(channel)
    response = stub.Echo(pb.codes_pb2.EchoRequest(payload="ping"), timeout=RPC_TIMEOUT_S, metadata=metadata)
    payload: str = response.payload
    return payload


def _code(call: Any) -> Any:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code()


def test_tls(pb: SimpleNamespace, pki: SimpleNamespace, tmp_path: Path) -> None:
    with running_server(pki.tls_args, tmp_path / "stderr.log") as server:
        address = server.address
        credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca)
        with grpc.secure_channel(address, credentials) as channel:
            assert _echo(pb, channel) == "ping"


def test_mutual_tls_refuses_a_client_without_a_certificate(
    pb: SimpleNamespace, pki: SimpleNamespace, tmp_path: Path
) -> None:
    args = [*pki.tls_args, "--tls-client-ca", str(pki.dir / "ca.pem")]
    with running_server(args, tmp_path / "stderr.log") as server:
        address = server.address
        with_cert = grpc.ssl_channel_credentials(pki.ca, private_key=pki.client_key, certificate_chain=pki.client_cert)
        with grpc.secure_channel(address, with_cert) as channel:
            assert _echo(pb, channel) == "ping"
        without_cert = grpc.ssl_channel_credentials(root_certificates=pki.ca)
        with grpc.secure_channel(address, without_cert) as channel:
            assert _code(lambda: _echo(pb, channel)) == grpc.StatusCode.UNAVAILABLE


def test_bearer_tokens(pb: SimpleNamespace, pki: SimpleNamespace, tmp_path: Path) -> None:
    log_path = tmp_path / "stderr.log"
    args = [*pki.tls_args, "--tokens-file", str(pki.dir / "tokens.json")]
    with running_server(args, log_path) as server:
        address = server.address
        tls = grpc.ssl_channel_credentials(root_certificates=pki.ca)
        with grpc.secure_channel(address, tls) as channel:
            assert _code(lambda: _echo(pb, channel)) == grpc.StatusCode.UNAUTHENTICATED
            wrong = (("authorization", "Bearer not-the-token"),)
            assert _code(lambda: _echo(pb, channel, wrong)) == grpc.StatusCode.UNAUTHENTICATED
        # The token as grpcio sends one: call credentials, `authorization: Bearer ...` on every call.
        with_token = grpc.composite_channel_credentials(tls, grpc.access_token_call_credentials(TOKEN))
        with grpc.secure_channel(address, with_token) as channel:
            assert _echo(pb, channel) == "ping"
            claims = pb.claims_pb2_grpc.ClaimServiceStub(channel)
            request = pb.claims_pb2.ValidateClaimRequest()
            code = _code(lambda: claims.ValidateClaim(request, timeout=RPC_TIMEOUT_S))
            assert code == grpc.StatusCode.PERMISSION_DENIED, "billing-api may call CodeService only"
    log = log_path.read_text(encoding="utf-8")
    assert "caller=billing-api" in log, log
    assert TOKEN not in log, log
