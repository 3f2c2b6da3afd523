"""One exception hierarchy for the whole Python side of Prism.

Every error carries a canonical `code` (the gRPC status name in lower case)
so that plugins, the plugin host, the client and the CLI agree on meaning.
The plugin host sends `(code, message)` across the bridge; the Rust core maps
the code to the gRPC status at its single rescue point.
"""

from __future__ import annotations


class PrismError(Exception):
    """Base class; `code` is the canonical status name, e.g. "not_found"."""

    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def is_retriable(self) -> bool:
        """True when the same call may succeed if retried later."""
        return False


class NotFound(PrismError):
    code = "not_found"


class AlreadyExists(PrismError):
    code = "already_exists"


class FailedPrecondition(PrismError):
    """A condition of the request does not hold, e.g. a version mismatch."""

    code = "failed_precondition"


class InvalidArgument(PrismError):
    code = "invalid_argument"


class ResourceExhausted(PrismError):
    code = "resource_exhausted"

    def is_retriable(self) -> bool:
        return True


class DeadlineExceeded(PrismError):
    code = "deadline_exceeded"

    def is_retriable(self) -> bool:
        return True


class Unavailable(PrismError):
    """The backend cannot be reached right now; retry with backoff."""

    code = "unavailable"

    def is_retriable(self) -> bool:
        return True


class Unimplemented(PrismError):
    code = "unimplemented"


class Unauthenticated(PrismError):
    code = "unauthenticated"


class PermissionDenied(PrismError):
    code = "permission_denied"


class Internal(PrismError):
    code = "internal"


class ConfigError(PrismError):
    """A configuration file or value is invalid; the message names the field."""

    code = "invalid_argument"


BY_CODE: dict[str, type[PrismError]] = {
    cls.code: cls
    for cls in (
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        InvalidArgument,
        ResourceExhausted,
        DeadlineExceeded,
        Unavailable,
        Unimplemented,
        Unauthenticated,
        PermissionDenied,
        Internal,
    )
}


def from_code(code: str, message: str) -> PrismError:
    """Build the exception for a canonical code; unknown codes become Internal."""
    return BY_CODE.get(code, Internal)(message)
