"""SeatMapReader: a date's seats read on their own, outside any unit of work, agreeing
with the seats as the units of work store them (``SeatRepository.list_seats``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.seat_map import SqlSeatMaps
from backends import Backend
from concert_core.domain import ConcertId, SeatNo, SeatStatus
from concert_core.ports import SeatLine, SeatMapReader
from concert_core.use_cases import UnitOfWorkSeatMaps
from contract.helpers import (
    D1,
    D2,
    D3,
    PRICES,
    T0,
    at,
    hold,
    hold_request,
    new_concert,
    new_user,
    seat,
)


@pytest.fixture
async def reader(backend: Backend) -> AsyncIterator[SeatMapReader]:
    """The reader the app builds for this family (SQL: its own; memory: none, so the
    service reads through a unit of work)."""
    if not isinstance(backend.database, AsyncEngine):
        yield UnitOfWorkSeatMaps(backend.uow)
        return
    sql_reader = SqlSeatMaps.on(backend.database)
    try:
        yield sql_reader
    finally:
        await sql_reader.aclose()


async def as_stored(backend: Backend, concert_id: ConcertId, date: dt.date) -> list[SeatLine]:
    async with backend.uow() as uow:
        seats = await uow.seats.list_seats(concert_id, date)
    return [SeatLine(s.key.seat_no, s.status, s.price, s.held_until) for s in seats]


async def test_a_fresh_date_reads_as_its_50_available_seats_in_order(
    backend: Backend, reader: SeatMapReader
) -> None:
    concert_id = await new_concert(backend)
    lines = list(await reader.seat_lines(concert_id, D2))
    assert lines == [
        SeatLine(SeatNo(n), SeatStatus.AVAILABLE, PRICES[n - 1], None) for n in range(1, 51)
    ]
    assert all(type(line.status) is SeatStatus for line in lines)


@pytest.mark.parametrize(
    ("concert", "date"), [("known", D3), ("unknown", D1)], ids=["no-such-date", "no-such-concert"]
)
async def test_an_unknown_date_reads_as_no_seats(
    backend: Backend, reader: SeatMapReader, concert: str, date: dt.date
) -> None:
    concert_id = await new_concert(backend)
    target = concert_id if concert == "known" else ConcertId(concert_id + 1_000)
    assert list(await reader.seat_lines(target, date)) == []


async def test_every_committed_hold_sale_release_and_lapse_is_read_at_once(
    backend: Backend, reader: SeatMapReader
) -> None:
    concert_id, other = await new_concert(backend), await new_concert(backend)
    buyer, holder, leaver, late = new_user(), new_user(), new_user(), new_user()
    sold = await hold(backend, seat(concert_id, D1, 1), buyer, T0)
    await hold(backend, seat(concert_id, D1, 2), holder, T0, until=at(600))
    released = await hold(backend, seat(concert_id, D1, 3), leaver, T0)
    await hold(backend, seat(concert_id, D1, 50), late, T0, until=at(5))
    await hold(backend, seat(other, D1, 2), new_user(), T0)  # another concert's seat 2
    async with backend.uow() as uow:
        await uow.reservations.confirm(buyer, [sold.reservation.reservation_id], at(1))
        await uow.reservations.release(released.reservation.reservation_id, leaver, at(1))
        await uow.commit()

    lines = list(await reader.seat_lines(concert_id, D1))
    assert lines == await as_stored(backend, concert_id, D1)
    by_no = {line.seat_no: line for line in lines}
    assert by_no[1].status is SeatStatus.SOLD
    assert (by_no[2].status, by_no[2].held_until) == (SeatStatus.HELD, at(600))
    assert by_no[3].status is SeatStatus.AVAILABLE
    assert (by_no[50].status, by_no[50].held_until) == (SeatStatus.HELD, at(5))
    assert {line.seat_no for line in lines if line.status is SeatStatus.AVAILABLE} == set(
        range(3, 50)
    )
    assert [line.price for line in lines] == list(PRICES)
    # The other concert's and the other date's seats are their own.
    assert all(
        line.status is SeatStatus.AVAILABLE for line in await reader.seat_lines(concert_id, D2)
    )
    assert (await reader.seat_lines(other, D1))[1].status is SeatStatus.HELD


async def test_concurrent_reads_and_holds_each_read_a_state_that_was_stored(
    backend: Backend, reader: SeatMapReader
) -> None:
    """Reads racing holds see each seat either before or after its hold, never torn,
    and a read made after every hold's reply sees all of them."""
    concert_id = await new_concert(backend)
    users = [new_user() for _ in range(10)]

    async def read() -> list[SeatLine]:
        return list(await reader.seat_lines(concert_id, D1))

    results = await asyncio.gather(
        *(hold(backend, seat(concert_id, D1, n + 1), u, T0) for n, u in enumerate(users)),
        *(read() for _ in range(10)),
    )
    for lines in results[len(users) :]:
        assert isinstance(lines, list) and len(lines) == 50
        for line in lines:
            expected = SeatStatus.HELD if line.seat_no <= len(users) else SeatStatus.AVAILABLE
            assert line.status in (SeatStatus.AVAILABLE, expected)
            assert (line.held_until is None) is (line.status is SeatStatus.AVAILABLE)
    after = await read()
    assert [line.status for line in after[: len(users)]] == [SeatStatus.HELD] * len(users)


async def test_postgres_reads_neither_wait_for_nor_see_an_open_hold(
    backend: Backend, reader: SeatMapReader
) -> None:
    """A hold not yet committed (its row locked) is not read, and does not hold the read
    up; once committed, it is read."""
    if backend.name not in ("postgres", "postgres+redis"):
        pytest.skip("the row-lock race is PostgreSQL's")
    concert_id = await new_concert(backend)
    key = seat(concert_id, D1, 9)
    async with backend.uow() as uow:
        await uow.seats.hold(hold_request(backend, key, new_user(), T0))
        lines = await asyncio.wait_for(reader.seat_lines(concert_id, D1), timeout=2)
        assert lines[8].status is SeatStatus.AVAILABLE
        await uow.commit()
    assert (await reader.seat_lines(concert_id, D1))[8].status is SeatStatus.HELD


async def test_postgres_reads_again_on_a_new_connection_after_theirs_were_dropped(
    backend: Backend, reader: SeatMapReader
) -> None:
    """The reader's pool does not ping at checkout: a pooled connection the server
    dropped (a restart, a terminated backend) costs one retry, not an error."""
    if not isinstance(backend.database, AsyncEngine) or backend.database.dialect.name != (
        "postgresql"
    ):
        pytest.skip("PostgreSQL's reader keeps a pool of its own")
    concert_id = await new_concert(backend)
    await asyncio.gather(*(reader.seat_lines(concert_id, D1) for _ in range(4)))  # pooled
    async with backend.database.connect() as connection:
        dropped = await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        assert any(row[0] for row in dropped)
    for _ in range(3):
        lines = await reader.seat_lines(concert_id, D1)
        assert len(lines) == 50
