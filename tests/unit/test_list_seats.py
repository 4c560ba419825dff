"""ListSeats over its reader: the token is checked before anything is read, and a hold
is judged at the request's instant (AVAILABLE from its end on)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from adapters.clock import ManualClock
from concert_core import ConcertService, Policy
from concert_core.domain import ConcertId, TokenInvalidError, TokenNotActiveError
from concert_core.ports import SeatLine
from concert_core.use_cases import ListSeatsQuery, UnitOfWorkSeatMaps
from support import DATES, MemoryKit, active_token, hold, schedule


class CountingReader:
    def __init__(self, inner: UnitOfWorkSeatMaps) -> None:
        self.inner = inner
        self.reads = 0

    async def seat_lines(self, concert_id: ConcertId, date: dt.date) -> Sequence[SeatLine]:
        self.reads += 1
        return await self.inner.seat_lines(concert_id, date)


@pytest.fixture
def reader(kit: MemoryKit) -> CountingReader:
    return CountingReader(UnitOfWorkSeatMaps(kit.uow))


@pytest.fixture
def listing(
    kit: MemoryKit, reader: CountingReader, clock: ManualClock, policy: Policy
) -> ConcertService:
    """The kit's service with the seat list on the counting reader."""
    return ConcertService.build(
        uow_factory=kit.uow,
        queue=kit.queue,
        idempotency=kit.idempotency,
        codec=kit.codec,
        clock=clock,
        policy=policy,
        seat_maps=reader,
    )


async def test_a_hold_reads_held_until_its_end_and_available_from_it(
    listing: ConcertService, clock: ManualClock, policy: Policy, reader: CountingReader
) -> None:
    concert = await schedule(listing)
    holder = await active_token(listing, concert.concert_id)
    await hold(listing, holder.token, concert.concert_id, 7)
    viewer = await active_token(listing, concert.concert_id)
    query = ListSeatsQuery(viewer.token, concert.concert_id, DATES[0])

    clock.advance(policy.hold_ttl.total_seconds() - 0.001)
    before_end = await listing.list_seats(query)
    clock.advance(0.001)
    at_end = await listing.list_seats(query)

    assert before_end.seats[6].status == "HELD"
    assert at_end.seats[6].status == "AVAILABLE"
    assert [s.status for s in at_end.seats] == ["AVAILABLE"] * 50
    assert reader.reads == 2


async def test_a_token_that_may_not_list_is_refused_before_anything_is_read(
    listing: ConcertService, reader: CountingReader
) -> None:
    concert, other = await schedule(listing), await schedule(listing)
    elsewhere = await active_token(listing, other.concert_id)
    with pytest.raises(TokenNotActiveError):
        await listing.list_seats(ListSeatsQuery(elsewhere.token, concert.concert_id, DATES[0]))
    with pytest.raises(TokenInvalidError):
        await listing.list_seats(ListSeatsQuery("not-a-token", concert.concert_id, DATES[0]))
    assert reader.reads == 0
