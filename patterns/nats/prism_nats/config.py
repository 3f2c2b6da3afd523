"""Validated configuration of one NATS namespace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from prism.errors import ConfigError

_SCHEMES = ("nats://", "tls://", "ws://", "wss://")
# The prefix is embedded in bucket, stream and subject names; `_` is kept out of it so
# that it can separate the prefix from the encoded namespace unambiguously.
_PREFIX = re.compile(r"^[A-Za-z0-9-]{1,32}$")


@dataclass(frozen=True)
class NatsConfig:
    """Fields of the `config` mapping of a namespace whose backend is `nats`."""

    #: Server URL(s), e.g. "nats://127.0.0.1:4222"; several comma-separated for a cluster.
    url: str
    #: Prefix of the KV bucket (`<prefix>_<ns>`), the TimeSeries stream (`<prefix>_ts_<ns>`)
    #: and its subjects (`<prefix>.ts.<ns>.<series>`); lets several Prism installations
    #: share one NATS account.
    name_prefix: str = "prism"
    #: JetStream replicas of the bucket and the stream (1 on a single server; 3 in a
    #: cluster for writes that survive the loss of a node).
    replicas: int = 1
    #: Seconds to wait for the first connection before start() fails with UNAVAILABLE.
    connect_timeout_s: float = 2.0
    #: Seconds to wait for any JetStream answer before a call fails with UNAVAILABLE.
    request_timeout_s: float = 5.0
    #: TimeSeries de-duplication window of the server (`Nats-Msg-Id`): a re-append within
    #: it is counted as a duplicate; a later one is stored again but hidden by reads.
    duplicate_window_s: float = 120.0
    #: Seconds between sweeps that remove expired keys and old delete markers.
    purge_interval_s: float = 30.0

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> NatsConfig:
        """Validate `raw`; ConfigError names the offending field."""
        if not isinstance(raw, Mapping):
            raise ConfigError("nats config must be a mapping of fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"nats config: unknown field '{unknown[0]}' (known: {', '.join(sorted(known))})"
            )
        url = raw.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError("nats config field 'url' is required, e.g. nats://127.0.0.1:4222")
        for server in (u.strip() for u in url.split(",")):
            if not server.startswith(_SCHEMES) or len(server) <= len("nats://"):
                raise ConfigError(
                    f"nats config field 'url' must be {' or '.join(_SCHEMES)} URLs "
                    f"(comma-separated), got {server!r}"
                )
        prefix = raw.get("name_prefix", "prism")
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise ConfigError(
                "nats config field 'name_prefix' must be 1-32 characters of [A-Za-z0-9-], "
                f"got {prefix!r}"
            )
        replicas = raw.get("replicas", 1)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 5:
            raise ConfigError(
                f"nats config field 'replicas' must be an integer in 1..5, got {replicas!r}"
            )
        numbers = {
            name: _positive(raw, name, default)
            for name, default in (
                ("connect_timeout_s", 2.0),
                ("request_timeout_s", 5.0),
                ("duplicate_window_s", 120.0),
                ("purge_interval_s", 30.0),
            )
        }
        return cls(url.strip(), prefix, replicas, **numbers)


def _positive(raw: Mapping[str, Any], name: str, default: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"nats config field '{name}' must be a number > 0, got {value!r}")
    return float(value)
