"""Map nats-py exceptions to the Prism exception hierarchy.

The Prism class decides `is_retriable()`: anything that says "the server (or JetStream)
cannot be reached right now" becomes Unavailable (retry with backoff): refused or lost
connections, timeouts (nats-py buffers requests while it reconnects, so an outage shows up
as a timeout), no responders, JetStream 503s. A message too large for the server is the
client's fault (InvalidArgument); anything else is Internal.
"""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors
from prism.errors import Internal, InvalidArgument, PrismError, ResourceExhausted, Unavailable

# JetStream API error codes (nats-server errors.json).
JS_WRONG_LAST_SEQUENCE = (10071, 10164)
# Insufficient resources, memory or storage exceeded, store failed (limits reached).
_JS_STORAGE_FULL = (10023, 10028, 10047, 10077)
_JS_MESSAGE_TOO_LARGE = 10054
_JS_NOT_ENABLED = (10039, 10076)

_UNAVAILABLE = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    asyncio.TimeoutError,
    ConnectionError,  # refused / reset / aborted
    OSError,
)


def is_wrong_last_sequence(exc: BaseException) -> bool:
    """The publish was refused by `Nats-Expected-Last-Subject-Sequence` (a lost CAS)."""
    return isinstance(exc, nats.js.errors.APIError) and exc.err_code in JS_WRONG_LAST_SEQUENCE


def map_error(exc: BaseException) -> PrismError:
    """The Prism error for an exception raised by nats-py (or PrismError unchanged)."""
    if isinstance(exc, PrismError):
        return exc
    if isinstance(exc, nats.errors.MaxPayloadError):
        return InvalidArgument(f"nats: message larger than the server's max_payload: {exc}")
    if isinstance(exc, nats.js.errors.APIError) and not isinstance(
        exc, nats.js.errors.ServiceUnavailableError
    ):
        message = f"nats: jetstream error {exc.err_code} ({exc.code}): {exc.description}"
        if exc.code == 503 or exc.err_code in _JS_NOT_ENABLED:
            return Unavailable(message)
        if exc.err_code == _JS_MESSAGE_TOO_LARGE:
            return InvalidArgument(message)
        if exc.err_code in _JS_STORAGE_FULL:
            return ResourceExhausted(message)
        return Internal(message)
    if isinstance(exc, _UNAVAILABLE):
        detail = str(exc) or type(exc).__name__
        return Unavailable(f"nats: server unavailable: {detail}")
    if isinstance(exc, nats.errors.Error):
        return Internal(f"nats: {type(exc).__name__}: {exc}")
    return Internal(f"{type(exc).__name__}: {exc}")


def is_retriable(exc: BaseException) -> bool:
    """True when the failed call may succeed if retried later."""
    return map_error(exc).is_retriable()
