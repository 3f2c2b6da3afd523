"""Detached server processes: spawn, liveness, stop, and waiting for readiness.

Servers run in their own session (no SIGHUP when the shell that ran `up` goes away), with
stdin closed and stdout/stderr appended to a log file, so `up` can return while they run.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

# Popen objects of the servers this Python process started. Keeping them referenced stops
# Popen.__del__ from warning "subprocess is still running" (pytest turns warnings into
# errors), and lets stop() reap its own children instead of leaving zombies.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ServiceError(RuntimeError):
    """A server could not be installed, started, reached or stopped; the message says why."""


def spawn(
    argv: list[str],
    log_path: Path,
    *,
    user: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, int]:
    """Start argv detached; returns (pid, start_ticks)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ if env is None else env)
    kwargs = as_user(user)
    if kwargs:
        pw = pwd.getpwnam(str(user))
        full_env.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=full_env,
            start_new_session=True,
            **kwargs,  # type: ignore[call-overload]
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid, start_ticks(proc.pid) or 0


def as_user(user: str | None) -> dict[str, object]:
    """Popen keyword arguments that run the child as user (when we are root).

    Popen switches uid and gids in the child itself, so the pid we record is the server's;
    `runuser` would sit in between and SIGKILL the server 2s after forwarding a SIGTERM.
    """
    if user is None or os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its ')'.
    return raw[raw.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None  # field 22 of the whole line


def alive(pid: int, ticks: int) -> bool:
    """True while pid is the very process we started (same start time) and not a zombie."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    fields = _stat(pid)
    if fields is None or fields[0] == "Z":
        return False
    return ticks == 0 or int(fields[19]) == ticks


def stop(pid: int, ticks: int, sig: int, timeout: float) -> bool:
    """Send sig, wait up to timeout, then SIGKILL the whole process group.
    Returns True when it exited on sig, False when it had to be killed."""
    if not alive(pid, ticks):
        return True
    if sig == signal.SIGKILL:
        _kill_group(pid)
        _wait_gone(pid, ticks, 10.0)
        return False
    os.kill(pid, sig)
    if _wait_gone(pid, ticks, timeout):
        return True
    _kill_group(pid)
    _wait_gone(pid, ticks, 10.0)
    return False


def _kill_group(pid: int) -> None:
    # start_new_session made the server its own process-group leader; the group holds its
    # helpers too (PostgreSQL backends), which must not outlive it and hold the port.
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, ticks: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, ticks):
            return True
        time.sleep(0.1)
    return not alive(pid, ticks)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_ready(
    check: Callable[[], bool],
    *,
    timeout: float,
    pid: int,
    ticks: int,
    what: str,
    log_path: Path,
) -> None:
    """Poll check() until it returns True; fail early, with the log tail, if the process
    exits, and after timeout seconds otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive(pid, ticks):
            raise ServiceError(f"{what} exited during startup\n{log_tail(log_path)}")
        try:
            if check():
                return
        except OSError:
            pass  # refused or reset while the server is still coming up
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} not ready after {timeout:.0f}s\n{log_tail(log_path)}")
        time.sleep(0.2)


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return f"--- last lines of {path} ---\n" + "\n".join(text[-lines:])
