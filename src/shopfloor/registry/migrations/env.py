"""Alembic environment shared by SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool, text

from shopfloor.registry.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(
            config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
        ).connect()
    with connectable as connection:
        # render_as_batch lets ALTERs work on SQLite too.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Servers starting together on one database: the first migrates, the others wait
                # for its transaction and then find the schema at head (DDL is transactional here).
                connection.execute(text("SELECT pg_advisory_xact_lock(7312026)"))
            context.run_migrations()


run_migrations()
