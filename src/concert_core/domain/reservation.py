"""A user's claim on one seat: HELD, then CONFIRMED (paid) or RELEASED."""

from __future__ import annotations

import datetime as dt
import enum

from attrs import define

from concert_core.domain.errors import HoldExpiredError, NotOwnerError
from concert_core.domain.seating import SeatKey
from concert_core.domain.values import ConcertId, Money, ReservationId, TokenId, UserId


class ReservationStatus(enum.StrEnum):
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"


@define
class Reservation:
    reservation_id: ReservationId
    user_id: UserId
    seat: SeatKey
    price: Money
    status: ReservationStatus
    held_until: dt.datetime
    created_at: dt.datetime
    token_id: TokenId
    """The queue token the hold was made under: its holds go when it ends."""

    @classmethod
    def hold(
        cls,
        reservation_id: ReservationId,
        user_id: UserId,
        seat: SeatKey,
        price: Money,
        now: dt.datetime,
        until: dt.datetime,
        token_id: TokenId,
    ) -> Reservation:
        return cls(
            reservation_id, user_id, seat, price, ReservationStatus.HELD, until, now, token_id
        )

    @property
    def concert_id(self) -> ConcertId:
        return self.seat.concert_id

    def status_at(self, now: dt.datetime) -> ReservationStatus:
        """A hold past its time is RELEASED at once, whether or not a sweeper has run."""
        if self.status is ReservationStatus.HELD and now >= self.held_until:
            return ReservationStatus.RELEASED
        return self.status

    def is_live_hold(self, now: dt.datetime) -> bool:
        return self.status_at(now) is ReservationStatus.HELD

    def move_to(self, token_id: TokenId) -> None:
        """The fan's current turn (token) takes over this live hold."""
        self.token_id = token_id

    def check_owner(self, user: UserId) -> None:
        if self.user_id != user:
            raise NotOwnerError("this reservation belongs to another user")

    def confirm(self, user: UserId, now: dt.datetime) -> None:
        """Mark the hold paid. Only the owner's live hold can be confirmed."""
        self.check_owner(user)
        status = self.status_at(now)
        if status is ReservationStatus.CONFIRMED:
            raise HoldExpiredError(f"reservation {self.reservation_id} is already paid")
        if status is not ReservationStatus.HELD:
            raise HoldExpiredError(f"the hold on reservation {self.reservation_id} has lapsed")
        self.status = ReservationStatus.CONFIRMED

    def release(self, user: UserId) -> bool:
        """Give the hold up. Releasing a lapsed or released hold changes nothing.

        Returns whether this call released it; a paid reservation cannot be released.
        """
        self.check_owner(user)
        if self.status is ReservationStatus.CONFIRMED:
            raise HoldExpiredError("a paid reservation has no hold to release")
        if self.status is ReservationStatus.RELEASED:
            return False
        self.status = ReservationStatus.RELEASED
        return True

    def lapse(self, now: dt.datetime) -> bool:
        """Record that the hold ran out; report whether it had."""
        if self.status is ReservationStatus.HELD and now >= self.held_until:
            self.status = ReservationStatus.RELEASED
            return True
        return False
