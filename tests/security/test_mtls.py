"""`server.auth.mode: mtls` and `mtls+jwt`: a client certificate chained to the client CA
is required; its identity (URI SAN, else DNS SAN, else CN) is the principal, or under
mtls+jwt the JWT's subject is, with the certificate matched as `cert:<identity>`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from helpers import unique
from helpers.oidc import HS256_SECRET, claims, mint
from helpers.pki import (
    BOTH_DNS,
    BOTH_URI,
    CN_IDENTITY,
    DNS_IDENTITY,
    URI_IDENTITY,
    Issued,
    Pki,
)
from helpers.rpc import kvpb
from helpers.server import ServerProcess
from sectools import (
    PERMISSION_DENIED,
    UNAUTHENTICATED,
    Caller,
    audit_block,
    jwt_auth,
    running,
    secret_env,
    tls_credentials,
    wait_audit,
)

# Refused handshakes surface as UNAVAILABLE on the client (the server closes the TLS
# session); a server that finishes the handshake and refuses the call says UNAUTHENTICATED.
HANDSHAKE_REFUSED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


def only(name: str, *who: str) -> dict:
    return {
        "name": name,
        "patterns": ["keyvalue"],
        "backend": "memory",
        "access": {"read": list(who), "write": list(who)},
    }


MTLS_NAMESPACES = [
    only("uri-only", URI_IDENTITY),
    only("dns-only", DNS_IDENTITY),
    only("cn-only", CN_IDENTITY),
    only("both-only", BOTH_URI),
    only("cert-selector", f"cert:{URI_IDENTITY}"),
]


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mtls-audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def mtls_server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, audit_path: Path
) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("mtls-server"),
        MTLS_NAMESPACES,
        server={
            "auth": {"mode": "mtls", "tls": pki.server_tls(client_ca=True)},
            "audit": audit_block(audit_path),
        },
        env=secret_env(),
        credentials=tls_credentials(pki, pki.client_uri),
    )
    with running(proc):
        yield proc


def client_of(pki: Pki, which: str) -> Issued:
    issued: Issued = getattr(pki, which)
    return issued


@pytest.mark.parametrize(
    ("which", "identity", "own"),
    [
        ("client_uri", URI_IDENTITY, "uri-only"),
        ("client_dns", DNS_IDENTITY, "dns-only"),
        ("client_cn", CN_IDENTITY, "cn-only"),
        ("client_both", BOTH_URI, "both-only"),  # URI SAN wins over the DNS SAN
    ],
)
def test_certificate_identity_is_the_principal(
    mtls_server: ServerProcess, pki: Pki, which: str, identity: str, own: str
) -> None:
    key = unique("mtls").encode()
    with Caller(mtls_server.address, tls_credentials(pki, client_of(pki, which))) as caller:
        caller.put(own, key, b"mine")
        assert caller.get(own, key).item.value == b"mine"
        # Any other namespace admits other identities only: the denial names this one.
        other = "dns-only" if own != "dns-only" else "uri-only"
        err = caller.refused("Get", kvpb.GetRequest(namespace=other, key=key), PERMISSION_DENIED)
    message = err.details() or ""
    assert identity in message and other in message and "read" in message, message
    if which == "client_both":
        assert BOTH_DNS not in message, f"DNS SAN used although a URI SAN exists: {message}"


def test_principal_is_recorded_in_the_audit_line(
    mtls_server: ServerProcess, pki: Pki, audit_path: Path
) -> None:
    key = unique("mtls-audit").encode()
    with Caller(mtls_server.address, tls_credentials(pki, pki.client_dns)) as caller:
        caller.put("dns-only", key, b"v")
    lines = wait_audit(
        audit_path,
        lambda line: line.get("namespace") == "dns-only" and line.get("method") == "KeyValue/Put",
    )
    assert lines and lines[-1]["principal"] == DNS_IDENTITY, lines


def test_cert_selector_matches_the_certificate_identity(
    mtls_server: ServerProcess, pki: Pki
) -> None:
    with Caller(mtls_server.address, tls_credentials(pki, pki.client_uri)) as caller:
        assert caller.put("cert-selector", unique("sel").encode(), b"v").version > 0
    with Caller(mtls_server.address, tls_credentials(pki, pki.client_dns)) as caller:
        req = kvpb.PutRequest(namespace="cert-selector", key=b"k", value=b"v")
        caller.refused("Put", req, PERMISSION_DENIED)


@pytest.mark.parametrize("which", ["none", "client_untrusted", "client_expired"])
def test_missing_untrusted_or_expired_certificate_is_refused(
    mtls_server: ServerProcess, pki: Pki, which: str
) -> None:
    client = None if which == "none" else client_of(pki, which)
    key = unique(f"refused-{which}").encode()
    with Caller(mtls_server.address, tls_credentials(pki, client)) as caller:
        req = kvpb.PutRequest(namespace="uri-only", key=key, value=b"x")
        caller.refused("Put", req, *HANDSHAKE_REFUSED)
    # Nothing was written, and the server serves trusted clients as before.
    with Caller(mtls_server.address, tls_credentials(pki, pki.client_uri)) as caller:
        assert not caller.get("uri-only", key).found
    assert mtls_server.running


# ---- mtls+jwt ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mtls_jwt_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("mtls-jwt-server"),
        [only("alice-only", "alice"), only("cert-gated", f"cert:{URI_IDENTITY}")],
        server={"auth": jwt_auth(pki, None, mode="mtls+jwt")},
        env=secret_env(),
        credentials=tls_credentials(pki, pki.client_uri),
    )
    with running(proc):
        yield proc


def token(sub: str) -> str:
    return mint(claims(sub), secret=HS256_SECRET)


def test_mtls_jwt_principal_is_the_token_subject(mtls_jwt_server: ServerProcess, pki: Pki) -> None:
    creds = tls_credentials(pki, pki.client_dns)
    with Caller(mtls_jwt_server.address, creds, token=token("alice")) as alice:
        assert alice.put("alice-only", unique("mj").encode(), b"v").version > 0
    with Caller(mtls_jwt_server.address, creds, token=token("mallory")) as mallory:
        err = mallory.refused(
            "Get", kvpb.GetRequest(namespace="alice-only", key=b"k"), PERMISSION_DENIED
        )
    assert "mallory" in (err.details() or ""), err.details()


def test_mtls_jwt_cert_selector_matches_the_certificate(
    mtls_jwt_server: ServerProcess, pki: Pki
) -> None:
    # bob is not named anywhere, but his connection presents alice's workload certificate.
    with Caller(
        mtls_jwt_server.address, tls_credentials(pki, pki.client_uri), token=token("bob")
    ) as bob:
        assert bob.put("cert-gated", unique("gated").encode(), b"v").version > 0
    with Caller(
        mtls_jwt_server.address, tls_credentials(pki, pki.client_dns), token=token("bob")
    ) as bob_elsewhere:
        req = kvpb.PutRequest(namespace="cert-gated", key=b"k", value=b"v")
        bob_elsewhere.refused("Put", req, PERMISSION_DENIED)


def test_mtls_jwt_needs_both(mtls_jwt_server: ServerProcess, pki: Pki) -> None:
    # A certificate without a token: UNAUTHENTICATED naming the missing token.
    with Caller(mtls_jwt_server.address, tls_credentials(pki, pki.client_uri)) as no_token:
        err = no_token.refused(
            "Get", kvpb.GetRequest(namespace="alice-only", key=b"k"), UNAUTHENTICATED
        )
    assert "token" in (err.details() or "").lower(), err.details()
    # A token without a certificate: refused at the handshake.
    with Caller(mtls_jwt_server.address, tls_credentials(pki), token=token("alice")) as no_cert:
        no_cert.refused(
            "Get", kvpb.GetRequest(namespace="alice-only", key=b"k"), *HANDSHAKE_REFUSED
        )
