from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from attrs import field, frozen

from concert_core.domain import Concert, Money, ValidationError, values
from concert_core.domain.values import SEATS_PER_DATE
from concert_core.ports import UnitOfWorkFactory


def concert_name(value: object) -> str:
    """A title or venue: 1 to 200 characters, trimmed."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValidationError("a title or venue is 1 to 200 characters")
    return value.strip()


def _dates(value: object) -> tuple[dt.date, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValidationError("dates must be a list of calendar dates")
    dates = tuple(sorted({values.calendar_date(d) for d in value}))
    if not dates:
        raise ValidationError("a concert needs at least one date")
    return dates


def seat_prices(value: object) -> tuple[Money, ...]:
    """The 50 seats' prices, seat 1 first."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValidationError(f"prices lists the {SEATS_PER_DATE} seats' prices")
    if len(value) != SEATS_PER_DATE:
        raise ValidationError(f"prices lists the {SEATS_PER_DATE} seats' prices")
    return tuple(values.price(p) for p in value)


@frozen
class ScheduleConcertCommand:
    title: str = field(converter=concert_name)
    venue: str = field(converter=concert_name)
    dates: tuple[dt.date, ...] = field(converter=_dates)
    prices: tuple[Money, ...] = field(converter=seat_prices)
    """Seat n costs ``prices[n-1]`` on every date."""


class ScheduleConcert:
    """Add a concert with its performance dates, each with 50 priced seats.

    An operator's use case (seeding, the CLI); fans never reach it.

    Rules:
    - a concert is named by its title and venue: scheduling one that exists adds only
      the dates it does not have yet, so scheduling again changes nothing;
    - a date's seats and prices are set when the date is added, never changed after.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def __call__(self, command: ScheduleConcertCommand) -> Concert:
        async with self._uow_factory() as uow:
            known = [
                c
                for c in await uow.catalogue.list_concerts()
                if (c.title, c.venue) == (command.title, command.venue)
            ]
            concert = (
                known[0] if known else await uow.catalogue.add_concert(command.title, command.venue)
            )
            for date in command.dates:
                await uow.catalogue.add_date(concert.concert_id, date, command.prices)
            await uow.commit()
        return concert


def tiered_prices(base: int) -> tuple[Money, ...]:
    """Seat prices varying by tier around ``base``, in integer won: the front ten seats
    cost 150%, the middle twenty 100%, the back twenty 70%, rounded to 100 won."""
    base_price = values.price(base)

    def tier(n: int) -> Money:
        percent = 150 if n <= 10 else 100 if n <= 30 else 70
        rounded = (base_price * percent // 100 + 50) // 100 * 100
        return Money(min(rounded, values.MAX_PRICE))

    return tuple(tier(n) for n in range(1, SEATS_PER_DATE + 1))
