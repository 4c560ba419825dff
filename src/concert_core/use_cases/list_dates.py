from __future__ import annotations

from attrs import field, frozen

from concert_core.domain import ConcertId, DateAvailability, values
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate


@frozen
class ListDatesQuery:
    token: str
    concert_id: ConcertId = field(converter=values.concert_id)


class ListDates:
    """The concert's dates with at least one seat available, ascending.

    Rules:
    - needs an ACTIVE token for this concert;
    - a seat whose hold has lapsed counts as available.
    """

    def __init__(self, gate: TokenGate, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._gate = gate
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, query: ListDatesQuery) -> list[DateAvailability]:
        now = await self._clock.now()
        await self._gate.require_active(query.token, query.concert_id, now)
        async with self._uow_factory() as uow:
            return await uow.seats.available_dates(query.concert_id, now)
