"""Alembic environment: runs on the connection the admin passes in `config.attributes`."""

from __future__ import annotations

from alembic import context
from prism.admin.db.tables import metadata
from sqlalchemy import create_engine

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # `alembic -x url=... upgrade head` from a shell.
        url = context.get_x_argument(as_dictionary=True)["url"]
        with create_engine(url).begin() as conn:
            context.configure(connection=conn, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


run()
