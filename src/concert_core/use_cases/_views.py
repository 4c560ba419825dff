"""Read models returned by the use cases."""

from __future__ import annotations

import datetime as dt

from attrs import frozen

from concert_core.domain import (
    ConcertId,
    Money,
    Phase,
    QueuePlace,
    Reservation,
    ReservationId,
    ReservationStatus,
    SeatNo,
    TokenStatus,
    UserId,
)
from concert_core.domain.queue import estimated_wait_seconds, poll_after_seconds
from concert_core.domain.sale import prequeue_poll_after
from concert_core.policy import Policy
from concert_core.use_cases._sales import SaleState


@frozen
class SaleView:
    """What every fan of a concert is told about its sale."""

    phase: Phase
    opens_at: dt.datetime | None
    message: str | None

    @classmethod
    def of(cls, sale: SaleState, now: dt.datetime) -> SaleView:
        settings = sale.concert.sale
        return cls(sale.phase_at(now), settings.opens_at, settings.message)


@frozen
class QueueView:
    user_id: UserId
    concert_id: ConcertId
    status: TokenStatus
    position: int | None
    estimated_wait_seconds: int | None
    poll_after_seconds: int
    active_until: dt.datetime | None
    sale: SaleView


def queue_view(place: QueuePlace, sale: SaleState, policy: Policy, now: dt.datetime) -> QueueView:
    """A token's place as its fan sees it. Before the opening a pre-queued fan has no
    position yet (the opening draws the order) and is told to poll again just after
    the opening, spread over a few seconds."""
    token = place.token
    position = place.position
    wait: int | None = None
    prequeued = place.status is TokenStatus.WAITING and sale.entry_at(now) is Phase.PREQUEUE
    if prequeued:
        position = None
        poll_after = prequeue_poll_after(
            now, sale.concert.sale.opens_at, token.token_id, idle_timeout=policy.idle_timeout
        )
    else:
        if place.status is TokenStatus.WAITING and position is not None:
            wait = estimated_wait_seconds(
                position,
                place.admission_rate,
                active_ttl=policy.active_ttl,
                capacity=sale.capacity(policy),
            )
        elif place.status is TokenStatus.ACTIVE:
            wait = 0
        poll_after = poll_after_seconds(
            place.status,
            position,
            wait,
            idle_timeout=policy.idle_timeout,
            admissions_per_second=place.admission_rate,
        )
    return QueueView(
        user_id=token.user_id,
        concert_id=token.concert_id,
        status=place.status,
        position=position,
        estimated_wait_seconds=wait,
        poll_after_seconds=poll_after,
        active_until=token.ends_at if place.status is TokenStatus.ACTIVE else None,
        sale=SaleView.of(sale, now),
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
