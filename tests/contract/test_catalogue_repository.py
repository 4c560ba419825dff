"""CatalogueRepository: concerts, their performance dates and the seats of each date."""

from __future__ import annotations

from backends import Backend
from concert_core.domain import ConcertId, Money, SeatNo, SeatStatus
from contract.helpers import D1, D2, D3, PRICES, new_concert


async def test_storage_assigns_distinct_ids_and_a_concert_reads_back_as_stored(
    backend: Backend,
) -> None:
    async with backend.uow() as uow:
        first = await uow.catalogue.add_concert("Winter Lights", "Olympic Hall")
        second = await uow.catalogue.add_concert("Winter Lights", "Olympic Hall")
        await uow.commit()
    async with backend.uow() as uow:
        third = await uow.catalogue.add_concert("Spring Rain", "Blue Square")
        await uow.commit()
    ids = {first.concert_id, second.concert_id, third.concert_id}
    assert len(ids) == 3
    assert (first.title, first.venue) == ("Winter Lights", "Olympic Hall")
    async with backend.uow() as uow:
        assert await uow.catalogue.get_concert(third.concert_id) == third
        assert await uow.catalogue.get_concert(first.concert_id) == first
        assert await uow.catalogue.get_concert(ConcertId(max(ids) + 1_000)) is None


async def test_concerts_are_listed_by_id(backend: Backend) -> None:
    async with backend.uow() as uow:
        added = [await uow.catalogue.add_concert(f"Concert {n}", "Hall") for n in range(4)]
        await uow.commit()
    async with backend.uow() as uow:
        listed = await uow.catalogue.list_concerts()
    assert listed == sorted(added, key=lambda c: c.concert_id)


async def test_a_new_date_has_fifty_available_seats_numbered_and_priced_as_given(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend, dates=(D1,))
    async with backend.uow() as uow:
        seats = await uow.seats.list_seats(concert_id, D1)
    assert [s.key.seat_no for s in seats] == list(range(1, 51))
    assert [s.price for s in seats] == list(PRICES)
    assert all(s.key.concert_id == concert_id and s.key.date == D1 for s in seats)
    assert all(s.status is SeatStatus.AVAILABLE and s.holder is None for s in seats)


async def test_adding_an_existing_date_returns_false_and_changes_nothing(
    backend: Backend,
) -> None:
    concert_id = await new_concert(backend, dates=(D1,))
    cheaper = tuple(Money(1) for _ in range(50))
    async with backend.uow() as uow:
        assert await uow.catalogue.add_date(concert_id, D1, cheaper) is False
        await uow.commit()
    async with backend.uow() as uow:
        seats = await uow.seats.list_seats(concert_id, D1)
        dates = await uow.catalogue.list_dates(concert_id)
    assert dates == [D1]
    assert len(seats) == 50
    assert [s.price for s in seats] == list(PRICES)


async def test_dates_are_listed_ascending_and_per_concert(backend: Backend) -> None:
    concert_id = await new_concert(backend, dates=(D3, D1, D2))
    other = await new_concert(backend, dates=(D2,))
    async with backend.uow() as uow:
        assert await uow.catalogue.list_dates(concert_id) == [D1, D2, D3]
        assert await uow.catalogue.list_dates(other) == [D2]
        assert await uow.catalogue.list_dates(ConcertId(987_654)) == []


async def test_the_same_date_in_two_concerts_has_separate_seats(backend: Backend) -> None:
    cheap = tuple(Money(5_000) for _ in range(50))
    first = await new_concert(backend, dates=(D1,))
    second = await new_concert(backend, dates=(D1,), prices=cheap)
    async with backend.uow() as uow:
        first_seats = await uow.seats.list_seats(first, D1)
        second_seats = await uow.seats.list_seats(second, D1)
    assert [s.price for s in first_seats] == list(PRICES)
    assert [s.price for s in second_seats] == list(cheap)
    assert second_seats[0].key.seat_no == SeatNo(1)
    assert second_seats[0].key.concert_id == second
