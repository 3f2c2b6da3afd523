"""The security blocks of the configuration (ADR-010): `server.auth`, `server.audit`,
`server.keys`, and per namespace `access`, `rate_limit` and `schema`.

Parsed from a YAML file (prism.config) and from admin specs (prism.proxy.namespaces) by
the same functions, so both paths mean the same thing; the Rust core validates again.
Every error is a ConfigError starting with the field path. Relative file paths are taken
relative to `base_dir` (the config file's directory) and sent to the core absolute.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from prism.errors import ConfigError

AUTH_MODES = ("none", "tls", "mtls", "jwt", "mtls+jwt")
_CERT_MODES = ("tls", "mtls", "mtls+jwt")
_CLIENT_CA_MODES = ("mtls", "mtls+jwt")
_JWT_MODES = ("jwt", "mtls+jwt")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
MIN_METADATA_BYTES = 1024  # as the core: smaller would refuse ordinary requests


@dataclass(frozen=True)
class TlsConfig:
    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""


@dataclass(frozen=True)
class JwtConfig:
    issuer: str = ""
    audience: str = ""
    jwks_url: str = ""
    hs256_secret_env: str = ""
    jwks_refresh_seconds: int = 300
    leeway_seconds: int = 30
    principal_claim: str = "sub"
    groups_claim: str = "groups"


@dataclass(frozen=True)
class AuthConfig:
    mode: str = "none"
    tls: TlsConfig = field(default_factory=TlsConfig)
    jwt: JwtConfig = field(default_factory=JwtConfig)
    max_metadata_bytes: int = 16 * 1024


@dataclass(frozen=True)
class AuditKafkaConfig:
    """`server.audit.kafka`: a copy of the audit lines in a Kafka topic (prism.audit)."""

    bootstrap_servers: tuple[str, ...]
    topic: str = "prism-audit"
    checkpoint: bool = True  # resume from <path>.kafka-offset after a restart
    backlog_warn_bytes: int = 64 << 20


@dataclass(frozen=True)
class AuditConfig:
    path: str = ""  # empty: no data-access audit log
    max_bytes: int = 64 << 20
    keep: int = 5
    channel_capacity: int = 8192
    fingerprint_key_env: str = "PRISM_AUDIT_KEY"
    # Shipped by the Python side only; the core ignores the key (serde skips unknown).
    kafka: AuditKafkaConfig | None = None


@dataclass(frozen=True)
class KeysConfig:
    master_key_env: str = "PRISM_MASTER_KEY"
    master_key_file: str = ""


@dataclass(frozen=True)
class AccessPolicy:
    read: tuple[str, ...] = ("*",)
    write: tuple[str, ...] = ("*",)
    admin: tuple[str, ...] = ()
    pii_read: tuple[str, ...] = ()


@dataclass(frozen=True)
class RateLimit:
    requests_per_second: float = 0.0  # 0: no limit
    burst: int = 0  # 0: one second's worth
    per_principal_requests_per_second: float = 0.0
    per_principal_burst: int = 0


@dataclass(frozen=True)
class WrappedKey:
    version: int
    wrapped: str


@dataclass(frozen=True)
class SchemaBinding:
    descriptor_set: str  # base64 FileDescriptorSet
    message: str
    data_keys: tuple[WrappedKey, ...] = ()


# ---- server blocks ----------------------------------------------------------------------


def parse_auth(
    raw: Any, path: str, base_dir: Path, env: Mapping[str, str] | None = None
) -> AuthConfig:
    """`server.auth`: the mode and what it needs (files that exist, a JWT key source)."""
    env = os.environ if env is None else env
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(AuthConfig)}, path)
    mode = raw.get("mode", "none")
    if mode not in AUTH_MODES:
        raise ConfigError(f"{path}.mode: must be one of {', '.join(AUTH_MODES)}")
    tls = _parse_tls(raw.get("tls", {}), f"{path}.tls", base_dir, mode)
    jwt = _parse_jwt(raw.get("jwt", {}), f"{path}.jwt", mode, env)
    size = raw.get("max_metadata_bytes", AuthConfig.max_metadata_bytes)
    if not _is_int(size) or size < MIN_METADATA_BYTES or size > 2**31 - 1:
        raise ConfigError(
            f"{path}.max_metadata_bytes: must be an integer of at least {MIN_METADATA_BYTES}"
        )
    return AuthConfig(mode=mode, tls=tls, jwt=jwt, max_metadata_bytes=size)


def _parse_tls(raw: Any, path: str, base_dir: Path, mode: str) -> TlsConfig:
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(TlsConfig)}, path)
    files = {k: _file(raw.get(k), f"{path}.{k}", base_dir) for k in ("cert_file", "key_file")}
    ca = _file(raw.get("client_ca_file"), f"{path}.client_ca_file", base_dir)
    needs_cert = mode in _CERT_MODES
    for key in ("cert_file", "key_file"):
        if needs_cert and not files[key]:
            raise ConfigError(f"{path}.{key}: is required with mode {mode!r} (a PEM file)")
    if bool(files["cert_file"]) != bool(files["key_file"]):
        missing = "key_file" if files["cert_file"] else "cert_file"
        raise ConfigError(f"{path}.{missing}: cert_file and key_file go together")
    if mode in _CLIENT_CA_MODES and not ca:
        raise ConfigError(
            f"{path}.client_ca_file: is required with mode {mode!r} "
            "(the PEM CA that signs client certificates)"
        )
    return TlsConfig(cert_file=files["cert_file"], key_file=files["key_file"], client_ca_file=ca)


def _parse_jwt(raw: Any, path: str, mode: str, env: Mapping[str, str]) -> JwtConfig:
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(JwtConfig)}, path)
    defaults = JwtConfig()
    text = {
        k: _string(raw.get(k, getattr(defaults, k)), f"{path}.{k}")
        for k in ("issuer", "audience", "jwks_url", "hs256_secret_env")
    }
    for key in ("principal_claim", "groups_claim"):
        text[key] = _string(raw.get(key, getattr(defaults, key)), f"{path}.{key}")
        if not text[key]:
            raise ConfigError(f"{path}.{key}: must name a claim")
    refresh = raw.get("jwks_refresh_seconds", defaults.jwks_refresh_seconds)
    if not _is_int(refresh) or refresh <= 0:
        raise ConfigError(f"{path}.jwks_refresh_seconds: must be a positive integer")
    leeway = raw.get("leeway_seconds", defaults.leeway_seconds)
    if not _is_int(leeway) or leeway < 0:
        raise ConfigError(f"{path}.leeway_seconds: must be a non-negative integer")
    for key in ("issuer", "jwks_url"):
        if text[key] and not text[key].startswith(("https://", "http://")):
            raise ConfigError(f"{path}.{key}: must be an http(s) URL")
    secret_env = text["hs256_secret_env"]
    if secret_env and not _ENV_NAME.fullmatch(secret_env):
        raise ConfigError(f"{path}.hs256_secret_env: must be an environment variable name")
    if mode in _JWT_MODES:
        if not text["audience"]:
            raise ConfigError(f"{path}.audience: is required with mode {mode!r}")
        if not (text["jwks_url"] or text["issuer"] or secret_env):
            raise ConfigError(
                f"{path}: mode {mode!r} needs a key source: jwks_url, an issuer to discover "
                "it from, or hs256_secret_env (development)"
            )
        if secret_env and not env.get(secret_env):
            raise ConfigError(
                f"{path}.hs256_secret_env: the environment variable {secret_env} is not set"
            )
    return JwtConfig(
        issuer=text["issuer"],
        audience=text["audience"],
        jwks_url=text["jwks_url"],
        hs256_secret_env=secret_env,
        jwks_refresh_seconds=refresh,
        leeway_seconds=leeway,
        principal_claim=text["principal_claim"],
        groups_claim=text["groups_claim"],
    )


def parse_audit(raw: Any, path: str, base_dir: Path) -> AuditConfig:
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(AuditConfig)}, path)
    defaults = AuditConfig()
    out: dict[str, Any] = {"path": _file(raw.get("path"), f"{path}.path", base_dir, exists=False)}
    for key, minimum in (("max_bytes", 1), ("keep", 0), ("channel_capacity", 1)):
        value = raw.get(key, getattr(defaults, key))
        if not _is_int(value) or value < minimum:
            kind = "a positive" if minimum else "a non-negative"
            raise ConfigError(f"{path}.{key}: must be {kind} integer")
        out[key] = value
    key_env = _string(
        raw.get("fingerprint_key_env", defaults.fingerprint_key_env), f"{path}.fingerprint_key_env"
    )
    if key_env and not _ENV_NAME.fullmatch(key_env):
        raise ConfigError(f"{path}.fingerprint_key_env: must be an environment variable name")
    kafka = None
    if raw.get("kafka") is not None:
        if not out["path"]:
            raise ConfigError(f"{path}.kafka: needs {path}.path (the file it ships)")
        kafka = parse_audit_kafka(raw["kafka"], f"{path}.kafka")
    return AuditConfig(**out, fingerprint_key_env=key_env, kafka=kafka)


def parse_audit_kafka(raw: Any, path: str) -> AuditKafkaConfig:
    """`server.audit.kafka`: brokers (`host:port`, a list or comma-separated), the topic
    (which must exist), whether to keep a checkpoint, and the backlog warning level."""
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(AuditKafkaConfig)}, path)
    servers = raw.get("bootstrap_servers")
    if isinstance(servers, str):
        servers = [s.strip() for s in servers.split(",") if s.strip()]
    if not isinstance(servers, list | tuple) or not servers:
        raise ConfigError(f"{path}.bootstrap_servers: is required: host:port, or a list of them")
    for j, server in enumerate(servers):
        host, sep, port = server.rpartition(":") if isinstance(server, str) else ("", "", "")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{path}.bootstrap_servers[{j}]: must be host:port, got {server!r}")
    topic = raw.get("topic", AuditKafkaConfig.topic)
    if not isinstance(topic, str) or not _KAFKA_TOPIC.fullmatch(topic) or topic in (".", ".."):
        raise ConfigError(
            f"{path}.topic: must be a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -), got {topic!r}"
        )
    use_checkpoint = parse_bool(raw.get("checkpoint", True), f"{path}.checkpoint")
    warn = raw.get("backlog_warn_bytes", AuditKafkaConfig.backlog_warn_bytes)
    if not _is_int(warn) or warn < 1:
        raise ConfigError(f"{path}.backlog_warn_bytes: must be a positive integer")
    if importlib.util.find_spec("aiokafka") is None:
        raise ConfigError(f"{path}: needs the aiokafka package (pip install aiokafka)")
    return AuditKafkaConfig(
        bootstrap_servers=tuple(servers),
        topic=topic,
        checkpoint=use_checkpoint,
        backlog_warn_bytes=warn,
    )


def parse_keys(raw: Any, path: str, base_dir: Path) -> KeysConfig:
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(KeysConfig)}, path)
    env_name = _string(
        raw.get("master_key_env", KeysConfig.master_key_env), f"{path}.master_key_env"
    )
    if not _ENV_NAME.fullmatch(env_name):
        raise ConfigError(f"{path}.master_key_env: must be an environment variable name")
    key_file = _file(raw.get("master_key_file"), f"{path}.master_key_file", base_dir)
    return KeysConfig(master_key_env=env_name, master_key_file=key_file)


# ---- namespace blocks -------------------------------------------------------------------


def selector_error(selector: Any) -> str | None:
    """Why `selector` is not an access selector, or None when it is one."""
    if not isinstance(selector, str) or not selector:
        return "must be a non-empty string"
    if any(c.isspace() for c in selector) or not selector.isprintable():
        return f"{selector!r} must not contain whitespace"
    kind, sep, rest = selector.partition(":")
    if sep and kind in ("group", "cert") and not rest:
        return f"{selector!r} names no {kind}"
    if sep and kind == "claim":
        claim, eq, _value = rest.partition("=")
        if not claim or not eq:
            return f"{selector!r} must be claim:<name>=<value>"
    return None


def parse_access(raw: Any, path: str) -> AccessPolicy:
    """Selectors: `*`, `<principal>`, `group:<g>`, `claim:<k>=<v>`, `cert:<id>`."""
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(AccessPolicy)}, path)
    defaults = AccessPolicy()
    out: dict[str, tuple[str, ...]] = {}
    for f in fields(AccessPolicy):
        value = raw.get(f.name, list(getattr(defaults, f.name)))
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}.{f.name}: must be a list of selectors, e.g. ['*']")
        for j, selector in enumerate(value):
            problem = selector_error(selector)
            if problem:
                raise ConfigError(f"{path}.{f.name}[{j}]: {problem}")
        out[f.name] = tuple(value)
    return AccessPolicy(**out)


#: The highest rate a rate limit takes, per second (shared with prism.admin.spec).
MAX_RATE = 1e12


def parse_rate_limit(raw: Any, path: str) -> RateLimit:
    raw = _mapping(raw, path)
    _check_keys(raw, {f.name for f in fields(RateLimit)}, path)
    out: dict[str, Any] = {}
    for key in ("requests_per_second", "per_principal_requests_per_second"):
        value = raw.get(key, 0)
        if not _is_number(value) or not 0 <= value <= MAX_RATE:  # NaN fails both
            raise ConfigError(f"{path}.{key}: must be a number from 0 (no limit) to {MAX_RATE:g}")
        out[key] = float(value)
    for key in ("burst", "per_principal_burst"):
        value = raw.get(key, 0)
        if not _is_int(value) or not 0 <= value <= 2**32 - 1:
            raise ConfigError(
                f"{path}.{key}: must be a non-negative integer (0: one second's worth)"
            )
        out[key] = value
    return RateLimit(**out)


def parse_bool(raw: Any, path: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{path}: must be true or false")
    return raw


def parse_schema(raw: Any, path: str) -> SchemaBinding | None:
    """A schema binding as the admin stores it (it checked the descriptors); None for none."""
    if raw is None:
        return None
    raw = _mapping(raw, path)
    _check_keys(raw, {"descriptor_set", "message", "data_keys"}, path)
    descriptor_set = _string(raw.get("descriptor_set"), f"{path}.descriptor_set")
    message = _string(raw.get("message"), f"{path}.message")
    if not descriptor_set or not message:
        raise ConfigError(f"{path}: needs descriptor_set and message")
    keys = raw.get("data_keys") or []
    if not isinstance(keys, list):
        raise ConfigError(f"{path}.data_keys: must be a list")
    wrapped: list[WrappedKey] = []
    for j, key in enumerate(keys):
        where = f"{path}.data_keys[{j}]"
        key = _mapping(key, where)
        version, text = key.get("version"), key.get("wrapped")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ConfigError(f"{where}.version: must be a positive integer")
        if not isinstance(text, str) or not text:
            raise ConfigError(f"{where}.wrapped: must be the wrapped key (base64)")
        wrapped.append(WrappedKey(version=version, wrapped=text))
    return SchemaBinding(descriptor_set=descriptor_set, message=message, data_keys=tuple(wrapped))


# ---- helpers ----------------------------------------------------------------------------


def _mapping(raw: Any, path: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: must be a mapping")
    return raw


def _check_keys(raw: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{path}.{key}: unknown key (expected one of {', '.join(sorted(allowed))})"
            )


def _string(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{path}: must be a string")
    return value


def _file(value: Any, path: str, base_dir: Path, *, exists: bool = True) -> str:
    """An absolute file path ("" when not given); with `exists`, the file must be there."""
    text = _string(value, path)
    if not text:
        return ""
    resolved = base_dir / Path(text).expanduser()
    if exists and not resolved.is_file():
        raise ConfigError(f"{path}: no such file: {resolved}")
    return str(resolved)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
