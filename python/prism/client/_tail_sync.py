"""The blocking client's tail stream (hand-written: grpcio's blocking calls differ from
grpc.aio's here; the rest of the blocking client is generated from the asyncio one)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import grpc

from prism.client import _wire as w
from prism.client.errors import error_for_status, from_rpc_error
from prism.client.types import Event


class TailStream:
    """Iterable of tailed events; cancel() (or leaving the `with` block) ends it."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._cancelled = False

    def wait_ready(self, timeout: float) -> None:
        """Block until the server sent its response headers, i.e. subscribed.

        grpcio's initial_metadata() has no timeout, so it runs on a helper thread:
        a server that only sends headers with the first event delays us, never hangs us.
        """
        waiter = threading.Thread(target=self._call.initial_metadata, daemon=True)
        waiter.start()
        waiter.join(timeout)
        if self._call.done() and self._call.code() != grpc.StatusCode.OK:
            raise error_for_status(self._call.code(), self._call.details())

    def __iter__(self) -> Iterator[Event]:
        try:
            for msg in self._call:
                yield w.event_from_proto(msg)
        except grpc.RpcError as err:
            if self._cancelled and err.code() == grpc.StatusCode.CANCELLED:
                return
            raise from_rpc_error(err) from err

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()

    def __enter__(self) -> TailStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()
