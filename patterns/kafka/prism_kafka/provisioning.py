"""Create the namespace's topic, idempotently (an existing topic is kept as it is)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import errors as kerr
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prism.errors import ConfigError, Unavailable

from prism_kafka.config import KafkaConfig

#: Kafka's "no limit" for the timestamp bounds below.
LONG_MAX = str(2**63 - 1)


def topic_configs(config: KafkaConfig) -> dict[str, str]:
    """Topic settings that TimeSeries semantics depend on."""
    return {
        "retention.ms": str(config.retention_ms),
        # The message timestamp IS the event time: offsets-for-times finds events by it.
        "message.timestamp.type": "CreateTime",
        # Accept any event time, past or future (Kafka 4 refuses > 1 h ahead by default).
        "message.timestamp.before.max.ms": LONG_MAX,
        "message.timestamp.after.max.ms": LONG_MAX,
        "cleanup.policy": "delete",
    }


async def ensure_topic(config: KafkaConfig, topic: str) -> int:
    """Create `topic` unless it exists; returns its partition count."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.servers,
        request_timeout_ms=config.request_timeout_ms,
        client_id="prism-provisioning",
    )
    await admin.start()
    try:
        new = NewTopic(
            name=topic,
            num_partitions=config.partitions,
            replication_factor=config.replication_factor,
            topic_configs=topic_configs(config),
        )
        response = await admin.create_topics([new])
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            detail = entry[2] if len(entry) > 2 and entry[2] else ""
            if code in (0, kerr.TopicAlreadyExistsError.errno):
                continue  # created now, or by an earlier start / another proxy
            err_cls = kerr.for_code(code)
            text = f"kafka: cannot create topic '{name}': {err_cls.__name__} {detail}".strip()
            if code in (kerr.InvalidReplicationFactorError.errno,):
                raise ConfigError(f"{text} (check 'replication_factor')")
            if code in (kerr.InvalidPartitionsError.errno,):
                raise ConfigError(f"{text} (check 'partitions')")
            if getattr(err_cls, "retriable", False):
                raise Unavailable(text)
            raise ConfigError(text)
        return await _partition_count(admin, topic, config.request_timeout_ms / 1000)
    finally:
        await admin.close()


async def _partition_count(admin: AIOKafkaAdminClient, topic: str, timeout_s: float) -> int:
    """Partitions of `topic`, waiting briefly for metadata to show a new topic."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        described: list[Any] = await admin.describe_topics([topic])
        for entry in described:
            if entry.get("topic") == topic and entry.get("error_code", 0) == 0:
                partitions = entry.get("partitions") or []
                if partitions:
                    return len(partitions)
        if loop.time() >= deadline:
            raise Unavailable(f"kafka: topic '{topic}' has no partitions in the metadata yet")
        await asyncio.sleep(0.1)
