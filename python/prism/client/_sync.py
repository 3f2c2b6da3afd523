# Generated from _async.py by tooling/codegen/render_sync_client.py. DO NOT EDIT:
# change the asyncio client and run `make codegen`; `make check-codegen` (CI) fails
# when this file is stale.
"""Blocking client over grpcio: PrismClient, its KeyValue and TimeSeries views.

Generated from the asyncio client (_async.py), which documents every method; the tail
stream is hand-written in _tail_sync.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from prism.client import _wire as w
from prism.client._auth import Security, sync_channel
from prism.client._channel import channel_options
from prism.client._tail_sync import TailStream
from prism.client.errors import rpc_errors
from prism.client.tokens import IdempotencyToken
from prism.client.types import AppendResult, Bucket, Event, Item, Key, Page, PutEntry, Ttl
from prism.keyvalue.v1.keyvalue_pb2_grpc import KeyValueStub
from prism.timeseries.v1.timeseries_pb2_grpc import TimeSeriesStub

# How long tail() waits for the server to accept the stream before returning anyway.
TAIL_READY_TIMEOUT = 10.0


class PrismClient:
    """A connection to a Prism gateway; `with` it or `close()`.

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
        self._channel = sync_channel(target, channel_options(retries), security)
        self._kv = KeyValueStub(self._channel)
        self._ts = TimeSeriesStub(self._channel)

    def kv(self, namespace: str = "default") -> KeyValueClient:
        return KeyValueClient(self._kv, namespace, self.timeout)

    def ts(self, namespace: str = "default") -> TimeSeriesClient:
        return TimeSeriesClient(self._ts, namespace, self.timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> PrismClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class KeyValueClient:
    def __init__(self, stub: Any, namespace: str, timeout: float | None) -> None:
        self._stub = stub
        self.namespace = namespace
        self._timeout = timeout

    def get(self, key: Key) -> Item | None:
        with rpc_errors():
            resp = self._stub.Get(w.get_request(self.namespace, key), timeout=self._timeout)
        return w.parse_get(resp)

    def batch_get(self, keys: Iterable[Key]) -> dict[bytes, Item]:
        req = w.batch_get_request(self.namespace, keys)
        with rpc_errors():
            resp = self._stub.BatchGet(req, timeout=self._timeout)
        return w.parse_batch_get(resp)

    def exists(self, key: Key) -> bool:
        req = w.exists_request(self.namespace, key)
        with rpc_errors():
            resp = self._stub.Exists(req, timeout=self._timeout)
        return bool(resp.exists)

    def put(
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
            resp = self._stub.Put(req, timeout=self._timeout)
        return int(resp.version)

    def batch_put(
        self, entries: Iterable[PutEntry], *, token: IdempotencyToken | None = None
    ) -> list[int]:
        """Write all entries atomically; versions in entry order."""
        req = w.batch_put_request(self.namespace, entries, token)
        with rpc_errors():
            resp = self._stub.BatchPut(req, timeout=self._timeout)
        return list(resp.versions)

    def delete(
        self, key: Key, *, if_version: int = 0, token: IdempotencyToken | None = None
    ) -> bool:
        req = w.delete_request(self.namespace, key, if_version, token)
        with rpc_errors():
            resp = self._stub.Delete(req, timeout=self._timeout)
        return bool(resp.deleted)

    def batch_delete(
        self, keys: Iterable[Key], *, token: IdempotencyToken | None = None
    ) -> int:
        req = w.batch_delete_request(self.namespace, keys, token)
        with rpc_errors():
            resp = self._stub.BatchDelete(req, timeout=self._timeout)
        return int(resp.deleted_count)

    def scan(
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
            resp = self._stub.Scan(req, timeout=self._timeout)
        return w.parse_scan(resp)

    def scan_all(
        self,
        *,
        prefix: Key | None = None,
        start: Key | None = None,
        end: Key | None = None,
        limit: int = 0,
        limit_bytes: int = 0,
    ) -> Iterator[Item]:
        """Every item of the scan, fetching pages lazily."""
        token = ""
        while True:
            page = self.scan(
                prefix=prefix,
                start=start,
                end=end,
                limit=limit,
                limit_bytes=limit_bytes,
                page_token=token,
            )
            yield from page.items
            token = page.next_page_token
            if not token:
                return


class TimeSeriesClient:
    def __init__(self, stub: Any, namespace: str, timeout: float | None) -> None:
        self._stub = stub
        self.namespace = namespace
        self._timeout = timeout

    def append(self, events: Iterable[Event]) -> AppendResult:
        """Store events; returns once the backend acknowledged them durably."""
        req = w.append_request(self.namespace, events)
        with rpc_errors():
            resp = self._stub.Append(req, timeout=self._timeout)
        return w.parse_append(resp)

    def query(
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
            resp = self._stub.Query(req, timeout=self._timeout)
        return w.parse_query(resp)

    def query_all(
        self,
        series_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        descending: bool = False,
        limit: int = 0,
    ) -> Iterator[Event]:
        token = ""
        while True:
            page = self.query(
                series_id,
                start=start,
                end=end,
                tags=tags,
                descending=descending,
                limit=limit,
                page_token=token,
            )
            yield from page.items
            token = page.next_page_token
            if not token:
                return

    def aggregate(
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
            resp = self._stub.Aggregate(req, timeout=self._timeout)
        return w.parse_aggregate(resp)

    def tail(
        self,
        series_id: str,
        *,
        from_time: datetime | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TailStream:
        """Stream events of a series; returns once the server has accepted the stream.

        With from_time unset only events appended after this call returns are seen.
        """
        req = w.tail_request(self.namespace, series_id, from_time=from_time, tags=tags)
        # No deadline: a tail lives until cancelled.
        stream = TailStream(self._stub.Tail(req))
        stream.wait_ready(TAIL_READY_TIMEOUT)
        return stream
