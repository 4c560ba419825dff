"""Shared vocabulary of the contract suites: fixed instants, prices and small setups.

Ports take ``now`` as an argument, so the suites pass explicit instants from ``T0``
instead of moving a clock. ``Backend`` (what a test's adapters were built from) comes
from backends.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from backends import Backend
from concert_core.domain import (
    ConcertId,
    Money,
    ReservationId,
    Seat,
    SeatKey,
    SeatNo,
    TokenId,
    UserId,
)
from concert_core.ports import HoldOutcome, HoldRequest

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
D1 = dt.date(2026, 12, 24)
D2 = dt.date(2026, 12, 25)
D3 = dt.date(2026, 12, 31)
PRICES: tuple[Money, ...] = tuple(Money(10_000 + 1_000 * n) for n in range(1, 51))
"""Seat ``n`` costs ``10_000 + 1_000 * n``: every seat's price is distinct."""


def at(seconds: float) -> dt.datetime:
    """The instant ``seconds`` after ``T0``."""
    return T0 + dt.timedelta(seconds=seconds)


def new_user() -> UserId:
    return UserId(uuid.uuid4())


def new_token_id() -> TokenId:
    return TokenId(uuid.uuid4())


def new_reservation_id() -> ReservationId:
    return ReservationId(uuid.uuid4())


def seat(concert_id: ConcertId, date: dt.date, seat_no: int) -> SeatKey:
    return SeatKey(concert_id, date, SeatNo(seat_no))


async def new_concert(
    backend: Backend,
    dates: tuple[dt.date, ...] = (D1, D2),
    prices: tuple[Money, ...] = PRICES,
    title: str = "Winter Lights",
) -> ConcertId:
    """Store a concert with its dates and seats, committed."""
    async with backend.uow() as uow:
        concert = await uow.catalogue.add_concert(title, "Olympic Hall")
        for date in dates:
            assert await uow.catalogue.add_date(concert.concert_id, date, prices)
        await uow.commit()
    return concert.concert_id


def hold_request(
    backend: Backend,
    key: SeatKey,
    user: UserId,
    now: dt.datetime = T0,
    *,
    until: dt.datetime | None = None,
    reservation_id: ReservationId | None = None,
    max_holds: int | None = None,
    token_id: TokenId | None = None,
) -> HoldRequest:
    return HoldRequest(
        seat=key,
        user_id=user,
        token_id=token_id or new_token_id(),
        reservation_id=reservation_id or new_reservation_id(),
        now=now,
        until=until or now + backend.policy.hold_ttl,
        max_holds=max_holds or backend.policy.max_holds_per_user,
    )


async def hold(
    backend: Backend, key: SeatKey, user: UserId, now: dt.datetime = T0, **options: Any
) -> HoldOutcome:
    """Hold a seat in a unit of work of its own, committed if the hold succeeds.

    ``options`` are ``hold_request``'s.
    """
    request = hold_request(backend, key, user, now, **options)
    async with backend.uow() as uow:
        outcome = await uow.seats.hold(request)
        await uow.commit()
    return outcome


async def seat_state(backend: Backend, key: SeatKey) -> Seat:
    """The stored seat at ``key`` (read in a unit of work of its own)."""
    async with backend.uow() as uow:
        seats = await uow.seats.list_seats(key.concert_id, key.date)
    (found,) = [s for s in seats if s.key == key]
    return found
