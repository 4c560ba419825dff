"""Reservations in SQL: reading them (the ``reservations`` view: records and held seat
rows), releasing holds (by the fan, by the end of their token, by the sweeper) and
confirming paid ones.

A hold is its seat's row (``adapters.sql.holds``): every change of one locks that row
first, and ends with the reservation recorded in ``reservation_records``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, tuple_, update

from adapters.sql import postgres
from adapters.sql import tables as t
from adapters.sql.engine import is_postgres
from adapters.sql.holds import (
    HELD,
    end_hold,
    forget_holds,
    held_seats,
    live_hold,
    record_values,
    reservation_of,
    seat_is,
)
from adapters.sql.transactions import SqlRepository
from concert_core.domain import (
    HoldExpiredError,
    NotFoundError,
    Reservation,
    ReservationId,
    ReservationStatus,
    SeatStatus,
    TokenId,
    UserId,
)


def _lapsed(reservations: Sequence[Reservation]) -> HoldExpiredError:
    if len(reservations) == 1:
        return HoldExpiredError(
            f"the hold on reservation {reservations[0].reservation_id} has lapsed"
        )
    return HoldExpiredError("a hold among these reservations has lapsed")


class SqlReservationRepository(SqlRepository):
    async def get(self, reservation_id: ReservationId) -> Reservation | None:
        row = (
            await self._c.execute(
                select(t.reservations).where(t.reservations.c.reservation_id == reservation_id)
            )
        ).first()
        return reservation_of(row) if row else None

    async def _owned(self, reservation_id: ReservationId, user: UserId) -> Reservation:
        found = await self.get(reservation_id)
        if found is None:
            raise NotFoundError(f"reservation {reservation_id} does not exist")
        found.check_owner(user)
        return found

    async def release(
        self, reservation_id: ReservationId, user_id: UserId, now: dt.datetime
    ) -> Reservation:
        reservation = await self._owned(reservation_id, user_id)
        if reservation.status is ReservationStatus.HELD:
            s = t.seats.c
            holds = await held_seats(
                self._c, seat_is(reservation.seat), s.reservation_id == reservation_id
            )
            # None if it was paid or released meanwhile.
            ended = [h for h in holds if await end_hold(self._c, h, ReservationStatus.RELEASED)]
            await forget_holds(self._c, ended)
        after = await self._owned(reservation_id, user_id)
        if after.status is ReservationStatus.CONFIRMED:
            raise HoldExpiredError("a paid reservation has no hold to release")
        return after

    async def live_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> list[Reservation]:
        s = t.seats.c
        return await held_seats(self._c, s.token_id == token_id, live_hold(now), lock=False)

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        # Only the holds that still belong to this token: the fan's next turn may have
        # taken one over meanwhile (HoldRequest from a later token).
        if is_postgres(self._c):
            released = await self._c.scalar(postgres.RELEASE_TOKEN_HOLDS, {"token_id": token_id})
            return int(released or 0)
        holds = await held_seats(self._c, t.seats.c.token_id == token_id)
        released = [h for h in holds if await end_hold(self._c, h, ReservationStatus.RELEASED)]
        await forget_holds(self._c, released)
        return len(released)

    async def confirm(
        self, user_id: UserId, reservation_ids: Sequence[ReservationId], now: dt.datetime
    ) -> list[Reservation]:
        # No savepoint: every refusal comes before the first write (see below).
        s = t.seats.c
        rows = await self._c.execute(
            select(t.reservations).where(t.reservations.c.reservation_id.in_(reservation_ids))
        )
        by_id = {ReservationId(row.reservation_id): reservation_of(row) for row in rows}
        found = []
        for rid in reservation_ids:
            reservation = by_id.get(rid)
            if reservation is None:
                raise NotFoundError(f"reservation {rid} does not exist")
            reservation.check_owner(user_id)
            found.append(reservation)
        for reservation in found:  # every one is checked before any is written
            reservation.confirm(user_id, now)
        keys = sorted(found, key=lambda x: x.seat)
        still_held = (
            tuple_(s.concert_id, s.date, s.seat_no).in_(
                [(x.seat.concert_id, x.seat.date, x.seat.seat_no) for x in keys]
            ),
            s.reservation_id.in_([x.reservation_id for x in keys]),
            s.holder == user_id,
            live_hold(now),
        )
        # Lock the seats in key order and check them all before writing any.
        if len(await held_seats(self._c, *still_held)) != len(found):
            raise _lapsed(found)
        sold = await self._c.execute(
            update(t.seats).where(*still_held).values(status=SeatStatus.SOLD.value, held_until=None)
        )
        if sold.rowcount != len(found):
            raise _lapsed(found)
        await self._c.execute(
            t.reservation_records.insert(),
            [record_values(x, ReservationStatus.CONFIRMED) for x in keys],
        )
        await forget_holds(self._c, keys)
        return found

    async def release_lapsed(self, now: dt.datetime, limit: int) -> int:
        s = t.seats.c
        # No lock here: seats are locked in key order (the lock order); ``end_hold``
        # re-checks that the hold is still there and still lapsed.
        oldest = (
            select(s.concert_id, s.date, s.seat_no)
            .where(s.status == HELD, s.held_until <= now)
            .order_by(s.held_until)
            .limit(limit)
            .subquery()
        )
        lapsed = await held_seats(
            self._c,
            tuple_(s.concert_id, s.date, s.seat_no).in_(
                select(oldest.c.concert_id, oldest.c.date, oldest.c.seat_no)
            ),
            s.held_until <= now,
        )
        released = 0
        for hold in lapsed:
            released += await end_hold(self._c, hold, ReservationStatus.RELEASED)
        return released
