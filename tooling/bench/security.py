"""The cost of security on the cache-hit lane (issue 5): the same Get through a gateway
with JWT authn + a namespace access policy + the audit log, against twins with them off.

Three gateways share the gateway core and are loaded *at the same time*, each by its own
h2load on the load generator's core, in a few rounds:
- off: a plain twin, requests without a token;
- off+token: a plain twin sent the very request bytes the secured one gets, bearer token
  included (auth mode none ignores it);
- on: the secured twin.
Each side's cost is its requests per CPU-second over the round (utime + stime of all its
threads, exited ones included). Loaded together, the sides live through the same seconds
of this shared machine, whose neighbours switch it between a fast and a slow state every
few seconds (the same gateway measured 23 and 36 us CPU per request in consecutive 4 s
rounds); loaded one after another they did not, and the ratio swung from 0.71 to 1.16.

The target compares *on* with *off+token*: same bytes on the wire, so the difference is the
gateway's security work (verifying the token, the policy, the audit log). *On* against
*off* adds what carrying the token costs the transport: h2load, like nghttp2 in general,
sends `authorization` never-indexed, so h2 Huffman-decodes the whole token on every
request (clients that index it, such as grpc-go, grpc-java and tonic, send it once per
connection); that ratio is reported beside the target (ADR-010). Wall-clock req/s ratios
are kept in the JSON too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import h2load
from .proxy import Gateway, cpu_seconds

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


def _paired(numerators: list[float], denominators: list[float]) -> float:
    """The median of the ratios of values measured in the same round."""
    ratios = [
        a / b
        for a, b in zip(numerators, denominators, strict=True)
        if b and math.isfinite(a) and math.isfinite(b)
    ]
    return statistics.median(ratios) if ratios else math.nan


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
    """Start the three sides on `plain_like`'s core and load them together, round after
    round; medians, and the medians of the per-round ratios."""
    # The gateway uses the variable's bytes as they are (auth/jwt.rs), so the secret is
    # printable text: 32 random bytes in base64, signed and exported alike.
    secret = base64.b64encode(os.urandom(32))
    token = hs256_token(
        secret,
        {"sub": PRINCIPAL, "aud": AUDIENCE, "groups": ["bench"], "exp": int(time.time()) + 3600},
    )
    # Twins that differ only in security: the same single namespace (and cache); the plain
    # ones with auth none, the default policy and no audit log, the other with all three on.
    twin_namespace = {**secured_namespace(), "access": {"read": ["*"], "write": ["*"]}}
    sides = {
        "off": Gateway(workdir / "gateway-off", [twin_namespace], plain_like.core),
        "off+token": Gateway(workdir / "gateway-off-token", [twin_namespace], plain_like.core),
        "on": Gateway(
            workdir / "gateway-secured",
            [secured_namespace()],
            plain_like.core,
            server=secured_server(workdir),
            env={SECRET_ENV: secret.decode()},
            token=token,
        ),
    }
    auth_header = f"authorization: Bearer {token}"
    headers: dict[str, tuple[str, ...]] = {
        "off": (),
        "off+token": (auth_header,),
        "on": (auth_header,),
    }
    started: list[Gateway] = []
    try:
        for gw in sides.values():
            gw.start()
            started.append(gw)
        key, value = b"bench-key-".ljust(64, b"k"), bytes(range(256))
        for gw in started:
            gw.put(NAMESPACE, key, value)
            if gw.get(NAMESPACE, key).item.value != value:
                raise RuntimeError(f"{gw.address}: preloaded key not returned")
        body = workdir / "get-secured.bin"
        body.write_bytes(h2load.get_body(NAMESPACE, key))
        rps: dict[str, list[float]] = {name: [] for name in sides}
        cpu: dict[str, list[float]] = {name: [] for name in sides}

        def load(name: str) -> dict[str, Any]:
            gw = sides[name]
            return h2load.run(
                gw.address, h2load.GET_PATH, body, clients, duration_s, core, headers[name]
            )

        with ThreadPoolExecutor(len(sides)) as pool:
            # One unmeasured round first: a fresh gateway's first seconds (audit file,
            # token cache, allocator growth) cost more than its steady state.
            warm = dict(zip(sides, pool.map(load, sides), strict=True))
            if any(result["failed"] for result in warm.values()):
                raise RuntimeError(f"warm-up round failed: {warm}")
            for i in range(rounds):
                cpu0 = {name: cpu_seconds(gw.pid) for name, gw in sides.items()}
                t0 = time.monotonic()
                results = dict(zip(sides, pool.map(load, sides), strict=True))
                t1 = time.monotonic()
                cpu1 = {name: cpu_seconds(gw.pid) for name, gw in sides.items()}
                for name, result in results.items():
                    if result["failed"]:
                        raise RuntimeError(f"{name}: {result['failed']} requests failed")
                    rps[name].append(result["rps"])
                    # CPU us per request: utilisation over the round (h2load's warm-up
                    # second included, as in the other lanes) over the measured rate.
                    util = (cpu1[name] - cpu0[name]) / (t1 - t0)
                    cpu[name].append(util / result["rps"] * 1e6 if result["rps"] else math.inf)
                log(
                    f"security round {i + 1}/{rounds}: "
                    + ", ".join(
                        f"{name} {rps[name][-1]:,.0f} req/s ({cpu[name][-1]:.1f} us CPU/req)"
                        for name in sides
                    )
                )
        audit_lines = sum(1 for _ in open(workdir / "audit.jsonl", "rb"))
    finally:
        for gw in started:
            gw.stop()
    return {
        "what": "Get, cache hit, with JWT (HS256) authn + access policy + audit log",
        "tool": "h2load",
        "rps": statistics.median(rps["on"]),
        "rps_off": statistics.median(rps["off"]),
        "rps_off_token": statistics.median(rps["off+token"]),
        # Medians of per-round ratios: robust to the machine's drift between rounds.
        "capacity_ratio": _paired(cpu["off+token"], cpu["on"]),
        "capacity_ratio_vs_no_token": _paired(cpu["off"], cpu["on"]),
        "ratio_on_off": _paired(rps["on"], rps["off+token"]),
        "ratio_on_off_no_token": _paired(rps["on"], rps["off"]),
        "cpu_us_per_req_off": statistics.median(cpu["off"]),
        "cpu_us_per_req_off_token": statistics.median(cpu["off+token"]),
        "cpu_us_per_req_on": statistics.median(cpu["on"]),
        "proxy_cpu_us_per_req": statistics.median(cpu["on"]),
        "rounds_rps": rps,
        "rounds_cpu_us": cpu,
        "audit_lines": audit_lines,
    }
