"""Names and idempotent creation of what one namespace needs in PostgreSQL.

Per namespace: `kv_<ns>` (KeyValue items), `kvseq_<ns>` (the KeyValue version sequence,
never reset, so versions are never reused) and `ts_<ns>` (TimeSeries events). The
prefixes differ in their third character, so no two namespaces can produce the same
relation name, and constraints/indexes are named explicitly for the same reason (the
default `<table>_pkey` of one namespace could be another namespace's table name).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from psycopg import AsyncConnection, sql

# Leaves room for the longest prefix plus a hash suffix within PostgreSQL's 63-byte limit.
_MAX_PLAIN = 40
_PLAIN = re.compile(rf"[a-z0-9_]{{1,{_MAX_PLAIN}}}")
# Any constant: serializes concurrent provisioning by several proxies, because
# CREATE ... IF NOT EXISTS is not safe against a concurrent identical CREATE.
_PROVISION_LOCK = 0x7072_6973_6D00  # "prism\0"


def sanitize(namespace: str) -> str:
    """An identifier-safe, injective rendering of a namespace name.

    Lower-case [a-z0-9_] names up to 40 characters are used as they are (readable table
    names); anything else (upper case, '.', '-', long names) is reduced to [a-z0-9_] and
    suffixed with a hash of the original, so "a.b" and "a_b" stay apart.
    """
    if _PLAIN.fullmatch(namespace):
        return namespace
    reduced = re.sub(r"[^a-z0-9_]", "_", namespace.lower())[:_MAX_PLAIN]
    digest = hashlib.blake2b(namespace.encode(), digest_size=5).hexdigest()
    return f"{reduced}_{digest}"


@dataclass(frozen=True)
class Names:
    """The SQL identifiers of one namespace."""

    kv: sql.Identifier
    kv_seq: sql.Identifier
    kv_seq_text: str  # for nextval(%s::regclass)
    kv_pk: sql.Identifier
    kv_expiry: sql.Identifier
    ts: sql.Identifier
    ts_pk: sql.Identifier

    @classmethod
    def of(cls, namespace: str) -> Names:
        s = sanitize(namespace)
        return cls(
            kv=sql.Identifier(f"kv_{s}"),
            kv_seq=sql.Identifier(f"kvseq_{s}"),
            kv_seq_text=f'"kvseq_{s}"',
            kv_pk=sql.Identifier(f"kvpk_{s}"),
            kv_expiry=sql.Identifier(f"kvexp_{s}"),
            ts=sql.Identifier(f"ts_{s}"),
            ts_pk=sql.Identifier(f"tspk_{s}"),
        )


def schema(n: Names) -> list[sql.Composed]:
    """The DDL of one namespace; every statement is idempotent."""
    return [
        # bytea compares bytewise (memcmp, then length), exactly the scan order the
        # pattern requires; the primary key index serves point reads and range scans.
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {kv} ("
            " key bytea NOT NULL,"
            " value bytea NOT NULL,"
            " version bigint NOT NULL,"
            " expires_at_ms bigint NULL,"
            " CONSTRAINT {pk} PRIMARY KEY (key))"
        ).format(kv=n.kv, pk=n.kv_pk),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {idx} ON {kv} (expires_at_ms)"
            " WHERE expires_at_ms IS NOT NULL"
        ).format(idx=n.kv_expiry, kv=n.kv),
        # A sequence outlives deleted rows and is never rolled back: versions only grow.
        sql.SQL("CREATE SEQUENCE IF NOT EXISTS {seq} AS bigint MINVALUE 1").format(seq=n.kv_seq),
        # COLLATE "C": text compares by UTF-8 bytes = code points, so (time_ns, event_id)
        # order does not depend on the database's locale.
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {ts} ("
            ' series_id text COLLATE "C" NOT NULL,'
            " time_ns bigint NOT NULL,"
            ' event_id text COLLATE "C" NOT NULL,'
            " tags jsonb NOT NULL,"
            " value double precision NULL,"
            " payload bytea NOT NULL,"
            " CONSTRAINT {pk} PRIMARY KEY (series_id, time_ns, event_id))"
        ).format(ts=n.ts, pk=n.ts_pk),
    ]


async def provision(conn: AsyncConnection[object], names: Names) -> None:
    """Create the namespace's tables and sequence if missing (safe to run again)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PROVISION_LOCK,))
        for statement in schema(names):
            await conn.execute(statement)
