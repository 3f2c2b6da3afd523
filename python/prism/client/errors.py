"""Map gRPC failures onto the one Prism exception hierarchy (prism.errors).

Callers catch `prism.errors.NotFound` and friends, never `grpc.RpcError`; the
original status stays reachable as `exc.grpc_code` and as `exc.__cause__`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from prism.errors import PrismError, from_code


def error_for_status(code: grpc.StatusCode, details: str) -> PrismError:
    """The Prism exception for a status code; codes without a class become Internal."""
    # StatusCode names match the canonical codes of prism.errors (NOT_FOUND -> "not_found").
    exc = from_code(code.name.lower(), details or code.name)
    # prism.errors is shared with plugins, so the gRPC-specific attribute is added here.
    exc.grpc_code = code  # type: ignore[attr-defined]
    return exc


def from_rpc_error(err: grpc.RpcError) -> PrismError:
    """Both grpc.Call errors (sync) and grpc.aio.AioRpcError expose code() and details()."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    return error_for_status(code, details or "")


@contextmanager
def rpc_errors() -> Iterator[None]:
    """Re-raise any grpc.RpcError in the block as its Prism exception."""
    try:
        yield
    except grpc.RpcError as err:
        raise from_rpc_error(err) from err
