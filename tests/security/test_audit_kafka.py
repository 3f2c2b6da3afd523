"""The Kafka copy of the audit log (ADR-010, `server.audit.kafka`), against the real broker
of the local stack (PRISM_KAFKA_BOOTSTRAP, or the stack brings Kafka up for the module):

- `prism serve` ships every line of its audit file (and of the admin's, with
  PRISM_ADMIN_AUDIT_PATH), byte for byte, keyed by namespace, in file order per key;
- across the core's own rotation (small max_bytes) and a restart, every line arrives
  exactly once (the checkpoint);
- with Kafka unreachable nothing is lost: the lines wait in the file and a later run
  ships them; a partial last line is never sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from helpers import unique
from helpers.rpc import Stubs, kvpb
from helpers.server import ServerProcess, free_port
from prism.audit import checkpoint
from prism.audit.background import ShipperThread
from prism.audit.follow import FileFollower
from prism.audit.shipper import AuditShipper

PARTITIONS = 3
NAMESPACES = [
    {"name": name, "patterns": ["keyvalue"], "backend": "memory"} for name in ("kfa", "kfb")
]
# The core's audit log is flushed every 200 ms and polled every 200 ms.
ARRIVAL_TIMEOUT_S = 15.0

Message = tuple[int, int, bytes | None, bytes]  # partition, offset, key, value


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    import os

    if os.environ.get("PRISM_KAFKA_BOOTSTRAP"):
        yield os.environ["PRISM_KAFKA_BOOTSTRAP"]
        return
    from tooling.stack import api

    with api.running(["kafka"], out=lambda _msg: None) as eps:
        yield eps["kafka"].url


@pytest.fixture
def topic(bootstrap: str) -> Iterator[str]:
    """A fresh topic with several partitions (the stack's broker does not auto-create)."""
    name = f"audit-{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
        finally:
            await admin.close()

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([name])
        finally:
            await admin.close()

    asyncio.run(create())
    yield name
    asyncio.run(delete())


def consume(bootstrap: str, topic: str, at_least: int, settle_s: float = 1.0) -> list[Message]:
    """Every message of `topic`, once at least `at_least` arrived and none came for
    `settle_s` more (a duplicate would show up in that time)."""

    async def run() -> list[Message]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
            out: list[Message] = []
            deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                got = await consumer.getmany(timeout_ms=200)
                for records in got.values():
                    out += [(r.partition, r.offset, r.key, r.value) for r in records]
                if any(got.values()):
                    quiet_since = time.monotonic()
                elif len(out) >= at_least and time.monotonic() - quiet_since >= settle_s:
                    break
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def file_lines(path: Path) -> list[bytes]:
    """The lines of `path` and its rotated files, oldest first (`<path>.1` is the newest)."""
    rotated = sorted(
        (p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
        reverse=True,
    )
    return [line for p in [*rotated, path] for line in p.read_bytes().splitlines() if line]


def assert_shipped_exactly(messages: list[Message], lines: list[bytes]) -> None:
    """One message per line, identical bytes; keyed by namespace (admin: target); within
    a key, in file order."""
    values = Counter(v for _p, _o, _k, v in messages)
    assert values == Counter(lines), (
        f"missing: {list((Counter(lines) - values).elements())[:3]}, "
        f"extra: {list((values - Counter(lines)).elements())[:3]}"
    )
    by_key: dict[bytes | None, list[bytes]] = {}
    for _p, _o, key, value in sorted(messages, key=lambda m: (m[0], m[1])):
        record = json.loads(value)
        assert key == str(record.get("namespace", record.get("target"))).encode()
        by_key.setdefault(key, []).append(value)
    for key, values_in_kafka in by_key.items():
        assert values_in_kafka == [v for v in lines if v in set(values_in_kafka)], key


def calls(address: str, n: int) -> None:
    """`n` Puts alternating between the two namespaces, each on a key of its own (so every
    audit line differs by its key fingerprint)."""
    stubs = Stubs.connect(address)
    try:
        run = unique("ship")
        for i in range(n):
            ns = NAMESPACES[i % 2]["name"]
            req = kvpb.PutRequest(namespace=ns, key=f"{run}-{i}".encode(), value=b"v")
            stubs.kv.Put(req, timeout=10)
    finally:
        stubs.close()


def wait_lines(path: Path, count: int) -> list[bytes]:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while len(lines := file_lines(path)) < count:
        assert time.monotonic() < deadline, f"only {len(lines)} of {count} audit lines"
        time.sleep(0.05)
    return lines


def audit_server(workdir: Path, audit: dict[str, Any], **env: str) -> ServerProcess:
    return ServerProcess(workdir, NAMESPACES, server={"audit": audit}, env=env)


def test_serve_ships_every_audit_line_with_the_admins(
    tmp_path: Path, bootstrap: str, topic: str
) -> None:
    audit_path = tmp_path / "audit" / "prism-audit.jsonl"
    admin_path = tmp_path / "audit" / "admin-audit.jsonl"
    proc = audit_server(
        tmp_path / "server",
        {"path": str(audit_path), "kafka": {"bootstrap_servers": bootstrap, "topic": topic}},
        PRISM_ADMIN_AUDIT_PATH=str(admin_path),
    )
    try:
        proc.start()
        calls(proc.address, 12)
        core = wait_lines(audit_path, 12)
        proc.wait_admin()
        # While serving: the lines arrive without waiting for a shutdown.
        live = consume(bootstrap, topic, len(core))
        assert Counter(core) <= Counter(v for *_, v in live)
        proc.stop()  # the final drain
    finally:
        proc.kill()
    admin = file_lines(admin_path)
    assert any(json.loads(a)["action"] == "namespace.create" for a in admin)
    messages = consume(bootstrap, topic, len(core) + len(admin))
    assert_shipped_exactly(messages, file_lines(audit_path) + admin)
    assert {k for _p, _o, k, _v in messages} >= {b"kfa", b"kfb"}
    position = checkpoint.load(checkpoint.path_for(audit_path))
    assert position is not None and position.offset == audit_path.stat().st_size


def test_rotation_and_restart_deliver_every_line_once(
    tmp_path: Path, bootstrap: str, topic: str
) -> None:
    audit_path = tmp_path / "audit.jsonl"
    audit = {
        "path": str(audit_path),
        "max_bytes": 4096,
        "keep": 100,  # keep every file, to compare with
        "kafka": {"bootstrap_servers": [bootstrap], "topic": topic},
    }
    proc = audit_server(tmp_path / "server", audit)
    try:
        proc.start()
        calls(proc.address, 120)
        wait_lines(audit_path, 120)
        proc.restart()  # drained on stop, resumed from the checkpoint on start
        calls(proc.address, 120)
        wait_lines(audit_path, 240)
        proc.stop()
    finally:
        proc.kill()
    rotated = list(audit_path.parent.glob("audit.jsonl.[0-9]*"))
    assert len(rotated) >= 4, "the audit file should have rotated several times"
    lines = file_lines(audit_path)
    assert len(lines) == len(set(lines)) >= 240
    assert_shipped_exactly(consume(bootstrap, topic, len(lines)), lines)


def test_kafka_unreachable_loses_nothing_and_partial_lines_wait(
    tmp_path: Path, bootstrap: str, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = [json.dumps({"namespace": f"n{i % 3}", "seq": i}).encode() for i in range(50)]
    path.write_bytes(b"\n".join(lines[:30]) + b"\n")
    # No broker on this port: the shipper retries, the lines stay in the file.
    dead = ShipperThread(AuditShipper([FileFollower(path)], [f"127.0.0.1:{free_port()}"], topic))
    with caplog.at_level(logging.WARNING, logger="prism.audit"):
        dead.start()
        time.sleep(1.5)
        started = time.monotonic()
        assert dead.stop() is False
    assert time.monotonic() - started < 3.0, "a stop must not wait for an absent broker"
    assert dead.shipper.shipped == 0
    assert "cannot connect to Kafka at 127.0.0.1:" in caplog.text
    saved = checkpoint.load(checkpoint.path_for(path))
    assert saved is not None and saved.offset == 0, "nothing was acknowledged"

    # More lines and a partial one arrive meanwhile; a run on the real broker ships the
    # complete ones, from the start, and not the partial one.
    with open(path, "ab") as out:
        out.write(b"\n".join(lines[30:49]) + b"\n" + lines[49][:7])
    shipper = AuditShipper([FileFollower(path)], [bootstrap], topic)
    assert asyncio.run(shipper.run(until_caught_up=True)) is True
    assert shipper.shipped == 49
    assert_shipped_exactly(consume(bootstrap, topic, 49), lines[:49])

    # The line completes; `prism audit ship --once` resumes from the checkpoint.
    with open(path, "ab") as out:
        out.write(lines[49][7:] + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "prism", "audit", "ship", "--file", str(path)]
        + ["--bootstrap", bootstrap, "--topic", topic, "--once"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"shipped 1 audit lines to topic {topic}" in done.stdout
    assert_shipped_exactly(consume(bootstrap, topic, 50), lines)


def test_a_missing_topic_is_named_and_nothing_is_committed(
    tmp_path: Path, bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"namespace":"a"}\n')
    missing = f"absent-{uuid.uuid4().hex[:8]}"
    shipper = AuditShipper([FileFollower(path)], [bootstrap], missing, request_timeout_ms=1500)
    with caplog.at_level(logging.WARNING, logger="prism.audit"):
        assert asyncio.run(shipper.run(until_caught_up=True)) is False
    assert f"Kafka has no topic '{missing}'" in caplog.text
    saved = checkpoint.load(checkpoint.path_for(path))
    assert saved is not None and saved.offset == 0, "nothing was acknowledged"


def test_cli_refuses_bad_options(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prism", "audit", "ship", "--file", str(tmp_path / "a")]
        + ["--bootstrap", "broker-without-port"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--bootstrap[0]: must be host:port, got 'broker-without-port'" in done.stderr
