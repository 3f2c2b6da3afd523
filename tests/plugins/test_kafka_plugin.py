"""The Kafka plugin beyond what the conformance suite can see: config validation, the
refusal of KeyValue at `prism serve` config validation, provisioning idempotence,
namespace isolation, de-duplication within a call and across plugin instances, the
event encoding, and error mapping (Unavailable when the broker is unreachable).

Runs against the real broker of the local stack (PRISM_KAFKA_BOOTSTRAP, or the stack is
brought up for the module). Every test uses fresh namespaces, so fresh topics.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiokafka import errors as kerr
from aiokafka.admin import AIOKafkaAdminClient
from prism.errors import ConfigError, Internal, InvalidArgument, PrismError, Unavailable
from prism_kafka import KafkaPlugin, codec
from prism_kafka.config import KafkaConfig
from prism_kafka.errors import is_retriable, map_error

T0 = 1_700_000_000_000_000_000  # an event time in ns
END = 2**63 - 1


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    if os.environ.get("PRISM_KAFKA_BOOTSTRAP"):
        yield os.environ["PRISM_KAFKA_BOOTSTRAP"]
        return
    from tooling.stack import api

    with api.running(["kafka"], out=lambda _msg: None) as eps:
        yield eps["kafka"].url


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def make(runner: asyncio.Runner, bootstrap: str) -> Iterator[Callable[..., KafkaPlugin]]:
    """Start plugins on fresh namespaces; close them and delete their topics afterwards."""
    started: list[KafkaPlugin] = []

    def factory(namespace: str | None = None, **config: Any) -> KafkaPlugin:
        p = KafkaPlugin(
            namespace or f"t-{uuid.uuid4().hex[:10]}", {"bootstrap": bootstrap, **config}
        )
        runner.run(p.start())
        started.append(p)
        return p

    yield factory
    for p in started:
        runner.run(p.close())
    runner.run(_delete_topics(bootstrap, sorted({p.topic for p in started})))


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def event(series: str, i: int, **tags: str) -> tuple[Any, ...]:
    return (series, T0 + i * 1_000, f"e{i}", dict(tags), float(i), f"p{i}".encode())


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "bootstrap"),
        ({"bootstrap": "no-port"}, "bootstrap"),
        ({"bootstrap": 9092}, "bootstrap"),
        ({"bootstrap": "h:1", "partitions": 0}, "partitions"),
        ({"bootstrap": "h:1", "partitions": True}, "partitions"),
        ({"bootstrap": "h:1", "replication_factor": "3"}, "replication_factor"),
        ({"bootstrap": "h:1", "request_timeout_ms": 5}, "request_timeout_ms"),
        ({"bootstrap": "h:1", "retention_ms": -2}, "retention_ms"),
        ({"bootstrap": "h:1", "readers": 0}, "readers"),
        ({"bootstrap": "h:1", "topic_prefix": "bad prefix/"}, "topic_prefix"),
        ({"bootstrap": "h:1", "url": "x"}, "url"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        KafkaPlugin("ns", config)


def test_config_defaults_and_topic_name() -> None:
    cfg = KafkaConfig.from_mapping({"bootstrap": " a:1 , b:2 "})
    assert cfg.servers == ["a:1", "b:2"]
    assert (cfg.partitions, cfg.replication_factor, cfg.retention_ms) == (1, 1, -1)
    assert cfg.topic("my.ns-1") == "prism.ts.my.ns-1"
    assert cfg.topic("odd/name") == "prism.ts.odd_name"


def test_serve_refuses_keyvalue_on_kafka() -> None:
    """KeyValue is not claimed: `prism serve` refuses the namespace at config validation."""
    from prism.cli.serve import build_plugins
    from prism.config import load_config

    cfg = load_config(
        {
            "namespaces": [
                {
                    "name": "kfkv",
                    "patterns": ["timeseries", "keyvalue"],
                    "backend": "kafka",
                    "config": {"bootstrap": "127.0.0.1:1"},
                }
            ]
        }
    )
    with pytest.raises(ConfigError) as info:
        build_plugins(cfg)
    message = str(info.value)
    assert "namespaces[0].patterns" in message
    assert "'kafka' does not serve keyvalue" in message
    assert KafkaPlugin.patterns == ("timeseries",)


# -- encoding and error mapping ---------------------------------------------------------


@pytest.mark.parametrize(
    "ev",
    [
        ("s", 0, "e", {}, None, b""),
        ("série ✓", T0, "id-1", {"host": "a", "dc": "east"}, -1.5, b"\x00\xff" * 100),
        ("s", 2**62, "", {"": ""}, 0.0, b"x"),
    ],
)
def test_codec_round_trip(ev: tuple[Any, ...]) -> None:
    assert codec.decode(codec.encode(ev)) == ev  # type: ignore[arg-type]


def test_error_mapping() -> None:
    assert isinstance(map_error(kerr.KafkaConnectionError("refused")), Unavailable)
    assert isinstance(map_error(kerr.KafkaTimeoutError()), Unavailable)
    assert isinstance(map_error(kerr.NotLeaderForPartitionError()), Unavailable)
    assert isinstance(map_error(TimeoutError()), Unavailable)
    assert isinstance(map_error(ConnectionResetError()), Unavailable)
    assert isinstance(map_error(kerr.MessageSizeTooLargeError()), InvalidArgument)
    assert isinstance(map_error(kerr.InvalidTopicError()), Internal)
    assert is_retriable(kerr.RequestTimedOutError())
    assert not is_retriable(kerr.InvalidTopicError())


def test_unreachable_broker_is_unavailable(runner: asyncio.Runner) -> None:
    p = KafkaPlugin("down", {"bootstrap": f"127.0.0.1:{closed_port()}", "request_timeout_ms": 2000})
    began = time.monotonic()
    with pytest.raises(Unavailable) as info:
        runner.run(p.start())
    assert info.value.is_retriable()
    assert time.monotonic() - began < 10
    assert runner.run(p.health()) is False
    with pytest.raises(Unavailable, match="not started"):
        runner.run(p.query("s", 0, END, {}, False, None, 10))
    runner.run(p.close())


# -- against the broker -----------------------------------------------------------------


def test_provisioning_is_idempotent(
    runner: asyncio.Runner, make: Callable[..., KafkaPlugin]
) -> None:
    ns = f"t-{uuid.uuid4().hex[:10]}"
    first = make(ns, partitions=3)
    runner.run(first.start())  # a second start is a no-op
    assert runner.run(first.append_many([[event("s", 1)]])) == [(1, 0)]
    # A second instance (another proxy, or a restart) finds the topic and its data.
    second = make(ns, partitions=1)  # the existing topic keeps its 3 partitions
    assert second._ts_store().partitions == 3
    assert runner.run(second.append_many([[event("s", 1), event("s", 2)]])) == [(1, 1)]
    got = runner.run(second.query("s", 0, END, {}, False, None, 10))
    assert [e[2] for e in got] == ["e1", "e2"]
    assert runner.run(second.health()) is True


def test_namespaces_are_isolated(runner: asyncio.Runner, make: Callable[..., KafkaPlugin]) -> None:
    a, b = make(), make()
    assert a.topic != b.topic
    runner.run(a.append_many([[event("s", 1)]]))
    assert runner.run(b.query("s", 0, END, {}, False, None, 10)) == []
    assert runner.run(b.append_many([[event("s", 1)]])) == [(1, 0)], "not a duplicate in b"


def test_duplicates_within_a_call_and_out_of_order(
    runner: asyncio.Runner, make: Callable[..., KafkaPlugin]
) -> None:
    p = make(partitions=2)
    late = [event("s", i) for i in range(10, 20)]
    assert runner.run(p.append_many([late])) == [(10, 0)]
    # Older events appended after newer ones, the same event twice in one call, and an
    # event of an earlier batch of the same call: each stored once.
    early = [event("s", i) for i in range(0, 10)]
    results = runner.run(p.append_many([early + [event("s", 3)], [event("s", 5), late[0]]]))
    assert results == [(10, 1), (0, 2)]
    got = runner.run(p.query("s", 0, END, {}, False, None, 100))
    assert [e[2] for e in got] == [f"e{i}" for i in range(20)]
    # Other series on the same partitions are not confused with this one.
    assert runner.run(p.append_many([[event("t", 3)]])) == [(1, 0)]


def test_bad_event_fails_only_its_batch(
    runner: asyncio.Runner, make: Callable[..., KafkaPlugin]
) -> None:
    p = make()
    huge = ("s", T0, "big", {}, None, b"x" * 2_000_000)
    results = runner.run(
        p.append_many([[huge], [("s", -5, "neg", {}, None, b"")], [event("s", 1)]])
    )
    assert isinstance(results[0], InvalidArgument) and "message limit" in results[0].message
    assert isinstance(results[1], InvalidArgument) and "1970" in results[1].message
    assert results[2] == (1, 0)
    assert all(isinstance(r, PrismError) or r == (1, 0) for r in results)
