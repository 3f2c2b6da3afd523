"""KeyValue conformance: every test runs on every backend of claims.yaml.

A test checks its capability's semantics when the backend claims it, and that the call
is refused when it does not (`assert_refused`); `core` is required of every backend.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import MAX_VALUE_BYTES, unique
from helpers.claims import Target, assert_refused
from helpers.kvdata import bulk_put, page_bytes, scan_pages
from prism.client import IdempotencyToken, Page, PutEntry
from prism.errors import AlreadyExists, FailedPrecondition

core = pytest.mark.capability("keyvalue", "core")
batch = pytest.mark.capability("keyvalue", "batch")
scan = pytest.mark.capability("keyvalue", "scan")
ttl = pytest.mark.capability("keyvalue", "ttl")
cas = pytest.mark.capability("keyvalue", "cas")


def key(prefix: str, suffix: str) -> bytes:
    return f"{prefix}/{suffix}".encode()


# ---------------------------------------------------------------- core


@core
def test_put_get_exists_delete_round_trip(kv: Any, target: Target) -> None:
    k = key(unique("rt"), "a")
    assert kv.get(k) is None
    assert kv.exists(k) is False
    version = kv.put(k, b"hello")
    assert version > 0
    item = kv.get(k)
    assert item is not None
    assert (item.key, item.value, item.version, item.expires_at) == (k, b"hello", version, None)
    assert kv.exists(k) is True
    assert kv.delete(k) is True
    assert kv.get(k) is None
    assert kv.exists(k) is False
    assert kv.delete(k) is False, "deleting a missing key reports False"


@core
def test_binary_keys_and_values_round_trip(kv: Any, target: Target) -> None:
    k = unique("bin").encode() + b"\x00\xff\x01"
    value = bytes(range(256)) * 3
    version = kv.put(k, value)
    item = kv.get(k)
    assert item is not None and (item.value, item.version) == (value, version)
    empty = unique("empty-value").encode()
    kv.put(empty, b"")
    item = kv.get(empty)
    assert item is not None and item.value == b"", "an empty value is a value, not a delete"


@core
def test_versions_strictly_increase_also_after_delete(kv: Any, target: Target) -> None:
    p = unique("ver")
    a, b = key(p, "a"), key(p, "b")
    v1 = kv.put(a, b"1")
    v2 = kv.put(a, b"2")
    v3 = kv.put(b, b"x")  # per-namespace counter: another key's write is later too
    assert kv.delete(a) is True
    v4 = kv.put(a, b"3")
    assert v1 < v2 < v3 < v4, (v1, v2, v3, v4)
    item = kv.get(a)
    assert item is not None and item.version == v4


@core
def test_idempotent_put_retry_applies_once(kv: Any, target: Target) -> None:
    k = key(unique("idem"), "k")
    token = IdempotencyToken.new()
    first = kv.put(k, b"a", token=token)
    assert kv.put(k, b"a", token=token) == first, "a retry returns the first result"
    item = kv.get(k)
    assert item is not None and (item.value, item.version) == (b"a", first)
    # Someone else writes; a late retry of the first write must not clobber it.
    later = kv.put(k, b"b")
    assert kv.put(k, b"a", token=token) == first
    item = kv.get(k)
    assert item is not None and (item.value, item.version) == (b"b", later)


@core
def test_idempotent_delete_retry_applies_once(kv: Any, target: Target) -> None:
    k = key(unique("idem-del"), "k")
    kv.put(k, b"a")
    token = IdempotencyToken.new()
    assert kv.delete(k, token=token) is True
    recreated = kv.put(k, b"again")
    assert kv.delete(k, token=token) is True, "a retry returns the first result"
    item = kv.get(k)
    assert item is not None and item.version == recreated, "the retry deleted again"


# ---------------------------------------------------------------- batch


@batch
def test_batch_put_get_delete(kv: Any, target: Target) -> None:
    p = unique("batch")
    keys = [key(p, str(i)) for i in range(5)]
    if not target.claimed:
        assert_refused(lambda: kv.batch_put([PutEntry(keys[0], b"v")]))
        assert_refused(lambda: kv.batch_get(keys))
        assert_refused(lambda: kv.batch_delete(keys))
        return
    versions = kv.batch_put([PutEntry(k, k + b"!") for k in keys])
    assert len(versions) == len(keys) and all(v > 0 for v in versions)
    assert len(set(versions)) == len(versions), "every write gets its own version"
    missing = key(p, "missing")
    found = kv.batch_get([*keys, missing])
    assert set(found) == set(keys), "missing keys are absent from the result"
    for k, v in zip(keys, versions, strict=True):
        assert (found[k].value, found[k].version) == (k + b"!", v)
    assert kv.batch_delete([keys[0], keys[1], missing]) == 2
    assert set(kv.batch_get(keys)) == set(keys[2:])


@batch
def test_batch_put_is_atomic(kv: Any, target: Target) -> None:
    p = unique("atomic")
    existing, new1, new2 = key(p, "existing"), key(p, "new1"), key(p, "new2")
    if not target.claimed:
        assert_refused(lambda: kv.batch_put([PutEntry(new1, b"v")]))
        return
    version = kv.put(existing, b"old")
    entries = [
        PutEntry(new1, b"n1"),
        PutEntry(existing, b"new", if_absent=True),
        PutEntry(new2, b"n2"),
    ]
    if not target.requires("cas"):
        assert_refused(lambda: kv.batch_put(entries))
        return
    with pytest.raises(AlreadyExists):
        kv.batch_put(entries)
    assert kv.get(new1) is None and kv.get(new2) is None, "a failed batch wrote some entries"
    item = kv.get(existing)
    assert item is not None and (item.value, item.version) == (b"old", version)


@batch
def test_idempotent_batch_retries_apply_once(kv: Any, target: Target) -> None:
    p = unique("idem-batch")
    keys = [key(p, str(i)) for i in range(3)]
    token = IdempotencyToken.new()
    if not target.claimed:
        assert_refused(lambda: kv.batch_put([PutEntry(k, b"v") for k in keys], token=token))
        return
    versions = kv.batch_put([PutEntry(k, b"v") for k in keys], token=token)
    assert kv.batch_put([PutEntry(k, b"v") for k in keys], token=token) == versions
    assert [kv.get(k).version for k in keys] == versions, "the retry wrote again"

    del_token = IdempotencyToken.new()
    assert kv.batch_delete(keys, token=del_token) == 3
    recreated = kv.batch_put([PutEntry(k, b"w") for k in keys])
    assert kv.batch_delete(keys, token=del_token) == 3, "a retry returns the first result"
    found = kv.batch_get(keys)
    assert [found[k].version for k in keys if k in found] == recreated, "deleted twice"


# ---------------------------------------------------------------- scan


@scan
def test_scan_prefix_and_range_bounds(kv: Any, target: Target) -> None:
    p = unique("bounds")
    if not target.claimed:
        assert_refused(lambda: kv.scan(prefix=p))
        return
    names = ["a", "b", "ba", "bb", "c", "d"]
    bulk_put(kv, [(key(p, n), n.encode()) for n in names], use_batch=target.requires("batch"))
    kv.put(p.encode() + b"0", b"outside")  # shares the text prefix but not p + "/"
    got = [i.key for page in scan_pages(kv, prefix=f"{p}/") for i in page.items]
    assert got == [key(p, n) for n in names], "prefix scan: all and only, ascending"
    got = [i.key for pg in scan_pages(kv, start=key(p, "b"), end=key(p, "c")) for i in pg.items]
    assert got == [key(p, "b"), key(p, "ba"), key(p, "bb")], "[start, end): end exclusive"
    got = [i.key for pg in scan_pages(kv, start=key(p, "bb"), end=key(p, "d")) for i in pg.items]
    assert got == [key(p, "bb"), key(p, "c")], "[start, end): start inclusive"
    first = kv.scan(prefix=f"{p}/", limit=4)
    assert [i.key for i in first.items] == [key(p, n) for n in names[:4]] and first.next_page_token


@scan
def test_scan_default_page_size(kv: Any, target: Target) -> None:
    p = unique("default-page")
    if not target.claimed:
        assert_refused(lambda: kv.scan(prefix=p))
        return
    bulk_put(
        kv, [(key(p, f"{i:04d}"), b"v") for i in range(150)], use_batch=target.requires("batch")
    )
    page = kv.scan(prefix=f"{p}/")
    assert 0 < len(page.items) <= 100, "limit 0 means the namespace default (100)"
    assert page.next_page_token


@scan
def test_scan_10k_keys_each_exactly_once_while_writing(kv: Any, target: Target) -> None:
    uid = unique("scan10k")
    prefix = f"{uid}/k"
    if not target.claimed:
        assert_refused(lambda: kv.scan(prefix=prefix))
        return
    originals = [f"{prefix}{i:05d}".encode() for i in range(10_000)]
    bulk_put(kv, [(k, b"v") for k in originals], use_batch=target.requires("batch"))

    stop = threading.Event()
    errors: list[BaseException] = []
    written: list[bytes] = []

    def writer() -> None:
        rng = random.Random(1)
        try:
            j = 0
            while not stop.is_set():
                i = rng.randrange(10_000)
                for k in (f"{prefix}{i:05d}+{j}", f"{uid}/j{j}", f"{uid}/l{j}"):
                    kv.put(k, b"new")  # inside the prefix (interleaved) and on both sides
                    written.append(k.encode())
                j += 1
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    pages: list[Page] = []
    try:
        token = ""
        while True:
            page = kv.scan(prefix=prefix, limit=500, page_token=token)
            pages.append(page)
            token = page.next_page_token
            if not token:
                break
            # The scan is fast: between every two pages, let the writer land new keys
            # (random positions inside the prefix, before and after the cursor, and outside).
            want, deadline = len(written) + 9, time.monotonic() + 10
            while len(written) < want and not errors and time.monotonic() < deadline:
                time.sleep(0.001)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, f"concurrent writer failed: {errors[0]!r}"
    assert len(written) >= 9 * (len(pages) - 1), "the writer did not overlap the scan"

    seen = [i.key for page in pages for i in page.items]
    assert all(len(page.items) <= 500 for page in pages)
    assert len(seen) == len(set(seen)), "a key was returned twice"
    assert seen == sorted(seen), "pages are not in ascending key order"
    assert all(k.startswith(prefix.encode()) for k in seen), "a key outside the prefix"
    missing = set(originals) - set(seen)
    assert not missing, f"{len(missing)} original keys never returned, e.g. {min(missing)!r}"


@scan
def test_scan_pages_are_byte_bounded(kv: Any, target: Target) -> None:
    p = unique("bytes")
    limit_bytes = 300
    if not target.claimed:
        assert_refused(lambda: kv.scan(prefix=p, limit_bytes=limit_bytes))
        return
    rng = random.Random(7)
    items = [(key(p, f"{i:03d}"), b"x" * rng.randrange(0, 200)) for i in range(60)]
    oversize = {items[0][0], items[17][0], items[59][0]}  # first, middle, last
    items = [(k, b"O" * MAX_VALUE_BYTES if k in oversize else v) for k, v in items]
    bulk_put(kv, items, use_batch=target.requires("batch"))

    pages = scan_pages(kv, prefix=f"{p}/", limit_bytes=limit_bytes)
    for n, page in enumerate(pages):
        size = page_bytes(page)
        assert size <= limit_bytes or len(page.items) == 1, (
            f"page {n}: {len(page.items)} items, {size} bytes > limit_bytes {limit_bytes}"
        )
        if any(i.key in oversize for i in page.items):
            assert len(page.items) == 1, f"page {n}: an oversize item did not come alone"
    seen = [i.key for page in pages for i in page.items]
    assert seen == [k for k, _ in items], "every item exactly once, ascending"
    assert max(len(page.items) for page in pages) > 1, "byte bound degenerated to 1 item/page"


# ---------------------------------------------------------------- ttl


@ttl
def test_ttl_expiry(kv: Any, target: Target) -> None:
    p = unique("ttl")
    short, durable = key(p, "short"), key(p, "durable")
    if not target.claimed:
        assert_refused(lambda: kv.put(short, b"v", ttl=1.0))
        return
    kv.put(durable, b"stays")
    before = datetime.now(UTC)
    kv.put(short, b"v", ttl=1.0)
    item = kv.get(short)
    assert item is not None and item.value == b"v", "readable before expiry"
    assert item.expires_at is not None
    assert before - timedelta(seconds=1) < item.expires_at < before + timedelta(seconds=3)
    assert kv.exists(short)

    time.sleep(max(0.0, 1.6 - (datetime.now(UTC) - before).total_seconds()))
    assert kv.get(short) is None, "expired item still readable"
    assert kv.exists(short) is False
    if target.requires("scan"):
        assert [i.key for i in kv.scan(prefix=f"{p}/").items] == [durable], "scan shows it"
    if target.requires("batch"):
        assert set(kv.batch_get([short, durable])) == {durable}
    item = kv.get(durable)
    assert item is not None and item.value == b"stays"


# ---------------------------------------------------------------- cas


@cas
def test_compare_and_set_put(kv: Any, target: Target) -> None:
    k = key(unique("cas"), "k")
    v1 = kv.put(k, b"one")
    if not target.claimed:
        assert_refused(lambda: kv.put(k, b"two", if_version=v1))
        return
    v2 = kv.put(k, b"two", if_version=v1)
    assert v2 > v1
    with pytest.raises(FailedPrecondition):
        kv.put(k, b"stale", if_version=v1)
    item = kv.get(k)
    assert item is not None and (item.value, item.version) == (b"two", v2)


@cas
def test_if_absent(kv: Any, target: Target) -> None:
    k = key(unique("absent"), "k")
    if not target.claimed:
        assert_refused(lambda: kv.put(k, b"v", if_absent=True))
        return
    version = kv.put(k, b"first", if_absent=True)
    with pytest.raises(AlreadyExists):
        kv.put(k, b"second", if_absent=True)
    item = kv.get(k)
    assert item is not None and (item.value, item.version) == (b"first", version)
    assert kv.delete(k)
    assert kv.put(k, b"third", if_absent=True) > version, "absent again after delete"


@cas
def test_compare_and_delete(kv: Any, target: Target) -> None:
    k = key(unique("cas-del"), "k")
    v1 = kv.put(k, b"one")
    if not target.claimed:
        assert_refused(lambda: kv.delete(k, if_version=v1))
        return
    v2 = kv.put(k, b"two")
    with pytest.raises(FailedPrecondition):
        kv.delete(k, if_version=v1)
    assert kv.exists(k), "a failed conditional delete deleted"
    assert kv.delete(k, if_version=v2) is True
    assert kv.get(k) is None
