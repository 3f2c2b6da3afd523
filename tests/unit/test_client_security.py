"""The client SDK's TLS, mTLS and bearer token (ADR-010), against a real grpc server on a
TLS listener with a CA and certificates made at test time; the server records what each
call carried (the authorization metadata, the client certificate's CN)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prism.client import AsyncPrismClient, PrismClient
from prism.errors import Unavailable
from prism.keyvalue.v1 import keyvalue_pb2 as kv


@dataclass
class Pem:
    cert: bytes
    key: bytes


def _issue(cn: str, issuer: tuple[Any, Any] | None, *, ca: bool = False, ip: str = "") -> Any:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_name, signer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
        builder = builder.add_extension(san, critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    pem = Pem(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return pem, (name, key)


@dataclass
class Pki:
    ca: Pem
    server: Pem
    client: Pem


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca, ca_signer = _issue("test-ca", None, ca=True)
    server, _ = _issue("gateway", ca_signer, ip="127.0.0.1")
    client, _ = _issue("svc-a", ca_signer)
    return Pki(ca, server, client)


class Recorder:
    """KeyValue.Get that answers not-found and keeps what each call carried."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get(self, request: kv.GetRequest, context: grpc.ServicerContext) -> kv.GetResponse:
        auth = context.auth_context()
        self.calls.append(
            {
                "authorization": dict(context.invocation_metadata()).get("authorization"),
                "cn": [v.decode() for v in auth.get("x509_common_name", [])],
                "namespace": request.namespace,
            }
        )
        return kv.GetResponse(found=False)


def serve(recorder: Recorder, credentials: grpc.ServerCredentials | None) -> tuple[Any, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.unary_unary_rpc_method_handler(
        recorder.get,
        request_deserializer=kv.GetRequest.FromString,
        response_serializer=kv.GetResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("prism.keyvalue.v1.KeyValue", {"Get": handler}),)
    )
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
def mtls_gateway(pki: Pki) -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()
    creds = grpc.ssl_server_credentials(
        [(pki.server.key, pki.server.cert)],
        root_certificates=pki.ca.cert,
        require_client_auth=True,
    )
    server, target = serve(recorder, creds)
    yield recorder, target
    server.stop(None)


def test_mtls_and_token_reach_the_server(pki: Pki, mtls_gateway: tuple[Recorder, str]) -> None:
    recorder, target = mtls_gateway
    with PrismClient(
        target,
        token="jwt-abc",
        root_certificates=pki.ca.cert,
        certificate_chain=pki.client.cert,
        private_key=pki.client.key,
        retries=1,
    ) as client:
        assert client.kv("orders").get("k") is None
    assert recorder.calls == [
        {"authorization": "Bearer jwt-abc", "cn": ["svc-a"], "namespace": "orders"}
    ]


def test_without_a_client_certificate_mtls_refuses(
    pki: Pki, mtls_gateway: tuple[Recorder, str]
) -> None:
    recorder, target = mtls_gateway
    with PrismClient(target, root_certificates=pki.ca.cert, retries=1, timeout=5) as client:
        with pytest.raises(Unavailable):
            client.kv("orders").get("k")
    assert recorder.calls == []


def test_async_client_sends_token_over_plaintext_and_tls(pki: Pki) -> None:
    plain, tls = Recorder(), Recorder()
    plain_server, plain_target = serve(plain, None)
    tls_server, tls_target = serve(
        tls, grpc.ssl_server_credentials([(pki.server.key, pki.server.cert)])
    )

    async def run() -> None:
        async with AsyncPrismClient(plain_target, token="t1", retries=1) as client:
            assert await client.kv("a").get("k") is None
        async with AsyncPrismClient(
            tls_target, token="t2", root_certificates=pki.ca.cert, retries=1
        ) as client:
            assert await client.kv("b").get("k") is None

    try:
        asyncio.run(run())
    finally:
        plain_server.stop(None)
        tls_server.stop(None)
    assert plain.calls == [{"authorization": "Bearer t1", "cn": [], "namespace": "a"}]
    assert tls.calls == [{"authorization": "Bearer t2", "cn": [], "namespace": "b"}]


def test_bad_security_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="certificate_chain and private_key go together"):
        PrismClient("127.0.0.1:1", certificate_chain=b"x")
    with pytest.raises(ValueError, match="line breaks"):
        PrismClient("127.0.0.1:1", token="a\nb")
