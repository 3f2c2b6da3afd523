"""Alembic migrations run on an empty database at startup and are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from prism.admin.db.engine import make_engine, upgrade_to_head
from sqlalchemy import Engine, event, inspect, text


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


def test_an_interrupted_migration_leaves_no_half_made_schema(tmp_path: Path) -> None:
    """The migration is all or nothing on SQLite too: one that dies after its CREATE
    TABLEs, before the alembic_version row, leaves no table behind, so the next start
    migrates from scratch instead of failing on "table namespaces already exists"."""

    def die_before_stamping(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO ALEMBIC_VERSION"):
            raise RuntimeError("killed mid-migration")

    engine = make_engine(f"sqlite:///{tmp_path / 'admin.db'}")
    event.listen(Engine, "before_cursor_execute", die_before_stamping)
    try:
        with pytest.raises(RuntimeError, match="killed mid-migration"):
            upgrade_to_head(engine)
    finally:
        event.remove(Engine, "before_cursor_execute", die_before_stamping)
    try:
        assert inspect(engine).get_table_names() == []
        upgrade_to_head(engine)
        assert "namespaces" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
