"""Map sqlite3 exceptions to the Prism exception hierarchy.

The Prism class decides `is_retriable()`: BUSY/LOCKED and I/O trouble become Unavailable
(retry with backoff), a full disk ResourceExhausted, anything else Internal.
"""

from __future__ import annotations

import sqlite3

from prism.errors import Internal, InvalidArgument, PrismError, ResourceExhausted, Unavailable

# Primary result codes (https://sqlite.org/rescode.html).
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_PROTOCOL = 15

_UNAVAILABLE = frozenset(
    {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_PROTOCOL}
)


def map_error(exc: BaseException) -> PrismError:
    """The Prism error for an exception raised by sqlite3 (or PrismError unchanged)."""
    if isinstance(exc, PrismError):
        return exc
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        message = f"sqlite: {name}: {exc}"
        primary = code & 0xFF if isinstance(code, int) else None
        if primary in _UNAVAILABLE:
            return Unavailable(message)
        if primary == SQLITE_FULL:
            return ResourceExhausted(message)
        return Internal(message)
    if isinstance(exc, OverflowError):  # e.g. an integer beyond SQLite's signed 64 bits
        return InvalidArgument(f"value out of range: {exc}")
    return Internal(f"{type(exc).__name__}: {exc}")


def is_retriable(exc: BaseException) -> bool:
    """True when the failed call may succeed if retried later."""
    return map_error(exc).is_retriable()
