from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from attrs import field, frozen

from concert_core.domain import (
    ConcertId,
    Money,
    NotFoundError,
    SeatNo,
    SeatStatus,
    values,
)
from concert_core.ports import Clock, SeatLine, SeatMapReader, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate

_AVAILABLE = SeatStatus.AVAILABLE
_HELD = SeatStatus.HELD


@frozen
class ListSeatsQuery:
    token: str
    concert_id: ConcertId = field(converter=values.concert_id)
    date: dt.date = field(converter=values.calendar_date)
    only_available: bool = field(default=False, converter=values.flag)


class SeatView(NamedTuple):
    seat_no: SeatNo
    status: SeatStatus
    price: Money


@frozen
class SeatMap:
    date: dt.date
    seats: list[SeatView]


class UnitOfWorkSeatMaps:
    """The seat map read through a unit of work: for a store with no reader of its own
    (its ``SeatRepository.list_seats`` in a transaction of its own)."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def seat_lines(self, concert_id: ConcertId, date: dt.date) -> Sequence[SeatLine]:
        async with self._uow_factory() as uow:
            seats = await uow.seats.list_seats(concert_id, date)
        return [SeatLine(s.key.seat_no, s.status, s.price, s.held_until) for s in seats]


class ListSeats:
    """The 50 seats of one date with their state and price, or only the available ones.

    Rules:
    - needs an ACTIVE token for this concert; an unknown date is NOT_FOUND;
    - a lapsed hold shows as AVAILABLE; who holds or bought a seat is not shown.

    The seats are read once, after the token check, in one read of their own (no unit
    of work): every hold and sale replied to before the request is in it.
    """

    def __init__(self, gate: TokenGate, seat_maps: SeatMapReader, clock: Clock) -> None:
        self._gate = gate
        self._seat_maps = seat_maps
        self._clock = clock

    async def __call__(self, query: ListSeatsQuery) -> SeatMap:
        now = await self._clock.now()
        await self._gate.require_active(query.token, query.concert_id, now)
        lines = await self._seat_maps.seat_lines(query.concert_id, query.date)
        if not lines:
            raise NotFoundError(f"concert {query.concert_id} has no performance on {query.date}")
        views = [
            SeatView(
                seat_no,
                _AVAILABLE
                if status is _HELD and held_until is not None and now >= held_until
                else status,
                price,
            )
            for seat_no, status, price, held_until in lines
        ]
        if query.only_available:
            views = [v for v in views if v.status is _AVAILABLE]
        return SeatMap(query.date, views)
