"""Listening ports for the short-lived servers of the tests and the bench.

`bind(("127.0.0.1", 0))` hands out a port from the kernel's ephemeral range, the range
outgoing connections take their source ports from: between the probe and the server's
own bind any connection may take it ("address in use", seen in CI). These ports come from
a range below both the ephemeral range (32768 and up here) and the local stack's fixed
ports (24222 and up, ADR-007).
"""

from __future__ import annotations

import random
import socket

LISTEN_RANGE = (10000, 23999)

_handed_out: set[int] = set()


def free_listen_port() -> int:
    """A loopback port in LISTEN_RANGE that nothing listens on now and that this process
    has not handed out before (a stopped server's port may still be in TIME_WAIT)."""
    low, high = LISTEN_RANGE
    for _ in range(1000):
        port = random.randint(low, high)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{high} after 1000 tries")
