"""Bad input: each case gets a specific status, a message that says what to fix, and
writes nothing (every test reads back). Raw generated stubs, so the exact status code and
the server's own message are checked, independent of prism.client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from helpers import MAX_BATCH_ITEMS, MAX_KEY_BYTES, MAX_VALUE_BYTES, unique
from helpers.rpc import Stubs, duration, kvpb, rpc_error, timestamp, token, tspb

INVALID = grpc.StatusCode.INVALID_ARGUMENT
KV_NAMESPACES = pytest.mark.parametrize("ns", ["mem", "lite"])


def put(ns: str, key: bytes, value: bytes = b"v", **kw: object) -> kvpb.PutRequest:
    return kvpb.PutRequest(namespace=ns, key=key, value=value, **kw)


def assert_absent(stubs: Stubs, ns: str, *keys: bytes) -> None:
    for k in keys:
        assert not stubs.get(ns, k).found, f"rejected request wrote {k!r}"


def mentions(message: str, *words: str) -> bool:
    """Case-insensitive; `max_key_bytes` and `max key bytes` count as the same words."""
    low = message.lower().replace("_", " ")
    return all(w.lower().replace("_", " ") in low for w in words)


# ---------------------------------------------------------------- keys and values


@KV_NAMESPACES
def test_empty_key(stubs: Stubs, ns: str) -> None:
    msg = rpc_error(stubs.kv.Put, put(ns, b""), INVALID)
    assert mentions(msg, "key"), msg
    assert any(mentions(msg, w) for w in ("empty", "required", "missing")), msg
    good = unique("empty-batch").encode()
    req = kvpb.BatchPutRequest(
        namespace=ns,
        entries=[kvpb.PutEntry(key=good, value=b"v"), kvpb.PutEntry(key=b"", value=b"v")],
    )
    msg = rpc_error(stubs.kv.BatchPut, req, INVALID)
    assert mentions(msg, "key"), msg
    assert_absent(stubs, ns, good)
    # Nothing stored under the empty key: the range [b"", b"\0") holds only that key.
    scan = kvpb.ScanRequest(namespace=ns, range=kvpb.KeyRange(start=b"", end=b"\x00"))
    assert not stubs.kv.Scan(scan, timeout=10).items


@KV_NAMESPACES
def test_key_over_limit(stubs: Stubs, ns: str) -> None:
    prefix = unique("long").encode()
    at_limit = prefix + b"a" * (MAX_KEY_BYTES - len(prefix))
    over = prefix + b"b" * (MAX_KEY_BYTES + 1 - len(prefix))
    msg = rpc_error(stubs.kv.Put, put(ns, over), INVALID)
    assert mentions(msg, "key") and str(MAX_KEY_BYTES) in msg, f"limit not named: {msg}"
    stubs.kv.Put(put(ns, at_limit), timeout=10)  # exactly at the limit is fine
    assert stubs.scan_keys(ns, prefix) == [at_limit], "the oversize key was written"
    msg = rpc_error(stubs.kv.Get, kvpb.GetRequest(namespace=ns, key=over), INVALID)
    assert str(MAX_KEY_BYTES) in msg, msg


@KV_NAMESPACES
def test_value_over_limit(stubs: Stubs, ns: str) -> None:
    k, ok = unique("bigval").encode(), unique("maxval").encode()
    msg = rpc_error(stubs.kv.Put, put(ns, k, b"x" * (MAX_VALUE_BYTES + 1)), INVALID)
    assert mentions(msg, "value") and str(MAX_VALUE_BYTES) in msg, f"limit not named: {msg}"
    assert_absent(stubs, ns, k)
    stubs.kv.Put(put(ns, ok, b"x" * MAX_VALUE_BYTES), timeout=10)
    req = kvpb.BatchPutRequest(
        namespace=ns,
        entries=[
            kvpb.PutEntry(key=k + b"1", value=b"small"),
            kvpb.PutEntry(key=k + b"2", value=b"x" * (MAX_VALUE_BYTES + 1)),
        ],
    )
    msg = rpc_error(stubs.kv.BatchPut, req, INVALID)
    assert str(MAX_VALUE_BYTES) in msg, msg
    assert_absent(stubs, ns, k + b"1", k + b"2")


@KV_NAMESPACES
def test_batch_over_limit(stubs: Stubs, ns: str) -> None:
    prefix = unique("batch11").encode()
    keys = [prefix + f"/{i:02d}".encode() for i in range(MAX_BATCH_ITEMS + 1)]
    req = kvpb.BatchPutRequest(
        namespace=ns, entries=[kvpb.PutEntry(key=k, value=b"v") for k in keys]
    )
    msg = rpc_error(stubs.kv.BatchPut, req, INVALID)
    assert str(MAX_BATCH_ITEMS) in msg, f"limit not named: {msg}"
    assert stubs.scan_keys(ns, prefix) == [], "an over-limit batch wrote some entries"

    # Batch deletes and reads are bounded too, and the delete removes nothing.
    stubs.kv.BatchPut(
        kvpb.BatchPutRequest(
            namespace=ns, entries=[kvpb.PutEntry(key=k, value=b"v") for k in keys[:MAX_BATCH_ITEMS]]
        ),
        timeout=10,
    )
    msg = rpc_error(stubs.kv.BatchDelete, kvpb.BatchDeleteRequest(namespace=ns, keys=keys), INVALID)
    assert str(MAX_BATCH_ITEMS) in msg, msg
    assert len(stubs.scan_keys(ns, prefix)) == MAX_BATCH_ITEMS, "over-limit delete deleted"
    msg = rpc_error(stubs.kv.BatchGet, kvpb.BatchGetRequest(namespace=ns, keys=keys), INVALID)
    assert str(MAX_BATCH_ITEMS) in msg, msg


@KV_NAMESPACES
def test_negative_ttl(stubs: Stubs, ns: str) -> None:
    k = unique("negttl").encode()
    msg = rpc_error(stubs.kv.Put, put(ns, k, ttl=duration(-1)), INVALID)
    assert mentions(msg, "ttl"), msg
    req = kvpb.BatchPutRequest(
        namespace=ns,
        entries=[
            kvpb.PutEntry(key=k + b"1", value=b"v"),
            kvpb.PutEntry(key=k + b"2", value=b"v", ttl=duration(-5)),
        ],
    )
    msg = rpc_error(stubs.kv.BatchPut, req, INVALID)
    assert mentions(msg, "ttl"), msg
    assert_absent(stubs, ns, k, k + b"1", k + b"2")


# ---------------------------------------------------------------- namespaces


def test_unknown_namespace(stubs: Stubs) -> None:
    ns = unique("nosuchns")
    k = b"k"
    msg = rpc_error(stubs.kv.Put, put(ns, k), grpc.StatusCode.NOT_FOUND)
    assert ns in msg, f"message does not name the namespace: {msg}"
    append = tspb.AppendRequest(
        namespace=ns,
        events=[tspb.Event(series_id="s", event_time=timestamp(datetime.now(UTC)), event_id="e")],
    )
    msg = rpc_error(stubs.ts.Append, append, grpc.StatusCode.NOT_FOUND)
    assert ns in msg, msg
    # Nothing was created on the fly: the namespace is still unknown.
    rpc_error(stubs.kv.Get, kvpb.GetRequest(namespace=ns, key=k), grpc.StatusCode.NOT_FOUND)
    msg = rpc_error(stubs.kv.Put, put("", k), (INVALID, grpc.StatusCode.NOT_FOUND))
    assert mentions(msg, "namespace"), msg


def test_keyvalue_call_on_timeseries_namespace(stubs: Stubs) -> None:
    k = unique("wrong-pattern").encode()
    msg = rpc_error(stubs.kv.Put, put("tsonly", k), grpc.StatusCode.FAILED_PRECONDITION)
    assert mentions(msg, "tsonly") or mentions(msg, "keyvalue"), msg
    rpc_error(
        stubs.kv.Get,
        kvpb.GetRequest(namespace="tsonly", key=k),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    # The namespace still works for its own pattern, and the write did not land there.
    series = unique("tsonly-series")
    stubs.ts.Append(
        tspb.AppendRequest(
            namespace="tsonly",
            events=[
                tspb.Event(series_id=series, event_time=timestamp(datetime.now(UTC)), event_id="e")
            ],
        ),
        timeout=10,
    )
    assert [e.event_id for e in stubs.query("tsonly", series)] == ["e"]


# ---------------------------------------------------------------- page tokens


def scan_token(stubs: Stubs, ns: str, prefix: bytes) -> str:
    """A genuine next-page token: two keys under prefix, pages of one."""
    for i in range(2):
        stubs.kv.Put(put(ns, prefix + f"/{i}".encode()), timeout=10)
    page = stubs.kv.Scan(kvpb.ScanRequest(namespace=ns, prefix=prefix, limit=1), timeout=10)
    assert page.next_page_token, "two keys, limit 1: expected a next page token"
    return page.next_page_token


def query_token(stubs: Stubs, ns: str, series: str) -> str:
    now = datetime.now(UTC)
    events = [
        tspb.Event(
            series_id=series, event_time=timestamp(now + timedelta(seconds=i)), event_id=str(i)
        )
        for i in range(2)
    ]
    stubs.ts.Append(tspb.AppendRequest(namespace=ns, events=events), timeout=10)
    page = stubs.ts.Query(tspb.QueryRequest(namespace=ns, series_id=series, limit=1), timeout=10)
    assert page.next_page_token, "two events, limit 1: expected a next page token"
    return page.next_page_token


@pytest.mark.parametrize("bad", ["not-a-token", "!!!", "AAAA", "x" * 300])
def test_malformed_page_token(stubs: Stubs, bad: str) -> None:
    req = kvpb.ScanRequest(namespace="mem", prefix=b"any", page_token=bad)
    msg = rpc_error(stubs.kv.Scan, req, INVALID)
    assert mentions(msg, "token"), msg
    q = tspb.QueryRequest(namespace="mem", series_id="any", page_token=bad)
    msg = rpc_error(stubs.ts.Query, q, INVALID)
    assert mentions(msg, "token"), msg


def test_foreign_scan_page_token(stubs: Stubs) -> None:
    prefix = unique("tok").encode()
    tok = scan_token(stubs, "mem", prefix)
    # Same token, but another namespace, another prefix, a range instead of the prefix.
    for req in (
        kvpb.ScanRequest(namespace="lite", prefix=prefix, page_token=tok),
        kvpb.ScanRequest(namespace="mem", prefix=unique("other").encode(), page_token=tok),
        kvpb.ScanRequest(
            namespace="mem", range=kvpb.KeyRange(start=b"a", end=b"b"), page_token=tok
        ),
    ):
        msg = rpc_error(stubs.kv.Scan, req, INVALID)
        assert mentions(msg, "token"), msg
    # The genuine use still works.
    ok = stubs.kv.Scan(
        kvpb.ScanRequest(namespace="mem", prefix=prefix, page_token=tok, limit=1), timeout=10
    )
    assert [i.key for i in ok.items] == [prefix + b"/1"]


def test_foreign_query_page_token(stubs: Stubs) -> None:
    series = unique("qtok")
    tok = query_token(stubs, "mem", series)
    for req in (
        tspb.QueryRequest(namespace="lite", series_id=series, page_token=tok),
        tspb.QueryRequest(namespace="mem", series_id=unique("other"), page_token=tok),
    ):
        msg = rpc_error(stubs.ts.Query, req, INVALID)
        assert mentions(msg, "token"), msg
    scan = kvpb.ScanRequest(namespace="mem", prefix=b"x", page_token=tok)
    msg = rpc_error(stubs.kv.Scan, scan, INVALID)
    assert mentions(msg, "token"), msg


# ---------------------------------------------------------------- ranges


@KV_NAMESPACES
def test_scan_start_after_end(stubs: Stubs, ns: str) -> None:
    req = kvpb.ScanRequest(namespace=ns, range=kvpb.KeyRange(start=b"b", end=b"a"))
    msg = rpc_error(stubs.kv.Scan, req, INVALID)
    assert mentions(msg, "start") and mentions(msg, "end"), msg


@KV_NAMESPACES
def test_timeseries_start_after_end(stubs: Stubs, ns: str) -> None:
    now = datetime.now(UTC)
    start, end = timestamp(now), timestamp(now - timedelta(seconds=1))
    q = tspb.QueryRequest(namespace=ns, series_id="s", start=start, end=end)
    msg = rpc_error(stubs.ts.Query, q, INVALID)
    assert mentions(msg, "start") and mentions(msg, "end"), msg
    agg = tspb.AggregateRequest(
        namespace=ns, series_id="s", start=start, end=end, bucket_width=duration(60)
    )
    msg = rpc_error(stubs.ts.Aggregate, agg, INVALID)
    assert mentions(msg, "start") and mentions(msg, "end"), msg


@KV_NAMESPACES
def test_aggregate_without_bucket_width(stubs: Stubs, ns: str) -> None:
    now = datetime.now(UTC)
    agg = tspb.AggregateRequest(
        namespace=ns, series_id="s", start=timestamp(now), end=timestamp(now + timedelta(minutes=1))
    )
    msg = rpc_error(stubs.ts.Aggregate, agg, INVALID)
    assert mentions(msg, "bucket"), msg


# ---------------------------------------------------------------- conditions and tokens


@KV_NAMESPACES
def test_cas_on_missing_key(stubs: Stubs, ns: str) -> None:
    k = unique("cas-missing").encode()
    msg = rpc_error(stubs.kv.Put, put(ns, k, if_version=5), grpc.StatusCode.FAILED_PRECONDITION)
    assert mentions(msg, "version") or mentions(msg, "exist"), msg
    assert_absent(stubs, ns, k)
    req = kvpb.DeleteRequest(namespace=ns, key=k, if_version=5)
    rpc_error(stubs.kv.Delete, req, grpc.StatusCode.FAILED_PRECONDITION)
    assert_absent(stubs, ns, k)


@KV_NAMESPACES
def test_idempotency_token_reused_with_other_payload(stubs: Stubs, ns: str) -> None:
    k, other = unique("tok-reuse").encode(), unique("tok-other").encode()
    tok = token(unique("token"))
    first = stubs.kv.Put(put(ns, k, b"first", idempotency_token=tok), timeout=10).version
    for req in (
        put(ns, k, b"second", idempotency_token=tok),
        put(ns, other, b"first", idempotency_token=tok),
    ):
        msg = rpc_error(stubs.kv.Put, req, INVALID)
        assert mentions(msg, "token"), msg
    got = stubs.get(ns, k)
    assert got.found and (got.item.value, got.item.version) == (b"first", first)
    assert_absent(stubs, ns, other)
    # The same token on another kind of mutation is a different payload as well.
    msg = rpc_error(
        stubs.kv.Delete, kvpb.DeleteRequest(namespace=ns, key=k, idempotency_token=tok), INVALID
    )
    assert mentions(msg, "token"), msg
    assert stubs.get(ns, k).found, "the rejected delete deleted"
