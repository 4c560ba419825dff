"""Alembic environment: migrations run on a connection the caller hands over
(``adapters.sql.migrate``), or on ``sqlalchemy.url`` for the ``alembic`` command."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from adapters.sql.engine import create_engine
from adapters.sql.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_on_url(config.get_main_option("sqlalchemy.url") or ""))
