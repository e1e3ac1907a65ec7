"""Alembic environment of the ledger.

Run programmatically by :func:`lib.store.db.upgrade_to_head` (which hands over
an open connection in ``config.attributes["connection"]``), or from the CLI:
``alembic -c lib/store/alembic.ini upgrade head`` (URL resolved like
:func:`lib.store.db.make_engine`: ``sqlalchemy.url`` option, then
``EXEC_DATABASE_URL``, then the SQLite default).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from lib.store.db import make_engine, resolve_url
from lib.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: future migrations go through batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    url = resolve_url(config.get_main_option("sqlalchemy.url") or None)
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with engine.begin() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
