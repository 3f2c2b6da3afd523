"""Detached server processes: spawn, liveness, stop, and waiting for readiness.

Servers run in their own session (no SIGHUP when the shell that ran `up` goes away), with
stdin closed and stdout/stderr appended to a log file, so `up` can return while they run.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path


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
    """Start argv detached; returns (pid, start_ticks).

    os.posix_spawnp, not subprocess.Popen: a Popen object of a server that outlives us
    warns "subprocess is still running" when collected, which pytest turns into an error.
    Wrappers `exec` (sh for the working dir, setpriv for the user), so the pid we get is
    the server's own and it is the leader of its new session and process group.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ if env is None else env)
    full_argv = list(argv)
    if cwd is not None:
        full_argv = ["sh", "-c", 'cd "$0" && exec "$@"', str(cwd), *full_argv]
    if user is not None and os.geteuid() == 0:
        # setpriv execs (runuser would fork and sit in between, SIGKILLing the server 2s
        # after forwarding a SIGTERM).
        pw = pwd.getpwnam(user)
        full_argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                     "--clear-groups", "--", *full_argv]  # fmt: skip
        full_env.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        pid = os.posix_spawnp(
            full_argv[0],
            full_argv,
            full_env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)
    return pid, start_ticks(pid) or 0


def as_user(user: str | None) -> dict[str, object]:
    """subprocess keyword arguments that run a short-lived command as user (when root)."""
    if user is None or os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _reap(pid: int) -> bool:
    """Collect pid's exit status if it is our child and has exited; True if it had."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # not our child (started by an earlier `up`): init reaps it
    return done == pid


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
    if _reap(pid):
        return False
    fields = _stat(pid)
    if fields is None or fields[0] == "Z":
        return False
    return ticks == 0 or int(fields[19]) == ticks


def stop(pid: int, ticks: int, sig: int, timeout: float) -> bool:
    """Send sig, wait up to timeout, then SIGKILL the whole process group.
    Returns True when it exited on sig, False when it had to be killed."""
    clean = True
    if alive(pid, ticks):
        if sig != signal.SIGKILL:
            os.kill(pid, sig)
        if sig == signal.SIGKILL or not _wait_gone(pid, ticks, timeout):
            _kill_group(pid)
            _wait_gone(pid, ticks, 10.0)
            clean = False
    _wait_group_gone(pid, 10.0)
    return clean


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


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Wait until no process of the group is left, zombies included: a restarted PostgreSQL
    refuses to start while the old postmaster's pid still exists, even as a zombie, and
    its orphaned helpers would hold shared memory."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pgid)
        if not any(
            (f := _stat(int(d.name))) is not None and int(f[2]) == pgid
            for d in Path("/proc").iterdir()
            if d.name.isdigit()
        ):
            return
        time.sleep(0.05)


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
