"""Raw generated stubs and status assertions, independent of prism.client.

Bad-input tests use these so they check the exact grpc.StatusCode and the server's
own message, not whatever the client SDK makes of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from prism.keyvalue.v1 import keyvalue_pb2 as kvpb
from prism.keyvalue.v1.keyvalue_pb2_grpc import KeyValueStub
from prism.timeseries.v1 import timeseries_pb2 as tspb
from prism.timeseries.v1.timeseries_pb2_grpc import TimeSeriesStub

__all__ = ["Stubs", "kvpb", "tspb", "rpc_error", "timestamp", "duration", "token"]

RPC_TIMEOUT_S = 10.0


@dataclass
class Stubs:
    channel: grpc.Channel
    kv: KeyValueStub
    ts: TimeSeriesStub

    @classmethod
    def connect(cls, address: str) -> Stubs:
        channel = grpc.insecure_channel(address)
        return cls(channel, KeyValueStub(channel), TimeSeriesStub(channel))

    def close(self) -> None:
        self.channel.close()

    # Read-backs used to prove that a rejected call wrote nothing.
    def get(self, namespace: str, key: bytes) -> kvpb.GetResponse:
        return self.kv.Get(kvpb.GetRequest(namespace=namespace, key=key), timeout=RPC_TIMEOUT_S)

    def scan_keys(self, namespace: str, prefix: bytes) -> list[bytes]:
        req = kvpb.ScanRequest(namespace=namespace, prefix=prefix, limit=1000)
        return [i.key for i in self.kv.Scan(req, timeout=RPC_TIMEOUT_S).items]

    def query(self, namespace: str, series_id: str) -> list[tspb.Event]:
        req = tspb.QueryRequest(namespace=namespace, series_id=series_id, limit=1000)
        return list(self.ts.Query(req, timeout=RPC_TIMEOUT_S).events)


def rpc_error(
    call: Callable[..., Any], request: Any, code: grpc.StatusCode | Iterable[grpc.StatusCode]
) -> str:
    """Invoke a unary stub method, assert it fails with `code`; return the message."""
    codes = {code} if isinstance(code, grpc.StatusCode) else set(code)
    try:
        response = call(request, timeout=RPC_TIMEOUT_S)
    except grpc.RpcError as exc:
        got = exc.code()
        message = exc.details() or ""
        assert got in codes, (
            f"expected {sorted(c.name for c in codes)}, got {got.name}: {message!r}"
        )
        assert message.strip(), f"{got.name} without a message saying what to fix"
        return message
    raise AssertionError(
        f"expected {sorted(c.name for c in codes)}, call succeeded with {response!r}"
    )


def timestamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when.astimezone(UTC))
    return ts


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromTimedelta(timedelta(seconds=seconds))
    return d


def token(token_id: str) -> kvpb.IdempotencyToken:
    return kvpb.IdempotencyToken(id=token_id, generated_at=timestamp(datetime.now(UTC)))
