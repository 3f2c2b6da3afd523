"""The Rust bench tools (tooling/bench/loadgen): built by cargo, then run pinned.

- `bench_echo`: lane T, a bare tonic KeyValue server (Get answers a fixed 256-byte value).
- `bench_gateway`: lane B(Rust only), the engine with no Python (run by engine_only.py).
- `bench_openloop`: the fixed-offered-load regime, latency from each request's intended
  send time (corrected for coordinated omission), one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "prism-bench"


def build() -> Path:
    """`cargo build --release -p prism-bench`; returns the folder holding the binaries."""
    out = subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", PACKAGE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(f"cargo build -p {PACKAGE} failed:\n{out.stderr[-3000:]}")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return (target if target.is_absolute() else REPO / target) / "release"


class Echo:
    """`bench_echo` pinned to `core`, listening on an ephemeral loopback port."""

    def __init__(self, bin_dir: Path, core: int) -> None:
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(core), str(bin_dir / "bench_echo"), "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            self.stop()
            raise RuntimeError(f"bench_echo did not start: {self.proc.stderr.read()[-500:]}")
        self.address = line[1]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def openloop(
    bin_dir: Path,
    target: list[str],
    core: int,
    rate: float,
    duration_s: float,
    warmup_s: float,
    connections: int,
) -> dict[str, Any]:
    """Run `bench_openloop TARGET...` pinned to `core`; its JSON result."""
    cmd = [
        "taskset",
        "-c",
        str(core),
        str(bin_dir / "bench_openloop"),
        *target,
        "--rate",
        str(rate),
        "--duration",
        str(duration_s),
        "--warmup",
        str(warmup_s),
        "--connections",
        str(connections),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=duration_s + warmup_s + 60, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench_openloop {target[0]} failed: {out.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result
