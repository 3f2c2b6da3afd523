"""The gRPC data API for kv/ts: a PrismClient on the profile's gateway, with errors as
CtlError naming the gateway, the namespace and the status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prism.client import PrismClient
from prism.ctl.errors import CtlError
from prism.ctl.state import State
from prism.errors import PrismError, Unavailable

TIMEOUT_S = 10.0


@contextmanager
def connect(st: State, namespace: str) -> Iterator[PrismClient]:
    address = st.profile().grpc
    try:
        with PrismClient(address, timeout=TIMEOUT_S, retries=1) as client:
            yield client
    except Unavailable as err:
        raise CtlError(f"gateway {address} unavailable: {err.message}") from err
    except PrismError as err:
        raise CtlError(f"namespace {namespace}: {err.code}: {err.message}") from err
