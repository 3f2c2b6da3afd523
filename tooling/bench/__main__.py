"""`python -m tooling.bench [--smoke] [--out DIR]`: the lane benchmark of issue 6."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import report
from .lanes import KEY, VALUE, Plan, run_all

NOTES = [
    "T (bare tonic echo server) is not built: no Rust echo binary yet, so B >= 0.8 x T is skipped.",
    "D uses the sqlite plugin with the cache off (a real Python-plugin Get, not a no-op "
    "plugin): it includes SQLite's read cost.",
    "h2load reports min/mean/max/sd request time, not percentiles; p50/p99 come only from "
    "redis-benchmark.",
    "A(Redis) GETs redis-benchmark's own key (256-byte value); A(PostgreSQL) is pgbench's "
    "select-only transaction on a scale-1 database: neither uses the 64-byte bench key.",
    "Backends (Redis, PostgreSQL) run on the gateway's core during their E and A lanes.",
    "Proxy CPU is utime+stime of the whole gateway process over the run (warm-up included) "
    "divided by wall time and by the measured req/s; RSS is the whole process (Rust and "
    "Python).",
    "Saturation regime only: the open-loop 1,000 rps regime is not run. No PNG chart "
    "(matplotlib is not installed).",
]


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
    args = parser.parse_args(argv)
    for tool in ("h2load", "taskset", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} not found on PATH", file=sys.stderr)
            return 2
    if (os.cpu_count() or 1) < 2:
        print("bench: needs 2 cores (gateway on core 0, load generator on core 1)", file=sys.stderr)
        return 2
    mode = "smoke" if args.smoke else "full"
    duration = args.duration or (3.0 if args.smoke else 10.0)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        plan = Plan(clients=args.clients, duration_s=duration, workdir=Path(tmp))
        lanes = run_all(plan, lambda msg: print(f"bench: {msg}", flush=True))
    checks = report.targets(lanes)
    meta = {
        "mode": mode,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"{platform.platform()}",
        "gateway_core": plan.gateway_core,
        "loadgen_core": plan.loadgen_core,
        "clients": plan.clients,
        "duration_s": duration,
        "key_bytes": len(KEY),
        "value_bytes": len(VALUE),
        "runtime_s": round(time.monotonic() - started, 1),
        "notes": NOTES,
    }
    paths = report.write(args.out, meta, lanes, checks)
    print(report.markdown(meta, lanes, checks))
    print(f"bench: wrote {', '.join(str(p) for p in paths)} in {meta['runtime_s']} s")
    gross = [t for t in checks if t.gross]
    broken = [n for n, lane in lanes.items() if "error" in lane]
    if args.smoke:
        for t in gross:
            print(f"bench-smoke: GROSS REGRESSION  {report.target_line(t)}", file=sys.stderr)
        return 1 if gross or broken else 0
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
