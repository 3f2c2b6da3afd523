"""Conversions between client values and protobuf messages.

Every request is built and every response parsed here, once; the sync and
async clients only differ in how they call the stub.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from prism.client.tokens import IdempotencyToken
from prism.client.types import (
    AppendResult,
    Bucket,
    Event,
    Item,
    Key,
    Page,
    PutEntry,
    Ttl,
    to_key,
    to_utc,
)
from prism.keyvalue.v1 import keyvalue_pb2 as kv
from prism.timeseries.v1 import timeseries_pb2 as ts

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# ---- scalars -------------------------------------------------------------


def timestamp_from_datetime(when: datetime) -> Timestamp:
    # Integer microseconds: float seconds would lose precision for current dates.
    micros = (to_utc(when) - EPOCH) // _MICRO
    seconds, rest = divmod(micros, 1_000_000)  # floor: nanos stay in [0, 1e9) as proto requires
    return Timestamp(seconds=seconds, nanos=rest * 1000)


def datetime_from_timestamp(stamp: Timestamp) -> datetime:
    # Microsecond precision: datetime cannot hold the sub-microsecond rest.
    return EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


def duration_from(value: Ttl) -> Duration:
    """A timedelta or float seconds as a Duration; negatives pass through for the server."""
    if isinstance(value, timedelta):
        micros = value // _MICRO
    elif isinstance(value, int | float) and not isinstance(value, bool):
        micros = round(value * 1_000_000)
    else:
        raise TypeError(f"duration must be a timedelta or seconds, not {type(value).__name__}")
    # Duration wants seconds and nanos with the same sign, so split the magnitude.
    sign = -1 if micros < 0 else 1
    seconds, rest = divmod(abs(micros), 1_000_000)
    return Duration(seconds=sign * seconds, nanos=sign * rest * 1000)


def timedelta_from_duration(duration: Duration) -> timedelta:
    return timedelta(seconds=duration.seconds, microseconds=duration.nanos // 1000)


def token_to_proto(token: IdempotencyToken | None) -> kv.IdempotencyToken:
    # A fresh token per call when the caller gave none, so transport retries stay safe.
    token = token or IdempotencyToken.new()
    return kv.IdempotencyToken(
        id=token.id, generated_at=timestamp_from_datetime(token.generated_at)
    )


# ---- KeyValue ------------------------------------------------------------


def item_from_proto(msg: kv.Item) -> Item:
    expires = datetime_from_timestamp(msg.expires_at) if msg.HasField("expires_at") else None
    return Item(key=msg.key, value=msg.value, version=msg.version, expires_at=expires)


def get_request(namespace: str, key: Key) -> kv.GetRequest:
    return kv.GetRequest(namespace=namespace, key=to_key(key))


def parse_get(resp: kv.GetResponse) -> Item | None:
    return item_from_proto(resp.item) if resp.found else None


def batch_get_request(namespace: str, keys: Iterable[Key]) -> kv.BatchGetRequest:
    return kv.BatchGetRequest(namespace=namespace, keys=[to_key(k) for k in keys])


def parse_batch_get(resp: kv.BatchGetResponse) -> dict[bytes, Item]:
    return {item.key: item for item in map(item_from_proto, resp.items)}


def exists_request(namespace: str, key: Key) -> kv.ExistsRequest:
    return kv.ExistsRequest(namespace=namespace, key=to_key(key))


def put_request(
    namespace: str,
    key: Key,
    value: bytes,
    *,
    ttl: Ttl | None,
    if_absent: bool,
    if_version: int,
    token: IdempotencyToken | None,
) -> kv.PutRequest:
    req = kv.PutRequest(
        namespace=namespace,
        key=to_key(key),
        value=value,
        if_absent=if_absent,
        if_version=if_version,
        idempotency_token=token_to_proto(token),
    )
    if ttl is not None:
        req.ttl.CopyFrom(duration_from(ttl))
    return req


def _put_entry(entry: PutEntry) -> kv.PutEntry:
    msg = kv.PutEntry(
        key=to_key(entry.key),
        value=entry.value,
        if_absent=entry.if_absent,
        if_version=entry.if_version,
    )
    if entry.ttl is not None:
        msg.ttl.CopyFrom(duration_from(entry.ttl))
    return msg


def batch_put_request(
    namespace: str, entries: Iterable[PutEntry], token: IdempotencyToken | None
) -> kv.BatchPutRequest:
    return kv.BatchPutRequest(
        namespace=namespace,
        entries=[_put_entry(e) for e in entries],
        idempotency_token=token_to_proto(token),
    )


def delete_request(
    namespace: str, key: Key, if_version: int, token: IdempotencyToken | None
) -> kv.DeleteRequest:
    return kv.DeleteRequest(
        namespace=namespace,
        key=to_key(key),
        if_version=if_version,
        idempotency_token=token_to_proto(token),
    )


def batch_delete_request(
    namespace: str, keys: Iterable[Key], token: IdempotencyToken | None
) -> kv.BatchDeleteRequest:
    return kv.BatchDeleteRequest(
        namespace=namespace,
        keys=[to_key(k) for k in keys],
        idempotency_token=token_to_proto(token),
    )


def scan_request(
    namespace: str,
    *,
    prefix: Key | None,
    start: Key | None,
    end: Key | None,
    limit: int,
    limit_bytes: int,
    page_token: str,
) -> kv.ScanRequest:
    if prefix is not None and (start is not None or end is not None):
        raise ValueError("scan takes either a prefix or a start/end range, not both")
    req = kv.ScanRequest(
        namespace=namespace, limit=limit, limit_bytes=limit_bytes, page_token=page_token
    )
    if prefix is not None:
        req.prefix = to_key(prefix)
    elif start is not None or end is not None:
        req.range.CopyFrom(
            kv.KeyRange(
                start=to_key(start) if start is not None else b"",
                end=to_key(end) if end is not None else b"",
            )
        )
    return req


def parse_scan(resp: kv.ScanResponse) -> Page[Item]:
    return Page([item_from_proto(i) for i in resp.items], resp.next_page_token)


# ---- TimeSeries ----------------------------------------------------------


def event_to_proto(event: Event) -> ts.Event:
    msg = ts.Event(
        series_id=event.series_id,
        event_time=timestamp_from_datetime(event.event_time),
        event_id=event.event_id,
        tags=event.tags,
        payload=event.payload,
    )
    if event.value is not None:
        msg.value = event.value
    return msg


def event_from_proto(msg: ts.Event) -> Event:
    return Event(
        series_id=msg.series_id,
        event_time=datetime_from_timestamp(msg.event_time),
        event_id=msg.event_id,
        tags=dict(msg.tags),
        value=msg.value if msg.HasField("value") else None,
        payload=msg.payload,
    )


def append_request(namespace: str, events: Iterable[Event]) -> ts.AppendRequest:
    return ts.AppendRequest(namespace=namespace, events=[event_to_proto(e) for e in events])


def parse_append(resp: ts.AppendResponse) -> AppendResult:
    return AppendResult(appended=resp.appended, duplicates=resp.duplicates)


def query_request(
    namespace: str,
    series_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    tags: Mapping[str, str] | None,
    descending: bool,
    limit: int,
    page_token: str,
) -> ts.QueryRequest:
    req = ts.QueryRequest(
        namespace=namespace,
        series_id=series_id,
        tag_filter=tags or {},
        order=ts.ORDER_DESCENDING if descending else ts.ORDER_ASCENDING,
        limit=limit,
        page_token=page_token,
    )
    if start is not None:
        req.start.CopyFrom(timestamp_from_datetime(start))
    if end is not None:
        req.end.CopyFrom(timestamp_from_datetime(end))
    return req


def parse_query(resp: ts.QueryResponse) -> Page[Event]:
    return Page([event_from_proto(e) for e in resp.events], resp.next_page_token)


def aggregate_request(
    namespace: str,
    series_id: str,
    *,
    start: datetime,
    end: datetime,
    bucket_width: Ttl,
    tags: Mapping[str, str] | None,
) -> ts.AggregateRequest:
    return ts.AggregateRequest(
        namespace=namespace,
        series_id=series_id,
        start=timestamp_from_datetime(start),
        end=timestamp_from_datetime(end),
        bucket_width=duration_from(bucket_width),
        tag_filter=tags or {},
    )


def parse_aggregate(resp: ts.AggregateResponse) -> list[Bucket]:
    return [
        Bucket(
            start=datetime_from_timestamp(b.start),
            count=b.count,
            value_count=b.value_count,
            sum=b.sum,
            min=b.min,
            max=b.max,
            avg=b.avg,
        )
        for b in resp.buckets
    ]


def tail_request(
    namespace: str,
    series_id: str,
    *,
    from_time: datetime | None,
    tags: Mapping[str, str] | None,
) -> ts.TailRequest:
    req = ts.TailRequest(namespace=namespace, series_id=series_id, tag_filter=tags or {})
    if from_time is not None:
        # `from` is a Python keyword, so the field is reached through getattr.
        getattr(req, "from").CopyFrom(timestamp_from_datetime(from_time))
    return req
