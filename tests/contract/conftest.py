"""The adapters every contract suite runs against.

``backend`` is parametrised by storage family. A new adapter family joins every suite
by adding its name to ``BACKENDS`` and a builder to ``_build`` (creating and dropping
its schema, flushing its keys); the tests themselves do not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from adapters import sql
from adapters.memory import (
    MemoryDatabase,
    MemoryIdempotencyStore,
    MemoryQueueStore,
    MemoryUnitOfWorkFactory,
)
from adapters.redis import RedisIdempotencyStore, RedisQueueStore
from concert_core.policy import Policy
from contract.helpers import Backend
from services import empty_postgres, redis_namespace
from support import migrated_sqlite

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
]


@pytest.fixture
def policy() -> Policy:
    """Small, explicit rules, so that limits and lapses are reached in a few steps."""
    return Policy(
        active_capacity=3,
        admission_interval=dt.timedelta(seconds=1),
        active_ttl=dt.timedelta(seconds=120),
        hold_ttl=dt.timedelta(seconds=30),
        idle_timeout=dt.timedelta(seconds=60),
        max_holds_per_user=2,
        # SPEC: a key is kept at least 24 hours.
        idempotency_retention=dt.timedelta(hours=24),
        idempotency_lease=dt.timedelta(seconds=10),
        admission_rate_window=dt.timedelta(seconds=60),
    )


async def _build(
    name: str, policy: Policy, request: pytest.FixtureRequest
) -> AsyncIterator[Backend]:
    if name == "memory":
        yield Backend(
            name=name,
            uow=MemoryUnitOfWorkFactory(MemoryDatabase()),
            queue=MemoryQueueStore(policy),
            idempotency=MemoryIdempotencyStore(policy),
            policy=policy,
        )
    elif name == "sqlite":
        async with migrated_sqlite() as engine:
            yield Backend(
                name=name,
                uow=sql.SqlUnitOfWorkFactory(engine),
                queue=sql.SqlQueueStore(engine, policy),
                idempotency=sql.SqlIdempotencyStore(engine, policy),
                policy=policy,
            )
    elif name == "postgres":
        url = request.getfixturevalue("postgres_url")
        async for engine in empty_postgres(url):
            yield Backend(
                name=name,
                uow=sql.SqlUnitOfWorkFactory(engine),
                queue=sql.SqlQueueStore(engine, policy),
                idempotency=sql.SqlIdempotencyStore(engine, policy),
                policy=policy,
            )
    elif name == "postgres+redis":
        url = request.getfixturevalue("postgres_url")
        async for client, namespace in redis_namespace():
            async for engine in empty_postgres(url):
                yield Backend(
                    name=name,
                    uow=sql.SqlUnitOfWorkFactory(engine),
                    queue=RedisQueueStore(client, policy, namespace=namespace),
                    idempotency=RedisIdempotencyStore(client, policy, namespace=namespace),
                    policy=policy,
                )
    else:  # pragma: no cover - a param without a builder
        raise ValueError(f"no contract backend called {name!r}")


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, policy: Policy) -> AsyncIterator[Backend]:
    async for built in _build(request.param, policy, request):
        yield built
