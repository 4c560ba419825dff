"""A date's seat map in SQL: one read of its own, outside any unit of work.

On PostgreSQL the ``SELECT`` is the whole conversation: it runs in autocommit (no
``BEGIN`` before it, no ``ROLLBACK`` after it) on a small pool of the reader's own
that skips the pool's pre-ping (a ``BEGIN``, a ping and a ``ROLLBACK`` at every
checkout): a read can simply be run again, so a connection found dead is replaced and
the read retried once instead. Under READ COMMITTED a statement sees every
transaction committed before it began, so every hold and sale whose reply was sent
before the read is in it (decision 22). SQLite reads on the engine it is given, in a
transaction as ever (its engine begins every transaction itself).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.engine import create_engine, storage_errors
from concert_core.domain import ConcertId, SeatStatus
from concert_core.ports import SeatLine

READ_POOL_SIZE = 4
"""Connections each process keeps for seat-map reads on PostgreSQL, beside the
engine's ``pool_size``: a read holds one for a single round trip."""

_s = t.seats.c
SEAT_LINES = (
    select(_s.seat_no, _s.status, _s.price, _s.held_until)
    .where(_s.concert_id == bindparam("concert_id"), _s.date == bindparam("date"))
    .order_by(_s.seat_no)
)
"""The four columns the seat list shows or judges by, in seat order (the primary
key's order within a date)."""

_STATUS = {status.value: status for status in SeatStatus}


class SqlSeatMaps:
    """``SeatMapReader`` over SQL; ``aclose()`` closes what ``on`` opened."""

    def __init__(self, engine: AsyncEngine, *, owned: bool = False) -> None:
        self._engine = engine
        self._owned = owned

    @classmethod
    def on(cls, engine: AsyncEngine) -> SqlSeatMaps:
        """The reader for the database ``engine`` is on: PostgreSQL reads in autocommit
        on a pool of its own without pre-ping; SQLite reads on ``engine``."""
        if engine.dialect.name != "postgresql":
            return cls(engine)
        url = engine.url.render_as_string(hide_password=False)
        reads = create_engine(
            url,
            pool_size=READ_POOL_SIZE,
            ping="off",
            isolation_level="AUTOCOMMIT",  # set once per connection, not per checkout
            pool_reset_on_return=None,  # nothing to roll back
        )
        return cls(reads, owned=True)

    async def aclose(self) -> None:
        if self._owned:
            await self._engine.dispose()

    async def seat_lines(self, concert_id: ConcertId, date: dt.date) -> Sequence[SeatLine]:
        params = {"concert_id": concert_id, "date": date}
        with storage_errors():
            try:
                rows = await self._read(params)
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                rows = await self._read(params)  # the pool has dropped the dead ones
        status = _STATUS
        return [SeatLine(n, status[s], p, until) for n, s, p, until in rows]

    async def _read(self, params: dict[str, object]) -> Sequence[Row[Any]]:
        async with self._engine.connect() as connection:
            return (await connection.execute(SEAT_LINES, params)).all()
