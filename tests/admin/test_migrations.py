"""Alembic migrations run on an empty database at startup and are idempotent."""

from __future__ import annotations

from pathlib import Path

from prism.admin.db.engine import make_engine, upgrade_to_head
from sqlalchemy import inspect, text


def test_empty_database_to_head_twice(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'admin.db'}")
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)  # already at head: a no-op, not an error
        tables = set(inspect(engine).get_table_names())
        assert {"namespaces", "config_state", "tokens", "audit", "proxies"} <= tables
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
            # The single config_state row is seeded once, not once per run.
            assert conn.execute(text("SELECT count(*), max(version) FROM config_state")).one() == (
                1,
                0,
            )
    finally:
        engine.dispose()
