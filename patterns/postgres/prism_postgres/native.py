"""What the Rust core needs to answer this namespace's gets itself (ADR-003).

The core runs exactly this plugin's get statement (keyvalue.py) on this namespace's
`kv_<ns>` table over its own connections, so a get through it sees exactly what a get
through the plugin would. Its client (tokio-postgres, no TLS) reads only what the URL
says, so the offer is made only for URLs that mean the same to it as to libpq: a TCP
host and a user in the URL, no TLS, only the query options below, and no password that
libpq would take from its environment or password file. Anything else reads through the
plugin. The entry carries the URL with its password: the core never logs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from prism_postgres.config import PostgresConfig
from prism_postgres.provisioning import Names

#: URL options the core's client understands as libpq does (`options` is not among
#: them: the core sets its own `statement_timeout` through it).
_OPTIONS = frozenset({"sslmode", "connect_timeout", "application_name"})
_PLAIN_SSLMODES = frozenset({"disable", "prefer"})
#: When a statement timeout is disabled (0), the core still bounds its reads by this.
_UNBOUNDED_READ_MS = 30_000


def native_reads(config: PostgresConfig, namespace: str) -> dict[str, Any] | None:
    """The core's `native_reads` entry for the namespace, or None to read via the plugin."""
    if not config.native_reads or not _plain_url(config.url):
        return None
    return {
        "kind": "postgres",
        "url": config.url,
        "key_prefix": "",
        "table": Names.of(namespace).kv.as_string(None),
        "connect_timeout_ms": max(1, round(config.connect_timeout_s * 1000)),
        "socket_timeout_ms": config.statement_timeout_ms or _UNBOUNDED_READ_MS,
    }


def _plain_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.fragment or "," in parts.netloc or not parts.hostname or not parts.username:
        return False  # several hosts, a Unix socket, or a user left to libpq's defaults
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    if len(options) != len(parse_qsl(parts.query, keep_blank_values=True)):
        return False
    if not set(options) <= _OPTIONS:
        return False
    sslmode = options.get("sslmode") or os.environ.get("PGSSLMODE") or "prefer"
    if sslmode not in _PLAIN_SSLMODES:
        return False
    if parts.password is None and _libpq_has_a_password():
        return False
    return True


def _libpq_has_a_password() -> bool:
    if os.environ.get("PGPASSWORD") or os.environ.get("PGPASSFILE"):
        return True
    return (Path.home() / ".pgpass").exists()
