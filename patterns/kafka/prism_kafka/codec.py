"""The compact binary encoding of one event as a Kafka message value.

Layout (little-endian): version u8, time_ns i64, flags u8 (bit 0: has value),
value f64 (only with the flag), then series_id, event_id, tag count u32 and each tag key
and value, each a u32 length + UTF-8 bytes, and the payload (u32 length + bytes).

The message key is the series id and the message timestamp the event time in ms; the
value repeats the full-precision time and the series so one message decodes on its own.
"""

from __future__ import annotations

import struct

from prism.plugins.api import Event

VERSION = 1
_HEAD = struct.Struct("<BqB")
_VALUE = struct.Struct("<d")
_LEN = struct.Struct("<I")


def encode(event: Event) -> bytes:
    series_id, time_ns, event_id, tags, value, payload = event
    parts = [_HEAD.pack(VERSION, time_ns, 0 if value is None else 1)]
    if value is not None:
        parts.append(_VALUE.pack(float(value)))
    tags = tags or {}
    strings = [series_id, event_id]
    parts += [_text(s) for s in strings]
    parts.append(_LEN.pack(len(tags)))
    for k, v in tags.items():
        parts += [_text(k), _text(v)]
    blob = bytes(payload or b"")
    parts += [_LEN.pack(len(blob)), blob]
    return b"".join(parts)


def decode(data: bytes) -> Event:
    version, time_ns, flags = _HEAD.unpack_from(data, 0)
    if version != VERSION:
        raise ValueError(f"unknown event encoding version {version}")
    pos = _HEAD.size
    value: float | None = None
    if flags & 1:
        (value,) = _VALUE.unpack_from(data, pos)
        pos += _VALUE.size
    series_id, pos = _read_text(data, pos)
    event_id, pos = _read_text(data, pos)
    (count,) = _LEN.unpack_from(data, pos)
    pos += _LEN.size
    tags: dict[str, str] = {}
    for _ in range(count):
        k, pos = _read_text(data, pos)
        tags[k], pos = _read_text(data, pos)
    payload, pos = _read_bytes(data, pos)
    return (series_id, time_ns, event_id, tags, value, payload)


def _text(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _LEN.pack(len(raw)) + raw


def _read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = _LEN.unpack_from(data, pos)
    pos += _LEN.size
    if pos + n > len(data):
        raise ValueError("truncated event encoding")
    return bytes(data[pos : pos + n]), pos + n


def _read_text(data: bytes, pos: int) -> tuple[str, int]:
    raw, pos = _read_bytes(data, pos)
    return raw.decode("utf-8"), pos
