"""Envelope encryption of namespace data keys (ADR-010): a random 256-bit data key per
version, wrapped by the master key with AES-256-GCM.

    wrapped = base64(nonce[12] || AES-256-GCM(master, nonce, data_key, aad))
    aad     = b"prism-dek:" + namespace + b":" + str(version)

The AAD ties a wrapped key to its namespace and version: copying it to another namespace
or renumbering it makes unwrapping fail. The master key is read when needed, from
$PRISM_MASTER_KEY (base64, or 64 hex digits) or else the file $PRISM_MASTER_KEY_FILE
(the same text, or 32 raw bytes); the proxies read the same key (server.keys).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class MasterKeyError(Exception):
    """No usable master key; the message says how to provide one."""


def decode_key(text: str | bytes, where: str) -> bytes:
    """A 32-byte key from 64 hex digits or base64 (standard or URL-safe)."""
    if isinstance(text, bytes):
        if len(text) == KEY_BYTES:
            return text  # a raw key file
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as err:
            raise MasterKeyError(f"{where}: not 32 raw bytes, hex or base64") from err
    value = text.strip()
    if len(value) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass  # 64 base64 characters would be 48 bytes: reported below
    try:
        key = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as err:
        raise MasterKeyError(f"{where}: not hex or base64 ({err})") from err
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{where}: must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def master_key(env_name: str, key_file: Path | None, env: Mapping[str, str] | None = None) -> bytes:
    env = os.environ if env is None else env
    text = env.get(env_name)
    if text:
        return decode_key(text, f"${env_name}")
    if key_file is not None:
        try:
            data = key_file.read_bytes()
        except OSError as err:
            raise MasterKeyError(f"{key_file}: cannot read the master key: {err}") from err
        return decode_key(data, str(key_file))
    raise MasterKeyError(
        f"no master key: set {env_name} to 32 random bytes in base64 "
        "(e.g. `openssl rand -base64 32`) or PRISM_MASTER_KEY_FILE to a file holding it, "
        "for the admin and every proxy"
    )


def _aad(namespace: str, version: int) -> bytes:
    return b"prism-dek:" + namespace.encode("utf-8") + b":" + str(version).encode("ascii")


def wrap(master: bytes, namespace: str, version: int, data_key: bytes) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(master).encrypt(nonce, data_key, _aad(namespace, version))
    return base64.b64encode(nonce + sealed).decode("ascii")


def unwrap(master: bytes, namespace: str, version: int, wrapped: str) -> bytes:
    """The data key; cryptography's InvalidTag when the master key or AAD differ."""
    raw = base64.b64decode(wrapped)
    return AESGCM(master).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(namespace, version))


def new_wrapped_key(master: bytes, namespace: str, version: int) -> str:
    """A fresh random data key, wrapped; the plaintext key never leaves this function."""
    return wrap(master, namespace, version, secrets.token_bytes(KEY_BYTES))
