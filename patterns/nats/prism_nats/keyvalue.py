"""KeyValue on a JetStream KV bucket: revisions as versions, CAS by expected sequence.

- Version = the revision, i.e. the bucket stream's sequence number of the write: it
  grows across the whole namespace and is never reused (deletes write a marker, which
  takes a sequence too), so CAS has no ABA problem.
- Conditional writes (if_absent, if_version, and every delete so its answer is exact)
  read the key's last message, decide, then publish with
  `Nats-Expected-Last-Subject-Sequence` = what was read: the server refuses the write if
  anything was written to the key in between, and we decide again.
- TTL: the server (2.9) has no per-message TTL, so the expiry time rides in the
  `Prism-Expires-At-Ms` header; reads hide expired items, and a sweep purges them.
- One key per batch: a stream has no multi-subject transaction, so `batch` is not
  claimed and multi-entry batches are refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prism.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    PrismError,
    Unavailable,
    Unimplemented,
)
from prism.plugins.api import DeleteEntry, Item, PutEntry, PutResult, render_key

from prism_nats.errors import is_wrong_last_sequence, map_error
from prism_nats.names import Names
from prism_nats.reader import list_subjects, read_all

EXPIRES = "Prism-Expires-At-Ms"
KV_OP = "KV-Operation"  # the KV convention for delete / purge markers
EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
_MARKERS = ("DEL", "PURGE")
# A key becomes ~3 subject characters per byte; the server's default max_control_line is
# 4096 bytes for the whole publish line, so longer keys are refused up front.
MAX_KEY_BYTES = 1000
# Requests in flight per batch call: enough to pipeline, bounded for the client's buffers.
MAX_IN_FLIGHT = 256
_CAS_ATTEMPTS = 8

T = TypeVar("T")
E = TypeVar("E")
R = TypeVar("R")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Last:
    """The last message of a key's subject: a value or a delete marker."""

    seq: int
    value: bytes
    expires_at_ms: int | None
    marker: bool

    def live(self, now: int) -> bool:
        return not self.marker and (self.expires_at_ms is None or self.expires_at_ms > now)


def _last_from(headers: Mapping[str, str] | None, data: bytes | None, seq: int) -> Last:
    headers = headers or {}
    raw = headers.get(EXPIRES)
    return Last(seq, data or b"", int(raw) if raw else None, headers.get(KV_OP) in _MARKERS)


class KeyValueStore:
    """The KV bucket of one namespace."""

    def __init__(self, js: JetStreamContext, names: Names, timeout_s: float) -> None:
        self.js, self.names, self.timeout_s = js, names, timeout_s
        self._gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    # -- reads -------------------------------------------------------------------------

    async def get_many(self, keys: Sequence[bytes]) -> list[Item | None]:
        """One direct get per distinct key, all in flight at once (pipelined)."""
        unique = list(dict.fromkeys(bytes(k) for k in keys))
        lasts = await asyncio.gather(*(self._gated(self._last(k)) for k in unique))
        now = now_ms()
        found = {
            k: (k, last.value, last.seq, last.expires_at_ms)
            for k, last in zip(unique, lasts, strict=True)
            if last is not None and last.live(now)
        }
        return [found.get(bytes(k)) for k in keys]

    async def scan(
        self, start: bytes, end: bytes | None, after: bytes | None, limit: int
    ) -> list[Item]:
        """List the keys under the longest shared prefix of start and end, sort, then get.

        A bucket lists its keys unordered, so each page lists every key under that prefix
        (a prefix scan lists its prefix, an open-ended range the whole bucket; subject
        names only, no values), keeps those in range after the cursor, sorts them, and
        gets values in order until `limit` live items are found (deleted or expired
        keys still listed are skipped).
        """
        if limit <= 0:
            return []
        subjects = await list_subjects(
            self.js,
            self.names.kv_stream,
            self.names.scan_filter(start, end),
            timeout_s=self.timeout_s,
        )
        keys: list[bytes] = []
        for subject in subjects:
            try:
                key = self.names.subject_key(subject)
            except ValueError:  # not written by Prism
                continue
            if key < start or (end is not None and key >= end):
                continue
            if after is not None and key <= after:
                continue
            keys.append(key)
        keys.sort()
        items: list[Item] = []
        pos = 0
        while pos < len(keys) and len(items) < limit:
            chunk = keys[pos : pos + max(limit - len(items), 16)]
            pos += len(chunk)
            for item in await self.get_many(chunk):
                if item is not None and len(items) < limit:
                    items.append(item)
        return items

    # -- writes ------------------------------------------------------------------------

    async def put_many(
        self, batches: Sequence[Sequence[PutEntry]]
    ) -> list[list[PutResult] | PrismError]:
        return list(await asyncio.gather(*(_single(b, self._put_entry) for b in batches)))

    async def delete_many(
        self, batches: Sequence[Sequence[DeleteEntry]]
    ) -> list[list[bool] | PrismError]:
        return list(await asyncio.gather(*(_single(b, self._delete_entry) for b in batches)))

    async def _put_entry(self, entry: PutEntry) -> PutResult:
        async with self._gate:
            return await self._put_one(*entry)

    async def _delete_entry(self, entry: DeleteEntry) -> bool:
        async with self._gate:
            return await self._delete_one(*entry)

    async def _put_one(
        self, key: bytes, value: bytes, expires_at_ms: int | None, if_absent: bool, if_version: int
    ) -> PutResult:
        key = _checked(key)
        subject = self.names.key_subject(key)
        headers = {EXPIRES: str(expires_at_ms)} if expires_at_ms is not None else {}
        if not if_absent and if_version <= 0:
            ack = await self.js.publish(subject, bytes(value), headers=headers or None)
            return (ack.seq, expires_at_ms)
        for _ in range(_CAS_ATTEMPTS):
            last = await self._last(key)
            live = last if last is not None and last.live(now_ms()) else None
            if if_absent and live is not None:
                raise AlreadyExists(f"key '{render_key(key)}' already exists")
            if if_version > 0 and (live is None or live.seq != if_version):
                raise _version_mismatch(key, if_version, live)
            expected = 0 if last is None else last.seq
            try:
                ack = await self.js.publish(
                    subject, bytes(value), headers={**headers, EXPECTED_LAST: str(expected)}
                )
            except Exception as exc:
                if is_wrong_last_sequence(exc):
                    continue  # written in between: decide again on the new state
                raise
            return (ack.seq, expires_at_ms)
        raise _contended(key)

    async def _delete_one(self, key: bytes, if_version: int) -> bool:
        key = bytes(key)
        if len(key) > MAX_KEY_BYTES:
            if if_version > 0:
                raise _version_mismatch(key, if_version, None)
            return False
        subject = self.names.key_subject(key)
        for _ in range(_CAS_ATTEMPTS):
            last = await self._last(key)
            live = last if last is not None and last.live(now_ms()) else None
            if if_version > 0 and (live is None or live.seq != if_version):
                raise _version_mismatch(key, if_version, live)
            if live is None:
                return False  # an expired value stays until the sweep purges it
            try:
                await self.js.publish(
                    subject, b"", headers={KV_OP: "DEL", EXPECTED_LAST: str(live.seq)}
                )
            except Exception as exc:
                if is_wrong_last_sequence(exc):
                    continue
                raise
            return True
        raise _contended(key)

    # -- expiry sweep ------------------------------------------------------------------

    async def sweep(self, marker_age_s: float) -> int:
        """Purge expired values and delete markers older than `marker_age_s`.

        Each purge removes the subject's messages up to the one we saw only, so a value
        written after the listing survives. Returns how many keys were purged.
        """
        msgs = await read_all(
            self.js,
            self.names.kv_stream,
            self.names.kv_prefix + ">",
            last_per_subject=True,
            timeout_s=self.timeout_s,
            headers_only=True,  # only the expiry and marker headers matter here
        )
        now = now_ms()
        old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=marker_age_s)
        purged = 0
        for m in msgs:
            seq = m.metadata.sequence.stream
            last = _last_from(m.headers, m.data, seq)
            if last.live(now) or (last.marker and m.metadata.timestamp > old):
                continue
            await self.js.purge_stream(self.names.kv_stream, seq=seq + 1, subject=m.subject)
            purged += 1
        return purged

    # -- helpers -----------------------------------------------------------------------

    async def _last(self, key: bytes) -> Last | None:
        """The key's last message (value or marker), None if it has none."""
        if len(key) > MAX_KEY_BYTES:
            return None  # never stored: puts refuse such keys
        try:
            msg = await self.js.get_msg(
                self.names.kv_stream, subject=self.names.key_subject(key), direct=True
            )
        except NotFoundError:
            return None
        return _last_from(msg.headers, msg.data, msg.seq or 0)

    async def _gated(self, call: Awaitable[T]) -> T:
        async with self._gate:
            return await call


async def _single(batch: Sequence[E], apply: Callable[[E], Awaitable[R]]) -> list[R] | PrismError:
    """Apply a batch of at most one entry; its failure becomes its answer."""
    if not batch:
        return []
    if len(batch) > 1:
        return Unimplemented(
            "the nats backend cannot apply several keys atomically (no 'batch' capability)"
        )
    try:
        return [await apply(batch[0])]
    except Exception as exc:
        return map_error(exc)


def _checked(key: bytes) -> bytes:
    key = bytes(key)
    if len(key) > MAX_KEY_BYTES:
        raise InvalidArgument(
            f"key is {len(key)} bytes; the nats backend takes at most {MAX_KEY_BYTES}"
        )
    return key


def _version_mismatch(key: bytes, expected: int, live: Last | None) -> FailedPrecondition:
    state = "does not exist" if live is None else f"is at version {live.seq}"
    return FailedPrecondition(f"key '{render_key(key)}' {state}, expected version {expected}")


def _contended(key: bytes) -> Unavailable:
    return Unavailable(
        f"key '{render_key(key)}' changed under {_CAS_ATTEMPTS} conditional writes in a row; retry"
    )
