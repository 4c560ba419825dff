"""SpentProofs: a join-challenge solution is spent once, across every instance sharing
the store (docs/contract.md §9), on every storage family; and the ALTCHA verifier over
each family's store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import attrs
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from adapters import sql
from adapters.challenge import SPENT_MARGIN, AltchaJoinChallenges
from adapters.sql import tables as t
from backends import Backend
from concert_core.domain import ConcertId
from concert_core.policy import Policy
from contract.helpers import T0, at
from support import TEST_SECRET, solve_challenge

C1, C2 = ConcertId(1), ConcertId(2)
EXPIRES = T0 + dt.timedelta(minutes=5)
RACERS = 20


def challenge(n: int) -> str:
    return f"{n:064x}"


async def test_a_solution_is_spent_once(backend: Backend) -> None:
    spent = backend.spent_proofs
    assert await spent.spend(C1, challenge(1), EXPIRES, T0)
    assert not await spent.spend(C1, challenge(1), EXPIRES, at(1))
    assert not await spent.spend(C1, challenge(1), EXPIRES, at(299))


async def test_solutions_are_told_apart_by_challenge_and_concert(backend: Backend) -> None:
    spent = backend.spent_proofs
    assert await spent.spend(C1, challenge(1), EXPIRES, T0)
    assert await spent.spend(C1, challenge(2), EXPIRES, T0)
    assert await spent.spend(C2, challenge(1), EXPIRES, T0)


async def test_of_concurrent_spends_of_one_solution_exactly_one_wins(backend: Backend) -> None:
    spent = backend.spent_proofs
    results = await asyncio.gather(
        *(spent.spend(C1, challenge(7), EXPIRES, T0) for _ in range(RACERS))
    )
    assert results.count(True) == 1


async def test_one_proof_redeemed_concurrently_by_many_instances_wins_once(
    backend: Backend,
) -> None:
    """Twenty verifiers (instances) sharing the family's store, one proof each."""
    instances = [
        AltchaJoinChallenges(
            TEST_SECRET, backend.spent_proofs, max_number=1_000, ttl=dt.timedelta(minutes=5)
        )
        for _ in range(RACERS)
    ]
    proof = solve_challenge(attrs.asdict(instances[0].issue(C1, T0)))

    results = await asyncio.gather(*(one.redeem(proof, C1, at(1)) for one in instances))

    assert results.count(True) == 1
    assert not await instances[0].redeem(proof, C1, at(2))


# -- SQL: rows past their time are purged ---------------------------------------------


@pytest.fixture(params=backends.params("sqlite", "postgres"))
async def sql_backend(request: pytest.FixtureRequest, policy: Policy) -> AsyncIterator[Backend]:
    postgres_url = backends.postgres_url_of(request)
    async with backends.open_backend(request.param, policy, postgres_url) as opened:
        yield opened


async def test_sql_rows_past_their_expiry_and_margin_are_purged(sql_backend: Backend) -> None:
    engine = sql_backend.database
    assert isinstance(engine, AsyncEngine)
    store = sql.SqlSpentProofs(engine)
    await store.spend(C1, challenge(1), EXPIRES, T0)
    await store.spend(C1, challenge(2), EXPIRES + dt.timedelta(hours=1), T0)

    # A minute later the store purges again: only what is past expiry plus margin goes.
    assert await store.spend(C1, challenge(3), EXPIRES, EXPIRES + SPENT_MARGIN)
    assert await _rows(engine) == 3
    assert await store.spend(C1, challenge(4), EXPIRES, EXPIRES + 2 * SPENT_MARGIN)

    assert await _rows(engine) == 2  # 1 and 3 were forgotten; 2 and 4 are kept
    assert not await store.spend(C1, challenge(2), EXPIRES, EXPIRES + 2 * SPENT_MARGIN)


async def _rows(engine: AsyncEngine) -> int:
    async with engine.connect() as c:
        return int(await c.scalar(select(func.count()).select_from(t.spent_proofs)) or 0)
