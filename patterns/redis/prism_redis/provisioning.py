"""Connect and prepare a namespace (idempotent: safe on every start).

Redis needs no schema: provisioning records the layout version under the prefix (and
refuses a prefix holding another layout), creates the version counter, loads the Lua
scripts and warns when the server's persistence cannot honour "durable before answering".
"""

from __future__ import annotations

import logging

from prism.errors import ConfigError
from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from prism_redis import scripts
from prism_redis.config import RedisConfig
from prism_redis.keyspace import Keyspace
from prism_redis.metadata import BACKEND_NAME, DATA_FORMAT

log = logging.getLogger(__name__)


def connect(config: RedisConfig) -> Redis:
    """A client over a bounded, blocking pool (no connection is opened yet).

    No automatic retries: a script whose reply was lost may have run, and re-running a
    put would consume another version or turn an if_absent success into AlreadyExists.
    Failures surface as UNAVAILABLE and the caller (or the core's idempotency tokens)
    decides. Stale pooled connections are re-opened when checked out.
    """
    pool = BlockingConnectionPool.from_url(
        config.url,
        max_connections=config.pool_size,
        timeout=config.socket_timeout_s,
        socket_timeout=config.socket_timeout_s,
        socket_connect_timeout=config.connect_timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


async def provision(client: Redis, keyspace: Keyspace, namespace: str) -> None:
    """Claim the prefix for this layout, create the counter, load the scripts."""
    pipe = client.pipeline(transaction=False)
    pipe.hsetnx(keyspace.meta, "format", DATA_FORMAT)
    pipe.hsetnx(keyspace.meta, "backend", BACKEND_NAME)
    pipe.hsetnx(keyspace.meta, "namespace", namespace)
    pipe.setnx(keyspace.version, 0)
    pipe.hget(keyspace.meta, "format")
    *_, stored = await pipe.execute()
    if stored is not None and stored.decode() != DATA_FORMAT:
        raise ConfigError(
            f"redis config field 'key_prefix': {keyspace.prefix.decode()!r} holds data of "
            f"layout {stored.decode()!r}, this plugin writes layout {DATA_FORMAT!r}"
        )
    await scripts.load(client)
    await _check_durability(client, namespace)


async def _check_durability(client: Redis, namespace: str) -> None:
    """Warn (not fail) when acknowledged writes could be lost on a crash."""
    try:
        appendonly = await client.config_get("appendonly")
        appendfsync = await client.config_get("appendfsync")
    except rx.ResponseError:  # CONFIG disabled (managed Redis): cannot tell
        return
    if appendonly.get("appendonly") != "yes" or appendfsync.get("appendfsync") != "always":
        log.warning(
            "namespace %r: redis runs with appendonly=%s appendfsync=%s; acknowledged "
            "writes may be lost on a crash (use appendonly yes, appendfsync always)",
            namespace,
            appendonly.get("appendonly"),
            appendfsync.get("appendfsync"),
        )
