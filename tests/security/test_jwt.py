"""`server.auth.mode: jwt` on a TLS listener: RS256 and ES256 tokens verified with keys
from the issuer's JWKS (served by a local HTTP server), HS256 with the development
secret; every malformed, expired, premature, misaddressed or forged token is
UNAUTHENTICATED with a message giving the reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from helpers import unique
from helpers.oidc import (
    HS256_SECRET,
    JwksServer,
    SigningKey,
    claims,
    ec_key,
    mint,
    mint_unsigned,
    rsa_key,
    tamper,
)
from helpers.pki import Pki
from helpers.rpc import kvpb
from helpers.server import ServerProcess
from sectools import (
    PERMISSION_DENIED,
    Caller,
    jwt_auth,
    running,
    secret_env,
    tls_credentials,
    unauthenticated,
)

LEEWAY_S = 5  # jwt_auth's leeway_seconds
USERS = ["alice", "erin", "dev", "rotated", "cached", "lenient"]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, jwks: JwksServer
) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("jwt-server"),
        [
            {
                "name": "jwt",
                "patterns": ["keyvalue"],
                "backend": "memory",
                "access": {"read": USERS, "write": USERS},
            }
        ],
        # A long background refresh: a key published later is found by the refresh a
        # token with an unknown kid triggers, not by the timer.
        server={"auth": jwt_auth(pki, jwks, jwks_refresh_seconds=300)},
        env=secret_env(),
        credentials=tls_credentials(pki),
    )
    with running(proc):
        yield proc


@pytest.fixture
def caller(server: ServerProcess, pki: Pki) -> Callable[..., Caller]:
    def make(token: str | None = None, raw: str | None = None) -> Caller:
        return Caller(server.address, tls_credentials(pki), token=token, raw_authorization=raw)

    return make


def roundtrip(c: Caller) -> None:
    key = unique("jwt").encode()
    with c:
        c.put("jwt", key, b"signed in")
        assert c.get("jwt", key).item.value == b"signed in"


def test_rs256_token_from_jwks(caller: Callable[..., Caller], rsa_signer: SigningKey) -> None:
    roundtrip(caller(mint(claims("alice"), rsa_signer)))


def test_es256_token_from_jwks(caller: Callable[..., Caller], ec_signer: SigningKey) -> None:
    roundtrip(caller(mint(claims("erin"), ec_signer)))


def test_hs256_development_secret(caller: Callable[..., Caller]) -> None:
    roundtrip(caller(mint(claims("dev"), secret=HS256_SECRET)))


def test_expiry_within_leeway_is_accepted(
    caller: Callable[..., Caller], rsa_signer: SigningKey
) -> None:
    roundtrip(caller(mint(claims("lenient", lifetime=-2), rsa_signer)))


def test_subject_is_the_principal(caller: Callable[..., Caller], rsa_signer: SigningKey) -> None:
    # A valid token for someone the namespace does not list: authenticated, then denied
    # by name (so the principal came from `sub`).
    with caller(mint(claims("mallory"), rsa_signer)) as mallory:
        err = mallory.refused("Get", kvpb.GetRequest(namespace="jwt", key=b"k"), PERMISSION_DENIED)
    assert "mallory" in (err.details() or ""), err.details()


def _hs256_with(secret: bytes, payload: dict, kid: str) -> str:
    """HS256 signed by hand (PyJWT refuses to use a PEM key as an HMAC secret, which is
    exactly the algorithm-confusion attack tested here)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(payload).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def bad_tokens(rsa: SigningKey, ec: SigningKey) -> dict[str, tuple[str, str]]:
    """name -> (token, regex the UNAUTHENTICATED message must match)."""
    stranger = rsa_key(rsa.kid)  # same kid, another key: a forged signature
    unknown = rsa_key("no-such-kid")
    public_pem = rsa.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    no_exp = claims("alice")
    del no_exp["exp"]
    return {
        "expired": (mint(claims("alice", lifetime=-120), rsa), r"expired"),
        "not-yet-valid": (
            mint(claims("alice", not_before=120), rsa),
            r"not (yet )?valid|before|nbf|premature|immature",
        ),
        "wrong-audience": (mint(claims("alice", aud="someone-else"), rsa), r"audience|\baud\b"),
        "wrong-issuer": (mint(claims("alice", iss="https://evil.test"), rsa), r"issuer|\biss\b"),
        "forged-signature": (mint(claims("alice"), stranger), r"signature"),
        "tampered-payload": (
            tamper(mint(claims("alice"), rsa), sub="root"),
            r"signature",
        ),
        "alg-none": (mint_unsigned(claims("alice"), kid=rsa.kid), r"\bnone\b|alg"),
        "unknown-kid": (mint(claims("alice"), unknown), r"unknown.*key|kid"),
        "hs256-wrong-secret": (
            mint(claims("dev"), secret="not-the-secret-but-long-enough-for-hs256!"),
            r"signature",
        ),
        "hs256-keyed-with-rsa-public-key": (
            _hs256_with(public_pem, claims("alice"), rsa.kid),
            r"alg|signature|key",
        ),
        "rs256-header-on-ec-key": (
            mint(claims("alice"), rsa, kid=ec.kid),
            r"alg|signature|key",
        ),
        "no-exp-claim": (mint(no_exp, rsa), r"exp"),
        "garbage": ("not-a.jwt-at.all", r"token|malformed|invalid|decode|base64|json"),
    }


BAD = [
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "wrong-issuer",
    "forged-signature",
    "tampered-payload",
    "alg-none",
    "unknown-kid",
    "hs256-wrong-secret",
    "hs256-keyed-with-rsa-public-key",
    "rs256-header-on-ec-key",
    "no-exp-claim",
    "garbage",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_token_is_unauthenticated_with_the_reason(
    caller: Callable[..., Caller], rsa_signer: SigningKey, ec_signer: SigningKey, case: str
) -> None:
    token, reason = bad_tokens(rsa_signer, ec_signer)[case]
    with caller(token) as c:
        message = unauthenticated(c)
    assert re.search(reason, message, re.IGNORECASE), f"{case}: reason not given: {message!r}"
    assert token not in message, "the message echoes the token"


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, r"missing|no .*token|bearer"),
        ("Basic YWxpY2U6c2VjcmV0", r"bearer"),
        ("Bearer ", r"missing|empty|token"),
    ],
)
def test_missing_bearer_token(
    caller: Callable[..., Caller], authorization: str | None, reason: str
) -> None:
    with caller(raw=authorization) as c:
        message = unauthenticated(c)
    assert re.search(reason, message, re.IGNORECASE), message


def test_cached_token_is_refused_after_it_expires(
    caller: Callable[..., Caller], rsa_signer: SigningKey
) -> None:
    # Verified tokens are cached by hash until `exp`: the cache must not outlive it.
    payload = claims("cached", lifetime=1)
    token = mint(payload, rsa_signer)
    with caller(token) as c:
        c.put("jwt", unique("cached").encode(), b"v")
        time.sleep(max(0.0, payload["exp"] + LEEWAY_S + 1.2 - time.time()))
        message = unauthenticated(c)
    assert re.search(r"expired", message, re.IGNORECASE), message


def test_key_rotation_is_picked_up_from_the_jwks(
    caller: Callable[..., Caller],
    jwks: JwksServer,
    rsa_signer: SigningKey,
    ec_signer: SigningKey,
) -> None:
    rotated = ec_key("ec-2")
    token = mint(claims("rotated"), rotated)
    with caller(token) as c:
        message = unauthenticated(c)
        assert re.search(r"unknown.*key|kid", message, re.IGNORECASE), message
        jwks.publish([rsa_signer, ec_signer, rotated])
        try:
            # The background refresh is 300 s away: only the unknown-kid refresh can find
            # the new key (rate-limited, so allow a few seconds).
            deadline = time.monotonic() + 15
            while True:
                try:
                    c.get("jwt", b"after-rotation")
                    break
                except grpc.RpcError as err:
                    assert time.monotonic() < deadline, f"rotated key never accepted: {err}"
                    time.sleep(0.5)
        finally:
            jwks.publish([rsa_signer, ec_signer])
