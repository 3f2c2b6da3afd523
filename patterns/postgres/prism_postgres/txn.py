"""Group commit: many independent atomic batches in ONE PostgreSQL transaction.

The plugin host hands over the writes of many client requests at once (one batch per
request). They run in one transaction, so one COMMIT (one WAL flush) acknowledges all of
them; each batch runs inside its own SAVEPOINT, so a failing batch is rolled back alone
while the others commit. A lone batch needs no savepoint: its failure rolls back the
whole (one-batch) transaction, which saves two round trips on a quiet namespace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import psycopg
from prism.errors import PrismError

from prism_postgres.db import Conn
from prism_postgres.errors import is_connection_error, map_error

B = TypeVar("B")
R = TypeVar("R")


async def group_commit(
    conn: Conn,
    batches: Sequence[B],
    apply: Callable[[Conn, B], Awaitable[R]],
    prelude: Callable[[Conn], Awaitable[None]] | None = None,
) -> list[R | PrismError]:
    """Run `prelude` then `apply(conn, batch)` per batch; a batch's error is its result.

    Raises only when the transaction as a whole fails (connection lost, commit failed),
    in which case nothing was written.
    """
    if not batches:
        return []
    if len(batches) == 1:
        try:
            async with conn.transaction():
                if prelude is not None:
                    await prelude(conn)
                return [await apply(conn, batches[0])]
        except (PrismError, psycopg.Error, ValueError, OverflowError) as exc:
            if is_connection_error(exc):
                raise
            return [map_error(exc)]
    results: list[R | PrismError] = []
    async with conn.transaction():
        if prelude is not None:
            await prelude(conn)
        for batch in batches:
            try:
                async with conn.transaction():  # nested: SAVEPOINT / RELEASE
                    result = await apply(conn, batch)
            except (PrismError, psycopg.Error, ValueError, OverflowError) as exc:
                if is_connection_error(exc):
                    raise
                results.append(map_error(exc))
            else:
                results.append(result)
    return results
