from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from attrs import field, frozen

from concert_core.domain import Concert, Money, SaleSettings, ValidationError, values
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases.schedule_concert import (
    concert_name,
    seat_prices,
    tiered_prices,
)

MAX_DATES_PER_CONCERT = 520


def _new_dates(value: object) -> tuple[dt.date, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValidationError("dates must be a list of calendar dates (YYYY-MM-DD)")
    dates = [values.calendar_date(d) for d in value]
    if not 1 <= len(dates) <= MAX_DATES_PER_CONCERT:
        raise ValidationError(f"a concert has 1 to {MAX_DATES_PER_CONCERT} dates")
    if len(set(dates)) != len(dates):
        raise ValidationError("dates must not repeat")
    return tuple(sorted(dates))


def _sale(value: object) -> SaleSettings:
    if value is None:
        return SaleSettings()
    if isinstance(value, SaleSettings):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError("sale must be an object of sale settings")
    return sale_settings(SaleSettings(), value)


def sale_settings(current: SaleSettings, changes: Mapping[str, object]) -> SaleSettings:
    """``current`` with ``changes`` applied; an unknown setting is a ValidationError."""
    unknown = sorted(set(changes) - SALE_FIELDS)
    if unknown:
        raise ValidationError(f"unknown sale setting: {', '.join(unknown)}")
    merged = {name: getattr(current, name) for name in SALE_FIELDS} | dict(changes)
    try:
        return SaleSettings(**merged)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"bad sale settings: {error}") from None


SALE_FIELDS = frozenset(
    {
        "prequeue_opens_at",
        "opens_at",
        "closes_at",
        "paused",
        "capacity",
        "admission_per_minute",
        "join_challenge",
        "message",
    }
)


def prices_of(price: object, prices: object) -> tuple[Money, ...]:
    """Seat prices from a base ``price`` (tiered) or the 50 ``prices``: exactly one."""
    if (price is None) == (prices is None):
        raise ValidationError("give either price (a base price) or prices (50 seat prices)")
    if prices is not None:
        return seat_prices(prices)
    return tiered_prices(values.price(price))


@frozen
class AddConcertCommand:
    title: str = field(converter=concert_name)
    venue: str = field(converter=concert_name)
    dates: tuple[dt.date, ...] = field(converter=_new_dates)
    prices: tuple[Money, ...] = field(converter=seat_prices)
    """Seat n costs ``prices[n-1]`` on every date."""
    sale: SaleSettings = field(default=None, converter=_sale)


class AddConcert:
    """An operator adds a new concert, its dates (50 priced seats each) and its sale.

    Rules:
    - title and venue are 1 to 200 characters; dates are not before today (UTC) and
      do not repeat; prices are 50 integers of won (or a base price, tiered);
    - the sale settings are checked as a whole (VALIDATION_ERROR, nothing added);
    - everything is added in one transaction.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, command: AddConcertCommand) -> Concert:
        today = (await self._clock.now()).date()
        if command.dates[0] < today:
            raise ValidationError(f"date {command.dates[0]} is in the past")
        async with self._uow_factory() as uow:
            concert = await uow.catalogue.add_concert(command.title, command.venue, command.sale)
            for date in command.dates:
                await uow.catalogue.add_date(concert.concert_id, date, command.prices)
            await uow.commit()
        return concert
