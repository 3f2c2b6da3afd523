"""Measure the Rust-to-Python crossing cost on this machine (ADR-003).

Three strategies, each timed from tokio worker threads inside one process:
  attach       every request attaches its tokio worker to Python and calls a no-op;
  bridge c=1   every request goes through the bridge queue to the plugin host thread
               with one request in flight, so each crossing carries one request;
  bridge c=N   N requests in flight: the host drains them in batches, one crossing each.
Results are printed as a table and written as JSON; ratios matter, not absolutes, on a
shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from prism import _core
from prism.plugins.host import PluginHost


def _noop() -> None:
    return None


def measure(requests: int, concurrencies: list[int], repeats: int) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    _core.attach_microbench(_noop, 2_000, 1)  # warm-up
    for concurrency in concurrencies:
        best = min(_core.attach_microbench(_noop, requests, concurrency) for _ in range(repeats))
        rows.append({"strategy": "attach per request", "concurrency": concurrency, "ns": best})
    bridge = _core.Bridge()
    host = PluginHost(bridge, {})
    host.start()
    try:
        _core.bridge_microbench(bridge, 2_000, 1)  # warm-up
        for concurrency in concurrencies:
            best = min(
                _core.bridge_microbench(bridge, requests, concurrency) for _ in range(repeats)
            )
            rows.append({"strategy": "bridge queue", "concurrency": concurrency, "ns": best})
    finally:
        host.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(".bench-results/bridge_crossing.json"))
    args = parser.parse_args()
    print(f"bridge crossing microbenchmark: {args.requests} requests, best of {args.repeats}")
    started = time.time()
    rows = measure(args.requests, args.concurrency, args.repeats)
    print(f"{'strategy':<20} {'in flight':>9} {'ns/request':>11} {'requests/s':>11}")
    for row in rows:
        ns = float(row["ns"])
        print(f"{row['strategy']:<20} {row['concurrency']:>9} {ns:>11.0f} {1e9 / ns:>11.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "date": time.strftime("%Y-%m-%d", time.gmtime(started)),
        "machine": (
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "requests": args.requests,
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
