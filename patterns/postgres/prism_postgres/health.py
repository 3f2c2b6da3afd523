"""Liveness check of a namespace's PostgreSQL pool (feeds the gRPC health service)."""

from __future__ import annotations

from prism_postgres.db import Database

# Short on purpose: a health probe must answer quickly even when the server hangs.
HEALTH_TIMEOUT_S = 2.0


async def check(db: Database | None) -> bool:
    """True when a pooled connection answers `SELECT 1` within HEALTH_TIMEOUT_S."""
    if db is None or not db.is_open:
        return False
    return await db.ping(min(HEALTH_TIMEOUT_S, db.config.connect_timeout_s))
