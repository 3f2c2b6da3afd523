"""Validated configuration of one SQLite namespace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from prism.errors import ConfigError

_SYNCHRONOUS = ("full", "normal")


@dataclass(frozen=True)
class SqliteConfig:
    """Fields of the `config` mapping of a namespace whose backend is `sqlite`.

    Tables are not prefixed by namespace, so two KeyValue namespaces (or two TimeSeries
    namespaces) must not share a file; one KeyValue and one TimeSeries namespace may.
    """

    #: Database file; parent directories are created. ":memory:" for throw-away use.
    path: str
    #: "full" (default): every acknowledged write survives a power loss.
    #: "normal": in WAL mode survives a process crash but may lose the last commits on
    #: power loss, in exchange for fewer fsyncs.
    synchronous: str = "full"
    #: How long a write waits for a lock held by another connection before failing
    #: with UNAVAILABLE (retriable).
    busy_timeout_ms: int = 5000
    #: Seconds between purges of expired KeyValue rows (reads already hide them).
    purge_interval_s: float = 30.0

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SqliteConfig:
        """Validate `raw`; ConfigError names the offending field."""
        if not isinstance(raw, Mapping):
            raise ConfigError("sqlite config must be a mapping of fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"sqlite config: unknown field '{unknown[0]}' (known: {', '.join(sorted(known))})"
            )
        path = raw.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ConfigError("sqlite config field 'path' is required: a database file path")
        synchronous = raw.get("synchronous", "full")
        if not isinstance(synchronous, str) or synchronous.lower() not in _SYNCHRONOUS:
            raise ConfigError(
                f"sqlite config field 'synchronous' must be one of {', '.join(_SYNCHRONOUS)}, "
                f"got {synchronous!r}"
            )
        busy = raw.get("busy_timeout_ms", 5000)
        if isinstance(busy, bool) or not isinstance(busy, int) or busy < 0:
            raise ConfigError(
                f"sqlite config field 'busy_timeout_ms' must be an integer >= 0, got {busy!r}"
            )
        purge = raw.get("purge_interval_s", 30.0)
        if isinstance(purge, bool) or not isinstance(purge, int | float) or purge <= 0:
            raise ConfigError(
                f"sqlite config field 'purge_interval_s' must be a number > 0, got {purge!r}"
            )
        return cls(path, synchronous.lower(), busy, float(purge))
