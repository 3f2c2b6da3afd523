"""Validated configuration of one Kafka namespace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from prism.errors import ConfigError

# Kafka's legal topic characters; the topic is `topic_prefix + namespace`.
_TOPIC_CHARS = re.compile(r"^[A-Za-z0-9._-]*$")
_HOST_PORT = re.compile(r"^[^\s,:]+:\d{1,5}$")
MAX_TOPIC_LEN = 249


@dataclass(frozen=True)
class KafkaConfig:
    """Fields of the `config` mapping of a namespace whose backend is `kafka`."""

    #: Bootstrap servers, "host:port" or a comma-separated list of them.
    bootstrap: str
    #: Prefix of the per-namespace topic; the topic is prefix + namespace name.
    topic_prefix: str = "prism.ts."
    #: Partitions of a newly created topic. 1 (default) keeps the whole namespace in one
    #: totally ordered log: offsets-for-times and the read-forward scans are then simple.
    #: With more, a series lives in the partition of murmur2(series_id) (the Java
    #: client's partitioner), and a query reads only that partition.
    partitions: int = 1
    #: Replication factor of a newly created topic: 1 on a single-node dev broker, 3 in
    #: production (acks=all then waits for min.insync.replicas).
    replication_factor: int = 1
    #: retention.ms of a newly created topic; -1 (default) keeps events forever, as a
    #: time-series store should. Kafka drops whole segments by their newest event time.
    retention_ms: int = -1
    #: Per-request timeout (ms) of the Kafka clients, and how long an append or a read
    #: may make no progress before it fails with UNAVAILABLE (retriable).
    request_timeout_ms: int = 10000
    #: Consumers kept for range reads; each serves one read at a time.
    readers: int = 4

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap.split(",") if s.strip()]

    def topic(self, namespace: str) -> str:
        """The namespace's topic; characters Kafka refuses become '_'."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", namespace)
        return (self.topic_prefix + safe)[:MAX_TOPIC_LEN]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> KafkaConfig:
        """Validate `raw`; ConfigError names the offending field."""
        if not isinstance(raw, Mapping):
            raise ConfigError("kafka config must be a mapping of fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"kafka config: unknown field '{unknown[0]}' (known: {', '.join(sorted(known))})"
            )
        bootstrap = raw.get("bootstrap")
        servers = bootstrap.split(",") if isinstance(bootstrap, str) else []
        if not servers or not all(_HOST_PORT.match(s.strip()) for s in servers):
            raise ConfigError(
                "kafka config field 'bootstrap' is required: host:port[,host:port...], "
                f"got {bootstrap!r}"
            )
        prefix = raw.get("topic_prefix", "prism.ts.")
        if not isinstance(prefix, str) or not _TOPIC_CHARS.match(prefix) or len(prefix) > 200:
            raise ConfigError(
                "kafka config field 'topic_prefix' must be at most 200 characters of "
                f"[A-Za-z0-9._-], got {prefix!r}"
            )
        return cls(
            bootstrap=",".join(s.strip() for s in servers),
            topic_prefix=prefix,
            partitions=_int(raw, "partitions", 1, minimum=1),
            replication_factor=_int(raw, "replication_factor", 1, minimum=1),
            retention_ms=_int(raw, "retention_ms", -1, minimum=-1),
            request_timeout_ms=_int(raw, "request_timeout_ms", 10000, minimum=100),
            readers=_int(raw, "readers", 4, minimum=1),
        )


def _int(raw: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"kafka config field '{name}' must be an integer >= {minimum}, got {value!r}"
        )
    return value
