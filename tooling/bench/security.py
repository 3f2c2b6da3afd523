"""The cost of security on the cache-hit lane (issue 5): the same Get through a gateway
with JWT authn + a namespace access policy + the audit log, against one with them off.

The two gateways run side by side on the same core and are loaded in alternating short
rounds, so drift on a shared machine hits both alike; each side's median is reported.

Two ratios come out. The wall-clock one (req/s on / req/s off) moves with whatever else
the shared machine runs during each round: rounds of one lane measured 11k to 33k req/s
while a build ran. The capacity one divides each round's requests by the CPU time the
gateway process (all its threads, the audit writer included) spent on them: on a
saturated, pinned core throughput is CPU share / CPU per request, and the noise changes
the share, not the cost per request. The issue-5 target is checked on the capacity ratio
(ADR-010, "How the cost is measured"); the wall-clock ratio is reported beside it.
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
from pathlib import Path
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


def run_time_s(pid: int) -> float:
    """CPU time of every thread of `pid` in seconds, from each thread's schedstat
    (nanoseconds; /proc/<pid>/stat counts in clock ticks, 1% of a 1 s round)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between listing and reading
    return total / 1e9


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
        plain_cpu: list[float] = []
        secured_cpu: list[float] = []
        sides = [
            (plain, plain_rps, plain_cpu, ()),
            (secured, secured_rps, secured_cpu, (auth_header,)),
        ]
        for i in range(rounds):
            # ABBA order, so a drift during the lane does not favour either side.
            for gw, out, cpu_out, headers in sides if i % 2 == 0 else sides[::-1]:
                cpu0, t0 = run_time_s(gw.pid), time.monotonic()
                result = h2load.run(
                    gw.address, h2load.GET_PATH, body, clients, duration_s, core, headers
                )
                cpu1, t1 = run_time_s(gw.pid), time.monotonic()
                if result["failed"]:
                    raise RuntimeError(f"{gw.address}: {result['failed']} requests failed")
                out.append(result["rps"])
                # CPU us per request: utilisation over the round (h2load's warm-up second
                # included, as in the other lanes) over the measured rate.
                util = (cpu1 - cpu0) / (t1 - t0)
                cpu_out.append(util / result["rps"] * 1e6 if result["rps"] else float("inf"))
            log(
                f"security round {i + 1}/{rounds}: off {plain_rps[-1]:,.0f} req/s "
                f"({plain_cpu[-1]:.1f} us CPU/req), on {secured_rps[-1]:,.0f} req/s "
                f"({secured_cpu[-1]:.1f} us CPU/req)"
            )
        audit_lines = sum(1 for _ in open(workdir / "audit.jsonl", "rb"))
    finally:
        secured.stop()
        plain.stop()
    off, on = statistics.median(plain_rps), statistics.median(secured_rps)
    # The ratio of each adjacent pair, then their median: robust to the machine's drift.
    ratio = statistics.median(b / a for a, b in zip(plain_rps, secured_rps, strict=True) if a)
    # Requests per CPU-second, on over off: the same pairing, from each round's CPU cost.
    capacity = statistics.median(
        a / b for a, b in zip(plain_cpu, secured_cpu, strict=True) if b and a != float("inf")
    )
    return {
        "what": "Get, cache hit, with JWT (HS256) authn + access policy + audit log",
        "tool": "h2load",
        "rps": on,
        "rps_off": off,
        "ratio_on_off": ratio,
        "capacity_ratio": capacity,
        "cpu_us_per_req_off": statistics.median(plain_cpu),
        "cpu_us_per_req_on": statistics.median(secured_cpu),
        "proxy_cpu_us_per_req": statistics.median(secured_cpu),
        "rounds_off": plain_rps,
        "rounds_on": secured_rps,
        "rounds_cpu_off": plain_cpu,
        "rounds_cpu_on": secured_cpu,
        "audit_lines": audit_lines,
    }
