"""Read models returned by the use cases."""

from __future__ import annotations

import datetime as dt

from attrs import frozen

from concert_core.domain import (
    ConcertId,
    Money,
    QueuePlace,
    Reservation,
    ReservationId,
    ReservationStatus,
    SeatNo,
    TokenStatus,
    UserId,
)
from concert_core.domain.queue import estimated_wait_seconds, poll_after_seconds
from concert_core.policy import Policy


@frozen
class QueueView:
    user_id: UserId
    concert_id: ConcertId
    status: TokenStatus
    position: int | None
    estimated_wait_seconds: int | None
    poll_after_seconds: int
    active_until: dt.datetime | None


def queue_view(place: QueuePlace, policy: Policy) -> QueueView:
    token = place.token
    wait: int | None = None
    if place.status is TokenStatus.WAITING and place.position is not None:
        wait = estimated_wait_seconds(
            place.position,
            place.admission_rate,
            active_ttl=policy.active_ttl,
            capacity=policy.active_capacity,
        )
    elif place.status is TokenStatus.ACTIVE:
        wait = 0
    return QueueView(
        user_id=token.user_id,
        concert_id=token.concert_id,
        status=place.status,
        position=place.position,
        estimated_wait_seconds=wait,
        poll_after_seconds=poll_after_seconds(
            place.status, place.position, wait, idle_timeout=policy.idle_timeout
        ),
        active_until=token.active_until if place.status is TokenStatus.ACTIVE else None,
    )


@frozen
class ReservationView:
    reservation_id: ReservationId
    user_id: UserId
    concert_id: ConcertId
    date: dt.date
    seat_no: SeatNo
    price: Money
    status: ReservationStatus
    held_until: dt.datetime | None
    """When an unpaid hold lapses; None once it is paid or released."""

    @classmethod
    def of(cls, reservation: Reservation, now: dt.datetime) -> ReservationView:
        status = reservation.status_at(now)
        return cls(
            reservation_id=reservation.reservation_id,
            user_id=reservation.user_id,
            concert_id=reservation.concert_id,
            date=reservation.seat.date,
            seat_no=reservation.seat.seat_no,
            price=reservation.price,
            status=status,
            held_until=reservation.held_until if status is ReservationStatus.HELD else None,
        )
