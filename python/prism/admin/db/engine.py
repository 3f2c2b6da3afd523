"""Engine creation and migrations to head, for SQLite and PostgreSQL URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str, *, transactional_ddl: bool = False) -> Engine:
    """An engine for `url`; SQLite gets its parent directory, WAL and a busy timeout, and
    with `transactional_ddl` transactions that cover DDL too (see _sqlite_ddl_in_transactions)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Sync endpoints run in a thread pool: connections cross threads.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        if transactional_ddl:
            event.listen(engine, "connect", _sqlite_ddl_in_transactions)
            event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_ddl_in_transactions(dbapi_conn: Any, _record: Any) -> None:
    # The sqlite3 module opens transactions only before INSERT/UPDATE/DELETE, so DDL
    # commits on its own: a migration interrupted between its CREATE TABLE and the
    # alembic_version row would leave a schema the next start cannot migrate. With the
    # module out of the way, SQLAlchemy's BEGIN (_sqlite_begin) covers everything.
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: two processes migrating one file take turns instead of both reading
    # the old version and one failing on the write.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade_to_head(engine: Engine) -> None:
    """Run the Alembic migrations on `engine` up to head, all or nothing (PostgreSQL's
    DDL is transactional; SQLite's is made so); a no-op when already there."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.url.get_backend_name() == "sqlite"
    migrator = (
        make_engine(engine.url.render_as_string(hide_password=False), transactional_ddl=True)
        if sqlite
        else engine
    )
    try:
        with migrator.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        if migrator is not engine:
            migrator.dispose()
