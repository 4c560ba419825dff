"""The rate limiter's contract (docs/contract.md §9), on every storage it lives in: the
process (memory), SQLite, PostgreSQL, Redis. The moving window, exact counts under
real concurrency, and two keys judged as one."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from adapters.memory import MemoryRateLimiter
from adapters.redis import RedisRateLimiter
from adapters.sql import SqlRateLimiter
from entrypoints.rate_limits import RateLimiter
from services import empty_postgres, redis_namespace
from support import migrated_sqlite

WINDOW = dt.timedelta(seconds=60)
T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    async with _opened(request.param, request) as opened:
        yield opened


@asynccontextmanager
async def _opened(name: str, request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if name == "memory":
        yield MemoryRateLimiter()
    elif name == "sqlite":
        async with migrated_sqlite() as engine:
            yield SqlRateLimiter(engine)
    elif name == "postgres":
        url = request.getfixturevalue("postgres_url")
        async with asynccontextmanager(empty_postgres)(url) as engine:
            yield SqlRateLimiter(engine)
    else:
        async with asynccontextmanager(redis_namespace)() as (client, namespace):
            yield RedisRateLimiter(client, namespace=namespace)


async def test_up_to_the_limit_then_refused_until_the_oldest_hit_leaves(
    limiter: RateLimiter,
) -> None:
    for second in range(3):
        assert await limiter.hit([("k", 3)], WINDOW, T0 + second * S) is None
    wait = await limiter.hit([("k", 3)], WINDOW, T0 + 10 * S)
    assert wait == 50 * S  # the hit at T0 leaves the window at T0 + 60 s
    # A refusal is not logged: the wait does not grow, and the slot frees on time.
    assert await limiter.hit([("k", 3)], WINDOW, T0 + 59 * S) == 1 * S
    assert await limiter.hit([("k", 3)], WINDOW, T0 + 60 * S - dt.timedelta(microseconds=1))
    assert await limiter.hit([("k", 3)], WINDOW, T0 + 60 * S) is None
    # T0+1 s, T0+2 s and T0+60 s are in the window now: full again until T0+61 s.
    assert await limiter.hit([("k", 3)], WINDOW, T0 + 60 * S) == 1 * S
    assert await limiter.hit([("k", 3)], WINDOW, T0 + 61 * S) is None


async def test_no_window_anywhere_holds_more_than_the_limit(limiter: RateLimiter) -> None:
    """A fixed window would let 2N through across a boundary; a moving one never."""
    accepted = []
    for tenth in range(0, 1_500, 7):  # a hit every 0.7 s for 150 s
        at = T0 + tenth * S / 10
        if await limiter.hit([("k", 10)], WINDOW, at) is None:
            accepted.append(at)
    for start in accepted:
        assert sum(start <= at < start + WINDOW for at in accepted) <= 10
    assert len(accepted) == 30  # and it does let the limit through each minute


async def test_keys_are_counted_apart(limiter: RateLimiter) -> None:
    assert await limiter.hit([("a", 1)], WINDOW, T0) is None
    assert await limiter.hit([("a", 1)], WINDOW, T0) is not None
    assert await limiter.hit([("b", 1)], WINDOW, T0) is None


async def test_two_keys_count_only_when_both_have_room(limiter: RateLimiter) -> None:
    address, fan, other_fan = "join:ip:192.0.2.7", "join:fan:1", "join:fan:2"
    assert await limiter.hit([(address, 3), (fan, 1)], WINDOW, T0) is None
    # The fan is over its limit: refused, and the address is not charged for it.
    assert await limiter.hit([(address, 3), (fan, 1)], WINDOW, T0 + S) == 59 * S
    assert await limiter.hit([(address, 3), (other_fan, 5)], WINDOW, T0 + 2 * S) is None
    assert await limiter.hit([(address, 3), (other_fan, 5)], WINDOW, T0 + 3 * S) is None
    # Now the address is full (T0, T0+2, T0+3): the longest wait of the two is given.
    assert await limiter.hit([(address, 3), (fan, 1)], WINDOW, T0 + 4 * S) == 56 * S
    assert await limiter.hit([(other_fan, 5)], WINDOW, T0 + 4 * S) is None  # 3 of 5


async def test_concurrent_hits_on_one_key_are_counted_exactly(limiter: RateLimiter) -> None:
    async def one(i: int) -> bool:
        at = T0 + i * dt.timedelta(milliseconds=1)
        return await limiter.hit([("crowd", 60)], WINDOW, at) is None

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) == 60
    assert await limiter.hit([("crowd", 60)], WINDOW, T0 + S) is not None


async def test_concurrent_hits_on_two_keys_are_counted_exactly(limiter: RateLimiter) -> None:
    """Fans 0..9 each try 5 times from one address: each fan gets at most 2, and the
    address at most 15, whatever the interleaving."""

    async def one(i: int) -> tuple[int, bool]:
        fan = i % 10
        wait = await limiter.hit([("addr", 15), (f"fan:{fan}", 2)], WINDOW, T0 + i * S / 100)
        return fan, wait is None

    results = await asyncio.gather(*(one(i) for i in range(50)))
    per_fan = [sum(ok for fan, ok in results if fan == f) for f in range(10)]
    assert sum(per_fan) == 15
    assert max(per_fan) <= 2
    assert await limiter.hit([("addr", 15)], WINDOW, T0 + S) is not None


async def test_sweep_forgets_quiet_keys_only(limiter: RateLimiter) -> None:
    assert await limiter.hit([("old", 1)], WINDOW, T0) is None
    assert await limiter.hit([("new", 1)], WINDOW, T0 + 30 * S) is None
    await limiter.sweep(WINDOW, T0 + 70 * S)
    assert await limiter.hit([("new", 1)], WINDOW, T0 + 70 * S) is not None
    assert await limiter.hit([("old", 1)], WINDOW, T0 + 70 * S) is None
