"""AuditShipper: produces every line of the followed audit files to a Kafka topic.

Delivery is at least once. A batch of lines (from each file) is produced with
`acks=all` and an idempotent producer; only when Kafka acknowledged all of it is the
position committed to the checkpoint. When Kafka is down or refuses the batch, the
lines stay in the file, the producer is recreated with backoff and the batch is sent
again from the committed position: lines of that batch that had already reached Kafka
then arrive twice. Nothing else is ever sent twice, and nothing is skipped.

Each message's value is one line, byte for byte, without its newline; its key is the
line's `namespace` (an admin line's `target`), so one namespace's lines land in one
partition, in file order. A line with neither gets no key.

The backlog (bytes written but not yet acknowledged) is bounded only by the files: the
core keeps `keep` rotated files, and a shipper further behind than that loses the
oldest. It is therefore logged as a warning once it passes `backlog_warn_bytes`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from prism.audit.follow import Batch, FileFollower

log = logging.getLogger(__name__)

_NAMESPACE = re.compile(rb'"namespace"\s*:\s*"((?:[^"\\]|\\.)*)"')
_TARGET = re.compile(rb'"target"\s*:\s*"((?:[^"\\]|\\.)*)"')

MAX_BATCH_LINES = 2000
MAX_BATCH_BYTES = 1 << 20
#: How often idle files are looked at (the core flushes its buffer every 200 ms).
POLL_S = 0.2
RETRY_MIN_S = 0.5
RETRY_MAX_S = 10.0
#: At most one "Kafka is unreachable" / "backlog" warning per interval.
WARN_EVERY_S = 30.0
BACKLOG_CHECK_S = 10.0
DEFAULT_BACKLOG_WARN_BYTES = 64 << 20
REQUEST_TIMEOUT_MS = 10_000
#: How long closing a producer may take (it flushes; a dead broker would hold it).
CLOSE_TIMEOUT_S = 2.0


def message_key(line: bytes) -> bytes | None:
    """The line's namespace (or, for an admin line, its target), as UTF-8 bytes."""
    match = _NAMESPACE.search(line) or _TARGET.search(line)
    if match is None:
        return None
    raw = match.group(1)
    if b"\\" not in raw:
        return raw
    try:
        return str(json.loads(b'"' + raw + b'"')).encode()
    except ValueError:
        return raw


class ShipError(Exception):
    """Kafka did not take a batch; the message says why (for the log)."""


class AuditShipper:
    """Ships `followers` to `topic`; `run` until `request_stop`, then a final drain."""

    def __init__(
        self,
        followers: Sequence[FileFollower],
        bootstrap_servers: Sequence[str],
        topic: str,
        *,
        backlog_warn_bytes: int = DEFAULT_BACKLOG_WARN_BYTES,
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
        poll_s: float = POLL_S,
    ) -> None:
        self.followers = list(followers)
        self.bootstrap_servers = list(bootstrap_servers)
        self.topic = topic
        self.backlog_warn_bytes = backlog_warn_bytes
        self.request_timeout_ms = request_timeout_ms
        self.poll_s = poll_s
        #: Lines Kafka acknowledged since start (tests and the CLI read it).
        self.shipped = 0
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._failing_since: float | None = None
        self._last_warning = 0.0
        self._last_backlog_check = 0.0
        self._last_backlog_warning = 0.0

    # -- control -----------------------------------------------------------------------

    def open_files(self) -> None:
        """Fix where each file starts (see FileFollower.open) before anything else runs:
        a gateway calls this before it serves, so no line written at start is skipped."""
        for follower in self.followers:
            try:
                follower.open()
            except OSError as err:  # retried by run()
                log.warning("audit shipper: cannot open %s: %s", follower.path, err)

    def request_stop(self) -> None:
        """Ship what the files hold, then return from `run` (call on the loop's thread)."""
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    async def run(self, *, until_caught_up: bool = False) -> bool:
        """Ship until stopped (or, with `until_caught_up`, until every file is shipped to
        its end); True when everything was shipped. While Kafka is down it retries with
        backoff; a stop then returns False at once, leaving the rest in the files (and
        the checkpoint before it) for the next start."""
        self._stop = asyncio.Event()
        self.open_files()
        if self._stop_requested or until_caught_up:
            self._stop.set()
        backoff = RETRY_MIN_S
        try:
            while True:
                producer: Any = None
                shipped_before = self.shipped
                try:
                    producer = await self._connect()
                    await self._pump(producer)
                    return True
                except ShipError as err:
                    for follower in self.followers:
                        follower.rewind()
                    self._trouble(str(err))
                except OSError as err:  # the audit directory, e.g. permissions
                    for follower in self.followers:
                        follower.rewind()
                    self._trouble(f"cannot read the audit files: {err}")
                finally:
                    if producer is not None:
                        await _close(producer)
                # A connection that shipped something was healthy: start backing off anew.
                backoff = RETRY_MIN_S if self.shipped > shipped_before else backoff
                if await self._stopped_within(backoff):
                    return False
                backoff = min(backoff * 2, RETRY_MAX_S)
        finally:
            for follower in self.followers:
                follower.close()

    # -- the loop ----------------------------------------------------------------------

    async def _connect(self) -> Any:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id="prism-audit-shipper",
            # Durable once acknowledged (every in-sync replica); the producer's own
            # retries neither duplicate nor reorder within a partition.
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=512 * 1024,
            request_timeout_ms=self.request_timeout_ms,
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as err:
            await _close(producer)
            raise ShipError(
                f"cannot connect to Kafka at {','.join(self.bootstrap_servers)}: {_describe(err)}"
            ) from err
        return producer

    async def _pump(self, producer: Any) -> None:
        assert self._stop is not None
        while True:
            batches = [
                (f, b)
                for f in self.followers
                if (b := f.read_batch(MAX_BATCH_LINES, MAX_BATCH_BYTES)) is not None
            ]
            if not batches:
                if self._stop.is_set():
                    return
                self._watch_backlog()
                await self._stopped_within(self.poll_s)
                continue
            await self._send(producer, batches)
            for follower, batch in batches:
                follower.commit(batch.end)
                self.shipped += len(batch.lines)
            if self._failing_since is not None:
                log.info("audit shipper: Kafka takes audit lines again (topic %s)", self.topic)
                self._failing_since = None
            self._watch_backlog()

    async def _send(self, producer: Any, batches: list[tuple[FileFollower, Batch]]) -> None:
        from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError

        futures: list[asyncio.Future[Any]] = []
        try:
            for _follower, batch in batches:
                for line in batch.lines:
                    futures.append(
                        await producer.send(self.topic, value=line, key=message_key(line))
                    )
        except UnknownTopicOrPartitionError as err:
            _discard(futures)
            raise ShipError(
                f"Kafka has no topic '{self.topic}' (create it; brokers may not auto-create)"
            ) from err
        except (KafkaError, OSError) as err:
            _discard(futures)
            raise ShipError(f"cannot send to topic '{self.topic}': {_describe(err)}") from err
        results = await asyncio.gather(*futures, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise ShipError(
                f"Kafka did not acknowledge {len(errors)} of {len(results)} audit lines "
                f"(topic '{self.topic}'): {_describe(errors[0])}"
            )

    async def _stopped_within(self, seconds: float) -> bool:
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # -- warnings ----------------------------------------------------------------------

    def _trouble(self, message: str) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._last_warning < WARN_EVERY_S:
            return
        self._last_warning = now
        behind = sum(_backlog(f) for f in self.followers)
        log.warning(
            "audit shipper: %s; retrying (%d bytes of audit lines kept in the files until "
            "Kafka takes them)",
            message,
            behind,
        )

    def _watch_backlog(self) -> None:
        now = time.monotonic()
        if now - self._last_backlog_check < BACKLOG_CHECK_S:
            return
        self._last_backlog_check = now
        for follower in self.followers:
            behind = _backlog(follower)
            if behind > self.backlog_warn_bytes and now - self._last_backlog_warning >= (
                WARN_EVERY_S
            ):
                self._last_backlog_warning = now
                log.warning(
                    "audit shipper: %d bytes of %s are not yet in Kafka (warning above %d); "
                    "lines older than the kept rotated files would be lost",
                    behind,
                    follower.path,
                    self.backlog_warn_bytes,
                )


def _discard(futures: list[asyncio.Future[Any]]) -> None:
    """The batch is abandoned: retrieve each future's outcome when it comes, so that
    asyncio does not report exceptions nobody looked at."""

    def retrieve(future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            future.exception()

    for future in futures:
        future.add_done_callback(retrieve)


def _backlog(follower: FileFollower) -> int:
    try:
        return follower.backlog_bytes()
    except OSError:
        return 0


async def _close(producer: Any) -> None:
    try:
        await asyncio.wait_for(producer.stop(), CLOSE_TIMEOUT_S)
    except Exception as err:  # closing is best effort: the batch is retried anyway
        log.debug("audit shipper: closing the producer: %s", err)


def _describe(err: BaseException) -> str:
    return str(err) or type(err).__name__
