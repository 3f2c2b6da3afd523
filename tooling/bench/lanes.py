"""The lanes, run back to back against one gateway process and the local stack.

Every lane has the saturation regime (h2load, closed loop); B, D, E(Redis) and A(Redis)
also have the open-loop regime at a fixed offered load (`open` in their result).
"""

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
from urllib.parse import urlsplit

from . import direct, h2load, noop, security, tools
from .engine_only import EngineOnly
from .proxy import Gateway, cpu_seconds, memory_kib, pin

KEY = b"bench-key-".ljust(64, b"k")
VALUE = bytes(range(256))
REPO = Path(__file__).resolve().parents[2]
TS_BATCHES = (1, 100)
# (lane label, stack server, namespace) of the write lanes W and the TimeSeries lanes TS.
W_BACKENDS = (("Redis", "redis", "bench-redis"), ("PostgreSQL", "postgres", "bench-pg"))
W_LOCAL = ("SQLite", None, "bench-lite")  # an embedded database: no server to pin
TS_BACKENDS = (
    ("Kafka", "kafka", "bench-ts-kafka"),
    ("NATS", "nats", "bench-ts-nats"),
    ("PostgreSQL", "postgres", "bench-ts-pg"),
)

Result = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    clients: int
    duration_s: float
    workdir: Path
    bin_dir: Path
    smoke: bool = False
    open_rate: float = 1000.0
    open_s: float = 5.0
    open_warmup_s: float = 1.0
    gateway_core: int = 0
    loadgen_core: int = 1
    only: tuple[str, ...] = ()  # run only the steps whose name starts with one of these

    @property
    def stack(self) -> list[str]:
        """Smoke skips W and TS, so it needs neither NATS nor the slow-starting Kafka."""
        return ["postgres", "redis"] if self.smoke else ["postgres", "redis", "nats", "kafka"]


def stack_up(names: list[str]) -> dict[str, str]:
    """Start (idempotently) the given stack servers; return the stack's env variables."""
    run = [sys.executable, "-m", "tooling.stack"]
    subprocess.run(
        [*run, "up", "--only", ",".join(names)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=600,
    )
    out = subprocess.run([*run, "env"], cwd=REPO, check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key.strip()] = value.strip().strip("'\"")
    return env


def stack_running(names: list[str]) -> list[str]:
    """The servers of `names` that are up now (the stack's recorded pid is alive)."""
    up = []
    for name in names:
        pid = stack_pid(name)
        if pid is None:
            continue
        try:
            os.kill(pid, 0)
        except OSError:
            continue
        up.append(name)
    return up


def stack_restore(started: list[str], was_up: list[str]) -> None:
    """Stop what the bench started: the whole stack (and its data dir) when nothing was
    running before, else only the servers it added, leaving the user's ones running."""
    run = [sys.executable, "-m", "tooling.stack"]
    if not started:
        return
    cmd = [*run, "down"] if not was_up else [*run, "stop", *started]
    subprocess.run(cmd, cwd=REPO, check=False, capture_output=True, timeout=300)


def stack_pid(name: str) -> int | None:
    root = Path(os.environ.get("PRISM_STACK_DIR", REPO / ".prism-stack"))
    try:
        return int(json.loads((root / "state.json").read_text())[name]["pid"])
    except (OSError, KeyError, ValueError):
        return None


def _kv(name: str, backend: str, config: dict[str, Any] | None, cache: bool) -> dict[str, Any]:
    ns: dict[str, Any] = {"name": name, "patterns": ["keyvalue"], "backend": backend}
    if config:
        ns["config"] = config
    ns["cache"] = {"enabled": cache}
    return ns


def namespaces(env: dict[str, str], with_ts: bool) -> list[dict[str, Any]]:
    out = [
        _kv("bench-mem", "memory", None, True),
        _kv("bench-noop", noop.BACKEND, None, False),
        _kv("bench-lite", "sqlite", None, False),
        _kv("bench-redis", "redis", {"url": env["PRISM_REDIS_URL"]}, False),
        # The same data through the plugin's own get (native reads off), for comparison.
        _kv(
            "bench-redis-py", "redis", {"url": env["PRISM_REDIS_URL"], "native_reads": False}, False
        ),
        _kv("bench-pg", "postgres", {"url": env["PRISM_POSTGRES_URL"]}, False),
        _kv(
            "bench-pg-py",
            "postgres",
            {"url": env["PRISM_POSTGRES_URL"], "native_reads": False},
            False,
        ),
    ]
    if with_ts:
        configs = {
            "kafka": {"bootstrap": env["PRISM_KAFKA_BOOTSTRAP"]},
            "nats": {"url": env["PRISM_NATS_URL"]},
            "postgres": {"url": env["PRISM_POSTGRES_URL"]},
        }
        for _label, backend, name in TS_BACKENDS:
            out.append(
                {
                    "name": name,
                    "patterns": ["timeseries"],
                    "backend": backend,
                    "config": configs[backend],
                }
            )
    return out


def saturate(
    pid: int,
    address: str,
    path: str,
    body: bytes,
    plan: Plan,
    name: str,
    errors: Callable[[], int] | None = None,
) -> Result:
    """h2load against `address` with /proc sampling of the server process `pid`; `errors`
    counts the server's gRPC error answers (h2load sees those as successes)."""
    body_file = plan.workdir / f"{name}.bin"
    body_file.write_bytes(body)
    errors0 = errors() if errors else 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    result = h2load.run(address, path, body_file, plan.clients, plan.duration_s, plan.loadgen_core)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    if errors:
        result["grpc_errors"] = errors() - errors0
        result["failed"] += result["grpc_errors"]
    mem = memory_kib(pid)
    # CPU utilisation over the whole run (warm-up included) divided by the measured rate.
    util = (cpu1 - cpu0) / (t1 - t0)
    result["proxy_cpu_util"] = util
    result["proxy_cpu_us_per_req"] = util / result["rps"] * 1e6 if result["rps"] else None
    result["proxy_rss_mib"] = mem["VmRSS"] / 1024
    result["proxy_rss_peak_mib"] = mem["VmHWM"] / 1024
    return result


def open_loop(plan: Plan, target: list[str]) -> Result:
    return tools.openloop(
        plan.bin_dir,
        target,
        plan.loadgen_core,
        plan.open_rate,
        plan.open_s,
        plan.open_warmup_s,
        plan.clients,
    )


def get_lane(gw: Gateway, plan: Plan, namespace: str, with_open: bool) -> Result:
    """Preload the key, check a Get returns it, saturate with Get, then (optionally) the
    open-loop regime with the same request."""
    gw.preload(namespace, KEY, VALUE)
    body = h2load.get_body(namespace, KEY)
    result = saturate(
        gw.pid, gw.address, h2load.GET_PATH, body, plan, f"get-{namespace}", gw.errors_total
    )
    if with_open:
        result["open"] = open_loop(plan, ["grpc-get", gw.address, namespace, KEY.decode()])
    return result


def _median_round(runs: list[Result]) -> Result:
    """The round with the median rate (the lower middle one for an even count), with every
    round's rate kept."""
    chosen = dict(sorted(runs, key=lambda r: float(r["rps"]))[(len(runs) - 1) // 2])
    chosen["rounds_rps"] = [r["rps"] for r in runs]
    chosen["rounds_cpu_us_per_req"] = [r.get("proxy_cpu_us_per_req") for r in runs]
    return chosen


def cache_hit_and_transport(gw: Gateway, plan: Plan, rounds: int) -> Result:
    """Lanes B and T in alternating rounds, so drift on a shared machine hits both alike:
    B is the cache-hit Get through the gateway, T the same request bytes against a bare
    tonic server (bench_echo) on the same core; each reports its median round. B then gets
    its open-loop run."""
    namespace = "bench-mem"
    gw.preload(namespace, KEY, VALUE)
    body = h2load.get_body(namespace, KEY)
    echo = tools.Echo(plan.bin_dir, plan.gateway_core)
    b_runs: list[Result] = []
    t_runs: list[Result] = []
    try:
        for _ in range(rounds):
            b_runs.append(
                saturate(gw.pid, gw.address, h2load.GET_PATH, body, plan, "get-b", gw.errors_total)
            )
            t_runs.append(saturate(echo.pid, echo.address, h2load.GET_PATH, body, plan, "get-t"))
    finally:
        echo.stop()
    b, t = _median_round(b_runs), _median_round(t_runs)
    b["open"] = open_loop(plan, ["grpc-get", gw.address, namespace, KEY.decode()])
    b["what"] = "Get, cache hit, memory backend"
    t["what"] = "Get on a bare tonic server, B's request bytes (transport ceiling)"
    return {"lanes": {"B": b, "T": t}}


def rust_only_lane(gw: Gateway, plan: Plan, rounds: int) -> Result:
    """Lane B(Rust only): B's namespace (memory backend, cache on), server settings and
    request bytes, served by bench_gateway (the engine with no Python) on the gateway's core
    and saturated like B, `rounds` times. Reports the median round, with the peak VmHWM
    over all rounds: the Rust part's resident memory under B's load."""
    namespace = "bench-mem"
    config = [ns for ns in gw.namespaces if ns["name"] == namespace]
    engine = EngineOnly(
        plan.bin_dir, plan.workdir / "rust-only", config, plan.gateway_core, gw.server
    )
    try:
        engine.preload(namespace, KEY, VALUE)
        body = h2load.get_body(namespace, KEY)
        runs = [
            saturate(
                engine.pid,
                engine.address,
                h2load.GET_PATH,
                body,
                plan,
                "get-b-rust",
                engine.errors_total,
            )
            for _ in range(rounds)
        ]
    finally:
        engine.stop()
    result = _median_round(runs)
    result["proxy_rss_peak_mib"] = max(float(r["proxy_rss_peak_mib"]) for r in runs)
    return result


def redis_direct_lane(plan: Plan, redis_url: str) -> Result:
    result = direct.redis_get(redis_url, plan.clients, plan.duration_s, plan.loadgen_core)
    u = urlsplit(redis_url)
    address = f"{u.hostname or '127.0.0.1'}:{u.port or 6379}"
    result["open"] = open_loop(plan, ["redis-get", address, KEY.decode()])
    return result


def put_lane(gw: Gateway, plan: Plan, namespace: str) -> Result:
    """Lane W: Put of the same 64-byte key and 256-byte value, over and over."""
    gw.put(namespace, KEY, VALUE)
    body = h2load.put_body(namespace, KEY, VALUE)
    return saturate(
        gw.pid, gw.address, h2load.PUT_PATH, body, plan, f"put-{namespace}", gw.errors_total
    )


def append_lane(gw: Gateway, plan: Plan, namespace: str, batch: int) -> Result:
    """Lane TS: Append of `batch` events (256-byte payloads) at fixed times; the first call
    stores them, every later one is answered as duplicates (see the notes)."""
    body = h2load.append_body(namespace, f"bench-{batch}", batch, VALUE)
    first = gw.append(body)
    if first.appended + first.duplicates != batch:
        raise RuntimeError(f"{namespace}: Append of {batch} answered {first}")
    name = f"append-{namespace}-{batch}"
    result = saturate(gw.pid, gw.address, h2load.APPEND_PATH, body, plan, name, gw.errors_total)
    result["batch"] = batch
    result["events_per_s"] = result["rps"] * batch
    return result


def _pinned(name: str | None, core: int, fn: Callable[[], Result]) -> Result:
    """Run `fn` with the stack server `name` pinned to `core`, then unpin it."""
    pid = stack_pid(name) if name else None
    if pid is not None:
        pin(pid, str(core))
    try:
        return fn()
    finally:
        if pid is not None:
            pin(pid, f"0-{(os.cpu_count() or 1) - 1}")


Step = tuple[str, str, Callable[[], Result]]


def read_steps(
    gw: Gateway, plan: Plan, env: dict[str, str], log: Callable[[str], None]
) -> list[Step]:
    redis_url, pg_url = env["PRISM_REDIS_URL"], env["PRISM_POSTGRES_URL"]
    g, c, d, lg = plan.gateway_core, plan.clients, plan.duration_s, plan.loadgen_core
    return [
        (
            "B+T",
            "cache-hit Get and the bare tonic server, alternating",
            lambda: cache_hit_and_transport(gw, plan, 2 if plan.smoke else 3),
        ),
        (
            "B(Rust only)",
            "Get, cache hit, memory backend: B's config in the engine alone (bench_gateway)",
            lambda: rust_only_lane(gw, plan, 2 if plan.smoke else 3),
        ),
        (
            "B(secured)",
            "Get, cache hit, JWT + access policy + audit, against a twin without them",
            lambda: security.lane(
                gw, plan.workdir, c, 2.0 if d < 5 else 3.0, lg, 3 if d < 5 else 7, log
            ),
        ),
        (
            "D",
            "Get via the Python bridge: a no-op plugin (a dict), cache off",
            lambda: get_lane(gw, plan, "bench-noop", True),
        ),
        (
            "E(SQLite)",
            "Get via sqlite plugin, cache off",
            lambda: get_lane(gw, plan, "bench-lite", False),
        ),
        (
            "E(Redis)",
            "Get of a redis namespace, read natively by the core (ADR-003), cache off",
            lambda: _pinned("redis", g, lambda: get_lane(gw, plan, "bench-redis", True)),
        ),
        (
            "E(Redis, plugin)",
            "Get via the redis plugin (native_reads: false), cache off",
            lambda: _pinned("redis", g, lambda: get_lane(gw, plan, "bench-redis-py", False)),
        ),
        (
            "A(Redis)",
            "redis-benchmark GET -P 1; open loop: bench_openloop GET",
            lambda: _pinned("redis", g, lambda: redis_direct_lane(plan, redis_url)),
        ),
        (
            "E(PostgreSQL)",
            "Get of a postgres namespace, read natively by the core (ADR-003), cache off",
            lambda: _pinned("postgres", g, lambda: get_lane(gw, plan, "bench-pg", False)),
        ),
        (
            "E(PostgreSQL, plugin)",
            "Get via the postgres plugin (native_reads: false), cache off",
            lambda: _pinned("postgres", g, lambda: get_lane(gw, plan, "bench-pg-py", False)),
        ),
        (
            "A(PostgreSQL)",
            "pgbench -S -M prepared",
            lambda: _pinned("postgres", g, lambda: direct.pgbench_select(pg_url, c, d, lg)),
        ),
    ]


def write_steps(gw: Gateway, plan: Plan) -> list[Step]:
    g = plan.gateway_core

    def put(server: str | None, ns: str) -> Callable[[], Result]:
        return lambda: _pinned(server, g, lambda: put_lane(gw, plan, ns))

    def append(server: str, ns: str, batch: int) -> Callable[[], Result]:
        return lambda: _pinned(server, g, lambda: append_lane(gw, plan, ns, batch))

    steps: list[Step] = [
        (f"W({label})", f"Put via {label.lower()} plugin, same key", put(server, ns))
        for label, server, ns in (*W_BACKENDS, W_LOCAL)
    ]
    steps += [
        (
            f"TS({label}) x{batch}",
            f"Append, {batch} event(s) a request, via {server} plugin",
            append(server, ns, batch),
        )
        for label, server, ns in TS_BACKENDS
        for batch in TS_BATCHES
    ]
    return steps


def _summary(lane: Result, plan: Plan) -> str:
    text = f"{lane['rps']:,.0f} req/s"
    if "open" in lane:
        o = lane["open"]
        text += f"; at {plan.open_rate:,.0f} rps p50 {o['lat_p50_us']:,.0f} us"
        text += f", p99 {o['lat_p99_us']:,.0f} us"
    return text


def run_all(plan: Plan, log: Callable[[str], None]) -> dict[str, Result]:
    was_up = stack_running(plan.stack)
    started = [name for name in plan.stack if name not in was_up]
    log(f"stack up: {','.join(plan.stack)} (starting: {','.join(started) or 'none'}) ...")
    try:
        env = stack_up(plan.stack)
        direct.pgbench_init(env["PRISM_POSTGRES_URL"])
        return _run_lanes(plan, env, log)
    finally:
        stack_restore(started, was_up)


def _run_lanes(plan: Plan, env: dict[str, str], log: Callable[[str], None]) -> dict[str, Result]:
    gw = Gateway(
        plan.workdir / "gateway",
        namespaces(env, not plan.smoke),
        plan.gateway_core,
        env=noop.gateway_env(plan.workdir),
    )
    gw.start(timeout=120)
    lanes: dict[str, Result] = {}
    steps = read_steps(gw, plan, env, log) + ([] if plan.smoke else write_steps(gw, plan))
    if plan.only:
        steps = [step for step in steps if step[0].startswith(plan.only)]
    try:
        for name, what, step in steps:
            log(f"lane {name}: {what} ...")
            try:
                result = step()
                # A step measures one lane, or several at once (under "lanes", by name).
                produced = (
                    result["lanes"] if "lanes" in result else {name: {"what": what, **result}}
                )
                for lane_name, lane in produced.items():
                    failed, done = lane.get("failed", 0), lane.get("requests", 0)
                    if failed > 0.01 * max(1, failed + done):  # not a measurement of success
                        raise RuntimeError(f"{lane_name}: {failed} of {failed + done} failed")
                    lanes[lane_name] = lane
                    log(f"lane {lane_name}: {_summary(lane, plan)}")
            except Exception as exc:  # one broken lane must not lose the others
                error = f"{type(exc).__name__}: {exc}"[:300]
                for lane_name in name.split("+"):
                    lanes[lane_name] = {"what": what, "error": error}
                log(f"lane {name}: ERROR {error}")
    finally:
        gw.stop()
    return lanes
