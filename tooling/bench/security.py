"""The cost of security on the cache-hit lane (issue 5): the same Get through a gateway
with JWT authn + a namespace access policy + the audit log, against one with them off.

The two gateways run side by side on the same core and are loaded in alternating short
rounds, so drift on a shared machine hits both alike; each side's median is reported.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from . import h2load
from .proxy import Gateway

SECRET_ENV = "PRISM_BENCH_JWT_SECRET"
AUDIENCE = "prism-bench"
PRINCIPAL = "bench-client"
NAMESPACE = "bench-mem"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(secret: bytes, claims: dict[str, Any]) -> str:
    """A compact HS256 JWT (built here so the bench needs no JWT library)."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = _b64url(hmac.new(secret, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def secured_server(workdir: Any) -> dict[str, Any]:
    return {
        "auth": {
            "mode": "jwt",
            "jwt": {"audience": AUDIENCE, "hs256_secret_env": SECRET_ENV},
        },
        "audit": {"path": str(workdir / "audit.jsonl")},
    }


def secured_namespace() -> dict[str, Any]:
    # A policy that must be evaluated (not the `*` fast path) and an audited namespace.
    return {
        "name": NAMESPACE,
        "patterns": ["keyvalue"],
        "backend": "memory",
        "cache": {"enabled": True},
        "access": {"read": [PRINCIPAL, "group:bench"], "write": [PRINCIPAL]},
    }


def lane(
    plain_like: Gateway,
    workdir: Any,
    clients: int,
    duration_s: float,
    core: int,
    rounds: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Start twin gateways on `plain_like`'s core, one secured, then alternate rounds
    plain/secured; medians, and the median of the per-round ratios."""
    # The gateway uses the variable's bytes as they are (auth/jwt.rs), so the secret is
    # printable text: 32 random bytes in base64, signed and exported alike.
    secret = base64.b64encode(os.urandom(32))
    token = hs256_token(
        secret,
        {"sub": PRINCIPAL, "aud": AUDIENCE, "groups": ["bench"], "exp": int(time.time()) + 3600},
    )
    # Twins that differ only in security: the same single namespace (and cache), one with
    # auth none, the default policy and no audit log, the other with all three on.
    twin_namespace = {**secured_namespace(), "access": {"read": ["*"], "write": ["*"]}}
    plain = Gateway(workdir / "gateway-plain", [twin_namespace], plain_like.core)
    secured = Gateway(
        workdir / "gateway-secured",
        [secured_namespace()],
        plain_like.core,
        server=secured_server(workdir),
        env={SECRET_ENV: secret.decode()},
        token=token,
    )
    plain.start()
    try:
        secured.start()
    except BaseException:
        plain.stop()
        raise
    try:
        key, value = b"bench-key-".ljust(64, b"k"), bytes(range(256))
        for gw in (plain, secured):
            gw.put(NAMESPACE, key, value)
            if gw.get(NAMESPACE, key).item.value != value:
                raise RuntimeError(f"{gw.address}: preloaded key not returned")
        body = workdir / "get-secured.bin"
        body.write_bytes(h2load.get_body(NAMESPACE, key))
        auth_header = f"authorization: Bearer {token}"
        plain_rps: list[float] = []
        secured_rps: list[float] = []
        sides = [(plain, plain_rps, ()), (secured, secured_rps, (auth_header,))]
        for i in range(rounds):
            # ABBA order, so a drift during the lane does not favour either side.
            for gw, out, headers in sides if i % 2 == 0 else sides[::-1]:
                result = h2load.run(
                    gw.address, h2load.GET_PATH, body, clients, duration_s, core, headers
                )
                if result["failed"]:
                    raise RuntimeError(f"{gw.address}: {result['failed']} requests failed")
                out.append(result["rps"])
            log(
                f"security round {i + 1}/{rounds}: off {plain_rps[-1]:,.0f} req/s, "
                f"on {secured_rps[-1]:,.0f} req/s"
            )
        audit_lines = sum(1 for _ in open(workdir / "audit.jsonl", "rb"))
    finally:
        secured.stop()
        plain.stop()
    off, on = statistics.median(plain_rps), statistics.median(secured_rps)
    # The ratio of each adjacent pair, then their median: robust to the machine's drift.
    ratio = statistics.median(b / a for a, b in zip(plain_rps, secured_rps, strict=True) if a)
    return {
        "what": "Get, cache hit, with JWT (HS256) authn + access policy + audit log",
        "tool": "h2load",
        "rps": on,
        "rps_off": off,
        "ratio_on_off": ratio,
        "rounds_off": plain_rps,
        "rounds_on": secured_rps,
        "audit_lines": audit_lines,
    }
