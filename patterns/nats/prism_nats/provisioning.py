"""Connect, and create the KV bucket and the TimeSeries stream of a namespace.

Idempotent: an existing bucket or stream is reused as it is (two proxies starting at once
may race to create it; the loser reads the winner's). An existing stream that cannot be
ours (other subjects) is refused with a clear error
instead of being changed: it may belong to someone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError
from prism.errors import FailedPrecondition, Unavailable

from prism_nats.config import NatsConfig
from prism_nats.names import Names

log = logging.getLogger(__name__)

_STREAM_NAME_IN_USE = 10058


async def connect(config: NatsConfig) -> Client:
    """Connect, failing within about connect_timeout_s; reconnect forever afterwards."""

    async def on_error(exc: Exception) -> None:
        # nats-py reports background trouble (lost connection, reconnect failures) here;
        # the calls in flight fail on their own with a mapped error.
        log.warning("nats: %s: %s", type(exc).__name__, exc)

    options: dict[str, Any] = {  # nats-py annotates the timeouts as int; floats work
        "servers": config.servers,
        "connect_timeout": config.connect_timeout_s,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        # No buffering while disconnected: a write then fails at once with UNAVAILABLE
        # instead of being sent (and applied) after a reconnect, long after its caller
        # was told it failed.
        "pending_size": 0,
        "error_cb": on_error,
        "name": "prism-gateway",
    }
    nc = Client()
    try:
        # max_reconnect_attempts=-1 also makes the FIRST connect retry forever, hence
        # the outer deadline.
        await asyncio.wait_for(nc.connect(**options), timeout=config.connect_timeout_s + 0.5)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await nc.close()
        if isinstance(exc, asyncio.TimeoutError):
            raise Unavailable(
                f"nats: no server of {config.url} answered within {config.connect_timeout_s}s"
            ) from exc
        raise
    return nc


def kv_stream_config(names: Names, config: NatsConfig) -> api.StreamConfig:
    """The stream of a JetStream KV bucket, by the KV conventions (history 1)."""
    return api.StreamConfig(
        name=names.kv_stream,
        description="Prism KeyValue namespace",
        subjects=[f"{names.kv_prefix}>"],
        max_msgs_per_subject=1,
        discard=api.DiscardPolicy.NEW,
        allow_direct=True,  # gets are answered by any replica without the API leader
        allow_rollup_hdrs=True,
        deny_delete=True,
        deny_purge=False,  # the expiry sweep purges single subjects
        duplicate_window=120.0,
        storage=api.StorageType.FILE,
        num_replicas=config.replicas,
    )


def ts_stream_config(names: Names, config: NatsConfig) -> api.StreamConfig:
    return api.StreamConfig(
        name=names.ts_stream,
        description="Prism TimeSeries namespace",
        subjects=[names.ts_subjects],
        duplicate_window=config.duplicate_window_s,
        storage=api.StorageType.FILE,
        num_replicas=config.replicas,
    )


async def ensure_stream(js: JetStreamContext, wanted: api.StreamConfig) -> api.StreamInfo:
    """Create the stream unless it exists; check an existing one is ours."""
    assert wanted.name is not None
    try:
        info = await js.stream_info(wanted.name)
    except NotFoundError:
        try:
            info = await js.add_stream(wanted)
        except APIError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise
            info = await js.stream_info(wanted.name)  # created meanwhile by another proxy
    _check_compatible(info.config, wanted)
    return info


def _check_compatible(have: api.StreamConfig, wanted: api.StreamConfig) -> None:
    if sorted(have.subjects or []) != sorted(wanted.subjects or []):
        raise FailedPrecondition(
            f"nats: stream '{wanted.name}' exists with subjects {have.subjects}, "
            f"expected {wanted.subjects}; it is not a Prism stream of this namespace"
        )
    if have.num_replicas != wanted.num_replicas:
        log.warning(
            "nats: stream %r has %s replicas, config says %s; leaving it unchanged",
            wanted.name,
            have.num_replicas,
            wanted.num_replicas,
        )
