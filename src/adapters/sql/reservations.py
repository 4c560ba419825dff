"""Reservations in SQL: reading them, releasing holds (by the fan, by the end of their
token, by the sweeper) and confirming paid ones.

A reservation leaves HELD only under its seat's row lock: every write here locks the
seat first (the lock order in ``adapters.sql.holds``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, select, tuple_, update

from adapters.sql import tables as t
from adapters.sql.holds import FREE_SEAT, HELD, free_seat, live_hold, mark_released, seat_is
from adapters.sql.transactions import SqlRepository
from concert_core.domain import (
    ConcertId,
    HoldExpiredError,
    Money,
    NotFoundError,
    Reservation,
    ReservationId,
    ReservationStatus,
    SeatKey,
    SeatNo,
    SeatStatus,
    TokenId,
    UserId,
)


def _reservation(row: Row[Any]) -> Reservation:
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
        return _reservation(row) if row else None

    async def _owned(self, reservation_id: ReservationId, user: UserId) -> Reservation:
        found = await self.get(reservation_id)
        if found is None:
            raise NotFoundError(f"reservation {reservation_id} does not exist")
        found.check_owner(user)
        return found

    async def _release(self, reservation: Reservation, *condition: Any) -> bool:
        """Release a hold if it is still HELD (and meets ``condition``), then free its
        seat. The seat row is locked first (the lock order), so a concurrent hold that
        moves this reservation to another token is either seen or waited for."""
        await self._c.execute(
            select(t.seats.c.seat_no).where(seat_is(reservation.seat)).with_for_update()
        )
        if not await mark_released(self._c, reservation.reservation_id, *condition):
            return False
        await free_seat(self._c, reservation.seat, reservation.reservation_id)
        return True

    async def release(
        self, reservation_id: ReservationId, user_id: UserId, now: dt.datetime
    ) -> Reservation:
        reservation = await self._owned(reservation_id, user_id)
        if reservation.status is ReservationStatus.HELD:
            await self._release(reservation)
        after = await self._owned(reservation_id, user_id)
        if after.status is ReservationStatus.CONFIRMED:
            raise HoldExpiredError("a paid reservation has no hold to release")
        return after

    async def live_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> list[Reservation]:
        r = t.reservations.c
        rows = await self._c.execute(
            select(t.reservations)
            .where(r.token_id == token_id, live_hold(now))
            .order_by(r.concert_id, r.date, r.seat_no)
        )
        return [_reservation(row) for row in rows]

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        r = t.reservations.c
        rows = await self._c.execute(
            select(t.reservations)
            .where(r.token_id == token_id, r.status == ReservationStatus.HELD.value)
            .order_by(r.concert_id, r.date, r.seat_no)
        )
        released = 0
        for reservation in [_reservation(row) for row in rows]:
            # Only if the hold still belongs to this token: the fan's next turn may have
            # taken it over meanwhile (HoldRequest from a later token).
            released += await self._release(reservation, r.token_id == token_id)
        return released

    async def confirm(
        self, user_id: UserId, reservation_ids: Sequence[ReservationId], now: dt.datetime
    ) -> list[Reservation]:
        # No savepoint: every refusal comes before the first write (see below).
        r, s = t.reservations.c, t.seats.c
        rows = await self._c.execute(
            select(t.reservations).where(r.reservation_id.in_(list(reservation_ids)))
        )
        by_id = {ReservationId(row.reservation_id): _reservation(row) for row in rows}
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
        seat_keys = tuple_(s.concert_id, s.date, s.seat_no).in_(
            [(x.seat.concert_id, x.seat.date, x.seat.seat_no) for x in keys]
        )
        still_held = and_(
            seat_keys,
            s.reservation_id.in_([x.reservation_id for x in keys]),
            s.status == HELD,
            s.held_until > now,
        )
        if len(found) > 1:
            # Lock the seats in key order and check them all before writing any.
            locked = await self._c.execute(
                select(s.seat_no)
                .where(still_held)
                .order_by(s.concert_id, s.date, s.seat_no)
                .with_for_update()
            )
            if len(locked.all()) != len(found):
                raise _lapsed(found)
        # One seat: this conditional write is its own check, and writes nothing if it fails.
        sold = await self._c.execute(
            update(t.seats).where(still_held).values(status=SeatStatus.SOLD.value, held_until=None)
        )
        if sold.rowcount != len(found):
            raise _lapsed(found)
        # The seats were still held by these reservations under their row locks, and a
        # reservation leaves HELD only under its seat's lock: these all match.
        marked = await self._c.execute(
            update(t.reservations)
            .where(r.reservation_id.in_([x.reservation_id for x in found]), live_hold(now))
            .values(status=ReservationStatus.CONFIRMED.value)
        )
        if marked.rowcount != len(found):
            raise _lapsed(found)
        return found

    async def release_lapsed(self, now: dt.datetime, limit: int) -> int:
        r = t.reservations.c
        query = (
            select(t.reservations)
            .where(r.status == ReservationStatus.HELD.value, r.held_until <= now)
            .order_by(r.held_until)
            .limit(limit)
        )
        # No lock here: reservations are locked only after their seat (the lock order);
        # every statement below re-checks that the hold is still lapsed.
        lapsed = [_reservation(row) for row in await self._c.execute(query)]
        released = 0
        for reservation in sorted(lapsed, key=lambda x: x.seat):
            s = t.seats.c
            await self._c.execute(
                update(t.seats)
                .where(
                    seat_is(reservation.seat),
                    s.reservation_id == reservation.reservation_id,
                    s.status == HELD,
                    s.held_until <= now,
                )
                .values(FREE_SEAT)
            )
            released += await mark_released(
                self._c, reservation.reservation_id, r.held_until <= now
            )
        return released
