"""Transport security and caller identity shared by the sync and async clients (ADR-010).

TLS when any of root_certificates / certificate_chain / private_key is given (PEM bytes;
no root certificates means the system's roots), with a client certificate for mTLS. A
bearer token rides on every call as `authorization: Bearer <token>` through an
interceptor rather than grpc call credentials, which grpc only sends over TLS: a gateway
in `jwt` mode without TLS (development) must still receive it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio


@dataclass(frozen=True)
class Security:
    token: str | None = None
    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None

    def __post_init__(self) -> None:
        if (self.certificate_chain is None) != (self.private_key is None):
            raise ValueError("certificate_chain and private_key go together (mTLS)")
        if self.token is not None and (not self.token or any(c in self.token for c in "\r\n")):
            raise ValueError("token must be a non-empty string without line breaks")

    @property
    def tls(self) -> bool:
        return any(
            v is not None
            for v in (self.root_certificates, self.certificate_chain, self.private_key)
        )

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


def _with_metadata(details: Any, extra: tuple[tuple[str, str], ...]) -> Any:
    """aio call details (a namedtuple) with `extra` metadata appended."""
    merged = grpc.aio.Metadata(*tuple(details.metadata or ()), *extra)
    return details._replace(metadata=merged)


class TokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds the bearer token to every call of a blocking channel."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def _details(self, details: Any) -> Any:
        return _Details(
            details.method,
            details.timeout,
            tuple(details.metadata or ()) + self._metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)


class _Details(
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    """grpc.ClientCallDetails is an interface without a constructor: this is one."""

    def __init__(
        self,
        method: str,
        timeout: float | None,
        metadata: Any,
        credentials: Any,
        wait_for_ready: bool | None,
        compression: Any,
    ) -> None:
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


class AsyncTokenInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
):
    """Adds the bearer token to every call of an asyncio channel."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    async def intercept_unary_unary(  # type: ignore[override]
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(_with_metadata(details, self._metadata), request)

    async def intercept_unary_stream(  # type: ignore[override]
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(_with_metadata(details, self._metadata), request)


def sync_channel(
    target: str, options: list[tuple[str, object]], security: Security
) -> grpc.Channel:
    if security.tls:
        channel = grpc.secure_channel(target, security.credentials(), options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
    if security.token:
        channel = grpc.intercept_channel(channel, TokenInterceptor(security.metadata()))
    return channel


def async_channel(
    target: str, options: list[tuple[str, object]], security: Security
) -> grpc.aio.Channel:
    interceptors: Any = [AsyncTokenInterceptor(security.metadata())] if security.token else None
    if security.tls:
        return grpc.aio.secure_channel(
            target, security.credentials(), options=options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
