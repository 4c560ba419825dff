"""A pooled PostgreSQL connection the server dropped while it sat idle is replaced as
the pool hands it out: the checkout ping (one plain statement) finds it dead."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from adapters import sql

pytestmark = backends.marks("postgres")


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


@pytest.mark.parametrize("ping", ["plain", "stock"])
async def test_a_connection_killed_while_idle_is_replaced_at_checkout(
    postgres_url: str, ping: str
) -> None:
    engine = sql.create_engine(postgres_url, pool_size=1, ping=ping)  # type: ignore[arg-type]
    side = sql.create_engine(postgres_url, pool_size=1)
    try:
        first = await backend_pid(engine)
        assert await backend_pid(engine) == first  # the pool keeps its one connection
        async with side.connect() as connection:
            killed = await connection.execute(text(f"SELECT pg_terminate_backend({first}, 5000)"))
            assert killed.scalar_one() is True
        second = await backend_pid(engine)  # no error reaches the caller
        assert second != first
    finally:
        await engine.dispose()
        await side.dispose()


async def test_without_a_ping_the_dead_connection_reaches_the_caller(postgres_url: str) -> None:
    """The control: what the ping spares a request (a reader that opts out retries)."""
    engine = sql.create_engine(postgres_url, pool_size=1, ping="off")
    side = sql.create_engine(postgres_url, pool_size=1)
    try:
        first = await backend_pid(engine)
        async with side.connect() as connection:
            await connection.execute(text(f"SELECT pg_terminate_backend({first}, 5000)"))
        with pytest.raises(DBAPIError):
            await backend_pid(engine)
    finally:
        await engine.dispose()
        await side.dispose()
