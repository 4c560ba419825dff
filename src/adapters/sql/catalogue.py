"""The catalogue in SQL: concerts, their dates, and each new date's seats."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from adapters.sql import tables as t
from adapters.sql.dialect import insert_ignoring_conflicts
from adapters.sql.transactions import SqlRepository
from concert_core.domain import Concert, ConcertId, Money, NotFoundError, SeatStatus
from concert_core.domain.seating import seats_for_date


class SqlCatalogueRepository(SqlRepository):
    async def add_concert(self, title: str, venue: str) -> Concert:
        result = await self._c.execute(
            t.concerts.insert().values(title=title, venue=venue).returning(t.concerts.c.concert_id)
        )
        return Concert(ConcertId(result.scalar_one()), title, venue)

    async def get_concert(self, concert_id: ConcertId) -> Concert | None:
        row = (
            await self._c.execute(select(t.concerts).where(t.concerts.c.concert_id == concert_id))
        ).first()
        return Concert(ConcertId(row.concert_id), row.title, row.venue) if row else None

    async def list_concerts(self) -> list[Concert]:
        rows = await self._c.execute(select(t.concerts).order_by(t.concerts.c.concert_id))
        return [Concert(ConcertId(r.concert_id), r.title, r.venue) for r in rows]

    async def add_date(self, concert_id: ConcertId, date: dt.date, prices: Sequence[Money]) -> bool:
        if await self.get_concert(concert_id) is None:
            raise NotFoundError(f"concert {concert_id} does not exist")
        new_seats = seats_for_date(concert_id, date, list(prices))
        added = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.concert_dates).values(
                concert_id=concert_id, date=date
            )
        )
        if added.rowcount != 1:
            return False
        await self._c.execute(
            t.seats.insert(),
            [
                {
                    "concert_id": concert_id,
                    "date": date,
                    "seat_no": s.key.seat_no,
                    "price": s.price,
                    "status": SeatStatus.AVAILABLE.value,
                }
                for s in new_seats
            ],
        )
        return True

    async def list_dates(self, concert_id: ConcertId) -> list[dt.date]:
        rows = await self._c.execute(
            select(t.concert_dates.c.date)
            .where(t.concert_dates.c.concert_id == concert_id)
            .order_by(t.concert_dates.c.date)
        )
        return list(rows.scalars())
