from __future__ import annotations

import datetime as dt

from attrs import field, frozen

from concert_core.domain import (
    ConcertId,
    DateExistsError,
    Money,
    NotFoundError,
    ValidationError,
    values,
)
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._sales import SaleBook
from concert_core.use_cases.schedule_concert import seat_prices


@frozen
class AddConcertDateCommand:
    concert_id: ConcertId = field(converter=values.concert_id)
    date: dt.date = field(converter=values.calendar_date)
    prices: tuple[Money, ...] = field(converter=seat_prices)


class AddConcertDate:
    """An operator adds a performance date (50 priced seats) to a concert.

    Rules: the concert exists (NOT_FOUND); the date is not before today (UTC)
    (VALIDATION_ERROR) and is new (DATE_EXISTS).
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, sales: SaleBook, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._sales = sales
        self._clock = clock

    async def __call__(self, command: AddConcertDateCommand) -> None:
        if command.date < (await self._clock.now()).date():
            raise ValidationError(f"date {command.date} is in the past")
        async with self._uow_factory() as uow:
            if await uow.catalogue.get_concert(command.concert_id) is None:
                raise NotFoundError(f"concert {command.concert_id} does not exist")
            if not await uow.catalogue.add_date(command.concert_id, command.date, command.prices):
                raise DateExistsError(
                    f"concert {command.concert_id} already plays on {command.date}"
                )
            await uow.commit()
        self._sales.forget(command.concert_id)
