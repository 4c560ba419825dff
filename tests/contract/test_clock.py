"""Clock: the instant every rule is judged by; timezone-aware, never going backwards.

Every clock keeps this contract: one moved by hand, the host's, and one shared through
PostgreSQL or Redis. What each does beyond it is tested in adapters/clock/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest

from adapters import redis, sql
from adapters.clock import ManualClock, SharedClock, SystemClock
from concert_core.ports import Clock
from contract.helpers import T0
from services import empty_postgres, redis_namespace

CLOCKS = [
    "manual",
    "system",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=CLOCKS)
async def clock(request: pytest.FixtureRequest) -> AsyncIterator[Clock]:
    if request.param == "manual":
        yield ManualClock(T0)
    elif request.param == "system":
        yield SystemClock()
    elif request.param == "postgres":
        async for engine in empty_postgres(request.getfixturevalue("postgres_url")):
            yield SharedClock(partial(sql.database_time, engine), resync_every=0.005)
    elif request.param == "redis":
        async for client, _ in redis_namespace():
            yield SharedClock(partial(redis.redis_time, client), resync_every=0.005)
    else:  # pragma: no cover
        raise ValueError(f"no clock called {request.param!r}")


async def test_now_is_timezone_aware(clock: Clock) -> None:
    now = await clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() is not None


async def test_now_never_goes_backwards(clock: Clock) -> None:
    readings = [await clock.now() for _ in range(50)]
    assert readings == sorted(readings)
