"""SQLAlchemy Core tables of the admin store; migrations/versions/0001 creates them.

Timestamps are timezone-aware UTC. JSON columns hold namespace specs and audit snapshots.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

namespaces = Table(
    "namespaces",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("spec", JSON, nullable=False),
    # Per-namespace optimistic version: an update naming another version gets 409.
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Exactly one row (id = 1): the config version proxies long-poll on.
config_state = Table(
    "config_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    # sha256 hex of the secret: the token itself is never stored.
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
)

proxies = Table(
    "proxies",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("address", String(256), nullable=False),
    Column("metrics_address", String(256), nullable=True),
    Column("config_version", BigInteger, nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)
