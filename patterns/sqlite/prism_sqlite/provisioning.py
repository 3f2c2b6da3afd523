"""Open the database and create the tables (idempotent: IF NOT EXISTS everywhere)."""

from __future__ import annotations

import os
import sqlite3

from prism_sqlite.config import SqliteConfig

SCHEMA = (
    # WITHOUT ROWID: the key is the clustered index, so a scan reads rows in key order
    # (BLOB comparison is memcmp, i.e. bytewise, as the pattern requires).
    """CREATE TABLE IF NOT EXISTS kv (
        key BLOB PRIMARY KEY,
        value BLOB NOT NULL,
        version INTEGER NOT NULL,
        expires_at_ms INTEGER NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at_ms) WHERE expires_at_ms IS NOT NULL",
    # Counters that must outlive deleted rows, e.g. the KeyValue version counter.
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('kv_version', 0)",
    """CREATE TABLE IF NOT EXISTS ts_events (
        series_id TEXT NOT NULL,
        time_ns INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        tags TEXT NOT NULL,
        value REAL NULL,
        payload BLOB NOT NULL,
        PRIMARY KEY (series_id, time_ns, event_id)
    ) WITHOUT ROWID""",
)


def open_database(config: SqliteConfig) -> sqlite3.Connection:
    """Connect with WAL and the configured durability, then provision the tables."""
    if config.path != ":memory:":
        parent = os.path.dirname(os.path.abspath(config.path))
        os.makedirs(parent, exist_ok=True)
    # isolation_level=None: we issue BEGIN/SAVEPOINT/COMMIT ourselves (group commit).
    # check_same_thread=False: the plugin host serializes every call on its loop thread,
    # but start() and close() may be driven from a different thread than later calls.
    conn = sqlite3.connect(config.path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(config.busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {config.synchronous.upper()}")
        conn.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return conn
