"""The embedded default behind `prism serve`: admin and proxy in one process.

The proxy talks to the in-process admin over HTTP like any other proxy, so the embedded
and the split deployments run the same code path. It needs a token: PRISM_ADMIN_TOKEN
when set, else an `embedded-proxy` operator token created in the admin's store once and
kept in <data_dir>/embedded-proxy.token (0600), reused on later starts.

With a config file the data plane starts first, on the file's namespaces, and the admin
(whose imports alone take about a second) comes up behind it: gRPC is SERVING as fast as
before the control plane existed. The file's namespaces are then applied to the admin
and the proxy switches to the admin's full config (the file's namespaces plus any others
the store holds). Without a file the store decides what is served, so the admin starts
first.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import typer

from prism.config import Config
from prism.proxy.process import error, report, run_proxy, start_runtime
from prism.proxy.runtime import ProxyRuntime, install_signal_handlers, serve_until_signal
from prism.proxy.watcher import (
    AdminClient,
    AdminRefused,
    ConfigWatcher,
    initial_config,
    parse_namespaces,
)

TOKEN_FILE = "embedded-proxy.token"
#: How long the admin gets to stop once the proxy has drained.
ADMIN_STOP_S = 1.0
#: How long a stop waits for an admin that is still starting (imports and migrations:
#: 1-3 s normally); a process manager's grace period (30 s in Kubernetes) must cover it.
ADMIN_START_WAIT_S = 10.0
#: Backoff while a file namespace cannot be applied (its backend down at start).
RETRY_MIN_S = 0.5
RETRY_MAX_S = 5.0


def run_embedded(cfg: Config, admin_listen: str, specs: list[dict[str, Any]] | None) -> int:
    """Run admin and proxy (see the module doc) until SIGINT/SIGTERM; the exit code."""
    from prism.admin.settings import parse_listen

    stop = install_signal_handlers()
    try:
        parse_listen(admin_listen)
    except ValueError as err:
        return error(f"--admin-listen: {err}", 2)
    try:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return error(f"cannot create data directory {cfg.data_dir}: {err.strerror or err}")
    if specs is None:
        return _admin_first(cfg, admin_listen, stop)
    started = start_runtime(cfg.server, cfg.data_dir, list(cfg.namespaces))
    if isinstance(started, int):
        return started
    runtime, errors = started
    report(errors)
    behind = AdminBehind(cfg, admin_listen, specs, runtime, stop)
    behind.start()
    code = serve_until_signal(runtime, stop, before_drain=behind.stop_watching)
    behind.stop_admin()
    return behind.code or code


def _admin_first(cfg: Config, admin_listen: str, stop: threading.Event) -> int:
    from prism.cli.serve import DEFAULT_NAMESPACE

    admin = _start_admin(cfg, admin_listen)
    if isinstance(admin, int):
        return admin
    server, client = admin
    try:
        try:
            if not client.namespace_names():
                client.apply_namespace(dict(DEFAULT_NAMESPACE))
        except AdminRefused as err:
            return error(f"config error: {err}", 2)
        return run_proxy(cfg.server, cfg.data_dir, client, stop)
    finally:
        # Bounded: uvicorn would otherwise wait out the long polls still open (up to 30 s).
        server.stop(timeout=ADMIN_STOP_S)


class AdminBehind:
    """Brings the admin up behind an already serving proxy, in a thread: start it, apply
    the file's namespaces, then let the proxy follow the admin's config.

    The data plane never waits for or dies with the control plane: a backend that is
    down makes provisioning fail (5xx), which is retried with backoff while the proxy
    serves the file's namespaces; the proxy follows the admin only once all of them are
    applied, since following earlier would drop the ones not yet in the store. Fatal:
    the admin cannot start (exit 1) or refuses a namespace (4xx, exit 2).
    """

    def __init__(
        self,
        cfg: Config,
        admin_listen: str,
        specs: list[dict[str, Any]],
        runtime: ProxyRuntime,
        stop: threading.Event,
    ) -> None:
        self._cfg, self._admin_listen, self._specs = cfg, admin_listen, specs
        self._runtime, self._stop = runtime, stop
        self._server: Any = None
        self._watcher: ConfigWatcher | None = None
        self._lock = threading.Lock()
        self._admin_started = threading.Event()  # set once the start ended, either way
        self.code = 0

    def start(self) -> None:
        threading.Thread(target=self._run, name="prism-admin-behind", daemon=True).start()

    def stop_watching(self) -> None:
        with self._lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def stop_admin(self) -> None:
        """Stop the admin. One still starting (imports, migrations: 1-3 s) gets up to
        ADMIN_START_WAIT_S to finish and is then stopped too; past that the process ends
        under it (end_process), which is safe: the store's migration is one transaction."""
        self._admin_started.wait(ADMIN_START_WAIT_S)
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            # Bounded: uvicorn would otherwise wait out the long polls still open.
            server.stop(timeout=ADMIN_STOP_S)

    def _fatal(self, message: str, code: int) -> None:
        error(message)
        self.code = code
        self._stop.set()

    def _run(self) -> None:
        try:
            admin = _start_admin(self._cfg, self._admin_listen)
            if isinstance(admin, int):
                self.code = admin
                self._stop.set()
                return
            server, client = admin
            with self._lock:
                self._server = server
        finally:
            self._admin_started.set()
        if self._stop.is_set():
            return
        pending = list(self._specs)
        backoff = RETRY_MIN_S
        while pending and not self._stop.is_set():
            try:
                client.apply_namespace(pending[0])
                pending.pop(0)
                continue
            except AdminRefused as err:
                if 400 <= err.status < 500:
                    self._fatal(f"config error: {err}", 2)
                    return
                reason = str(err)
            except httpx.HTTPError as err:
                reason = str(err) or type(err).__name__
            error(f"cannot apply namespace '{pending[0]['name']}' yet ({reason}); retrying")
            self._stop.wait(backoff)
            backoff = min(backoff * 2, RETRY_MAX_S)
        if self._stop.is_set():
            return
        try:
            snapshot, source = initial_config(client, self._cfg.data_dir)
        except AdminRefused as err:
            self._fatal(f"the admin refused: {err}", 2)
            return
        running = {ns.name: ns for ns in self._runtime.namespaces}
        namespaces, errors = parse_namespaces(snapshot, self._cfg.data_dir, running)
        errors += self._runtime.apply(namespaces)
        report(errors)
        typer.echo(f"prism: config version {snapshot.get('version', 0)} from {source}")
        watcher = ConfigWatcher(
            client,
            self._runtime,
            self._cfg.data_dir,
            version=int(snapshot.get("version", 0)),
            snapshot=snapshot,
            retry=bool(errors),
        )
        with self._lock:
            if self._stop.is_set():
                return
            self._watcher = watcher
            watcher.start()


def _start_admin(cfg: Config, admin_listen: str) -> tuple[Any, AdminClient] | int:
    """The running AdminServer and a client for the in-process proxy, or the exit code."""
    from prism.admin.server import AdminServer
    from prism.admin.settings import AdminSettings, parse_listen
    from prism.cli.serve import token_from_env

    host, port = parse_listen(admin_listen)
    # The admin wraps data keys with the master key the proxy (server.keys) unwraps them with.
    keys = cfg.server.keys
    settings = AdminSettings(
        data_dir=cfg.data_dir,
        host=host,
        port=port,
        bootstrap_token=token_from_env(),
        master_key_env=keys.master_key_env,
    )
    if keys.master_key_file:
        settings = replace(settings, master_key_file=Path(keys.master_key_file))
    server = AdminServer(settings)
    try:
        server.start()
    except OSError as err:
        return error(f"cannot listen on {admin_listen} (admin): {err.strerror or err}")
    except Exception as err:  # the store: unreadable database, failed migration
        return error(f"cannot start the admin: {err}")
    typer.echo(f"prism: admin on {server.url}")
    token = settings.bootstrap_token or embedded_token(server.app.state.store, cfg.data_dir)
    return server, AdminClient(server.url, token)


def embedded_token(store: Any, data_dir: Path) -> str:
    """The in-process proxy's operator token (see the module doc); `store` is the
    admin's prism.admin.store.Store."""
    path = data_dir / TOKEN_FILE
    try:
        secret = path.read_text().strip()
    except OSError:
        secret = ""
    if secret and store.find_token(secret) is not None:
        return secret
    _record, secret = store.create_token("embedded-proxy", "operator", actor="prism serve")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret
