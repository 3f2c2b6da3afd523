"""The lanes, run back to back against one gateway process and the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import direct, h2load, security
from .proxy import Gateway, cpu_seconds, memory_kib, pin

KEY = b"bench-key-".ljust(64, b"k")
VALUE = bytes(range(256))
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plan:
    clients: int
    duration_s: float
    workdir: Path
    gateway_core: int = 0
    loadgen_core: int = 1


def stack_up() -> dict[str, str]:
    """Start (idempotently) the stack's Redis and PostgreSQL; return its env variables."""
    run = [sys.executable, "-m", "tooling.stack"]
    subprocess.run(
        [*run, "up", "--only", "postgres,redis"],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    out = subprocess.run([*run, "env"], cwd=REPO, check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key.strip()] = value.strip().strip("'\"")
    return env


def stack_pid(name: str) -> int | None:
    root = Path(os.environ.get("PRISM_STACK_DIR", REPO / ".prism-stack"))
    try:
        return int(json.loads((root / "state.json").read_text())[name]["pid"])
    except (OSError, KeyError, ValueError):
        return None


def namespaces(env: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "bench-mem",
            "patterns": ["keyvalue"],
            "backend": "memory",
            "cache": {"enabled": True},
        },
        {
            "name": "bench-lite",
            "patterns": ["keyvalue"],
            "backend": "sqlite",
            "cache": {"enabled": False},
        },
        {
            "name": "bench-redis",
            "patterns": ["keyvalue"],
            "backend": "redis",
            "config": {"url": env["PRISM_REDIS_URL"]},
            "cache": {"enabled": False},
        },
        {
            "name": "bench-pg",
            "patterns": ["keyvalue"],
            "backend": "postgres",
            "config": {"url": env["PRISM_POSTGRES_URL"]},
            "cache": {"enabled": False},
        },
    ]


def proxy_lane(gw: Gateway, plan: Plan, namespace: str) -> dict[str, Any]:
    """Preload the key, check a Get returns it, then h2load Get with /proc sampling."""
    gw.put(namespace, KEY, VALUE)
    resp = gw.get(namespace, KEY)
    if not resp.found or resp.item.value != VALUE:
        raise RuntimeError(f"{namespace}: preloaded key not returned by Get")
    body = plan.workdir / f"get-{namespace}.bin"
    body.write_bytes(h2load.get_body(namespace, KEY))
    cpu0, t0 = cpu_seconds(gw.pid), time.monotonic()
    result = h2load.run(
        gw.address, h2load.GET_PATH, body, plan.clients, plan.duration_s, plan.loadgen_core
    )
    cpu1, t1 = cpu_seconds(gw.pid), time.monotonic()
    mem = memory_kib(gw.pid)
    # CPU utilisation over the whole run (warm-up included) divided by the measured rate.
    util = (cpu1 - cpu0) / (t1 - t0)
    result["proxy_cpu_util"] = util
    result["proxy_cpu_us_per_req"] = util / result["rps"] * 1e6 if result["rps"] else None
    result["proxy_rss_mib"] = mem["VmRSS"] / 1024
    result["proxy_rss_peak_mib"] = mem["VmHWM"] / 1024
    return result


def _pinned(name: str, core: int, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `fn` with the stack server `name` pinned to `core`, then unpin it."""
    pid = stack_pid(name)
    if pid is not None:
        pin(pid, str(core))
    try:
        return fn()
    finally:
        if pid is not None:
            pin(pid, f"0-{(os.cpu_count() or 1) - 1}")


def run_all(plan: Plan, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    env = stack_up()
    redis_url, pg_url = env["PRISM_REDIS_URL"], env["PRISM_POSTGRES_URL"]
    direct.pgbench_init(pg_url)
    gw = Gateway(plan.workdir / "gateway", namespaces(env), plan.gateway_core)
    gw.start()
    lanes: dict[str, dict[str, Any]] = {}
    g, c, d, lg = plan.gateway_core, plan.clients, plan.duration_s, plan.loadgen_core
    steps: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("B", "Get, cache hit, memory backend", lambda: proxy_lane(gw, plan, "bench-mem")),
        (
            "B(secured)",
            "Get, cache hit, JWT + access policy + audit, alternating with B",
            lambda: security.lane(gw, plan.workdir, c, max(2.0, d / 2), lg, 2 if d < 5 else 3, log),
        ),
        (
            "D",
            "Get via Python bridge: sqlite plugin, cache off",
            lambda: proxy_lane(gw, plan, "bench-lite"),
        ),
        (
            "E(Redis)",
            "Get via redis plugin, cache off",
            lambda: _pinned("redis", g, lambda: proxy_lane(gw, plan, "bench-redis")),
        ),
        (
            "A(Redis)",
            "redis-benchmark GET -P 1",
            lambda: _pinned("redis", g, lambda: direct.redis_get(redis_url, c, d, lg)),
        ),
        (
            "E(PostgreSQL)",
            "Get via postgres plugin, cache off",
            lambda: _pinned("postgres", g, lambda: proxy_lane(gw, plan, "bench-pg")),
        ),
        (
            "A(PostgreSQL)",
            "pgbench -S -M prepared",
            lambda: _pinned("postgres", g, lambda: direct.pgbench_select(pg_url, c, d, lg)),
        ),
    ]
    try:
        for name, what, step in steps:
            log(f"lane {name}: {what} ...")
            try:
                lanes[name] = {"what": what, **step()}
                log(f"lane {name}: {lanes[name]['rps']:,.0f} req/s")
            except Exception as exc:  # one broken lane must not lose the others
                lanes[name] = {"what": what, "error": f"{type(exc).__name__}: {exc}"[:300]}
                log(f"lane {name}: ERROR {lanes[name]['error']}")
    finally:
        gw.stop()
    return lanes
