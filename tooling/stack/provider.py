"""Who runs the servers: native processes (implemented), or containers.

The design (§5) asks for testcontainers where a Docker engine is reachable. No machine of
this project has one (only the docker client is installed), so the docker provider exists
only to say so clearly; `auto` therefore always resolves to native today.
"""

from __future__ import annotations

import shutil
import subprocess

from .process import ServiceError

PROVIDERS = ("auto", "native", "docker")


def docker_reachable() -> tuple[bool, str]:
    if shutil.which("docker") is None:
        return False, "no docker client on PATH"
    try:
        out = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False, "`docker info` timed out"
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        return False, lines[-1] if lines else f"`docker info` exited {out.returncode}"
    return True, ""


def resolve(name: str) -> str:
    """The provider to use for a requested one; raises when it cannot work here."""
    if name not in PROVIDERS:
        raise ServiceError(f"unknown provider {name!r}; choose from {', '.join(PROVIDERS)}")
    if name in ("auto", "native"):
        return "native"
    ok, why = docker_reachable()
    if not ok:
        raise ServiceError(
            f"--provider docker: no Docker engine is reachable ({why}); "
            "use --provider native (the default)"
        )
    raise ServiceError(
        "--provider docker: a Docker engine is reachable, but the testcontainers provider is "
        "not implemented yet; use --provider native"
    )
