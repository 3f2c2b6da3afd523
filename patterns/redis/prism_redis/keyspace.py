"""Names of the Redis keys of one namespace, all under its prefix.

Redis key names are binary-safe, so user keys and series ids are embedded raw after a
fixed kind tag (`kv:`, `ts:`, `tsidx:`, `tsev:`): names of different kinds can never
collide, and namespace names (no `:` allowed) cannot reach into each other's prefix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keyspace:
    prefix: bytes

    @classmethod
    def of(cls, prefix: str) -> Keyspace:
        return cls(prefix.encode())

    @property
    def meta(self) -> bytes:
        """Hash: layout version and owner, written by provisioning."""
        return self.prefix + b"meta"

    @property
    def version(self) -> bytes:
        """String counter of KeyValue versions (INCRBY; only grows, never reused)."""
        return self.prefix + b"version"

    @property
    def keys(self) -> bytes:
        """Sorted set of every stored user key, all scores 0: the ordered scan index."""
        return self.prefix + b"keys"

    @property
    def expiry(self) -> bytes:
        """Sorted set of user keys with a TTL, score = expires_at_ms: the purge index."""
        return self.prefix + b"expiry"

    def item(self, key: bytes) -> bytes:
        """Hash of one item: `val`, `ver`, optional `exp` (also set as PEXPIREAT)."""
        return self.prefix + b"kv:" + key

    def ts_index(self, series: str) -> bytes:
        """Sorted set of one series, all scores 0, member = event id (see timeseries.py)."""
        return self.prefix + b"tsidx:" + series.encode()

    def ts_events(self, series: str) -> bytes:
        """Hash of one series: member -> encoded event body."""
        return self.prefix + b"tsev:" + series.encode()

    def ts_stream(self, series: str) -> bytes:
        """Redis Stream of one series in arrival order (a change feed, not queried)."""
        return self.prefix + b"ts:" + series.encode()
