"""Map redis-py exceptions to the Prism exception hierarchy.

The Prism class decides `is_retriable()`: an unreachable, loading, busy, read-only
(failing over) or timing-out server becomes Unavailable (retry with backoff), a full
memory ResourceExhausted, bad credentials PermissionDenied (retrying cannot help), anything
else Internal.
"""

from __future__ import annotations

from prism.errors import (
    Internal,
    InvalidArgument,
    PermissionDenied,
    PrismError,
    ResourceExhausted,
    Unavailable,
)
from redis import exceptions as rx

# Error prefixes of replies meaning "not now, try again" (the server stays sane).
_TRANSIENT_REPLIES = ("BUSY", "LOADING", "MISCONF", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN")


def map_error(exc: BaseException) -> PrismError:
    """The Prism error for an exception raised by redis-py (or PrismError unchanged)."""
    if isinstance(exc, PrismError):
        return exc
    message = f"redis: {type(exc).__name__}: {exc}"
    # Auth errors subclass ConnectionError in redis-py but are configuration problems.
    if isinstance(exc, rx.AuthenticationError | rx.AuthorizationError | rx.NoPermissionError):
        return PermissionDenied(message)
    if isinstance(exc, rx.ConnectionError | rx.TimeoutError | rx.ReadOnlyError):
        return Unavailable(message)
    if isinstance(exc, TimeoutError | ConnectionError | OSError):  # builtins (asyncio, socket)
        return Unavailable(message)
    if isinstance(exc, rx.OutOfMemoryError):
        return ResourceExhausted(message)
    if isinstance(exc, rx.ResponseError):
        text = str(exc)
        if text.startswith("OOM"):
            return ResourceExhausted(message)
        if text.startswith(_TRANSIENT_REPLIES):
            return Unavailable(message)
        return Internal(message)
    if isinstance(exc, rx.DataError | OverflowError | UnicodeEncodeError):
        return InvalidArgument(f"redis: invalid value: {exc}")
    return Internal(message)


def is_retriable(exc: BaseException) -> bool:
    """True when the failed call may succeed if retried later."""
    return map_error(exc).is_retriable()
