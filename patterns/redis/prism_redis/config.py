"""Validated configuration of one Redis namespace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from prism.errors import ConfigError

_SCHEMES = ("redis", "rediss", "unix")
# Printable ASCII without spaces: the prefix is embedded in every Redis key name.
_PREFIX = re.compile(r"^[\x21-\x7e]{1,200}$")


def default_prefix(namespace: str) -> str:
    return f"prism:{namespace}:"


@dataclass(frozen=True)
class RedisConfig:
    """Fields of the `config` mapping of a namespace whose backend is `redis`.

    Every key the namespace owns starts with `key_prefix`, which isolates namespaces
    sharing one Redis database; two namespaces must not share a prefix.
    """

    #: Server URL: redis://[user:password@]host:port/db, rediss:// (TLS) or unix://path.
    url: str
    #: Prefix of every Redis key of the namespace; "" means `prism:<namespace>:`.
    key_prefix: str = ""
    #: Most connections open at once; further calls wait up to `socket_timeout_s` for one.
    pool_size: int = 32
    #: Per-command read/write timeout; a call that exceeds it fails with UNAVAILABLE.
    socket_timeout_s: float = 5.0
    #: TCP connect timeout; an unreachable server fails with UNAVAILABLE after it.
    connect_timeout_s: float = 2.0
    #: Seconds between purges of expired keys from the scan index (Redis itself expires
    #: the items; scans also drop the stale index entries they meet).
    purge_interval_s: float = 30.0
    #: Approximate length cap of each series' arrival stream (XADD MAXLEN ~); 0 disables
    #: the stream (queries never read it, see README).
    stream_maxlen: int = 10_000
    #: Gets are answered by the Rust core over its own connection (same hashes, same
    #: `get` script, so no staleness); writes, scans and TimeSeries stay in the plugin.
    #: Only for plain `redis://` URLs without a query string: `rediss://` (TLS) and
    #: `unix://` namespaces always read through the plugin.
    native_reads: bool = True

    def prefix_for(self, namespace: str) -> str:
        return self.key_prefix or default_prefix(namespace)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> RedisConfig:
        """Validate `raw`; ConfigError names the offending field."""
        if not isinstance(raw, Mapping):
            raise ConfigError("redis config must be a mapping of fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"redis config: unknown field '{unknown[0]}' (known: {', '.join(sorted(known))})"
            )
        url = raw.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError("redis config field 'url' is required, e.g. redis://host:6379/0")
        scheme = urlsplit(url).scheme
        if scheme not in _SCHEMES:
            raise ConfigError(
                f"redis config field 'url' must start with one of "
                f"{', '.join(s + '://' for s in _SCHEMES)}, got scheme {scheme!r}"
            )
        prefix = raw.get("key_prefix", "")
        if not isinstance(prefix, str) or (prefix and not _PREFIX.match(prefix)):
            raise ConfigError(
                "redis config field 'key_prefix' must be 1-200 printable ASCII characters "
                f"without spaces, got {prefix!r}"
            )
        return cls(
            url=url,
            key_prefix=prefix,
            pool_size=_int(raw, "pool_size", 32, minimum=1),
            socket_timeout_s=_number(raw, "socket_timeout_s", 5.0),
            connect_timeout_s=_number(raw, "connect_timeout_s", 2.0),
            purge_interval_s=_number(raw, "purge_interval_s", 30.0),
            stream_maxlen=_int(raw, "stream_maxlen", 10_000, minimum=0),
            native_reads=_bool(raw, "native_reads", True),
        )


def _int(raw: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"redis config field '{name}' must be an integer >= {minimum}, got {value!r}"
        )
    return value


def _bool(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"redis config field '{name}' must be true or false, got {value!r}")
    return value


def _number(raw: Mapping[str, Any], name: str, default: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"redis config field '{name}' must be a number > 0, got {value!r}")
    return float(value)
