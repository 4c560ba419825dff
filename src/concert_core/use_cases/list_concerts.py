from __future__ import annotations

import datetime as dt

from attrs import frozen

from concert_core.domain import ConcertId, Phase
from concert_core.ports import Clock, UnitOfWorkFactory
from concert_core.use_cases._sales import SaleBook


@frozen
class ConcertListing:
    concert_id: ConcertId
    title: str
    venue: str
    phase: Phase
    opens_at: dt.datetime | None


class ListConcerts:
    """Every concert, by id, with its sale's phase and opening time. Needs no token:
    the catalogue is public."""

    def __init__(self, uow_factory: UnitOfWorkFactory, sales: SaleBook, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._sales = sales
        self._clock = clock

    async def __call__(self) -> list[ConcertListing]:
        async with self._uow_factory() as uow:
            concerts = await uow.catalogue.list_concerts()
        now = await self._clock.now()
        listings = []
        for concert in concerts:
            sale = await self._sales.state(concert.concert_id, now)
            listings.append(
                ConcertListing(
                    concert.concert_id,
                    concert.title,
                    concert.venue,
                    sale.phase_at(now),
                    sale.concert.sale.opens_at,
                )
            )
        return listings
