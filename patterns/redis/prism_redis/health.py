"""Liveness check of the Redis connection pool."""

from __future__ import annotations

from redis import exceptions as rx
from redis.asyncio import Redis


async def check(client: Redis | None) -> bool:
    """True when a pooled connection gets a PONG right now."""
    if client is None:
        return False
    try:
        return bool(await client.ping())
    except (rx.RedisError, OSError):
        return False
