"""Liveness check: the cluster answers a metadata request in time."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer


async def check(producer: AIOKafkaProducer | None, timeout_s: float) -> bool:
    """True when the producer's client gets cluster metadata with at least one broker."""
    if producer is None:
        return False
    try:
        async with asyncio.timeout(timeout_s):
            metadata = await producer.client.fetch_all_metadata()
    except Exception:  # any failure means "not healthy right now"
        return False
    return bool(metadata.brokers())
