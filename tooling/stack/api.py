"""The stack from Python: up, start, stop, down, endpoints, status, and `running()` for
pytest fixtures. The CLI (__main__.py) is a thin layer over these functions.

A service counts as *external* when its environment variable (PRISM_POSTGRES_URL, ...) is
set to anything but the stack's own URL: the stack then neither starts nor stops it and
hands out that value. (The stack's own URL is excluded so that a shell which ran
`eval "$(python -m tooling.stack env)"` can still bring the stack down and up again.)
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import install, process, provider, state
from .process import ServiceError
from .services import SERVICES, Endpoint, Service
from .services.base import Say

__all__ = [
    "Endpoint", "ServiceError", "SERVICES", "up", "start", "stop", "down", "endpoints",
    "status", "env_lines", "running",
]  # fmt: skip

Out = Callable[[str], None]
_out_lock = threading.Lock()


def _say(name: str, out: Out) -> Say:
    def say(msg: str) -> None:
        with _out_lock:  # services start in parallel threads: keep lines whole
            out(f"{name}: {msg}")

    return say


def _select(names: Iterable[str] | None) -> list[Service]:
    if names is None:
        return list(SERVICES.values())
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in SERVICES]
    if unknown:
        raise ServiceError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    return [s for s in SERVICES.values() if s.name in wanted]  # keep the canonical order


def external(svc: Service) -> str | None:
    value = os.environ.get(svc.env_var)
    return value if value and value != svc.url() else None


def _record(svc: Service) -> state.Record | None:
    """The state record of svc if its process is still alive."""
    rec = state.load(state.stack_dir()).get(svc.name)
    return rec if rec and process.alive(rec.pid, rec.start_ticks) else None


def up(
    services: Iterable[str] | None = None,
    *,
    provider_name: str = "auto",
    install_missing: bool = True,
    out: Out = print,
) -> dict[str, Endpoint]:
    """Start the chosen services (all by default) and wait until each is ready. Services
    already running, or external, are left as they are. Returns their endpoints."""
    provider.resolve(provider_name)
    chosen = _select(services)
    todo: list[Service] = []
    for svc in chosen:
        say = _say(svc.name, out)
        if ext := external(svc):
            say(f"using {svc.env_var}={ext} (external, not started)")
        elif rec := _record(svc):
            say(f"already running (pid {rec.pid}) {svc.url()}")
        else:
            todo.append(svc)
    if install_missing:
        install.apt_install({p for s in todo for p in s.missing_packages()}, _say("install", out))
    root = state.stack_dir()
    # In parallel: Kafka's JVM start dominates, the others are ready well before it.
    with ThreadPoolExecutor(max_workers=max(len(todo), 1)) as pool:
        futures = [(svc, pool.submit(_start_one, svc, root, out)) for svc in todo]
        errors = [f"{svc.name}: {fut.exception()}" for svc, fut in futures if fut.exception()]
    if errors:
        raise ServiceError("\n".join(errors))
    return {svc.name: _endpoint(svc) for svc in chosen}


def _start_one(svc: Service, root: Path, out: Out) -> None:
    say = _say(svc.name, out)
    t0 = time.monotonic()
    say("starting")
    for port in svc.ports():
        if process.port_open(port):
            raise ServiceError(
                f"port {port} is already in use by a process the stack did not start; "
                f"stop it, or set {svc.env_var} to use an existing server"
            )
    data = root / svc.name
    svc.prepare(data, say)
    log = root / f"{svc.name}.log"
    argv = svc.command(data)
    pid, ticks = process.spawn(argv, log, user=svc.user, cwd=data)
    state.put(root, svc.name, state.Record(svc.name, pid, ticks, svc.port, str(log), argv))
    try:
        process.wait_ready(
            lambda: svc.ready(data),
            timeout=svc.ready_timeout, pid=pid, ticks=ticks, what=svc.name, log_path=log,
        )  # fmt: skip
        svc.after_ready(data, say)
    except BaseException:
        process.stop(pid, ticks, signal.SIGKILL, 0)
        state.put(root, svc.name, None)
        raise
    say(f"ready in {time.monotonic() - t0:.1f}s (pid {pid}) {svc.url()}")


def start(name: str, *, out: Out = print) -> Endpoint:
    """Start one service again on its kept data (after `stop`)."""
    return up([name], out=out)[name]


def stop(name: str, *, kill: bool = False, out: Out = print) -> None:
    """Stop one service and keep its data. kill=True sends SIGKILL to its process group
    at once: a crash, for resilience tests (writes acknowledged before it must survive)."""
    (svc,) = _select([name])
    say = _say(name, out)
    root = state.stack_dir()
    rec = state.load(root).get(name)
    if rec is None or not process.alive(rec.pid, rec.start_ticks):
        say("not running")
        state.put(root, name, None)
        return
    t0 = time.monotonic()
    sig = signal.SIGKILL if kill else svc.stop_signal
    clean = process.stop(rec.pid, rec.start_ticks, sig, svc.stop_timeout)
    state.put(root, name, None)
    how = "killed" if kill else ("stopped" if clean else "did not stop in time; killed")
    say(f"{how} (pid {rec.pid}) in {time.monotonic() - t0:.1f}s")


def down(*, keep: bool = False, out: Out = print) -> None:
    """Stop every service the stack started; delete the stack dir unless keep."""
    root = state.stack_dir()
    names = [n for n in state.load(root) if n in SERVICES]
    with ThreadPoolExecutor(max_workers=max(len(names), 1)) as pool:
        for fut in [pool.submit(stop, name, out=out) for name in names]:
            fut.result()  # independent servers: stop them in parallel
    if not keep and root.exists():
        _remove(root)
        out(f"removed {root}")


def _remove(root: Path) -> None:
    # A concurrent `stack` command (status, a test) may drop a file in while we delete.
    for _ in range(5):
        try:
            shutil.rmtree(root)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.2)
    shutil.rmtree(root)


def endpoints() -> dict[str, Endpoint]:
    """Endpoints of the services that are running or external, by service name."""
    return {s.name: _endpoint(s) for s in SERVICES.values() if external(s) or _record(s)}


def _endpoint(svc: Service) -> Endpoint:
    ext = external(svc)
    return Endpoint(svc.name, ext or svc.url(), svc.env_var, external=ext is not None)


@dataclass(frozen=True)
class Status:
    name: str
    pid: int | None
    port: int
    state: str  # up | starting | down | external | exited (recorded, process gone)
    url: str


def status() -> list[Status]:
    records = state.load(state.stack_dir())
    rows = []
    for svc in SERVICES.values():
        rec = records.get(svc.name)
        if ext := external(svc):
            rows.append(Status(svc.name, None, svc.port, "external", ext))
        elif rec and process.alive(rec.pid, rec.start_ticks):
            word = "up" if process.port_open(svc.port) else "starting"
            rows.append(Status(svc.name, rec.pid, svc.port, word, svc.url()))
        else:
            rows.append(Status(svc.name, None, svc.port, "exited" if rec else "down", svc.url()))
    return rows


def env_lines() -> list[str]:
    """`export VAR=value` for every running or external service (a comment for the rest)."""
    eps = endpoints()
    lines = []
    for svc in SERVICES.values():
        ep = eps.get(svc.name)
        if ep is None:
            lines.append(f"# {svc.name}: not running ({svc.env_var} unset)")
        else:
            lines.append(f"export {svc.env_var}={shlex.quote(ep.url)}")
    return lines


@contextmanager
def running(
    services: Iterable[str] | None = None, *, out: Out = print
) -> Iterator[dict[str, Endpoint]]:
    """For a session fixture: bring services up, yield their endpoints, and afterwards stop
    what this call started (a stack that was already up, e.g. from `make stack-up`, stays
    up). When the whole stack was started here, its data dir is removed too."""
    was_running = {s.name for s in SERVICES.values() if _record(s)}
    eps = up(services, out=out)
    try:
        yield eps
    finally:
        if not was_running:
            down(out=out)
        else:
            for name, ep in eps.items():
                if not ep.external and name not in was_running:
                    stop(name, out=out)
