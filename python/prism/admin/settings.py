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
AUDIT_PATH_ENV = "PRISM_ADMIN_AUDIT_PATH"
MASTER_KEY_ENV = "PRISM_MASTER_KEY"
MASTER_KEY_FILE_ENV = "PRISM_MASTER_KEY_FILE"
OIDC_ENV = {
    "oidc_issuer": "PRISM_ADMIN_OIDC_ISSUER",
    "oidc_audience": "PRISM_ADMIN_OIDC_AUDIENCE",
    "oidc_jwks_url": "PRISM_ADMIN_OIDC_JWKS_URL",
    "oidc_role_claim": "PRISM_ADMIN_OIDC_ROLE_CLAIM",
}
DEFAULT_ROLE_CLAIM = "prism_role"


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser().absolute() if value else None


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
    #: Also append each audited mutation here as a JSON line (ADR-010).
    audit_path: Path | None = field(default_factory=lambda: _env_path(AUDIT_PATH_ENV))
    #: OIDC: bearer JWTs from this issuer for this audience are accepted beside API
    #: tokens, with the role in `oidc_role_claim`; keys from `oidc_jwks_url`, else
    #: discovered from the issuer. Off unless the audience is set.
    oidc_issuer: str | None = field(default_factory=lambda: _env(OIDC_ENV["oidc_issuer"]))
    oidc_audience: str | None = field(default_factory=lambda: _env(OIDC_ENV["oidc_audience"]))
    oidc_jwks_url: str | None = field(default_factory=lambda: _env(OIDC_ENV["oidc_jwks_url"]))
    oidc_role_claim: str = field(
        default_factory=lambda: _env(OIDC_ENV["oidc_role_claim"]) or DEFAULT_ROLE_CLAIM
    )
    #: Clock skew allowed on `exp` and `nbf`.
    oidc_leeway_s: float = 30.0
    #: The master key that wraps namespace data keys: this variable (base64 or 64 hex
    #: digits), else the file (the same text, or 32 raw bytes).
    master_key_env: str = MASTER_KEY_ENV
    master_key_file: Path | None = field(default_factory=lambda: _env_path(MASTER_KEY_FILE_ENV))

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
        audit_path = env.get(AUDIT_PATH_ENV)
        key_file = env.get(MASTER_KEY_FILE_ENV)
        return cls(
            data_dir=(data_dir or default_data_dir(env)).expanduser().absolute(),
            db_url=db_url or env.get("PRISM_ADMIN_DB_URL") or None,
            bootstrap_token=env.get(TOKEN_ENV) or None,
            host=host,
            port=port,
            audit_path=Path(audit_path).expanduser().absolute() if audit_path else None,
            oidc_issuer=env.get(OIDC_ENV["oidc_issuer"]) or None,
            oidc_audience=env.get(OIDC_ENV["oidc_audience"]) or None,
            oidc_jwks_url=env.get(OIDC_ENV["oidc_jwks_url"]) or None,
            oidc_role_claim=env.get(OIDC_ENV["oidc_role_claim"]) or DEFAULT_ROLE_CLAIM,
            master_key_file=Path(key_file).expanduser().absolute() if key_file else None,
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
