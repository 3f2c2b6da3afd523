"""Group commit: many independent atomic batches in ONE SQLite transaction.

Each batch runs inside its own SAVEPOINT, so a failing batch is rolled back alone while
the others commit together: one COMMIT (one fsync with synchronous=FULL) acknowledges many
client requests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from prism.errors import PrismError

from prism_sqlite.errors import map_error

B = TypeVar("B")
R = TypeVar("R")


def group_commit(
    conn: sqlite3.Connection,
    batches: Sequence[B],
    apply: Callable[[B], R],
) -> list[R | PrismError]:
    """Run `apply(batch)` for every batch; a batch's exception becomes its result.

    Raises (mapped to PrismError) only when the transaction as a whole fails, in which
    case nothing was written.
    """
    results: list[R | PrismError] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for batch in batches:
            conn.execute("SAVEPOINT batch")
            try:
                result = apply(batch)
            except (PrismError, sqlite3.Error, ValueError, TypeError, OverflowError) as exc:
                conn.execute("ROLLBACK TO batch")
                conn.execute("RELEASE batch")
                results.append(map_error(exc))
            else:
                conn.execute("RELEASE batch")
                results.append(result)
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, Exception):
            raise map_error(exc) from exc
        raise
    return results
