"""Validated configuration of one PostgreSQL namespace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from prism.errors import ConfigError

_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class PostgresConfig:
    """Fields of the `config` mapping of a namespace whose backend is `postgres`.

    Every namespace gets its own tables (`kv_<ns>`, `ts_<ns>`), so many namespaces may
    share one database.
    """

    #: libpq connection URL, e.g. postgresql://prism@127.0.0.1:25432/prism (required).
    url: str
    #: Connections the pool keeps open (and opens on start).
    pool_min_size: int = 1
    #: Upper bound of pooled connections: how many calls run against the server at once.
    pool_max_size: int = 10
    #: Server-side `statement_timeout`; a statement running longer fails with UNAVAILABLE
    #: (retriable). 0 disables it.
    statement_timeout_ms: int = 10_000
    #: How long to wait for a TCP connection, and for a free pooled connection, before a
    #: call fails with UNAVAILABLE: bounds a call while the server is down.
    connect_timeout_s: float = 2.0
    #: Seconds between deletes of expired KeyValue rows (reads hide them anyway).
    purge_interval_s: float = 30.0
    #: Let the Rust core answer KeyValue gets itself, over its own connections, with this
    #: plugin's get statement (ADR-003; native.py). Only for URLs the core can use: a TCP
    #: host and a user in the URL, no TLS (no `sslmode=require`/`verify-*`), no options
    #: beyond `sslmode=disable|prefer`, `connect_timeout` and `application_name`, and no
    #: password left to libpq's environment or password file. Other URLs read through the
    #: plugin whatever this says.
    native_reads: bool = True

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PostgresConfig:
        """Validate `raw`; ConfigError names the offending field."""
        if not isinstance(raw, Mapping):
            raise ConfigError("postgres config must be a mapping of fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"postgres config: unknown field '{unknown[0]}' (known: {', '.join(sorted(known))})"
            )
        url = raw.get("url")
        if not isinstance(url, str) or not url.startswith(_SCHEMES):
            raise ConfigError(
                "postgres config field 'url' is required: a postgresql://user@host:port/db URL"
            )
        min_size = _int(raw, "pool_min_size", 1, minimum=0)
        max_size = _int(raw, "pool_max_size", 10, minimum=1)
        if max_size < min_size:
            raise ConfigError(
                f"postgres config field 'pool_max_size' ({max_size}) must be >= "
                f"'pool_min_size' ({min_size})"
            )
        return cls(
            url=url,
            pool_min_size=min_size,
            pool_max_size=max_size,
            statement_timeout_ms=_int(raw, "statement_timeout_ms", 10_000, minimum=0),
            connect_timeout_s=_positive(raw, "connect_timeout_s", 2.0),
            purge_interval_s=_positive(raw, "purge_interval_s", 30.0),
            native_reads=_bool(raw, "native_reads", True),
        )


def _int(raw: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"postgres config field '{name}' must be an integer >= {minimum}, got {value!r}"
        )
    return value


def _positive(raw: Mapping[str, Any], name: str, default: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"postgres config field '{name}' must be a number > 0, got {value!r}")
    return float(value)


def _bool(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"postgres config field '{name}' must be true or false, got {value!r}")
    return value
