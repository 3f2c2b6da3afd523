"""A local OIDC issuer for JWT tests: signing keys, a JWKS server and token minting.

`JwksServer` serves `/jwks.json` and `/.well-known/openid-configuration` from a thread
on 127.0.0.1 (a real HTTP server, so the gateway fetches keys the way it would from an
identity provider); `publish()` swaps the key set, which is how a key rotation looks to
the gateway. `mint()` signs with PyJWT; `mint_unsigned()` builds an `alg: none` token by
hand, since PyJWT will not make one that a careless verifier could accept.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.prism.test"
AUDIENCE = "prism-gateway-tests"
# The HS256 development secret (the gateway reads it from an environment variable).
HS256_SECRET = "prism-test-hs256-secret-0123456789abcdef"


@dataclass(frozen=True)
class SigningKey:
    """A private key with its JWS algorithm and key id."""

    kid: str
    alg: str  # RS256 or ES256
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, Any]:
        """The public half as a JWK with kid, alg and use."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            doc = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            doc = ECAlgorithm.to_jwk(public, as_dict=True)
        return dict(doc, kid=self.kid, alg=self.alg, use="sig")


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


class JwksServer:
    """Serves a JWKS (and an OIDC discovery document) on 127.0.0.1:<free port>."""

    def __init__(self, keys: Iterable[SigningKey] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = list(keys)
        self.fetches = 0  # JWKS requests served, to see refreshes happen
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                body: dict[str, Any]
                if self.path.split("?")[0] == "/jwks.json":
                    with owner._lock:
                        owner.fetches += 1
                        body = {"keys": [k.jwk() for k in owner._keys]}
                elif self.path.split("?")[0] == "/.well-known/openid-configuration":
                    body = {"issuer": owner.issuer, "jwks_uri": owner.jwks_url}
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep pytest output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/jwks.json"

    @property
    def issuer(self) -> str:
        return self.base_url

    def publish(self, keys: Iterable[SigningKey]) -> None:
        """Replace the published key set (a rotation, seen at the next fetch)."""
        with self._lock:
            self._keys = list(keys)

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> JwksServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def claims(
    sub: str,
    *,
    iss: str = ISSUER,
    aud: str | list[str] = AUDIENCE,
    lifetime: float = 300,
    not_before: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Registered claims for `sub`, valid from now for `lifetime` seconds (negative:
    already expired); `not_before` is an offset from now for `nbf`."""
    now = int(time.time())
    out: dict[str, Any] = {"sub": sub, "iss": iss, "aud": aud, "iat": now}
    out["exp"] = int(now + lifetime)
    if not_before is not None:
        out["nbf"] = int(now + not_before)
    out.update(extra)
    return out


def mint(
    payload: Mapping[str, Any],
    key: SigningKey | None = None,
    *,
    alg: str | None = None,
    kid: str | None = None,
    secret: str | bytes | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """A signed JWT: with `key` (its alg and kid unless overridden), or with an HMAC
    `secret` (alg HS256 unless overridden)."""
    header: dict[str, Any] = dict(headers or {})
    if key is not None:
        signing: Any = key.private
        alg = alg or key.alg
        kid = key.kid if kid is None else kid
    else:
        assert secret is not None, "mint needs a key or a secret"
        signing = secret
        alg = alg or "HS256"
    if kid:
        header["kid"] = kid
    return jwt.encode(dict(payload), signing, algorithm=alg, headers=header or None)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint_unsigned(payload: Mapping[str, Any], kid: str | None = None) -> str:
    """An `alg: none` token with an empty signature, built by hand."""
    header: dict[str, Any] = {"alg": "none", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    head = _b64url(json.dumps(header).encode())
    body = _b64url(json.dumps(dict(payload)).encode())
    return f"{head}.{body}."


def tamper(token: str, **changes: Any) -> str:
    """The same header and signature over a payload with `changes` applied."""
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    return f"{head}.{_b64url(json.dumps(payload).encode())}.{sig}"
