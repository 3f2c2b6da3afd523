"""Map aiokafka exceptions to the Prism exception hierarchy.

The Prism class decides `is_retriable()`: connection trouble, timeouts and the errors
Kafka itself marks retriable (leader moves, not enough replicas, ...) become Unavailable;
oversized or mis-timestamped records InvalidArgument; authorization PermissionDenied;
anything else Internal.
"""

from __future__ import annotations

import asyncio

from aiokafka import errors as kerr
from prism.errors import (
    Internal,
    InvalidArgument,
    PermissionDenied,
    PrismError,
    Unavailable,
)

_INVALID = (
    kerr.MessageSizeTooLargeError,
    kerr.RecordTooLargeError,
    kerr.RecordListTooLargeError,
    kerr.InvalidTimestampError,
)
_DENIED = (
    kerr.TopicAuthorizationFailedError,
    kerr.ClusterAuthorizationFailedError,
    kerr.GroupAuthorizationFailedError,
)
_UNAVAILABLE = (
    kerr.KafkaConnectionError,
    kerr.KafkaTimeoutError,
    kerr.RequestTimedOutError,
    kerr.NodeNotReadyError,
    kerr.ProducerClosed,
    kerr.ConsumerStoppedError,
)


def map_error(exc: BaseException) -> PrismError:
    """The Prism error for an exception raised by aiokafka (or PrismError unchanged)."""
    if isinstance(exc, PrismError):
        return exc
    text = str(exc)
    name = type(exc).__name__
    # aiokafka's messages often start with the class name already.
    message = f"kafka: {text}" if text.startswith(name) else f"kafka: {name}: {text}"
    if isinstance(exc, _INVALID):
        return InvalidArgument(message)
    if isinstance(exc, _DENIED):
        return PermissionDenied(message)
    if isinstance(exc, _UNAVAILABLE):
        return Unavailable(message)
    if isinstance(exc, kerr.KafkaError):
        return Unavailable(message) if getattr(exc, "retriable", False) else Internal(message)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | ConnectionError | OSError):
        return Unavailable(message)
    return Internal(message)


def is_retriable(exc: BaseException) -> bool:
    """True when the failed call may succeed if retried later."""
    return map_error(exc).is_retriable()
