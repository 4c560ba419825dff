"""Concerts, their dates and the seats of each date."""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define, field, frozen

from concert_core.domain.errors import SeatUnavailableError, ValidationError
from concert_core.domain.sale import SaleSettings
from concert_core.domain.values import (
    SEATS_PER_DATE,
    ConcertId,
    Money,
    ReservationId,
    SeatNo,
    UserId,
)


@frozen
class Concert:
    concert_id: ConcertId
    title: str
    venue: str
    sale: SaleSettings = field(factory=SaleSettings)


@frozen
class DateSeats:
    """A performance date's seats by state at an instant."""

    date: dt.date
    available: int
    held: int
    sold: int


@frozen
class DateAvailability:
    date: dt.date
    available_seats: int


@frozen(order=True)
class SeatKey:
    """A seat's identity: the concert, the performance date and the seat number."""

    concert_id: ConcertId
    date: dt.date
    seat_no: SeatNo


class SeatStatus(enum.StrEnum):
    AVAILABLE = "AVAILABLE"
    HELD = "HELD"
    SOLD = "SOLD"


@define
class Seat:
    key: SeatKey
    price: Money
    status: SeatStatus = SeatStatus.AVAILABLE
    holder: UserId | None = None
    held_until: dt.datetime | None = None
    reservation_id: ReservationId | None = None
    """The reservation that holds or bought this seat."""

    def status_at(self, now: dt.datetime) -> SeatStatus:
        """An expired hold counts as AVAILABLE at once, before any cleanup runs."""
        lapsed = self.held_until is not None and now >= self.held_until
        if self.status is SeatStatus.HELD and lapsed:
            return SeatStatus.AVAILABLE
        return self.status

    def is_held_by(self, user: UserId, now: dt.datetime) -> bool:
        return self.status_at(now) is SeatStatus.HELD and self.holder == user

    def hold(
        self, user: UserId, reservation_id: ReservationId, now: dt.datetime, until: dt.datetime
    ) -> None:
        if self.status_at(now) is not SeatStatus.AVAILABLE:
            raise SeatUnavailableError(f"seat {self.key.seat_no} on {self.key.date} is taken")
        self.status = SeatStatus.HELD
        self.holder = user
        self.held_until = until
        self.reservation_id = reservation_id

    def release(self, reservation_id: ReservationId) -> bool:
        """Free the seat if ``reservation_id`` still holds it; report whether it did."""
        if self.status is not SeatStatus.HELD or self.reservation_id != reservation_id:
            return False
        self.status = SeatStatus.AVAILABLE
        self.holder = None
        self.held_until = None
        self.reservation_id = None
        return True

    def sell(self, reservation_id: ReservationId, now: dt.datetime) -> None:
        if self.status_at(now) is not SeatStatus.HELD or self.reservation_id != reservation_id:
            raise SeatUnavailableError(f"seat {self.key.seat_no} is not held by this reservation")
        self.status = SeatStatus.SOLD
        self.held_until = None


def seats_for_date(concert_id: ConcertId, date: dt.date, prices: list[Money]) -> list[Seat]:
    """The 50 seats of a new performance date, seat ``n`` priced ``prices[n-1]``."""
    if len(prices) != SEATS_PER_DATE:
        raise ValidationError(f"a date has exactly {SEATS_PER_DATE} seat prices")
    return [
        Seat(SeatKey(concert_id, date, SeatNo(n)), price) for n, price in enumerate(prices, start=1)
    ]
