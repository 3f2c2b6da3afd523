"""Names of the JetStream objects of a namespace, and how keys and series become subjects.

Everything embedded in a NATS name or subject is encoded, so no client input can add a
token, a wildcard (`*`, `>`) or a character the server rejects:

- namespace names ([A-Za-z0-9_.-]) keep [A-Za-z0-9-] and turn any other character into
  `_XX` (its hex code): injective, and valid in bucket, stream and subject names;
- a KeyValue key (arbitrary bytes) becomes one lower-case hex token per byte followed by
  the terminator token `_`: b"ab" -> "61.62._", b"" -> "_". Hex keeps the byte order,
  and one token per byte makes every byte prefix a subject filter
  (`$KV.<bucket>.61.62.>` holds exactly the keys starting with b"ab", b"ab" itself
  included thanks to the terminator), which is what makes prefix scans cheap;
- a series id becomes one token, "s" + the hex of its UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

KEY_END = "_"


def encode_name(name: str) -> str:
    """Namespace name -> [A-Za-z0-9_-]; `_` only ever starts an escape."""
    return "".join(
        ch if (ch.isascii() and ch.isalnum()) or ch == "-" else f"_{ord(ch):02X}" for ch in name
    )


def key_to_token(key: bytes) -> str:
    return ".".join([*(f"{b:02x}" for b in key), KEY_END])


def token_to_key(token: str) -> bytes:
    """Inverse of key_to_token; ValueError for subjects this plugin did not write."""
    parts = token.split(".")
    if parts[-1] != KEY_END:
        raise ValueError(f"not a Prism key subject: {token!r}")
    return bytes.fromhex("".join(parts[:-1]))


def common_prefix(a: bytes, b: bytes) -> bytes:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def series_token(series_id: str) -> str:
    return "s" + series_id.encode("utf-8").hex()


def event_msg_id(series_id: str, time_ns: int, event_id: str) -> str:
    """The `Nats-Msg-Id` of an event: the server drops a re-append within its window."""
    h = hashlib.sha256()
    for part in (series_id.encode(), str(time_ns).encode(), event_id.encode()):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.hexdigest()[:40]


@dataclass(frozen=True)
class Names:
    """Bucket, streams and subjects of one namespace."""

    prefix: str
    namespace: str

    @property
    def bucket(self) -> str:
        return f"{self.prefix}_{encode_name(self.namespace)}"

    @property
    def kv_stream(self) -> str:
        # The stream behind a KV bucket is named by the KV convention, so `nats kv`
        # tools see the bucket too.
        return f"KV_{self.bucket}"

    @property
    def kv_prefix(self) -> str:
        return f"$KV.{self.bucket}."

    def key_subject(self, key: bytes) -> str:
        return self.kv_prefix + key_to_token(key)

    def subject_key(self, subject: str) -> bytes:
        return token_to_key(subject[len(self.kv_prefix) :])

    def scan_filter(self, start: bytes, end: bytes | None) -> str:
        """The narrowest subject filter holding every key of [start, end)."""
        shared = common_prefix(start, end) if end is not None else b""
        return self.kv_prefix + ".".join([*(f"{b:02x}" for b in shared), ">"])

    @property
    def ts_stream(self) -> str:
        return f"{self.prefix}_ts_{encode_name(self.namespace)}"

    @property
    def ts_subjects(self) -> str:
        return f"{self.prefix}.ts.{encode_name(self.namespace)}.>"

    def series_subject(self, series_id: str) -> str:
        return f"{self.prefix}.ts.{encode_name(self.namespace)}.{series_token(series_id)}"
