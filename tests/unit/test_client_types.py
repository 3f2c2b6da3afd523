"""prism.client pure logic: values, time conversions, request building, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from prism import errors
from prism.client import Event, IdempotencyToken, Page, PutEntry
from prism.client import _wire as w
from prism.client._channel import channel_options
from prism.client.errors import error_for_status, from_rpc_error, rpc_errors
from prism.client.types import to_key
from prism.keyvalue.v1 import keyvalue_pb2 as kv
from prism.timeseries.v1 import timeseries_pb2 as ts


def test_keys_are_bytes() -> None:
    assert to_key("héllo") == "héllo".encode()
    assert to_key(b"\x00\xff") == b"\x00\xff"
    with pytest.raises(TypeError):
        to_key(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "when",
    [
        datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),  # before the epoch
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_timestamp_round_trip_keeps_microseconds(when: datetime) -> None:
    stamp = w.timestamp_from_datetime(when)
    assert 0 <= stamp.nanos < 1_000_000_000
    assert w.datetime_from_timestamp(stamp) == when


def test_naive_times_are_utc_and_aware_times_are_converted() -> None:
    naive = datetime(2024, 1, 1, 12, 0)
    assert w.timestamp_from_datetime(naive) == Timestamp(seconds=1704110400)
    plus_two = datetime(2024, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert w.timestamp_from_datetime(plus_two) == Timestamp(seconds=1704110400)
    assert w.datetime_from_timestamp(Timestamp(seconds=1704110400)).tzinfo is UTC


def test_sub_microsecond_nanos_are_truncated() -> None:
    when = w.datetime_from_timestamp(Timestamp(seconds=1, nanos=1_999))
    assert when == datetime(1970, 1, 1, 0, 0, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.5, Duration(seconds=1, nanos=500_000_000)),
        (timedelta(minutes=2, microseconds=3), Duration(seconds=120, nanos=3000)),
        (0, Duration()),
        (-1.5, Duration(seconds=-1, nanos=-500_000_000)),  # passed through: the server rejects
    ],
)
def test_durations(value: float | timedelta, expected: Duration) -> None:
    assert w.duration_from(value) == expected


def test_duration_round_trip_and_bad_type() -> None:
    assert w.timedelta_from_duration(w.duration_from(timedelta(seconds=3.25))) == timedelta(
        seconds=3.25
    )
    with pytest.raises(TypeError):
        w.duration_from(True)
    with pytest.raises(TypeError):
        w.duration_from("1s")  # type: ignore[arg-type]


def test_event_defaults_generate_id_and_normalise_time() -> None:
    event = Event("cpu", datetime(2024, 1, 1))
    assert event.event_id and event.event_time.tzinfo is UTC
    assert Event("cpu", datetime(2024, 1, 1)).event_id != event.event_id
    assert event.tags == {} and event.value is None and event.payload == b""
    assert Event("cpu", datetime(2024, 1, 1), event_id="e1").event_id == "e1"


def test_event_proto_round_trip_keeps_optional_value() -> None:
    when = datetime(2024, 1, 1, 0, 0, 0, 7, tzinfo=UTC)
    for value in (None, 0.0, 2.5):
        event = Event("s", when, "id", {"host": "a"}, value, b"p")
        assert w.event_from_proto(w.event_to_proto(event)) == event
    assert not w.event_to_proto(Event("s", when)).HasField("value")


def test_tokens_are_generated_when_missing() -> None:
    a = w.put_request("ns", "k", b"v", ttl=None, if_absent=False, if_version=0, token=None)
    b = w.put_request("ns", "k", b"v", ttl=None, if_absent=False, if_version=0, token=None)
    assert a.idempotency_token.id and a.idempotency_token.id != b.idempotency_token.id
    assert a.idempotency_token.HasField("generated_at")
    assert not a.HasField("ttl")
    token = IdempotencyToken("fixed", datetime(2024, 1, 1, tzinfo=UTC))
    c = w.delete_request("ns", b"k", 3, token)
    assert c.idempotency_token == kv.IdempotencyToken(
        id="fixed", generated_at=Timestamp(seconds=1704067200)
    )
    assert c.if_version == 3


def test_put_and_batch_put_requests() -> None:
    req = w.put_request("ns", "k", b"v", ttl=10, if_absent=True, if_version=0, token=None)
    assert (req.namespace, req.key, req.value, req.if_absent) == ("ns", b"k", b"v", True)
    assert req.ttl == Duration(seconds=10)
    batch = w.batch_put_request(
        "ns",
        [PutEntry("a", b"1"), PutEntry(b"b", b"2", ttl=timedelta(seconds=1), if_version=4)],
        None,
    )
    assert [e.key for e in batch.entries] == [b"a", b"b"]
    assert not batch.entries[0].HasField("ttl")
    assert batch.entries[1].ttl == Duration(seconds=1) and batch.entries[1].if_version == 4


def test_scan_request_selectors() -> None:
    def selector(req: kv.ScanRequest) -> str | None:
        return req.WhichOneof("selector")

    def scan(prefix: str | None = None, start: str | None = None) -> kv.ScanRequest:
        return w.scan_request(
            "ns", prefix=prefix, start=start, end=None, limit=5, limit_bytes=0, page_token="t"
        )

    assert selector(scan()) is None
    by_prefix = scan(prefix="p/")
    assert selector(by_prefix) == "prefix" and by_prefix.prefix == b"p/"
    by_range = scan(start="a")
    assert selector(by_range) == "range"
    assert (by_range.range.start, by_range.range.end) == (b"a", b"")
    assert by_range.limit == 5 and by_range.page_token == "t"
    with pytest.raises(ValueError, match="either a prefix or a start/end range"):
        scan(prefix="p", start="a")


def test_parse_responses() -> None:
    item = kv.Item(key=b"k", value=b"v", version=7)
    assert w.parse_get(kv.GetResponse(found=False)) is None
    got = w.parse_get(kv.GetResponse(found=True, item=item))
    assert got is not None and (got.key, got.value, got.version, got.expires_at) == (
        b"k",
        b"v",
        7,
        None,
    )
    expiring = kv.Item(key=b"x", expires_at=Timestamp(seconds=60))
    assert w.item_from_proto(expiring).expires_at == datetime(1970, 1, 1, 0, 1, tzinfo=UTC)
    assert set(w.parse_batch_get(kv.BatchGetResponse(items=[item, expiring]))) == {b"k", b"x"}
    page = w.parse_scan(kv.ScanResponse(items=[item], next_page_token="n"))
    assert isinstance(page, Page) and page.next_page_token == "n" and not page.done
    assert page.events is page.items


def test_timeseries_requests_and_buckets() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    q = w.query_request(
        "ns", "s", start=start, end=None, tags={"a": "b"}, descending=True, limit=3, page_token=""
    )
    assert q.order == ts.ORDER_DESCENDING and q.HasField("start") and not q.HasField("end")
    assert dict(q.tag_filter) == {"a": "b"}
    agg = w.aggregate_request(
        "ns", "s", start=start, end=start + timedelta(hours=1), bucket_width=60, tags=None
    )
    assert agg.bucket_width == Duration(seconds=60)
    tail = w.tail_request("ns", "s", from_time=None, tags=None)
    assert not tail.HasField("from")
    assert w.tail_request("ns", "s", from_time=start, tags=None).HasField("from")
    [bucket] = w.parse_aggregate(
        ts.AggregateResponse(
            buckets=[ts.Bucket(start=Timestamp(seconds=0), count=2, value_count=1, sum=3, avg=3)]
        )
    )
    assert bucket.start == datetime(1970, 1, 1, tzinfo=UTC) and bucket.count == 2


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.NOT_FOUND, errors.NotFound),
        (grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExists),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPrecondition),
        (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhausted),
        (grpc.StatusCode.UNAVAILABLE, errors.Unavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded),
        (grpc.StatusCode.UNIMPLEMENTED, errors.Unimplemented),
        (grpc.StatusCode.UNAUTHENTICATED, errors.Unauthenticated),
        (grpc.StatusCode.PERMISSION_DENIED, errors.PermissionDenied),
        (grpc.StatusCode.UNKNOWN, errors.Internal),
        (grpc.StatusCode.DATA_LOSS, errors.Internal),
    ],
)
def test_status_codes_map_to_prism_errors(code: grpc.StatusCode, cls: type) -> None:
    exc = error_for_status(code, "what to fix")
    assert type(exc) is cls and exc.message == "what to fix"
    assert exc.grpc_code is code  # type: ignore[attr-defined]


class FakeRpcError(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.FAILED_PRECONDITION

    def details(self) -> str:
        return "version mismatch"


def test_rpc_errors_rewrites_and_chains() -> None:
    assert isinstance(from_rpc_error(FakeRpcError()), errors.FailedPrecondition)
    with pytest.raises(errors.FailedPrecondition, match="version mismatch") as info:
        with rpc_errors():
            raise FakeRpcError()
    assert isinstance(info.value.__cause__, FakeRpcError)


def test_channel_options_enable_retries_only_when_asked() -> None:
    assert "grpc.service_config" in dict(channel_options(3))
    assert "grpc.service_config" not in dict(channel_options(1))
