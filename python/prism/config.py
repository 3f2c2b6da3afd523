"""The `prism serve` configuration: YAML (or a dict) validated into dataclasses.

Every error is a prism.errors.ConfigError whose message starts with the path
of the offending field, e.g. "namespaces[1].limits.max_key_bytes: ...", so an
operator can fix the file without reading code.

Precedence: `overrides` (the CLI flags) > the file > built-in defaults. The
data directory defaults to $PRISM_DATA_DIR, else $XDG_DATA_HOME/prism, else
~/.local/share/prism; a relative data_dir in a file is relative to that file,
and a relative SQLite `config.path` is relative to the data directory. The security
blocks (server.auth/audit/keys, per namespace access, rate_limit, audit_required; ADR-010)
are parsed by prism.security_config; their relative file paths are relative to the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from prism.errors import ConfigError
from prism.security_config import (
    AccessPolicy,
    AuditConfig,
    AuthConfig,
    KeysConfig,
    RateLimit,
    SchemaBinding,
    parse_access,
    parse_audit,
    parse_auth,
    parse_bool,
    parse_keys,
    parse_rate_limit,
)

PATTERNS = ("keyvalue", "timeseries")
MEMORY_BACKEND = "memory"  # native Rust; every other backend is a Python plugin
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# Bounds shared with the admin's spec model (prism.admin.spec): a spec one side takes,
# the other takes too (tests/unit/test_spec_validators_agree.py).
MAX_LIMIT = 2**31 - 1  # any `limits` value
MAX_CACHE_SIZE = 2**53  # cache max_entries, max_bytes and ttl_seconds (exact in a float)
_NAMESPACE_KEYS = {
    "name",
    "patterns",
    "backend",
    "config",
    "limits",
    "cache",
    "access",
    "rate_limit",
    "audit_required",
}


@dataclass(frozen=True)
class ServerConfig:
    listen: str = "127.0.0.1:8980"
    metrics_listen: str = "127.0.0.1:9464"
    max_concurrency: int = 1024
    default_deadline_ms: int = 30000
    shutdown_grace_s: float = 10.0
    # ADR-010: listener authentication, the data-access audit log, the master key.
    auth: AuthConfig = field(default_factory=AuthConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)


@dataclass(frozen=True)
class Limits:
    max_key_bytes: int = 1024
    max_value_bytes: int = 1048576
    max_batch_items: int = 1000
    max_page_items: int = 10000
    max_page_bytes: int = 4194304
    default_page_items: int = 100
    default_page_bytes: int = 1048576


@dataclass(frozen=True)
class CacheConfig:
    """The proxy's read cache for a namespace (off by default). Zero sizes and TTL mean
    the core's defaults (10,000 entries, 64 MiB, 60 s); the TTL bounds how long a write
    made outside this proxy can stay invisible."""

    enabled: bool = False
    max_entries: int = 0
    max_bytes: int = 0
    ttl_seconds: float = 0.0


@dataclass(frozen=True)
class NamespaceConfig:
    name: str
    patterns: tuple[str, ...]
    backend: str
    # Backend config for the Python plugin; never sent to the Rust core.
    config: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    cache: CacheConfig = field(default_factory=CacheConfig)
    access: AccessPolicy = field(default_factory=AccessPolicy)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    audit_required: bool = False
    # Bound through the admin only (it creates the data keys); never from a file.
    schema: SchemaBinding | None = None


@dataclass(frozen=True)
class Config:
    server: ServerConfig
    data_dir: Path
    namespaces: tuple[NamespaceConfig, ...]
    source: Path | None = None  # the file it came from, if any

    def to_core_json(
        self, capabilities: Mapping[str, Mapping[str, list[str]]] | None = None
    ) -> str:
        """The JSON `prism._core.Proxy` takes: server settings and `core_namespaces`."""
        return json.dumps(
            {
                "server": asdict(self.server),
                "namespaces": core_namespaces(self.namespaces, capabilities),
            }
        )


def core_namespaces(
    namespaces: Iterable[NamespaceConfig],
    capabilities: Mapping[str, Mapping[str, list[str]]] | None = None,
    native_reads: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Namespaces as the Rust core reads them, with full limits and the cache policy;
    `capabilities` (namespace -> pattern -> claimed capabilities) comes from the backend
    plugins, and namespaces without an entry support everything. Backend config stays
    on the Python side, except `native_reads` (namespace -> entry): where the core reads
    a plugin's data itself (ADR-003; e.g. the redis plugin's `native_reads()`)."""
    capabilities = capabilities or {}
    native_reads = native_reads or {}
    entries = []
    for ns in namespaces:
        entry: dict[str, Any] = {
            "name": ns.name,
            "patterns": list(ns.patterns),
            "backend": ns.backend,
            "limits": asdict(ns.limits),
            "cache": asdict(ns.cache),
            "access": asdict(ns.access),
            "rate_limit": asdict(ns.rate_limit),
            "audit_required": ns.audit_required,
        }
        if ns.schema is not None:
            entry["schema"] = asdict(ns.schema)
        if ns.name in capabilities:
            entry["capabilities"] = {p: list(c) for p, c in capabilities[ns.name].items()}
        if ns.name in native_reads:
            entry["native_reads"] = dict(native_reads[ns.name])
        entries.append(entry)
    return entries


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("PRISM_DATA_DIR"):
        return Path(env["PRISM_DATA_DIR"]).expanduser()
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]).expanduser() / "prism"
    return Path("~/.local/share/prism").expanduser()


def load_config(
    source: str | Path | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load from a YAML file, a dict, or nothing (the embedded default), then apply overrides.

    `overrides` is a nested dict in the file's shape, e.g. {"server": {"listen": "..."}};
    it is merged over the file and validated with it.
    """
    path: Path | None = None
    if source is None:
        data: Any = {}
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        path = Path(source).expanduser().absolute()
        data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'config'}: the top level must be a mapping")
    merged = _merge(data, overrides or {})
    base_dir = path.parent if path else Path.cwd().absolute()
    return _parse(merged, base_dir=base_dir, source=path)


def read_yaml(path: Path) -> Any:
    """The parsed YAML of a config file; ConfigError naming the file when unreadable."""
    return _read_yaml(path)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of mappings; anything else in `over` (lists included) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# ---- validation -------------------------------------------------------------------


def _parse(data: Mapping[str, Any], *, base_dir: Path, source: Path | None) -> Config:
    _check_keys(data, {"server", "data_dir", "namespaces"}, "")
    server = _parse_server(data.get("server", {}), base_dir)
    data_dir = _parse_data_dir(data.get("data_dir"), base_dir)
    raw_namespaces = data.get("namespaces")
    if raw_namespaces is None:
        # The embedded default: one namespace serving both patterns on SQLite.
        raw_namespaces = [{"name": "default", "patterns": list(PATTERNS), "backend": "sqlite"}]
    if not isinstance(raw_namespaces, list) or not raw_namespaces:
        raise ConfigError("namespaces: must be a non-empty list of namespaces")
    namespaces: list[NamespaceConfig] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_namespaces):
        ns = _parse_namespace(raw, f"namespaces[{i}]", data_dir)
        if ns.name in seen:
            raise ConfigError(f"namespaces[{i}].name: duplicate namespace name {ns.name!r}")
        seen.add(ns.name)
        namespaces.append(ns)
    return Config(server=server, data_dir=data_dir, namespaces=tuple(namespaces), source=source)


def _parse_server(raw: Any, base_dir: Path) -> ServerConfig:
    path = "server"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: must be a mapping")
    _check_keys(raw, {f.name for f in fields(ServerConfig)}, path)
    defaults = ServerConfig()
    shutdown_grace = raw.get("shutdown_grace_s", defaults.shutdown_grace_s)
    if not _is_number(shutdown_grace) or shutdown_grace < 0:
        raise ConfigError(f"{path}.shutdown_grace_s: must be a non-negative number of seconds")
    return ServerConfig(
        listen=_address(raw.get("listen", defaults.listen), f"{path}.listen"),
        metrics_listen=_address(
            raw.get("metrics_listen", defaults.metrics_listen), f"{path}.metrics_listen"
        ),
        max_concurrency=_positive_int(
            raw.get("max_concurrency", defaults.max_concurrency), f"{path}.max_concurrency"
        ),
        default_deadline_ms=_positive_int(
            raw.get("default_deadline_ms", defaults.default_deadline_ms),
            f"{path}.default_deadline_ms",
        ),
        shutdown_grace_s=float(shutdown_grace),
        auth=parse_auth(raw.get("auth", {}), f"{path}.auth", base_dir),
        audit=parse_audit(raw.get("audit", {}), f"{path}.audit", base_dir),
        keys=parse_keys(raw.get("keys", {}), f"{path}.keys", base_dir),
    )


def _parse_data_dir(raw: Any, base_dir: Path) -> Path:
    if raw is None:
        return default_data_dir().absolute()
    if not isinstance(raw, str | Path) or not str(raw):
        raise ConfigError("data_dir: must be a directory path")
    return base_dir / Path(raw).expanduser()  # `/` keeps an absolute right-hand side as is


def _parse_namespace(raw: Any, path: str, data_dir: Path) -> NamespaceConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: must be a mapping with name, patterns and backend")
    if "schema" in raw:
        raise ConfigError(
            f"{path}.schema: bind a schema through the admin (`prismctl schema bind`), "
            "which creates its data keys; a config file cannot"
        )
    _check_keys(raw, _NAMESPACE_KEYS, path)
    if "name" not in raw:
        raise ConfigError(f"{path}.name: is required")
    name = _name(raw["name"], f"{path}.name")
    patterns = raw.get("patterns", list(PATTERNS))
    if not isinstance(patterns, list) or not patterns:
        raise ConfigError(f"{path}.patterns: must be a non-empty list, e.g. [keyvalue]")
    for j, pattern in enumerate(patterns):
        if pattern not in PATTERNS:
            raise ConfigError(
                f"{path}.patterns[{j}]: unknown pattern {pattern!r} "
                f"(expected one of {', '.join(PATTERNS)})"
            )
    if len(set(patterns)) != len(patterns):
        raise ConfigError(f"{path}.patterns: lists a pattern twice")
    backend = _name(raw.get("backend", "sqlite"), f"{path}.backend")
    config = raw.get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{path}.config: must be a mapping")
    config = dict(config)
    if backend == MEMORY_BACKEND and config:
        raise ConfigError(f"{path}.config: the memory backend takes no config")
    if backend == "sqlite":
        # Each SQLite namespace gets its own file in the data directory by default,
        # and a relative path is taken inside the data directory too.
        sqlite_path = config.get("path", f"{name}.db")
        if not isinstance(sqlite_path, str) or not sqlite_path:
            raise ConfigError(f"{path}.config.path: must be a file path")
        if sqlite_path != ":memory:":
            config["path"] = str(data_dir / Path(sqlite_path).expanduser())
    limits = _parse_limits(raw.get("limits", {}), f"{path}.limits")
    cache = parse_cache(raw.get("cache", {}), f"{path}.cache")
    return NamespaceConfig(
        access=parse_access(raw.get("access", {}), f"{path}.access"),
        rate_limit=parse_rate_limit(raw.get("rate_limit", {}), f"{path}.rate_limit"),
        audit_required=parse_bool(raw.get("audit_required", False), f"{path}.audit_required"),
        name=name,
        patterns=tuple(patterns),
        backend=backend,
        config=config,
        limits=limits,
        cache=cache,
    )


def parse_cache(raw: Any, path: str) -> CacheConfig:
    """The `cache` block of a namespace; errors name the field."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: must be a mapping")
    _check_keys(raw, {f.name for f in fields(CacheConfig)}, path)
    enabled = raw.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{path}.enabled: must be true or false")
    sizes = {}
    for key in ("max_entries", "max_bytes"):
        value = raw.get(key, 0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= MAX_CACHE_SIZE
        ):
            raise ConfigError(
                f"{path}.{key}: must be an integer from 0 (the default) to {MAX_CACHE_SIZE}"
            )
        sizes[key] = value
    ttl = raw.get("ttl_seconds", 0)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 <= ttl <= MAX_CACHE_SIZE:
        raise ConfigError(
            f"{path}.ttl_seconds: must be a number from 0 (the default, 60) to {MAX_CACHE_SIZE}"
        )
    return CacheConfig(enabled=enabled, ttl_seconds=float(ttl), **sizes)


def _parse_limits(raw: Any, path: str) -> Limits:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: must be a mapping")
    _check_keys(raw, {f.name for f in fields(Limits)}, path)
    for key, value in raw.items():
        _positive_int(value, f"{path}.{key}")
    limits = Limits(**raw)
    for default_key, max_key in (
        ("default_page_items", "max_page_items"),
        ("default_page_bytes", "max_page_bytes"),
    ):
        if getattr(limits, default_key) > getattr(limits, max_key):
            raise ConfigError(
                f"{path}.{default_key}: must not exceed {max_key} ({getattr(limits, max_key)})"
            )
    return limits


# ---- field checks ---------------------------------------------------------------------


def _check_keys(raw: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in raw:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(
                f"{where}: unknown key (expected one of {', '.join(sorted(allowed))})"
            )


def _is_number(value: Any) -> bool:
    # bool is an int subclass; `true` for a number is a mistake, not 1.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive_int(value: Any, path: str, most: int = MAX_LIMIT) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= most:
        raise ConfigError(f"{path}: must be a positive integer, at most {most}")
    return value


def _name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(f"{path}: must be 1-128 characters of A-Z a-z 0-9 _ . -")
    return value


def _address(value: Any, path: str) -> str:
    """HOST:PORT with a port in 0..65535 (0 picks a free port); IPv6 hosts in brackets."""
    if isinstance(value, str):
        host, sep, port = value.rpartition(":")
        if sep and host and port.isdigit() and int(port) <= 65535:
            return value
    raise ConfigError(f"{path}: must be HOST:PORT, e.g. 127.0.0.1:8980")
