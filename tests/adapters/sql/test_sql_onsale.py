"""The SQL stores' on-sale duties where several instances share one database: each
instance has its own engine (its own pool), as separate processes would."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from adapters import sql
from concert_core.domain import (
    ConcertId,
    Money,
    Payment,
    PaymentId,
    ReservationId,
    TokenId,
    TokenNotActiveError,
    UserId,
    shuffle_key,
)
from concert_core.policy import Policy
from services import empty_postgres
from support import migrated_sqlite

T0 = dt.datetime(2026, 12, 1, 18, tzinfo=dt.UTC)
C1 = ConcertId(1)
POLICY = Policy(active_capacity=100, idle_timeout=dt.timedelta(minutes=5))
INSTANCES = 3


@pytest.fixture(params=backends.params("sqlite", "postgres"))
async def instances(request: pytest.FixtureRequest) -> AsyncIterator[list[AsyncEngine]]:
    """Engines of ``INSTANCES`` instances on one fresh database."""
    if request.param == "sqlite":
        async with migrated_sqlite() as first:
            url = first.url.render_as_string(hide_password=False)
            others = [sql.create_engine(url) for _ in range(INSTANCES - 1)]
            yield [first, *others]
            for engine in others:
                await engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    async for first in empty_postgres(url):
        others = [sql.create_engine(url) for _ in range(INSTANCES - 1)]
        yield [first, *others]
        for engine in others:
            await engine.dispose()


def payment(token_id: TokenId | None, amount: int = 1_000) -> Payment:
    return Payment(
        PaymentId(uuid.uuid4()),
        UserId(uuid.uuid4()),
        C1,
        (ReservationId(uuid.uuid4()),),
        Money(amount),
        T0,
        token_id,
    )


async def test_of_payments_sent_at_once_in_one_turn_exactly_one_is_recorded(
    instances: list[AsyncEngine],
) -> None:
    token_id = TokenId(uuid.uuid4())

    async def pay(engine: AsyncEngine) -> bool:
        async with sql.SqlUnitOfWorkFactory(engine)() as uow:
            try:
                await uow.payments.add(payment(token_id))
            except TokenNotActiveError:
                return False
            await uow.commit()
            return True

    paid = await asyncio.gather(*(pay(engine) for engine in instances))
    assert sorted(paid) == [False] * (INSTANCES - 1) + [True]
    async with sql.SqlUnitOfWorkFactory(instances[0])() as uow:
        assert await uow.payments.revenue(C1) == 1_000


async def test_a_refused_second_payment_leaves_its_transaction_usable(
    instances: list[AsyncEngine],
) -> None:
    token_id = TokenId(uuid.uuid4())
    uow_factory = sql.SqlUnitOfWorkFactory(instances[0])
    async with uow_factory() as uow:
        await uow.payments.add(payment(token_id))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(TokenNotActiveError):
            await uow.payments.add(payment(token_id, 5_000))
        await uow.payments.add(payment(TokenId(uuid.uuid4()), 2_000))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.payments.revenue(C1) == 3_000


async def test_instances_opening_a_line_at_once_open_it_once(
    instances: list[AsyncEngine],
) -> None:
    stores = [sql.SqlQueueStore(engine, POLICY) for engine in instances]
    prequeued = []
    for n in range(20):
        issued = await stores[n % INSTANCES].issue(
            UserId(uuid.uuid4()), C1, TokenId(uuid.uuid4()), T0
        )
        prequeued.append(issued.place.token.token_id)
    seeds = await asyncio.gather(
        *(store.open(C1, seed, T0) for seed, store in enumerate(stores, start=1))
    )
    assert len(set(seeds)) == 1
    admitted = await stores[0].admit(C1, T0)
    assert [x.token_id for x in admitted] == sorted(
        prequeued, key=lambda t: shuffle_key(seeds[0], t)
    )


async def test_instances_admitting_at_once_keep_to_the_rate(
    instances: list[AsyncEngine],
) -> None:
    stores = [sql.SqlQueueStore(engine, POLICY) for engine in instances]
    for _ in range(30):
        await stores[0].issue(UserId(uuid.uuid4()), C1, TokenId(uuid.uuid4()), T0)
    passes = await asyncio.gather(
        *(store.admit(C1, T0, per_minute=10, per_pass=4) for store in stores for _ in range(3))
    )
    assert sum(len(p) for p in passes) == 10
    later = await stores[1].admit(C1, T0 + dt.timedelta(seconds=30), per_minute=10)
    assert later == []
    assert (await stores[2].stats(C1, T0 + dt.timedelta(seconds=30))).admitted_last_minute == 10
