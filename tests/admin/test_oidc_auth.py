"""OIDC JWTs on the admin API (ADR-010): an RSA issuer whose JWKS (and discovery document)
a local http.server serves; valid tokens act with their role, bad ones are 401 naming the
reason, a token without a role is 403, and API tokens keep working beside them."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from conftest import ADMIN_TOKEN, client_for, kv_spec, settings_for
from cryptography.hazmat.primitives.asymmetric import rsa
from prism.admin.server import AdminServer

AUDIENCE = "prism-admin"
KID = "test-key-1"


class Issuer:
    """An RSA signing key and an HTTP server publishing its JWKS and discovery document."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]})
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path == "/jwks.json":
                    body = jwks
                elif self.path == "/.well-known/openid-configuration":
                    body = json.dumps({"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"})
                else:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(
        self, *, key: Any = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            "prism_role": "operator",
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload, key or self.key, algorithm="RS256", headers={"kid": KID, **(headers or {})}
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    iss = Issuer()
    yield iss
    iss.close()


@pytest.fixture
def oidc_admin(tmp_path: Path, issuer: Issuer) -> Iterator[AdminServer]:
    settings = settings_for(
        tmp_path,
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=f"{issuer.url}/jwks.json",
    )
    with AdminServer(settings) as server:
        yield server


def call(server: AdminServer, token: str) -> httpx.Response:
    with client_for(server, token) as client:
        return client.post("/v1/namespaces", json=kv_spec("made-by-oidc"))


def test_valid_token_acts_with_its_role(oidc_admin: AdminServer, issuer: Issuer) -> None:
    response = call(oidc_admin, issuer.token())
    assert response.status_code == 201, response.text
    with client_for(oidc_admin) as api:
        entry = api.get("/v1/audit", params={"target": "made-by-oidc"}).json()[0]
        assert entry["actor"] == "oidc:alice"
        # operator is not admin: token management stays closed
        with client_for(oidc_admin, issuer.token()) as operator:
            assert operator.get("/v1/tokens").status_code == 403
            assert api.get("/v1/tokens").status_code == 200  # the API token still works
    viewer = issuer.token(prism_role=["viewer"])
    assert call(oidc_admin, viewer).status_code == 403
    with client_for(oidc_admin, viewer) as client:
        assert client.get("/v1/namespaces").status_code == 200


def _unsigned(payload: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{part(payload)}."


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda i: i.token(exp=int(time.time()) - 3600), 401, "token expired"),
        (lambda i: i.token(nbf=int(time.time()) + 3600), 401, "not yet valid"),
        (lambda i: i.token(aud="someone-else"), 401, "wrong audience"),
        (lambda i: i.token(iss="https://evil.example"), 401, "wrong issuer"),
        (lambda i: i.token(exp=None), 401, "'exp'"),
        (
            lambda i: i.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            401,
            "bad signature",
        ),
        (
            lambda i: i.token(headers={"kid": "unknown-kid"}),
            401,
            "unknown signing key",
        ),
        (
            lambda i: _unsigned(
                {
                    "iss": i.url,
                    "aud": AUDIENCE,
                    "sub": "eve",
                    "prism_role": "admin",
                    "exp": int(time.time()) + 300,
                }
            ),
            401,
            "algorithm 'none' is not allowed",
        ),
        (
            lambda i: jwt.encode(
                {"aud": AUDIENCE, "sub": "eve", "prism_role": "admin"}, "x" * 32, algorithm="HS256"
            ),
            401,
            "algorithm 'HS256' is not allowed",
        ),
        (lambda i: i.token(prism_role=None), 403, "claim 'prism_role'"),
        (lambda i: i.token(prism_role="superuser"), 403, "viewer, operator, admin"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(
    oidc_admin: AdminServer, issuer: Issuer, make: Any, status: int, reason: str
) -> None:
    response = call(oidc_admin, make(issuer))
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    with client_for(oidc_admin, ADMIN_TOKEN) as api:
        assert api.get("/v1/namespaces/made-by-oidc").status_code == 404


def test_keys_are_discovered_from_the_issuer(tmp_path: Path, issuer: Issuer) -> None:
    settings = settings_for(
        tmp_path, oidc_issuer=issuer.url, oidc_audience=AUDIENCE, oidc_role_claim="role"
    )
    with AdminServer(settings) as server:
        assert call(server, issuer.token(role="admin", prism_role=None)).status_code == 201


def test_half_configured_oidc_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PRISM_ADMIN_OIDC_AUDIENCE"):
        AdminServer(settings_for(tmp_path, oidc_issuer="https://id.example")).start()
