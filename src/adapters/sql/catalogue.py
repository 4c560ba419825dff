"""The catalogue in SQL: concerts with their sale settings, their dates, and each new
date's seats."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, update

from adapters.sql import tables as t
from adapters.sql.dialect import insert_ignoring_conflicts
from adapters.sql.transactions import SqlRepository
from concert_core.domain import (
    Concert,
    ConcertId,
    Money,
    NotFoundError,
    SaleSettings,
    SeatStatus,
)
from concert_core.domain.seating import seats_for_date


def _sale_columns(sale: SaleSettings) -> dict[str, Any]:
    return {
        "prequeue_opens_at": sale.prequeue_opens_at,
        "opens_at": sale.opens_at,
        "closes_at": sale.closes_at,
        "paused": sale.paused,
        "capacity": sale.capacity,
        "admission_per_minute": sale.admission_per_minute,
        "join_challenge": sale.join_challenge,
        "message": sale.message,
    }


def _concert(row: Row[Any]) -> Concert:
    sale = SaleSettings(
        prequeue_opens_at=row.prequeue_opens_at,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        paused=bool(row.paused),
        capacity=row.capacity,
        admission_per_minute=row.admission_per_minute,
        join_challenge=bool(row.join_challenge),
        message=row.message,
    )
    return Concert(ConcertId(row.concert_id), row.title, row.venue, sale)


class SqlCatalogueRepository(SqlRepository):
    async def add_concert(
        self, title: str, venue: str, sale: SaleSettings | None = None
    ) -> Concert:
        sale = sale or SaleSettings()
        result = await self._c.execute(
            t.concerts.insert()
            .values(title=title, venue=venue, **_sale_columns(sale))
            .returning(t.concerts.c.concert_id)
        )
        return Concert(ConcertId(result.scalar_one()), title, venue, sale)

    async def change_sale(self, concert_id: ConcertId, sale: SaleSettings) -> bool:
        changed = await self._c.execute(
            update(t.concerts)
            .where(t.concerts.c.concert_id == concert_id)
            .values(**_sale_columns(sale))
        )
        return bool(changed.rowcount == 1)

    async def get_concert(self, concert_id: ConcertId) -> Concert | None:
        row = (
            await self._c.execute(select(t.concerts).where(t.concerts.c.concert_id == concert_id))
        ).first()
        return _concert(row) if row else None

    async def list_concerts(self) -> list[Concert]:
        rows = await self._c.execute(select(t.concerts).order_by(t.concerts.c.concert_id))
        return [_concert(r) for r in rows]

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
