"""Alembic environment: run by `records.models.migrate` with an open connection, or by the `alembic`
command (`-x url=...`) when a developer writes a new revision."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from records.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    if connection.dialect.name == "postgresql":
        # two Veil processes starting together must not both migrate
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(74657)")
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    with create_engine(url).begin() as conn:
        _run(conn)
