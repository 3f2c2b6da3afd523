"""Typed Python client for Prism's KeyValue and TimeSeries APIs, blocking and asyncio.

    from prism.client import PrismClient
    with PrismClient("127.0.0.1:8980") as client:
        kv = client.kv("default")
        version = kv.put("greeting", b"hello", ttl=60)
        item = kv.get("greeting")

Failures raise prism.errors exceptions (NotFound, FailedPrecondition, ...), each
with the gRPC status on `.grpc_code`. Mutations carry an idempotency token,
generated per call when none is given, so transparent retries apply once.
"""

from prism.client._async import (
    AsyncKeyValueClient,
    AsyncPrismClient,
    AsyncTailStream,
    AsyncTimeSeriesClient,
)
from prism.client._sync import KeyValueClient, PrismClient, TailStream, TimeSeriesClient
from prism.client.tokens import IdempotencyToken
from prism.client.types import AppendResult, Bucket, Event, Item, Page, PutEntry

__all__ = [
    "AppendResult",
    "AsyncKeyValueClient",
    "AsyncPrismClient",
    "AsyncTailStream",
    "AsyncTimeSeriesClient",
    "Bucket",
    "Event",
    "IdempotencyToken",
    "Item",
    "KeyValueClient",
    "Page",
    "PrismClient",
    "PutEntry",
    "TailStream",
    "TimeSeriesClient",
]
