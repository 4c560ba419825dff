from __future__ import annotations

import datetime as dt

from attrs import field, frozen

from concert_core.domain import (
    ConcertId,
    Money,
    NotFoundError,
    SeatNo,
    SeatStatus,
    values,
)
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate


@frozen
class ListSeatsQuery:
    token: str
    concert_id: ConcertId = field(converter=values.concert_id)
    date: dt.date = field(converter=values.calendar_date)
    only_available: bool = field(default=False, converter=values.flag)


@frozen
class SeatView:
    seat_no: SeatNo
    status: SeatStatus
    price: Money


@frozen
class SeatMap:
    date: dt.date
    seats: list[SeatView]


class ListSeats:
    """The 50 seats of one date with their state and price, or only the available ones.

    Rules:
    - needs an ACTIVE token for this concert; an unknown date is NOT_FOUND;
    - a lapsed hold shows as AVAILABLE; who holds or bought a seat is not shown.
    """

    def __init__(self, gate: TokenGate, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._gate = gate
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, query: ListSeatsQuery) -> SeatMap:
        now = await self._clock.now()
        await self._gate.require_active(query.token, query.concert_id, now)
        async with self._uow_factory() as uow:
            seats = await uow.seats.list_seats(query.concert_id, query.date)
        if not seats:
            raise NotFoundError(f"concert {query.concert_id} has no performance on {query.date}")
        views = [SeatView(s.key.seat_no, s.status_at(now), s.price) for s in seats]
        if query.only_available:
            views = [v for v in views if v.status is SeatStatus.AVAILABLE]
        return SeatMap(query.date, views)
