"""Seats in SQL, and the hold: one seat taken for one fan, under the hold limit. The
seat's row is the hold (decision 20).

Every guarded change is a conditional statement whose condition storage checks at the
moment of the write (``UPDATE ... WHERE <still true>``), with a constraint behind it as
the backstop. PostgreSQL holds in one statement (``adapters.sql.postgres``); SQLite
takes the same steps a statement at a time under its one write lock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select, update

from adapters.sql import postgres
from adapters.sql import tables as t
from adapters.sql.engine import is_postgres
from adapters.sql.holds import (
    HELD,
    SEAT_KEY,
    hold_of,
    live_hold,
    micros,
    record_values,
    seat_is,
)
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

    async def sold_out(self, concert_id: ConcertId) -> bool:
        s = t.seats.c
        of_concert = select(s.seat_no).where(s.concert_id == concert_id)
        unsold = of_concert.where(s.status != SeatStatus.SOLD.value)
        found = await self._c.execute(select(of_concert.exists(), unsold.exists()))
        has_seats, has_unsold = found.one()
        return bool(has_seats) and not has_unsold

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        if is_postgres(self._c):
            return await self._hold_postgres(request)
        return await self._hold_sqlite(request)

    async def _hold_postgres(self, request: HoldRequest) -> HoldOutcome:
        """One statement (``postgres.HOLD``): lock the seat row, add the hold to the
        fan's limit row if the seat is free and the limit allows it, take the seat (or
        move the fan's own live hold to this turn), record a lapsed hold it replaces."""
        key, now = request.seat, request.now
        row = (
            await self._c.execute(
                postgres.HOLD,
                {
                    "concert_id": key.concert_id,
                    "date": key.date,
                    "seat_no": key.seat_no,
                    "user_id": request.user_id,
                    "token_id": request.token_id,
                    "reservation_id": request.reservation_id,
                    "rid": str(request.reservation_id),
                    "now": now,
                    "until": request.until,
                    "now_us": micros(now),
                    "until_us": micros(request.until),
                    "max_holds": request.max_holds,
                },
            )
        ).first()
        if row is None:
            raise NotFoundError(f"concert {key.concert_id} has no seat {key.seat_no} on {key.date}")
        stored = _seat(row)
        if stored.is_held_by(request.user_id, now) and stored.reservation_id:
            mine = hold_of(row)
            mine.move_to(request.token_id)
            return HoldOutcome(mine, created=False)
        if not row.free:
            raise SeatUnavailableError(f"seat {key.seat_no} on {key.date} is taken")
        if not row.taken:
            check_hold_limit(request.max_holds, request.max_holds)
        return HoldOutcome(self._new_hold(request, stored.price), created=True)

    @staticmethod
    def _new_hold(request: HoldRequest, price: Money) -> Reservation:
        return Reservation.hold(
            request.reservation_id,
            request.user_id,
            request.seat,
            price,
            request.now,
            request.until,
            request.token_id,
        )

    async def _hold_sqlite(self, request: HoldRequest) -> HoldOutcome:
        """A statement at a time: the write lock, held from ``BEGIN IMMEDIATE``,
        serialises holds, so the fan's live holds are counted on the seats."""
        c, key, now = self._c, request.seat, request.now
        params = {"concert_id": key.concert_id, "date": key.date, "seat_no": key.seat_no}
        row = (await c.execute(_SEAT, params)).first()
        if row is None:
            raise NotFoundError(f"concert {key.concert_id} has no seat {key.seat_no} on {key.date}")
        stored = _seat(row)
        s = t.seats.c
        if stored.is_held_by(request.user_id, now) and stored.reservation_id:
            mine = hold_of(row)
            if mine.token_id != request.token_id:
                await c.execute(
                    update(t.seats).where(seat_is(key)).values(token_id=request.token_id)
                )
                mine.move_to(request.token_id)
            return HoldOutcome(mine, created=False)
        seat = _seat(row)
        seat.hold(request.user_id, request.reservation_id, now, request.until)  # or raise
        live = (
            await c.execute(
                select(func.count())
                .select_from(t.seats)
                .where(s.concert_id == key.concert_id, s.holder == request.user_id, live_hold(now))
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
                token_id=request.token_id,
                held_at=now,
            )
        )
        if taken.rowcount != 1:
            raise SeatUnavailableError(f"seat {key.seat_no} on {key.date} is taken")
        if stored.status is SeatStatus.HELD:  # a lapsed hold, replaced: it is released
            lapsed = hold_of(row)
            await c.execute(
                t.reservation_records.insert().values(
                    record_values(lapsed, ReservationStatus.RELEASED)
                )
            )
        return HoldOutcome(self._new_hold(request, stored.price), created=True)
