"""One `grpc.health.v1.Health/Check` call with hand-encoded protobuf bytes.

The message is two fields, so encoding it here spares a dependency on grpcio-health.
"""

from __future__ import annotations

import grpc

CHECK = "/grpc.health.v1.Health/Check"
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def check(address: str, service: str = "", timeout: float = 3.0) -> str:
    """SERVING, NOT_SERVING, ... or `unreachable: <reason>`; never raises."""
    raw = service.encode()
    request = b"" if not raw else b"\x0a" + _varint(len(raw)) + raw
    try:
        with grpc.insecure_channel(address) as channel:
            call = channel.unary_unary(CHECK, request_serializer=None, response_deserializer=None)
            response = call(request, timeout=timeout)
    except grpc.RpcError as err:
        code = err.code() if hasattr(err, "code") else None
        details = err.details() if hasattr(err, "details") else str(err)
        return f"unreachable: {getattr(code, 'name', code)}: {details}"
    return STATUS_NAMES.get(_status(response), "UNKNOWN")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _status(response: bytes) -> int:
    """Field 1 of HealthCheckResponse (a varint); 0 when absent."""
    pos, status = 0, 0
    while pos < len(response):
        tag, pos = _read_varint(response, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(response, pos)
            if field == 1:
                status = value
        elif wire == 2:
            length, pos = _read_varint(response, pos)
            pos += length
        else:
            pos += 8 if wire == 1 else 4
    return status


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
