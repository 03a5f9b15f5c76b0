"""Alembic environment of the ledger.

The toolkit runs migrations in code (:func:`toolkit.ledger.db.upgrade`) and
passes an open connection in ``config.attributes["connection"]``, so the
version check and the upgrade share one transaction. The ``alembic`` CLI
(``alembic -c toolkit/ledger/alembic.ini upgrade head``) also works: it builds
the engine from ``sqlalchemy.url`` or ``TOOLKIT_DB_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from toolkit.ledger.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("connection") is None:
    from logging.config import fileConfig

    fileConfig(config.config_file_name)
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=False,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    from toolkit.ledger.db import resolve_url

    context.configure(
        url=config.get_main_option("sqlalchemy.url") or resolve_url(None),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from toolkit.ledger.db import create_ledger_engine, resolve_url

    engine = create_ledger_engine(config.get_main_option("sqlalchemy.url") or resolve_url(None))
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
