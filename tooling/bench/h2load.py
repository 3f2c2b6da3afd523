"""Closed-loop gRPC load with h2load: pre-encoded request frames, parsed results."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from prism.keyvalue.v1 import keyvalue_pb2
from prism.timeseries.v1 import timeseries_pb2

GET_PATH = "/prism.keyvalue.v1.KeyValue/Get"
PUT_PATH = "/prism.keyvalue.v1.KeyValue/Put"
APPEND_PATH = "/prism.timeseries.v1.TimeSeries/Append"
# Fixed event times (2023-11-14): every repeat of a pre-encoded Append is the same batch.
EVENT_EPOCH_S = 1_700_000_000
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")


def grpc_frame(message: bytes) -> bytes:
    """The gRPC length prefix: flag 0 (uncompressed), 4-byte big-endian length."""
    return struct.pack(">BI", 0, len(message)) + message


def get_body(namespace: str, key: bytes) -> bytes:
    return grpc_frame(keyvalue_pb2.GetRequest(namespace=namespace, key=key).SerializeToString())


def put_body(namespace: str, key: bytes, value: bytes) -> bytes:
    req = keyvalue_pb2.PutRequest(namespace=namespace, key=key, value=value)
    return grpc_frame(req.SerializeToString())


def append_body(namespace: str, series_id: str, batch: int, payload: bytes) -> bytes:
    """An Append of `batch` events of one series at fixed times 1 ms apart. h2load repeats
    the same frame, so after the first request every event is a duplicate."""
    events = [
        timeseries_pb2.Event(
            series_id=series_id,
            event_time=Timestamp(seconds=EVENT_EPOCH_S, nanos=i * 1_000_000),
            event_id=f"e{i}",
            tags={"host": "bench"},
            value=float(i),
            payload=payload,
        )
        for i in range(batch)
    ]
    req = timeseries_pb2.AppendRequest(namespace=namespace, events=events)
    return grpc_frame(req.SerializeToString())


_UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def _to_us(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unparsed h2load duration {text!r}")
    return float(m.group(1)) * _UNITS_US[m.group(2)]


def parse(output: str) -> dict[str, Any]:
    """The numbers from h2load's summary: rps, request counts, request-time latency."""
    fin = re.search(r"finished in ([0-9.]+)s, ([0-9.]+) req/s", output)
    req = re.search(
        r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
        r"(\d+) failed, (\d+) errored",
        output,
    )
    lat = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", output)
    if not (fin and req and lat):
        raise ValueError(f"could not parse h2load output:\n{output}")
    return {
        "elapsed_s": float(fin.group(1)),
        "rps": float(fin.group(2)),
        "requests": int(req.group(3)),
        "failed": int(req.group(4)) + int(req.group(5)),
        "lat_min_us": _to_us(lat.group(1)),
        "lat_max_us": _to_us(lat.group(2)),
        "lat_mean_us": _to_us(lat.group(3)),
        "lat_sd_us": _to_us(lat.group(4)),
    }


def run(
    address: str,
    path: str,
    body_file: Path,
    clients: int,
    duration_s: float,
    core: int,
    headers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """h2load pinned to `core`: `clients` connections, one stream each, for `duration_s`."""
    cmd = [
        "taskset",
        "-c",
        str(core),
        "h2load",
        "-t",
        "1",
        "-c",
        str(clients),
        "-m",
        "1",
        "-D",
        str(int(duration_s)),
        "--warm-up-time",
        "1",
        "-d",
        str(body_file),
    ]
    for header in (*GRPC_HEADERS, *headers):
        cmd += ["-H", header]
    cmd.append(f"http://{address}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration_s + 60)
    result = parse(out.stdout)
    result["tool"] = "h2load"
    return result
