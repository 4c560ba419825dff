"""The row conditions and writes that the seat and reservation repositories share: which
seat row, which hold is live, freeing a seat and releasing a hold.

Lock order, wherever seats and reservations are both written: seats first, in key
order, then reservations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql import tables as t
from concert_core.domain import ReservationStatus, SeatKey, SeatStatus

HELD = SeatStatus.HELD.value
FREE_SEAT = {
    "status": SeatStatus.AVAILABLE.value,
    "holder": None,
    "held_until": None,
    "reservation_id": None,
}
"""The values of a seat row nobody holds."""

SEAT_KEY = and_(
    t.seats.c.concert_id == bindparam("concert_id"),
    t.seats.c.date == bindparam("date"),
    t.seats.c.seat_no == bindparam("seat_no"),
)
"""The seat row named by the bound ``concert_id``, ``date`` and ``seat_no``."""


def seat_is(key: SeatKey) -> Any:
    return and_(
        t.seats.c.concert_id == key.concert_id,
        t.seats.c.date == key.date,
        t.seats.c.seat_no == key.seat_no,
    )


def live_hold(now: dt.datetime) -> Any:
    r = t.reservations.c
    return and_(r.status == ReservationStatus.HELD.value, r.held_until > now)


async def free_seat(c: AsyncConnection, key: SeatKey, reservation_id: UUID) -> None:
    """Free the seat if this reservation still holds it (a lock on the seat row)."""
    await c.execute(
        update(t.seats)
        .where(seat_is(key), t.seats.c.reservation_id == reservation_id, t.seats.c.status == HELD)
        .values(FREE_SEAT)
    )


async def mark_released(c: AsyncConnection, reservation_id: UUID, *condition: Any) -> bool:
    """Mark the reservation RELEASED if it is still HELD (and meets ``condition``)."""
    r = t.reservations.c
    result = await c.execute(
        update(t.reservations)
        .where(
            r.reservation_id == reservation_id, r.status == ReservationStatus.HELD.value, *condition
        )
        .values(status=ReservationStatus.RELEASED.value)
    )
    return bool(result.rowcount == 1)
