"""Transactions, said once: a store's own transaction on the engine, the retry of one
that lost an insert race, and the base of the repositories that share the unit of
work's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.engine import storage_errors

T = TypeVar("T")

INSERT_RACE_ATTEMPTS = 3
"""How often a transaction that lost an insert race is run in all: the second run sees
the winner's row, so the third is a backstop."""


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction on a pooled connection, committed on leaving (rolled back on an
    exception); an unreachable database is reported as ServiceUnavailableError."""
    with storage_errors():
        async with engine.begin() as connection:
            yield connection


async def retrying_insert_races(run: Callable[[], Awaitable[T]]) -> T:
    """Run ``run`` (a whole transaction) again while a concurrent transaction inserts a
    row with the same key between its read and its insert (an IntegrityError)."""
    for _ in range(INSERT_RACE_ATTEMPTS - 1):
        try:
            return await run()
        except IntegrityError:
            continue
    return await run()


class SqlRepository:
    """A repository over the unit of work's connection, inside its transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    def _atomically(self) -> AbstractAsyncContextManager[Any]:
        """A savepoint: a method that raises after writing leaves the transaction as it
        found it, so the caller may still commit what it did before."""
        return self._c.begin_nested()
