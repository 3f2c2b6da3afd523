"""Lane A: the backends measured directly with their own load generators."""

from __future__ import annotations

import glob
import re
import subprocess
from typing import Any
from urllib.parse import urlsplit


def redis_get(url: str, clients: int, duration_s: float, core: int) -> dict[str, Any]:
    """redis-benchmark GET, no pipelining, 256-byte values preloaded by a short SET run."""
    u = urlsplit(url)
    base = [
        "taskset",
        "-c",
        str(core),
        "redis-benchmark",
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 6379),
        "-c",
        str(clients),
        "-d",
        "256",
        "-P",
        "1",
    ]
    subprocess.run(base + ["-t", "set", "-n", "1000", "-q"], capture_output=True, check=True)
    # redis-benchmark has no duration flag: size the run at ~60k GET/s per second asked.
    n = int(60_000 * duration_s)
    out = subprocess.run(
        base + ["-t", "get", "-n", str(n), "--csv"],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration_s * 10 + 60,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith('"GET"'))
    fields = [float(f.strip('"')) for f in line.split(",")[1:]]
    # CSV columns: rps, avg, min, p50, p95, p99, max (latencies in ms).
    rps, avg, lo, p50, _p95, p99, hi = fields[:7]
    return {
        "tool": "redis-benchmark",
        "rps": rps,
        "requests": n,
        "failed": 0,
        "elapsed_s": n / rps,
        "lat_mean_us": avg * 1000,
        "lat_min_us": lo * 1000,
        "lat_p50_us": p50 * 1000,
        "lat_p99_us": p99 * 1000,
        "lat_max_us": hi * 1000,
    }


def pgbench_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    if not found:
        raise FileNotFoundError("pgbench not found under /usr/lib/postgresql/*/bin")
    return found[-1]


def _pg_args(url: str) -> list[str]:
    u = urlsplit(url)
    return [
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
        (u.path or "/postgres").lstrip("/"),
    ]


def pgbench_init(url: str) -> None:
    """A small pgbench database (scale 1: 100,000 accounts) in the given PostgreSQL."""
    proc = subprocess.run(
        [pgbench_bin(), "-i", "-s", "1", "-q", *_pg_args(url)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench -i exited {proc.returncode}: {proc.stderr.strip()[-400:]}")


def pgbench_select(url: str, clients: int, duration_s: float, core: int) -> dict[str, Any]:
    """pgbench select-only with prepared statements, one thread, `clients` connections."""
    cmd = [
        "taskset",
        "-c",
        str(core),
        pgbench_bin(),
        "-S",
        "-M",
        "prepared",
        "-n",
        "-c",
        str(clients),
        "-j",
        "1",
        "-T",
        str(int(duration_s)),
        *_pg_args(url),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    out = proc.stdout
    tps = re.search(r"tps = ([0-9.]+)", out)
    lat = re.search(r"latency average = ([0-9.]+) ms", out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if not (tps and lat and done):
        raise ValueError(f"could not parse pgbench output:\n{out}")
    return {
        "tool": "pgbench",
        "rps": float(tps.group(1)),
        "requests": int(done.group(1)),
        "failed": int(failed.group(1)) if failed else 0,
        "elapsed_s": duration_s,
        "lat_mean_us": float(lat.group(1)) * 1000,
    }
