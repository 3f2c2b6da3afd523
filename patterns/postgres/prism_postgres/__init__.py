"""Prism backend plugin for PostgreSQL: KeyValue and TimeSeries, one table each per namespace.

Registered as the `postgres` entry point of the `prism.backends` group.
"""

from prism_postgres.config import PostgresConfig
from prism_postgres.plugin import PostgresPlugin

__all__ = ["PostgresConfig", "PostgresPlugin"]
