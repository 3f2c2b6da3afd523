"""The audit shipper's file side, without Kafka (ADR-010, `server.audit.kafka`): complete
lines only, rotation (renamed or deleted files read to their end, successors found by
their place in the chain), the checkpoint (resume, inode reuse, rewind), the message key
and the config block's validation.

`Writer` imitates the core's FileLog rotation (proxy/engine/src/audit/writer.rs) so these
tests can rotate at exact points; the rotation of the real core is exercised end to end
in test_audit_kafka.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prism.audit import checkpoint
from prism.audit.follow import FileFollower
from prism.audit.shipper import message_key
from prism.errors import ConfigError
from prism.security_config import parse_audit


class Writer:
    """Appends lines and rotates like the core: `.keep` falls off, `.n` -> `.n+1`,
    the live file -> `.1` (or is deleted with keep 0), a new live file."""

    def __init__(self, path: Path, keep: int) -> None:
        self.path, self.keep, self.n = path, keep, 0

    def line(self, namespace: str = "ns") -> bytes:
        self.n += 1
        raw = json.dumps({"namespace": namespace, "n": self.n}).encode()
        with open(self.path, "ab") as out:
            out.write(raw + b"\n")
        return raw

    def rotate(self) -> None:
        if self.keep == 0:
            self.path.unlink()
        else:
            Path(f"{self.path}.{self.keep}").unlink(missing_ok=True)
            for n in range(self.keep - 1, 0, -1):
                if Path(f"{self.path}.{n}").exists():
                    os.rename(f"{self.path}.{n}", f"{self.path}.{n + 1}")
            os.rename(self.path, f"{self.path}.1")
        self.path.touch()


def drain(follower: FileFollower, max_lines: int = 1000) -> list[bytes]:
    """Everything the follower hands out now, each batch committed."""
    out: list[bytes] = []
    while (batch := follower.read_batch(max_lines, 1 << 16)) is not None:
        out += batch.lines
        follower.commit(batch.end)
    return out


def test_only_complete_lines_are_handed_out(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"partial":')
    f = FileFollower(path)
    assert drain(f) == [b'{"a":1}', b'{"b":2}']
    with open(path, "ab") as out:
        out.write(b'3}\n\n{"c":4}\n')
    # The completed line, whole; the blank line is no record.
    assert drain(f) == [b'{"partial":3}', b'{"c":4}']
    f.close()


def test_a_batch_not_acknowledged_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    w = Writer(path, keep=2)
    lines = [w.line() for _ in range(5)]
    f = FileFollower(path)
    first = f.read_batch(3, 1 << 16)
    assert first is not None and first.lines == lines[:3]
    with pytest.raises(RuntimeError, match="commit or rewind"):
        f.read_batch(3, 1 << 16)
    f.rewind()
    assert drain(f, max_lines=3) == lines
    f.close()


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_rotation_between_reads_loses_and_repeats_nothing(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "audit.jsonl"
    w = Writer(path, keep=keep)
    expected = [w.line() for _ in range(3)]
    f = FileFollower(path)
    got = drain(f)
    expected += [w.line() for _ in range(2)]
    w.rotate()  # the open file is renamed (or deleted): its last lines still arrive
    expected += [w.line() for _ in range(2)]
    if keep >= 2:
        w.rotate()  # twice before the next read: the file in between is not skipped
        expected += [w.line()]
    got += drain(f)
    expected += [w.line()]
    got += drain(f)
    assert got == expected
    f.close()


def test_restart_resumes_at_the_checkpoint_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    w = Writer(path, keep=5)
    shipped = [w.line() for _ in range(4)]
    first = FileFollower(path)
    batch = first.read_batch(2, 1 << 16)
    assert batch is not None
    first.commit(batch.end)
    first.close()  # stopped with two lines acknowledged, two not
    saved = checkpoint.load(checkpoint.path_for(path))
    assert saved is not None and saved.inode == os.stat(path).st_ino
    # While it is down the file rotates twice.
    later = [w.line()]
    w.rotate()
    later += [w.line(), w.line()]
    w.rotate()
    later += [w.line()]
    second = FileFollower(path)
    assert drain(second) == shipped[2:] + later
    second.close()


def test_a_reused_inode_is_not_resumed_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    w = Writer(path, keep=1)
    w.line()
    w.rotate()
    lines = [w.line() for _ in range(3)]
    # A checkpoint naming the live file's inode, but taken over other bytes.
    stale = checkpoint.Position(os.stat(path).st_ino, 10, "0123456789abcdef:10")
    checkpoint.store(checkpoint.path_for(path), stale)
    f = FileFollower(path)
    got = drain(f)
    # From the oldest kept file, not from byte 10 of a file it never saw.
    assert got[-3:] == lines and len(got) == 4
    f.close()


def test_without_checkpoint_a_start_ships_the_live_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    w = Writer(path, keep=2)
    w.line()
    w.rotate()
    live = [w.line(), w.line()]
    f = FileFollower(path, use_checkpoint=False)
    assert drain(f) == live
    assert not checkpoint.path_for(path).exists()
    f.close()


def test_a_file_not_written_yet_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "later" / "audit.jsonl"
    f = FileFollower(path)
    assert f.read_batch(10, 1 << 16) is None
    path.parent.mkdir()
    w = Writer(path, keep=1)
    line = w.line()
    assert drain(f) == [line]
    assert f.backlog_bytes() == 0
    w.line()
    assert f.backlog_bytes() == len(line) + 1  # the same length: n=1 vs n=2
    f.close()


def test_message_key_is_the_namespace_or_the_admin_target() -> None:
    core = b'{"ts":"x","principal":"al\\"ice","namespace":"orders","method":"KeyValue/Get"}'
    assert message_key(core) == b"orders"
    escaped = json.dumps({"principal": "p", "namespace": "caf\u00e9\\x"}).encode()
    assert message_key(escaped) == "caf\u00e9\\x".encode()
    admin = json.dumps({"actor": "ops", "action": "namespace.create", "target": "t1"}).encode()
    assert message_key(admin) == b"t1"
    assert message_key(b'{"other":1}') is None


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({}, "server.audit.kafka.bootstrap_servers: is required"),
        ({"bootstrap_servers": "k1"}, r"bootstrap_servers\[0\]: must be host:port"),
        ({"bootstrap_servers": ["k:1", "k:0"]}, r"bootstrap_servers\[1\]: must be host:port"),
        ({"bootstrap_servers": "k:1", "topic": "a b"}, "server.audit.kafka.topic: must be"),
        ({"bootstrap_servers": "k:1", "checkpoint": "yes"}, "kafka.checkpoint: must be true"),
        ({"bootstrap_servers": "k:1", "backlog_warn_bytes": 0}, "backlog_warn_bytes: must be"),
        ({"bootstrap_servers": "k:1", "acks": 1}, r"kafka.acks: unknown key \(expected one"),
    ],
)
def test_kafka_block_errors_name_the_field(
    tmp_path: Path, kafka: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_audit({"path": "audit.jsonl", "kafka": kafka}, "server.audit", tmp_path)


def test_kafka_block_needs_a_path_and_parses(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server.audit.kafka: needs server.audit.path"):
        parse_audit({"kafka": {"bootstrap_servers": "k:1"}}, "server.audit", tmp_path)
    audit = parse_audit(
        {"path": "a.jsonl", "kafka": {"bootstrap_servers": "k1:9092, k2:9093"}},
        "server.audit",
        tmp_path,
    )
    assert audit.kafka is not None
    assert audit.kafka.bootstrap_servers == ("k1:9092", "k2:9093")
    assert (audit.kafka.topic, audit.kafka.checkpoint) == ("prism-audit", True)
    assert parse_audit({"path": "a.jsonl"}, "server.audit", tmp_path).kafka is None
