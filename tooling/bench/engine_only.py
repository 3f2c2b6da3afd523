"""`bench_gateway` (tooling/bench/loadgen): the gateway's engine with no Python, for lane
B(Rust only).

It is given the core JSON that `prism serve` would hand the engine for the same config
(`prism.config.Config.to_core_json`), so the engine, namespace and cache policy are B's;
what is missing is the interpreter, the plugin host and the admin client. Only natively
served namespaces (the memory backend) can run in it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from prism.config import load_config

from .proxy import GrpcServer, gateway_config


class EngineOnly(GrpcServer):
    """`bench_gateway` pinned to `core`, on ephemeral loopback ports."""

    def __init__(
        self,
        bin_dir: Path,
        workdir: Path,
        namespaces: list[dict[str, Any]],
        core: int,
        server: dict[str, Any] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "core.json"
        # The same file-shaped config Gateway writes, through the control plane's own parser.
        core_json = load_config(gateway_config(server or {}, namespaces)).to_core_json()
        config.write_text(core_json)
        self._log = workdir / "bench_gateway.log"
        cmd = [
            "taskset",
            "-c",
            str(core),
            str(bin_dir / "bench_gateway"),
            "--config",
            str(config),
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ]
        with open(self._log, "ab") as log:
            # taskset execs the command, so the pid is bench_gateway's own.
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        # The engine binds and starts before printing; a failed start exits without a line.
        line = self.proc.stdout.readline().split()
        if len(line) != 3 or line[0] != "listening":
            self.stop()
            raise RuntimeError(f"bench_gateway did not start: {self._log_tail()}")
        self._address, self._metrics_address = line[1], line[2]

    @property
    def address(self) -> str:
        return self._address

    @property
    def metrics_address(self) -> str:
        return self._metrics_address

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _log_tail(self) -> str:
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return " | ".join(text.splitlines()[-6:])[-600:] or "(no output)"

    def stop(self) -> None:
        """SIGTERM (bench_gateway drains and exits 0); a kill if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
