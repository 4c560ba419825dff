"""Service-wide secrets kept in the database, so every instance shares them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.dialect import insert_ignoring_conflicts
from adapters.sql.transactions import transaction


async def stored_secret(engine: AsyncEngine, name: str, generate: Callable[[], str]) -> str:
    """The secret called ``name``; the first caller's ``generate()`` wins, once."""
    async with transaction(engine) as c:
        await c.execute(
            insert_ignoring_conflicts(c, t.service_secrets).values(name=name, value=generate())
        )
        value = (
            await c.execute(
                select(t.service_secrets.c.value).where(t.service_secrets.c.name == name)
            )
        ).scalar_one()
    return str(value)
