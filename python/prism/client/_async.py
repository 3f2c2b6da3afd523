"""asyncio client over grpc.aio: AsyncPrismClient, its KeyValue and TimeSeries views.

Create it inside a running event loop; `scan_all` and `query_all` are async generators
(`async for`, not awaited). This file is the source of the blocking client too:
tooling/codegen/render_sync_client.py turns it into _sync.py (`make codegen`). Requests
are built and responses parsed by prism.client._wire; the tail streams are hand-written
(_tail_async.py, _tail_sync.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from prism.client import _wire as w
from prism.client._auth import Security, async_channel
from prism.client._channel import channel_options
from prism.client._tail_async import AsyncTailStream
from prism.client.errors import rpc_errors
from prism.client.tokens import IdempotencyToken
from prism.client.types import AppendResult, Bucket, Event, Item, Key, Page, PutEntry, Ttl
from prism.keyvalue.v1.keyvalue_pb2_grpc import KeyValueStub
from prism.timeseries.v1.timeseries_pb2_grpc import TimeSeriesStub

# How long tail() waits for the server to accept the stream before returning anyway.
TAIL_READY_TIMEOUT = 10.0


class AsyncPrismClient:
    """A connection to a Prism gateway; `async with` it or `await close()`.

    `timeout` is the per-call deadline in seconds (None: no deadline);
    `retries` is the attempt count for UNAVAILABLE (1 disables retrying).
    `token` is sent as `authorization: Bearer <token>` on every call; any of
    `root_certificates`, `certificate_chain` + `private_key` (PEM bytes) selects TLS
    (mTLS with the pair); without root certificates the system's roots are trusted.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:8980",
        *,
        timeout: float | None = 10.0,
        retries: int = 3,
        token: str | None = None,
        root_certificates: bytes | None = None,
        certificate_chain: bytes | None = None,
        private_key: bytes | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        security = Security(token, root_certificates, certificate_chain, private_key)
        self._channel = async_channel(target, channel_options(retries), security)
        self._kv = KeyValueStub(self._channel)
        self._ts = TimeSeriesStub(self._channel)

    def kv(self, namespace: str = "default") -> AsyncKeyValueClient:
        return AsyncKeyValueClient(self._kv, namespace, self.timeout)

    def ts(self, namespace: str = "default") -> AsyncTimeSeriesClient:
        return AsyncTimeSeriesClient(self._ts, namespace, self.timeout)

    async def close(self) -> None:
        await self._channel.close(None)  # grpc-stubs requires the grace argument

    async def __aenter__(self) -> AsyncPrismClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncKeyValueClient:
    def __init__(self, stub: Any, namespace: str, timeout: float | None) -> None:
        self._stub = stub
        self.namespace = namespace
        self._timeout = timeout

    async def get(self, key: Key) -> Item | None:
        with rpc_errors():
            resp = await self._stub.Get(w.get_request(self.namespace, key), timeout=self._timeout)
        return w.parse_get(resp)

    async def batch_get(self, keys: Iterable[Key]) -> dict[bytes, Item]:
        req = w.batch_get_request(self.namespace, keys)
        with rpc_errors():
            resp = await self._stub.BatchGet(req, timeout=self._timeout)
        return w.parse_batch_get(resp)

    async def exists(self, key: Key) -> bool:
        req = w.exists_request(self.namespace, key)
        with rpc_errors():
            resp = await self._stub.Exists(req, timeout=self._timeout)
        return bool(resp.exists)

    async def put(
        self,
        key: Key,
        value: bytes,
        *,
        ttl: Ttl | None = None,
        if_absent: bool = False,
        if_version: int = 0,
        token: IdempotencyToken | None = None,
    ) -> int:
        """Write one item and return its new version."""
        req = w.put_request(
            self.namespace,
            key,
            value,
            ttl=ttl,
            if_absent=if_absent,
            if_version=if_version,
            token=token,
        )
        with rpc_errors():
            resp = await self._stub.Put(req, timeout=self._timeout)
        return int(resp.version)

    async def batch_put(
        self, entries: Iterable[PutEntry], *, token: IdempotencyToken | None = None
    ) -> list[int]:
        """Write all entries atomically; versions in entry order."""
        req = w.batch_put_request(self.namespace, entries, token)
        with rpc_errors():
            resp = await self._stub.BatchPut(req, timeout=self._timeout)
        return list(resp.versions)

    async def delete(
        self, key: Key, *, if_version: int = 0, token: IdempotencyToken | None = None
    ) -> bool:
        req = w.delete_request(self.namespace, key, if_version, token)
        with rpc_errors():
            resp = await self._stub.Delete(req, timeout=self._timeout)
        return bool(resp.deleted)

    async def batch_delete(
        self, keys: Iterable[Key], *, token: IdempotencyToken | None = None
    ) -> int:
        req = w.batch_delete_request(self.namespace, keys, token)
        with rpc_errors():
            resp = await self._stub.BatchDelete(req, timeout=self._timeout)
        return int(resp.deleted_count)

    async def scan(
        self,
        *,
        prefix: Key | None = None,
        start: Key | None = None,
        end: Key | None = None,
        limit: int = 0,
        limit_bytes: int = 0,
        page_token: str = "",
    ) -> Page[Item]:
        """One page of items in key order; pass next_page_token back for the next page."""
        req = w.scan_request(
            self.namespace,
            prefix=prefix,
            start=start,
            end=end,
            limit=limit,
            limit_bytes=limit_bytes,
            page_token=page_token,
        )
        with rpc_errors():
            resp = await self._stub.Scan(req, timeout=self._timeout)
        return w.parse_scan(resp)

    async def scan_all(
        self,
        *,
        prefix: Key | None = None,
        start: Key | None = None,
        end: Key | None = None,
        limit: int = 0,
        limit_bytes: int = 0,
    ) -> AsyncIterator[Item]:
        """Every item of the scan, fetching pages lazily."""
        token = ""
        while True:
            page = await self.scan(
                prefix=prefix,
                start=start,
                end=end,
                limit=limit,
                limit_bytes=limit_bytes,
                page_token=token,
            )
            for item in page.items:
                yield item
            token = page.next_page_token
            if not token:
                return


class AsyncTimeSeriesClient:
    def __init__(self, stub: Any, namespace: str, timeout: float | None) -> None:
        self._stub = stub
        self.namespace = namespace
        self._timeout = timeout

    async def append(self, events: Iterable[Event]) -> AppendResult:
        """Store events; returns once the backend acknowledged them durably."""
        req = w.append_request(self.namespace, events)
        with rpc_errors():
            resp = await self._stub.Append(req, timeout=self._timeout)
        return w.parse_append(resp)

    async def query(
        self,
        series_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        descending: bool = False,
        limit: int = 0,
        page_token: str = "",
    ) -> Page[Event]:
        """One page of events in [start, end); `page.events` holds them."""
        req = w.query_request(
            self.namespace,
            series_id,
            start=start,
            end=end,
            tags=tags,
            descending=descending,
            limit=limit,
            page_token=page_token,
        )
        with rpc_errors():
            resp = await self._stub.Query(req, timeout=self._timeout)
        return w.parse_query(resp)

    async def query_all(
        self,
        series_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        descending: bool = False,
        limit: int = 0,
    ) -> AsyncIterator[Event]:
        token = ""
        while True:
            page = await self.query(
                series_id,
                start=start,
                end=end,
                tags=tags,
                descending=descending,
                limit=limit,
                page_token=token,
            )
            for event in page.items:
                yield event
            token = page.next_page_token
            if not token:
                return

    async def aggregate(
        self,
        series_id: str,
        *,
        start: datetime,
        end: datetime,
        bucket_width: Ttl,
        tags: Mapping[str, str] | None = None,
    ) -> list[Bucket]:
        req = w.aggregate_request(
            self.namespace, series_id, start=start, end=end, bucket_width=bucket_width, tags=tags
        )
        with rpc_errors():
            resp = await self._stub.Aggregate(req, timeout=self._timeout)
        return w.parse_aggregate(resp)

    async def tail(
        self,
        series_id: str,
        *,
        from_time: datetime | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> AsyncTailStream:
        """Stream events of a series; returns once the server has accepted the stream.

        With from_time unset only events appended after this call returns are seen.
        """
        req = w.tail_request(self.namespace, series_id, from_time=from_time, tags=tags)
        # No deadline: a tail lives until cancelled.
        stream = AsyncTailStream(self._stub.Tail(req))
        await stream.wait_ready(TAIL_READY_TIMEOUT)
        return stream
