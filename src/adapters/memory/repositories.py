"""In-memory repositories. Each method runs without awaiting, so it is atomic within
the event loop; the unit of work's lock makes a sequence of them serialisable."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Sequence

import attrs

from adapters.memory.database import MemoryDatabase
from concert_core.domain import (
    Concert,
    ConcertId,
    DateAvailability,
    DateSeats,
    HoldExpiredError,
    Money,
    NotFoundError,
    Reservation,
    ReservationId,
    SaleSettings,
    Seat,
    SeatKey,
    SeatNo,
    SeatStatus,
    SeatUnavailableError,
    TokenId,
    UserId,
)
from concert_core.domain.hold_limit import check_hold_limit
from concert_core.domain.seating import seats_for_date
from concert_core.domain.values import SEATS_PER_DATE
from concert_core.ports import HoldOutcome, HoldRequest


class _Repository:
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db


class MemoryCatalogueRepository(_Repository):
    async def add_concert(
        self, title: str, venue: str, sale: SaleSettings | None = None
    ) -> Concert:
        concert = Concert(
            ConcertId(self._db.next_id("concert")), title, venue, sale or SaleSettings()
        )
        self._db.put(self._db.concerts, concert.concert_id, concert)
        self._db.put(self._db.dates, concert.concert_id, {})
        return concert

    async def change_sale(self, concert_id: ConcertId, sale: SaleSettings) -> bool:
        concert = self._db.concerts.get(concert_id)
        if concert is None:
            return False
        self._db.put(self._db.concerts, concert_id, attrs.evolve(concert, sale=sale))
        return True

    async def get_concert(self, concert_id: ConcertId) -> Concert | None:
        self._db.read()
        return self._db.concerts.get(concert_id)

    async def list_concerts(self) -> list[Concert]:
        self._db.read()
        return [self._db.concerts[c] for c in sorted(self._db.concerts)]

    async def add_date(self, concert_id: ConcertId, date: dt.date, prices: Sequence[Money]) -> bool:
        db = self._db
        if concert_id not in db.concerts:
            raise NotFoundError(f"concert {concert_id} does not exist")
        dates = db.dates[concert_id]
        if date in dates:
            return False
        seats = seats_for_date(concert_id, date, list(prices))
        db.put(db.dates, concert_id, {**dates, date: None})
        for seat in seats:
            db.put(db.seats, seat.key, seat)
        return True

    async def list_dates(self, concert_id: ConcertId) -> list[dt.date]:
        self._db.read()
        return sorted(self._db.dates.get(concert_id, {}))


class MemorySeatRepository(_Repository):
    def _seats_of(self, concert_id: ConcertId, date: dt.date) -> list[Seat]:
        seats = self._db.seats
        keys = (SeatKey(concert_id, date, SeatNo(n)) for n in range(1, SEATS_PER_DATE + 1))
        return [seats[k] for k in keys if k in seats]

    async def list_seats(self, concert_id: ConcertId, date: dt.date) -> list[Seat]:
        self._db.read()
        return [attrs.evolve(s) for s in self._seats_of(concert_id, date)]

    async def available_dates(
        self, concert_id: ConcertId, now: dt.datetime
    ) -> list[DateAvailability]:
        self._db.read()
        result = []
        for date in sorted(self._db.dates.get(concert_id, {})):
            free = sum(
                s.status_at(now) is SeatStatus.AVAILABLE for s in self._seats_of(concert_id, date)
            )
            if free:
                result.append(DateAvailability(date, free))
        return result

    async def seat_counts(self, concert_id: ConcertId, now: dt.datetime) -> list[DateSeats]:
        self._db.read()
        counts = []
        for date in sorted(self._db.dates.get(concert_id, {})):
            states = collections.Counter(s.status_at(now) for s in self._seats_of(concert_id, date))
            counts.append(
                DateSeats(
                    date,
                    states[SeatStatus.AVAILABLE],
                    states[SeatStatus.HELD],
                    states[SeatStatus.SOLD],
                )
            )
        return counts

    async def sold_out(self, concert_id: ConcertId) -> bool:
        self._db.read()
        seats = [
            seat
            for date in self._db.dates.get(concert_id, {})
            for seat in self._seats_of(concert_id, date)
        ]
        return bool(seats) and all(seat.status is SeatStatus.SOLD for seat in seats)

    def _live_holds(self, user: UserId, concert_id: ConcertId, now: dt.datetime) -> int:
        db = self._db
        count = 0
        for rid in db.reservations_by_user.get(user, ()):
            r = db.reservations[rid]
            if r.concert_id == concert_id and r.is_live_hold(now):
                count += 1
        return count

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        db = self._db
        stored = db.seats.get(request.seat)
        if stored is None:
            raise NotFoundError(
                f"concert {request.seat.concert_id} has no seat {request.seat.seat_no} "
                f"on {request.seat.date}"
            )
        if stored.is_held_by(request.user_id, request.now) and stored.reservation_id:
            mine = attrs.evolve(db.reservations[stored.reservation_id])
            if mine.token_id != request.token_id:
                mine.move_to(request.token_id)
                db.put(db.reservations, mine.reservation_id, mine)
            return HoldOutcome(attrs.evolve(mine), created=False)
        seat = attrs.evolve(stored)
        seat.hold(request.user_id, request.reservation_id, request.now, request.until)
        live_holds = self._live_holds(request.user_id, request.seat.concert_id, request.now)
        check_hold_limit(live_holds, request.max_holds)
        reservation = Reservation.hold(
            request.reservation_id,
            request.user_id,
            request.seat,
            seat.price,
            request.now,
            request.until,
            request.token_id,
        )
        if stored.reservation_id is not None:
            _lapse(db, stored.reservation_id, request.now)
        db.put(db.seats, seat.key, seat)
        db.put(db.reservations, reservation.reservation_id, reservation)
        db.append(db.reservations_by_user, reservation.user_id, reservation.reservation_id)
        db.put(db.held, reservation.reservation_id, None)
        return HoldOutcome(attrs.evolve(reservation), created=True)


def _lapse(db: MemoryDatabase, reservation_id: ReservationId, now: dt.datetime) -> bool:
    """Mark a lapsed hold RELEASED (and free its seat if it still holds it)."""
    reservation = attrs.evolve(db.reservations[reservation_id])
    if not reservation.lapse(now):
        return False
    db.put(db.reservations, reservation_id, reservation)
    db.delete(db.held, reservation_id)
    _free_seat(db, reservation)
    return True


def _free_seat(db: MemoryDatabase, reservation: Reservation) -> None:
    seat = attrs.evolve(db.seats[reservation.seat])
    if seat.release(reservation.reservation_id):
        db.put(db.seats, seat.key, seat)


class MemoryReservationRepository(_Repository):
    async def get(self, reservation_id: ReservationId) -> Reservation | None:
        self._db.read()
        found = self._db.reservations.get(reservation_id)
        return attrs.evolve(found) if found else None

    def _owned(self, reservation_id: ReservationId, user: UserId) -> Reservation:
        found = self._db.reservations.get(reservation_id)
        if found is None:
            raise NotFoundError(f"reservation {reservation_id} does not exist")
        found.check_owner(user)
        return attrs.evolve(found)

    def _release(self, reservation: Reservation, user: UserId) -> bool:
        db = self._db
        if not reservation.release(user):
            return False
        db.put(db.reservations, reservation.reservation_id, reservation)
        db.delete(db.held, reservation.reservation_id)
        _free_seat(db, reservation)
        return True

    async def release(
        self, reservation_id: ReservationId, user_id: UserId, now: dt.datetime
    ) -> Reservation:
        reservation = self._owned(reservation_id, user_id)
        self._release(reservation, user_id)
        return attrs.evolve(reservation)

    async def live_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> list[Reservation]:
        db = self._db
        db.read()
        return [
            attrs.evolve(r)
            for r in (db.reservations[rid] for rid in db.held)
            if r.token_id == token_id and r.is_live_hold(now)
        ]

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        db = self._db
        released = 0
        for rid in list(db.held):
            stored = db.reservations[rid]
            if stored.token_id == token_id:
                released += self._release(attrs.evolve(stored), stored.user_id)
        return released

    async def confirm(
        self, user_id: UserId, reservation_ids: Sequence[ReservationId], now: dt.datetime
    ) -> list[Reservation]:
        db = self._db
        confirmed = []
        for rid in reservation_ids:  # check every one before writing any
            reservation = self._owned(rid, user_id)
            reservation.confirm(user_id, now)
            seat = attrs.evolve(db.seats[reservation.seat])
            try:
                seat.sell(rid, now)
            except SeatUnavailableError as error:
                raise HoldExpiredError(f"the hold on reservation {rid} has lapsed") from error
            confirmed.append((reservation, seat))
        for reservation, seat in confirmed:
            db.put(db.reservations, reservation.reservation_id, reservation)
            db.delete(db.held, reservation.reservation_id)
            db.put(db.seats, seat.key, seat)
        return [attrs.evolve(r) for r, _ in confirmed]

    async def release_lapsed(self, now: dt.datetime, limit: int) -> int:
        db = self._db
        released = 0
        for rid in list(db.held):
            if released >= limit:
                break
            released += _lapse(db, rid, now)
        return released
