"""Seats in SQL, and the hold: one seat taken for one fan, under the hold limit.

Every guarded change is a conditional statement whose condition storage checks at the
moment of the write (``UPDATE ... WHERE <still true>``), with a constraint behind it as
the backstop. PostgreSQL holds in two statements (``adapters.sql.postgres``); SQLite
takes the same steps a statement at a time under its one write lock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import Row, and_, case, func, or_, select, update

from adapters.sql import postgres
from adapters.sql import tables as t
from adapters.sql.dialect import uuid_lock_key
from adapters.sql.engine import is_postgres
from adapters.sql.holds import HELD, SEAT_KEY, live_hold, mark_released, seat_is
from adapters.sql.reservations import SqlReservationRepository
from adapters.sql.transactions import SqlRepository
from concert_core.domain import (
    ConcertId,
    DateAvailability,
    DateSeats,
    Money,
    NotFoundError,
    Reservation,
    ReservationId,
    ReservationStatus,
    Seat,
    SeatKey,
    SeatNo,
    SeatStatus,
    SeatUnavailableError,
    UserId,
)
from concert_core.domain.hold_limit import check_hold_limit
from concert_core.ports import HoldOutcome, HoldRequest

_SEAT = select(t.seats).where(SEAT_KEY)
"""The seat row (SQLite: every transaction begins IMMEDIATE, holding the one write
lock, so no row lock is needed)."""


def _free_at(now: dt.datetime) -> Any:
    """A seat row free to hold at ``now``: available, or held past its time."""
    s = t.seats.c
    return or_(s.status == SeatStatus.AVAILABLE.value, and_(s.status == HELD, s.held_until <= now))


def _seat(row: Row[Any]) -> Seat:
    return Seat(
        key=SeatKey(ConcertId(row.concert_id), row.date, SeatNo(row.seat_no)),
        price=Money(row.price),
        status=SeatStatus(row.status),
        holder=UserId(row.holder) if row.holder else None,
        held_until=row.held_until,
        reservation_id=ReservationId(row.reservation_id) if row.reservation_id else None,
    )


class SqlSeatRepository(SqlRepository):
    async def list_seats(self, concert_id: ConcertId, date: dt.date) -> list[Seat]:
        rows = await self._c.execute(
            select(t.seats)
            .where(t.seats.c.concert_id == concert_id, t.seats.c.date == date)
            .order_by(t.seats.c.seat_no)
        )
        return [_seat(r) for r in rows]

    async def available_dates(
        self, concert_id: ConcertId, now: dt.datetime
    ) -> list[DateAvailability]:
        s = t.seats.c
        rows = await self._c.execute(
            select(s.date, func.count().label("free"))
            .where(s.concert_id == concert_id, _free_at(now))
            .group_by(s.date)
            .order_by(s.date)
        )
        return [DateAvailability(r.date, r.free) for r in rows if r.free > 0]

    async def seat_counts(self, concert_id: ConcertId, now: dt.datetime) -> list[DateSeats]:
        s = t.seats.c

        def seats_where(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        rows = await self._c.execute(
            select(
                s.date,
                seats_where(_free_at(now)).label("available"),
                seats_where(and_(s.status == HELD, s.held_until > now)).label("held"),
                seats_where(s.status == SeatStatus.SOLD.value).label("sold"),
            )
            .where(s.concert_id == concert_id)
            .group_by(s.date)
            .order_by(s.date)
        )
        return [DateSeats(r.date, int(r.available), int(r.held), int(r.sold)) for r in rows]

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        # No savepoint: every refusal below comes before the first write.
        c, key, now = self._c, request.seat, request.now
        on_postgres = is_postgres(c)
        locking = postgres.LOCK_SEAT_FOR_HOLD if on_postgres else _SEAT
        params = {"concert_id": key.concert_id, "date": key.date, "seat_no": key.seat_no}
        if on_postgres:
            params |= {"user_key": uuid_lock_key(request.user_id), "concert_key": key.concert_id}
        row = (await c.execute(locking, params)).first()
        if row is None:
            raise NotFoundError(f"concert {key.concert_id} has no seat {key.seat_no} on {key.date}")
        stored = _seat(row)
        if stored.is_held_by(request.user_id, now) and stored.reservation_id:
            r = t.reservations.c
            await c.execute(
                update(t.reservations)
                .where(r.reservation_id == stored.reservation_id, r.token_id != request.token_id)
                .values(token_id=request.token_id)
            )
            mine = await SqlReservationRepository(c).get(stored.reservation_id)
            assert mine is not None
            return HoldOutcome(mine, created=False)
        seat = _seat(row)
        seat.hold(request.user_id, request.reservation_id, now, request.until)  # or raise
        reservation = Reservation.hold(
            request.reservation_id,
            request.user_id,
            key,
            seat.price,
            now,
            request.until,
            request.token_id,
        )
        if on_postgres:
            await self._take_postgres(request, stored.reservation_id)
        else:
            await self._take(request, stored.reservation_id, seat.price)
        return HoldOutcome(reservation, created=True)

    async def _take_postgres(self, request: HoldRequest, previous: UUID | None) -> None:
        """Count, take, release the lapsed hold and record the new one: one statement,
        judged after the seat row and the user's advisory lock are held (its snapshot is
        taken after them), and writing nothing unless it takes the seat."""
        key = request.seat
        outcome = (
            await self._c.execute(
                postgres.HOLD,
                {
                    "concert_id": key.concert_id,
                    "date": key.date,
                    "seat_no": key.seat_no,
                    "user_id": request.user_id,
                    "token_id": request.token_id,
                    "reservation_id": request.reservation_id,
                    "previous": previous,
                    "now": request.now,
                    "until": request.until,
                    "max_holds": request.max_holds,
                },
            )
        ).one()
        check_hold_limit(outcome.live, request.max_holds)
        if outcome.taken != 1:
            raise SeatUnavailableError(f"seat {key.seat_no} on {key.date} is taken")

    async def _take(self, request: HoldRequest, previous: UUID | None, price: Money) -> None:
        """As ``_take_postgres``, a statement at a time (SQLite: the write lock, held from
        ``BEGIN IMMEDIATE``, serialises holds)."""
        c, key, now = self._c, request.seat, request.now
        r = t.reservations.c
        live = (
            await c.execute(
                select(func.count())
                .select_from(t.reservations)
                .where(r.user_id == request.user_id, r.concert_id == key.concert_id, live_hold(now))
            )
        ).scalar_one()
        check_hold_limit(live, request.max_holds)
        taken = await c.execute(
            update(t.seats)
            .where(seat_is(key), _free_at(now))
            .values(
                status=HELD,
                holder=request.user_id,
                held_until=request.until,
                reservation_id=request.reservation_id,
            )
        )
        if taken.rowcount != 1:
            raise SeatUnavailableError(f"seat {key.seat_no} on {key.date} is taken")
        if previous is not None:
            await mark_released(c, previous, r.held_until <= now)
        await c.execute(
            t.reservations.insert().values(
                reservation_id=request.reservation_id,
                user_id=request.user_id,
                concert_id=key.concert_id,
                date=key.date,
                seat_no=key.seat_no,
                price=price,
                status=ReservationStatus.HELD.value,
                held_until=request.until,
                created_at=now,
                token_id=request.token_id,
            )
        )
