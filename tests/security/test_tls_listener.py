"""`server.auth.mode: tls`: the listener speaks TLS with the configured certificate;
TLS clients that trust its CA are served (as `anonymous`), plaintext clients and clients
that do not trust the certificate get nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from helpers import unique
from helpers.pki import Pki
from helpers.rpc import kvpb
from helpers.server import ServerProcess
from sectools import Caller, audit_block, running, secret_env, tls_credentials, wait_audit

NAMESPACES = [{"name": "mem", "patterns": ["keyvalue"], "backend": "memory"}]


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls-audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, audit_path: Path
) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("tls-server"),
        NAMESPACES,
        server={"auth": {"mode": "tls", "tls": pki.server_tls()}, "audit": audit_block(audit_path)},
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    with running(proc):
        yield proc


def test_tls_client_is_served_as_anonymous(
    server: ServerProcess, pki: Pki, audit_path: Path
) -> None:
    key = unique("tls").encode()
    with Caller(server.address, tls_credentials(pki)) as caller:
        version = caller.put("mem", key, b"over tls").version
        got = caller.get("mem", key)
    assert got.found and got.item.value == b"over tls" and got.item.version == version
    lines = wait_audit(
        audit_path, lambda line: line.get("method") == "KeyValue/Put" and line["code"] == "OK"
    )
    assert lines, "no audit line for the Put over TLS"
    assert lines[-1]["principal"] == "anonymous", lines[-1]


def test_plaintext_client_is_refused(server: ServerProcess, pki: Pki) -> None:
    key = unique("plain").encode()
    with Caller(server.address) as plain:
        plain.refused(
            "Put",
            kvpb.PutRequest(namespace="mem", key=key, value=b"x"),
            grpc.StatusCode.UNAVAILABLE,
        )
    # Nothing reached the data path: the key was not written.
    with Caller(server.address, tls_credentials(pki)) as caller:
        assert not caller.get("mem", key).found
    assert server.running, f"server died on a plaintext client\n{server.log_tail()}"


def test_client_that_does_not_trust_the_server_certificate_fails(
    server: ServerProcess, pki: Pki
) -> None:
    # The client trusts another CA: the handshake fails on the client side.
    with Caller(server.address, tls_credentials(pki, root=pki.untrusted_ca.cert_pem)) as caller:
        caller.refused(
            "Get", kvpb.GetRequest(namespace="mem", key=b"k"), grpc.StatusCode.UNAVAILABLE
        )


def test_tls_without_client_certificate_is_not_mtls(server: ServerProcess, pki: Pki) -> None:
    # Mode tls asks for no client certificate; presenting one is harmless and still anonymous.
    with Caller(server.address, tls_credentials(pki, pki.client_uri)) as caller:
        assert caller.put("mem", unique("cert").encode(), b"v").version > 0
