"""`create_app(settings)`: the admin FastAPI app, one router per resource.

The store is migrated to head and the bootstrap token ensured while the app is built,
so a misconfigured database fails at start, not at the first request.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from prism import __version__
from prism.admin import auth
from prism.admin.audit_log import AuditLog
from prism.admin.db.engine import make_engine, upgrade_to_head
from prism.admin.oidc import OidcVerifier
from prism.admin.problems import install_handlers
from prism.admin.routers import (
    audit,
    backends,
    config,
    health,
    namespaces,
    proxies,
    schema,
    stats,
    tokens,
)
from prism.admin.settings import AdminSettings
from prism.admin.stats_scraper import StatsScraper
from prism.admin.store import Store
from prism.admin.watch import ConfigWatch


def create_app(settings: AdminSettings) -> FastAPI:
    # Checked before the database is touched: a half-configured OIDC fails the start.
    oidc = OidcVerifier.from_settings(settings)
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    store = Store(engine, AuditLog(settings.audit_path) if settings.audit_path else None)
    watch = ConfigWatch(store.config_version)
    store.listeners.append(watch.changed)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watch.bind(asyncio.get_running_loop())
        yield
        engine.dispose()

    app = FastAPI(
        title="Prism admin",
        version=__version__,
        description="Namespaces, backends, proxies, live config, audit and tokens (RFC-001).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.oidc = oidc
    app.state.watch = watch
    app.state.scraper = StatsScraper()
    # The token generated at first start, if any (tests and `prism serve` may use it).
    app.state.generated_token = auth.bootstrap(store, settings)
    install_handlers(app)
    for module in (health, namespaces, schema, backends, proxies, config, audit, tokens, stats):
        app.include_router(module.router)
    _mount_ui(app)
    return app


def _mount_ui(app: FastAPI) -> None:
    """Serve the web UI when its package is present (it ships separately)."""
    try:
        ui = importlib.import_module("prism.admin.ui")
    except ModuleNotFoundError as err:
        if err.name not in ("prism.admin.ui", "prism.admin"):
            raise
        return
    mount = getattr(ui, "mount_ui", None)
    if mount is not None:
        mount(app)
