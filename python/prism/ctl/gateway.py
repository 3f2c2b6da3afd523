"""The gRPC data API for kv/ts: a PrismClient on the profile's gateway, with errors as
CtlError naming the gateway, the namespace and the status.

The gateway's identity options (ADR-010) sit on the kv and ts groups, before the command:
`prismctl kv --token T --tls-ca ca.pem get KEY`, or from $PRISM_TOKEN, $PRISM_TLS_CA,
$PRISM_TLS_CERT and $PRISM_TLS_KEY.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from prism.client import PrismClient
from prism.ctl.errors import USAGE_ERROR, CtlError
from prism.ctl.state import State, state
from prism.errors import PrismError, Unauthenticated, Unavailable

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GatewayAuth:
    token: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None


def options(
    ctx: typer.Context,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="PRISM_TOKEN", help="Bearer token (a JWT) for the gateway."),
    ] = None,
    tls_ca: Annotated[
        Path | None,
        typer.Option("--tls-ca", envvar="PRISM_TLS_CA", help="PEM CA of the gateway: use TLS."),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", envvar="PRISM_TLS_CERT", help="PEM client certificate (mTLS)."),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option("--tls-key", envvar="PRISM_TLS_KEY", help="PEM client key (mTLS)."),
    ] = None,
) -> None:
    """The group callback of kv and ts: how to reach the gateway."""
    if (tls_cert is None) != (tls_key is None):
        raise CtlError("--tls-cert and --tls-key go together (mTLS)", exit_code=USAGE_ERROR)
    state(ctx).gateway = GatewayAuth(token or None, tls_ca, tls_cert, tls_key)


def _read(path: Path | None, flag: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.expanduser().read_bytes()
    except OSError as err:
        raise CtlError(f"{flag}: cannot read {path}: {err.strerror or err}", exit_code=2) from err


@contextmanager
def connect(st: State, namespace: str) -> Iterator[PrismClient]:
    address = st.profile().grpc
    auth = st.gateway if isinstance(st.gateway, GatewayAuth) else GatewayAuth()
    client = PrismClient(
        address,
        timeout=TIMEOUT_S,
        retries=1,
        token=auth.token,
        root_certificates=_read(auth.tls_ca, "--tls-ca"),
        certificate_chain=_read(auth.tls_cert, "--tls-cert"),
        private_key=_read(auth.tls_key, "--tls-key"),
    )
    try:
        with client:
            yield client
    except Unavailable as err:
        raise CtlError(f"gateway {address} unavailable: {err.message}") from err
    except Unauthenticated as err:
        raise CtlError(
            f"gateway {address}: unauthenticated: {err.message} (give --token or --tls-cert)"
        ) from err
    except PrismError as err:
        raise CtlError(f"namespace {namespace}: {err.code}: {err.message}") from err
