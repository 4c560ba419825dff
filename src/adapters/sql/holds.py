"""The hold is its seat's row (decision 20): the row conditions and writes that the seat,
reservation and payment repositories share. Which seat row, a hold read from it,
freeing a seat with its reservation recorded RELEASED, and PostgreSQL's hold-limit row.

A reservation is its seat's row while it is a hold (live or lapsed), and a row of
``reservation_records`` once it is paid (CONFIRMED) or RELEASED; the ``reservations``
view lists both. A hold leaves its seat's row only under that row's lock.

Lock order, wherever several are written: seats first, in key order; then the fan's
``fan_holds`` row, the wallet, the ledger and the payment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Text, and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql import tables as t
from adapters.sql.engine import is_postgres
from concert_core.domain import (
    ConcertId,
    Money,
    Reservation,
    ReservationId,
    ReservationStatus,
    SeatKey,
    SeatNo,
    SeatStatus,
    TokenId,
    UserId,
)

HELD = SeatStatus.HELD.value
FREE_SEAT = {
    "status": SeatStatus.AVAILABLE.value,
    "holder": None,
    "held_until": None,
    "reservation_id": None,
    "token_id": None,
    "held_at": None,
}
"""The values of a seat row nobody holds."""

SEAT_KEY = and_(
    t.seats.c.concert_id == bindparam("concert_id"),
    t.seats.c.date == bindparam("date"),
    t.seats.c.seat_no == bindparam("seat_no"),
)
"""The seat row named by the bound ``concert_id``, ``date`` and ``seat_no``."""

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(instant: dt.datetime) -> int:
    """An instant as whole microseconds since the epoch (``fan_holds`` entries)."""
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def seat_is(key: SeatKey) -> Any:
    return and_(
        t.seats.c.concert_id == key.concert_id,
        t.seats.c.date == key.date,
        t.seats.c.seat_no == key.seat_no,
    )


def live_hold(now: dt.datetime) -> Any:
    """A seat row holding a hold that is live at ``now``."""
    s = t.seats.c
    return and_(s.status == HELD, s.held_until > now)


def reservation_of(row: Row[Any]) -> Reservation:
    """A row of the ``reservations`` view (or of ``reservation_records``)."""
    return Reservation(
        reservation_id=ReservationId(row.reservation_id),
        user_id=UserId(row.user_id),
        seat=SeatKey(ConcertId(row.concert_id), row.date, SeatNo(row.seat_no)),
        price=Money(row.price),
        status=ReservationStatus(row.status),
        held_until=row.held_until,
        created_at=row.created_at,
        token_id=TokenId(row.token_id),
    )


def hold_of(row: Row[Any]) -> Reservation:
    """The hold a HELD seat row carries."""
    return Reservation(
        reservation_id=ReservationId(row.reservation_id),
        user_id=UserId(row.holder),
        seat=SeatKey(ConcertId(row.concert_id), row.date, SeatNo(row.seat_no)),
        price=Money(row.price),
        status=ReservationStatus.HELD,
        held_until=row.held_until,
        created_at=row.held_at,
        token_id=TokenId(row.token_id),
    )


def record_values(reservation: Reservation, status: ReservationStatus) -> dict[str, Any]:
    return {
        "reservation_id": reservation.reservation_id,
        "user_id": reservation.user_id,
        "concert_id": reservation.seat.concert_id,
        "date": reservation.seat.date,
        "seat_no": reservation.seat.seat_no,
        "price": reservation.price,
        "status": status.value,
        "held_until": reservation.held_until,
        "created_at": reservation.created_at,
        "token_id": reservation.token_id,
    }


async def held_seats(c: AsyncConnection, *condition: Any, lock: bool = True) -> list[Reservation]:
    """The holds of the HELD seat rows that meet ``condition``, in key order, their rows
    locked (SQLite: the transaction's write lock covers them)."""
    s = t.seats.c
    query = select(t.seats).where(s.status == HELD, *condition)
    query = query.order_by(s.concert_id, s.date, s.seat_no)
    rows = await c.execute(query.with_for_update() if lock else query)
    return [hold_of(row) for row in rows]


async def end_hold(
    c: AsyncConnection, hold: Reservation, status: ReservationStatus, **seat: Any
) -> bool:
    """End a hold its seat's row still carries (the row locked by the caller): the row
    set to ``seat`` (freed by default), the reservation recorded with ``status``."""
    s = t.seats.c
    changed = await c.execute(
        update(t.seats)
        .where(seat_is(hold.seat), s.reservation_id == hold.reservation_id, s.status == HELD)
        .values(seat or FREE_SEAT)
    )
    if changed.rowcount != 1:
        return False
    await c.execute(t.reservation_records.insert().values(record_values(hold, status)))
    return True


async def forget_holds(c: AsyncConnection, ended: Sequence[Reservation]) -> None:
    """Take ended holds out of their fans' ``fan_holds`` rows (PostgreSQL's hold limit:
    a released or paid hold counts no more; a lapsed one has stopped counting on its
    own). Called after the seats' rows are written: the lock order."""
    if not ended or not is_postgres(c):
        return
    by_fan: dict[tuple[UserId, ConcertId], list[str]] = {}
    for hold in ended:
        by_fan.setdefault((hold.user_id, hold.concert_id), []).append(str(hold.reservation_id))
    f = t.fan_holds.c
    for (user, concert_id), gone in sorted(by_fan.items()):
        await c.execute(
            update(t.fan_holds)
            .where(f.user_id == user, f.concert_id == concert_id)
            .values(holds=f.holds.op("-")(bindparam("gone", gone, type_=ARRAY(Text))))
        )
