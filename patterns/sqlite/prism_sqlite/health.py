"""Liveness check of a SQLite connection."""

from __future__ import annotations

import sqlite3


def check(conn: sqlite3.Connection | None) -> bool:
    """True when the connection is open and the database answers a trivial query."""
    if conn is None:
        return False
    try:
        return bool(conn.execute("SELECT 1").fetchone() == (1,))
    except sqlite3.Error:
        return False
