"""Liveness check: connected, and JetStream answers an account-info request."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.js import JetStreamContext


async def check(nc: Client | None, js: JetStreamContext | None, timeout_s: float) -> bool:
    """True when the connection is up and JetStream answers within `timeout_s`."""
    if nc is None or js is None or not nc.is_connected:
        return False
    try:
        await asyncio.wait_for(js.account_info(), timeout_s)
    except Exception:
        return False
    return True
