"""Admin settings, passed to `create_app` and served through an overridable dependency.

Routers read settings via `Depends(get_settings)`; tests may replace it with
`app.dependency_overrides[get_settings] = ...`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from prism.config import default_data_dir

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8981
TOKEN_ENV = "PRISM_ADMIN_TOKEN"


@dataclass(frozen=True)
class AdminSettings:
    #: Where the default SQLite store and relative SQLite namespace files live.
    data_dir: Path = field(default_factory=lambda: default_data_dir().absolute())
    #: SQLAlchemy URL of the store; None means sqlite:///<data_dir>/admin.db.
    db_url: str | None = None
    #: An admin token accepted as is (never stored); None generates one at first start.
    bootstrap_token: str | None = field(default_factory=lambda: os.environ.get(TOKEN_ENV) or None)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Upper bound of `GET /v1/config?wait=`.
    max_wait_s: float = 60.0
    #: A proxy whose last heartbeat is older than this is reported unhealthy.
    proxy_stale_s: float = 15.0
    #: Bound on provisioning (plugin start + close) during create.
    provision_timeout_s: float = 30.0

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'admin.db'}"

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        listen: str | None = None,
        db_url: str | None = None,
        data_dir: Path | None = None,
    ) -> AdminSettings:
        """Settings for the CLI: flags over PRISM_ADMIN_* variables over defaults."""
        env = os.environ if env is None else env
        listen = listen or env.get("PRISM_ADMIN_LISTEN") or f"{DEFAULT_HOST}:{DEFAULT_PORT}"
        host, port = parse_listen(listen)
        return cls(
            data_dir=(data_dir or default_data_dir(env)).expanduser().absolute(),
            db_url=db_url or env.get("PRISM_ADMIN_DB_URL") or None,
            bootstrap_token=env.get(TOKEN_ENV) or None,
            host=host,
            port=port,
        )


def parse_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT -> (host, port); ValueError names the bad value."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address must be HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def get_settings(request: Request) -> AdminSettings:
    """The app's settings (a FastAPI dependency; override it in tests if needed)."""
    settings: AdminSettings = request.app.state.settings
    return settings
