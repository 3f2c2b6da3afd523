"""Map psycopg exceptions to the Prism exception hierarchy.

The Prism class decides `is_retriable()`. Decided by SQLSTATE class
(https://www.postgresql.org/docs/current/errcodes-appendix.html) rather than by psycopg
class, because psycopg files very different things under OperationalError (a refused
connection, a full disk, a statement timeout):

- no SQLSTATE (connect refused/reset, broken socket), pool timeouts, statement timeouts,
  serialization failures and deadlocks, server shutting down or starting: Unavailable
  (retry with backoff);
- class 53 (disk full, out of memory) except too-many-connections: ResourceExhausted;
- class 22 (data exception: a number out of range, a NUL byte in text): InvalidArgument;
- anything else: Internal.
"""

from __future__ import annotations

import asyncio

import psycopg
from prism.errors import Internal, InvalidArgument, PrismError, ResourceExhausted, Unavailable
from psycopg_pool import PoolTimeout

_UNAVAILABLE_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57014",  # query_canceled (statement_timeout)
        "53300",  # too_many_connections: other clients may leave
        "25006",  # read_only_sql_transaction: a standby, e.g. during a failover
    }
)
# 08: connection exception; 57P: operator intervention (shutdown, crash, cannot connect
# now); 58: system error (I/O error on the server).
_UNAVAILABLE_CLASSES = ("08", "57P", "58")


def map_error(exc: BaseException) -> PrismError:
    """The Prism error for an exception raised by psycopg (or PrismError unchanged)."""
    if isinstance(exc, PrismError):
        return exc
    if isinstance(exc, PoolTimeout | TimeoutError | asyncio.TimeoutError):
        return Unavailable(f"postgres: no connection available: {exc}")
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        message = f"postgres: {state or type(exc).__name__}: {_first_line(exc)}"
        if state is None:
            # Raised by the client side: the connection is refused, reset or closed, or a
            # parameter cannot be sent (e.g. a NUL byte in text).
            if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
                return Unavailable(message)
            if isinstance(exc, psycopg.DataError):
                return InvalidArgument(message)
            return Internal(message)
        if state in _UNAVAILABLE_STATES or state.startswith(_UNAVAILABLE_CLASSES):
            return Unavailable(message)
        if state.startswith("53"):
            return ResourceExhausted(message)
        if state.startswith("22"):
            return InvalidArgument(message)
        return Internal(message)
    if isinstance(exc, OverflowError | ValueError):  # e.g. a NUL byte psycopg refuses
        return InvalidArgument(f"invalid value: {exc}")
    return Internal(f"{type(exc).__name__}: {exc}")


def is_retriable(exc: BaseException) -> bool:
    """True when the failed call may succeed if retried later."""
    return map_error(exc).is_retriable()


def is_connection_error(exc: BaseException) -> bool:
    """True when the connection itself is gone (the pool should drop stale ones)."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        state = exc.sqlstate
        return state is None or state.startswith(("08", "57P"))
    return False


def _first_line(exc: BaseException) -> str:
    # Server messages may carry a DETAIL line quoting row values (keys, PII): keep the
    # primary message only.
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
