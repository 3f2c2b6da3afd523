"""Prism backend plugin for SQLite: KeyValue and TimeSeries in one local file.

Registered as the `sqlite` entry point of the `prism.backends` group.
"""

from prism_sqlite.config import SqliteConfig
from prism_sqlite.plugin import SqlitePlugin

__all__ = ["SqliteConfig", "SqlitePlugin"]
