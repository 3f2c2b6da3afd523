"""`python -m tooling.bench [--smoke] [--out DIR]`: the lane benchmark of issue 6."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import report, tools
from .lanes import KEY, VALUE, Plan, run_all

NOTES = [
    "T is tooling/bench/loadgen's bench_echo: tonic serving KeyValue.Get with a fixed "
    "256-byte value, no layers, the same runtime shape as the gateway, sent B's request bytes.",
    "B(Rust only) is tooling/bench/loadgen's bench_gateway: the same engine "
    "(prism_engine::server::Server), the core config `prism serve` derives for B's "
    "namespace (memory backend, cache on) and B's request bytes, pinned to the same core, "
    "without the Python interpreter, the plugin host and the admin client. Its peak VmHWM is "
    "the Rust part's resident memory under load (the RSS target); B's RSS is the whole "
    "gateway process.",
    "D is a Get through tooling/bench/noop_plugin (a KeyValue plugin whose store is a Python "
    "dict, visible to the bench's gateway only): the bridge's cost with no backend behind it. "
    "E(SQLite) is the same Get through the sqlite plugin.",
    "Saturation: h2load reports min/mean/max/sd request time, not percentiles; its p50/p99 "
    "columns come only from redis-benchmark.",
    "Open loop: bench_openloop sends at fixed intended times (a pacer thread, 1 us timer "
    "slack) over as many connections as there are clients and measures each latency from "
    "the intended send time, so stalls are not hidden (no coordinated omission); the first "
    "second (half second in smoke) is warm-up. A(Redis)'s open loop is raw RESP GET of the "
    "bench key.",
    "A(Redis) saturation GETs redis-benchmark's own key (256-byte value); A(PostgreSQL) is "
    "pgbench's select-only transaction on a scale-1 database: neither uses the 64-byte key.",
    "Backends (Redis, PostgreSQL, NATS, Kafka) are pinned to the gateway's core during "
    "their lanes.",
    "W: Put of the same key and value over and over (each one a real write: a new version).",
    "TS: h2load repeats one pre-encoded Append (fixed series, event ids and times), so only "
    "the first request stores events; every later one is answered as duplicates (PostgreSQL: "
    "INSERT ... ON CONFLICT DO NOTHING; NATS: a publish the server drops by Nats-Msg-Id; "
    "Kafka: the plugin's stored-events read, then no produce). events/s counts events "
    "submitted.",
    "Server CPU is utime+stime of the server process (the gateway, bench_echo for T, "
    "bench_gateway for B(Rust only)) over the run (warm-up included) divided by wall time and "
    "by the measured req/s; RSS is that whole process (for the gateway: Rust and Python).",
]
SMOKE_NOTE = "Smoke: W and TS lanes are skipped (no NATS or Kafka); E(PostgreSQL) has no open loop."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.bench", description=__doc__)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="short lanes (~3 s); exit 1 only on a ratio under half its target",
    )
    parser.add_argument("--out", type=Path, default=Path(".bench-results"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=None, help="seconds per lane")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated lane name prefixes to run (e.g. 'B+T,W,TS(NATS)'); default all",
    )
    args = parser.parse_args(argv)
    for tool in ("h2load", "taskset", "redis-benchmark", "cargo"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} not found on PATH", file=sys.stderr)
            return 2
    if (os.cpu_count() or 1) < 2:
        print("bench: needs 2 cores (gateway on core 0, load generator on core 1)", file=sys.stderr)
        return 2
    mode = "smoke" if args.smoke else "full"
    duration = args.duration or (3.0 if args.smoke else 10.0)
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    started = time.monotonic()
    print(f"bench: load average {loadavg}; building the bench tools (cargo, release) ...")
    try:
        bin_dir = tools.build()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    build_s = round(time.monotonic() - started, 1)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        plan = Plan(
            clients=args.clients,
            duration_s=duration,
            workdir=Path(tmp),
            bin_dir=bin_dir,
            smoke=args.smoke,
            open_s=2.0 if args.smoke else 5.0,
            open_warmup_s=0.5 if args.smoke else 1.0,
            only=tuple(p for p in args.only.split(",") if p),
        )
        lanes = run_all(plan, lambda msg: print(f"bench: {msg}", flush=True))
    checks = report.mark_known_misses(report.targets(lanes))
    meta = {
        "mode": mode,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"{platform.platform()}",
        "gateway_core": plan.gateway_core,
        "loadgen_core": plan.loadgen_core,
        "clients": plan.clients,
        "duration_s": duration,
        "open_rate": plan.open_rate,
        "open_s": plan.open_s,
        "loadavg": loadavg,
        "key_bytes": len(KEY),
        "value_bytes": len(VALUE),
        "build_s": build_s,
        "runtime_s": round(time.monotonic() - started, 1),
        "notes": [*NOTES, SMOKE_NOTE] if args.smoke else NOTES,
    }
    paths = report.write(args.out, meta, lanes, checks)
    print(report.markdown(meta, lanes, checks))
    print(
        f"bench: wrote {', '.join(str(p) for p in paths)}; lanes took {meta['runtime_s']} s "
        f"(+ {build_s} s to build the tools)"
    )
    gross = [t for t in checks if t.gross]
    broken = [n for n, lane in lanes.items() if "error" in lane]
    if args.smoke:
        for t in gross:
            print(f"bench-smoke: GROSS REGRESSION  {report.target_line(t)}", file=sys.stderr)
        for name in broken:
            print(f"bench-smoke: BROKEN LANE  {name}: {lanes[name]['error']}", file=sys.stderr)
        return 1 if gross or broken else 0
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
