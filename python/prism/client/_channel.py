"""Channel options shared by the sync and async clients."""

from __future__ import annotations

import json

# Pages may reach the namespace's max_page_bytes (4 MiB by default) plus keys
# and framing, which is past grpcio's 4 MiB default receive limit.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

_SERVICES = ("prism.keyvalue.v1.KeyValue", "prism.timeseries.v1.TimeSeries")


def channel_options(retries: int) -> list[tuple[str, object]]:
    """grpcio options; `retries` > 1 turns on transparent retry of UNAVAILABLE.

    Retrying every method is safe: reads are idempotent, mutations carry an
    idempotency token made once per call (reused by each attempt), and events
    carry their ids.
    """
    options: list[tuple[str, object]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if retries > 1:
        policy = {
            "maxAttempts": min(retries, 5),  # grpc caps attempts at 5
            "initialBackoff": "0.05s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        }
        config = {
            "methodConfig": [{"name": [{"service": s} for s in _SERVICES], "retryPolicy": policy}]
        }
        options += [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config))]
    return options
