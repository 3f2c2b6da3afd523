"""`AdminServer`: the admin app under uvicorn in a background thread.

Used by `prism admin` (foreground), `prism serve` (embedded next to the proxy) and tests.
`start()` returns once the port accepts connections, or raises OSError naming the address.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from prism.admin.app import create_app
from prism.admin.settings import AdminSettings

START_TIMEOUT_S = 30.0


class AdminServer:
    def __init__(self, settings: AdminSettings, app: FastAPI | None = None) -> None:
        self.settings = settings
        self._app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            self._app = create_app(self.settings)
        return self._app

    @property
    def address(self) -> str:
        """HOST:PORT actually bound (port 0 in the settings picks a free one)."""
        if self._socket is None:
            return self.settings.listen
        host, port = self._socket.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> None:
        """Bind, serve in a thread, and return once the app accepts requests."""
        # Bind first: a taken port must fail before the bootstrap token is generated.
        self._socket = _bind(self.settings.host, self.settings.port)
        try:
            app = self.app  # migrations and bootstrap happen here, in the caller's thread
        except BaseException:
            self._socket.close()
            self._socket = None
            raise
        # Open long polls from proxies must not hold a shutdown for their whole wait.
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="prism-admin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise OSError(f"admin on {self.settings.listen} failed to start: {self._error}")
            if time.monotonic() > deadline:
                raise OSError(f"admin on {self.settings.listen} did not start in time")
            time.sleep(0.01)

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as err:  # reported by start()
            self._error = err

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit, then wait for the thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> AdminServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket; OSError names the address when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        reason = "address in use" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
        raise OSError(err.errno, f"cannot listen on {host}:{port}: {reason}") from err
    sock.set_inheritable(True)
    return sock
