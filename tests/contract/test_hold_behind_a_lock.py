"""A PostgreSQL hold that waits on its seat's row lock is judged on the row as it is
once locked, not as its statement's snapshot saw it (READ COMMITTED): the seat freed
by the release it waited for is taken, and a fan's own hold committed meanwhile is
moved to the new turn. Neither leaves an entry in the fan's hold limit for a hold
that does not exist (through the box office, such an entry would be committed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from backends import Backend
from concert_core.domain import SeatKey, UserId
from concert_core.ports import BoxOffice, HoldOutcome
from concert_core.use_cases import UnitOfWorkBoxOffice
from contract.helpers import D1, at, hold, hold_request, new_concert, new_token_id, new_user, seat

pytestmark = backends.marks("postgres")


@pytest.fixture(params=["unit of work", "box office"])
def desk(request: pytest.FixtureRequest, backend: Backend) -> BoxOffice:
    if request.param == "box office":
        return backend.box_office
    return UnitOfWorkBoxOffice(backend.uow)


async def behind_the_lock(
    engine: AsyncEngine, call: Awaitable[HoldOutcome]
) -> asyncio.Future[HoldOutcome]:
    """Start ``call`` and return once its statement waits on a row lock."""
    started = asyncio.ensure_future(call)
    async with engine.connect() as connection:
        for _ in range(500):
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting or started.done():
                break
            # pg_stat_activity is read once per transaction: end it, or the loop sees
            # the activity of its first look only (and the hold its lock timeout).
            await connection.rollback()
            await asyncio.sleep(0.01)
    assert not started.done(), started
    return started


async def limit_entries_and_holds(engine: AsyncEngine, fan: UserId) -> tuple[set[str], set[str]]:
    async with engine.connect() as connection:
        entries = await connection.scalar(
            text("SELECT holds FROM fan_holds WHERE user_id = :u"), {"u": fan}
        )
        held = await connection.scalars(
            text(
                "SELECT CAST(reservation_id AS text) FROM seats WHERE holder = :u"
                " AND status = 'HELD'"
            ),
            {"u": fan},
        )
        return set(entries or {}), set(held)


async def a_seat_on_postgres(backend: Backend) -> tuple[AsyncEngine, SeatKey]:
    """The backend's engine, and the first seat of a new concert's first date."""
    engine = backend.database
    assert isinstance(engine, AsyncEngine)
    return engine, seat(await new_concert(backend), D1, 1)


@pytest.mark.parametrize("backend", backends.params("postgres"), indirect=True)
async def test_a_hold_waiting_on_a_release_takes_the_seat_it_freed(
    backend: Backend, desk: BoxOffice
) -> None:
    engine, key = await a_seat_on_postgres(backend)
    alice, bob = new_user(), new_user()
    a = (await hold(backend, key, alice, at(1), token_id=new_token_id())).reservation
    async with backend.uow() as uow:  # Alice's release, its seat's row locked
        await uow.reservations.release(a.reservation_id, alice, at(2))
        waiting = await behind_the_lock(engine, desk.hold(hold_request(backend, key, bob, at(2))))
        await uow.commit()
    outcome = await waiting
    assert outcome.created and outcome.reservation.user_id == bob
    entries, held = await limit_entries_and_holds(engine, bob)
    assert held == {str(outcome.reservation.reservation_id)}
    assert entries == held


@pytest.mark.parametrize("backend", backends.params("postgres"), indirect=True)
async def test_a_hold_waiting_on_the_fans_own_first_hold_moves_it_to_the_new_turn(
    backend: Backend, desk: BoxOffice
) -> None:
    engine, key = await a_seat_on_postgres(backend)
    bob, first, second = new_user(), new_token_id(), new_token_id()
    async with backend.uow() as uow:  # Bob's first hold, not committed yet
        await uow.seats.hold(hold_request(backend, key, bob, at(1), token_id=first))
        waiting = await behind_the_lock(
            engine, desk.hold(hold_request(backend, key, bob, at(2), token_id=second))
        )
        await uow.commit()
    outcome = await waiting
    assert not outcome.created and outcome.reservation.token_id == second
    async with engine.connect() as connection:
        stored = await connection.scalar(
            text("SELECT token_id FROM seats WHERE concert_id = :c AND date = :d AND seat_no = 1"),
            {"c": key.concert_id, "d": D1},
        )
    assert stored == second
    entries, held = await limit_entries_and_holds(engine, bob)
    assert entries == held == {str(outcome.reservation.reservation_id)}
