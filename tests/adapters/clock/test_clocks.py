"""The clocks one by one: the host's, one moved by hand, and a shared clock that counts
on from its source's readings (the Clock contract they all keep is in
contract/test_clock.py)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from adapters import redis, sql
from adapters.clock import ManualClock, SharedClock, SystemClock
from concert_core.domain import ServiceUnavailableError
from contract.helpers import T0
from services import empty_postgres, redis_namespace


async def test_the_system_clock_tells_the_current_utc_time() -> None:
    before = dt.datetime.now(dt.UTC)
    now = await SystemClock().now()
    after = dt.datetime.now(dt.UTC)
    assert before <= now <= after
    assert now.utcoffset() == dt.timedelta(0)


async def test_a_manual_clock_stands_still_until_moved() -> None:
    clock = ManualClock(T0)
    assert await clock.now() == T0
    assert await clock.now() == T0
    default = await ManualClock().now()
    assert default.tzinfo is not None
    assert default == await ManualClock().now()


async def test_advancing_moves_forward_by_a_timedelta_or_seconds() -> None:
    clock = ManualClock(T0)
    assert clock.advance(dt.timedelta(minutes=2)) == T0 + dt.timedelta(minutes=2)
    assert clock.advance(1.5) == T0 + dt.timedelta(seconds=121.5)
    assert clock.advance(0) == T0 + dt.timedelta(seconds=121.5)
    assert await clock.now() == T0 + dt.timedelta(seconds=121.5)


@pytest.mark.parametrize("step", [-1, -0.001, dt.timedelta(microseconds=-1)])
async def test_advancing_backwards_is_refused_and_leaves_the_time_alone(
    step: float | dt.timedelta,
) -> None:
    clock = ManualClock(T0)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(step)
    assert await clock.now() == T0


def test_a_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(dt.datetime(2026, 1, 1, 12))  # deliberately naive


class Source:
    """A shared clock's stand-in: a time it is told, and how often it was read; it may
    fail, hang, or take ``takes`` seconds of ``ticks`` to answer."""

    def __init__(self, instant: dt.datetime, ticks: Ticks | None = None) -> None:
        self.instant = instant
        self.reads = 0
        self.failing = False
        self.hanging = False
        self.takes = 0.0
        self.ticks = ticks

    async def __call__(self) -> dt.datetime:
        self.reads += 1
        if self.failing:
            raise ServiceUnavailableError("the shared clock is unavailable")
        if self.hanging:
            await asyncio.Event().wait()
        if self.ticks is not None:
            self.ticks.now += self.takes
        return self.instant


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_shared_clock_tells_its_source_s_time_not_the_host_s() -> None:
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # the host's clock is wrong
    source, ticks = Source(ahead), Ticks()
    clock = SharedClock(source, resync_every=1.0, monotonic=ticks)
    assert await clock.now() == ahead
    ticks.now += 0.25
    assert await clock.now() == ahead + dt.timedelta(seconds=0.25)


async def test_two_instances_on_one_source_agree_whatever_their_start() -> None:
    source, ticks_a, ticks_b = Source(T0), Ticks(), Ticks()
    ticks_b.now = 9_999.0  # monotonic clocks have arbitrary origins
    a = SharedClock(source, monotonic=ticks_a)
    b = SharedClock(source, monotonic=ticks_b)
    assert await a.now() == await b.now() == T0
    ticks_a.now += 0.5
    ticks_b.now += 0.5
    assert await a.now() == await b.now() == T0 + dt.timedelta(seconds=0.5)


async def test_the_source_is_read_again_only_once_a_reading_is_old() -> None:
    source, ticks = Source(T0), Ticks()
    clock = SharedClock(source, resync_every=1.0, monotonic=ticks)
    for _ in range(10):
        await clock.now()
        ticks.now += 0.05
    assert source.reads == 1
    ticks.now += 1.0
    source.instant = T0 + dt.timedelta(seconds=10)  # the source moved on by itself
    assert await clock.now() == T0 + dt.timedelta(seconds=10)
    assert source.reads == 2


async def test_concurrent_readers_share_one_read_of_the_source() -> None:
    source = Source(T0)
    clock = SharedClock(source, monotonic=Ticks())
    readings = await asyncio.gather(*(clock.now() for _ in range(50)))
    assert source.reads == 1
    assert set(readings) == {T0}


async def test_a_shared_clock_never_goes_back_when_its_source_steps_back() -> None:
    source, ticks = Source(T0), Ticks()
    clock = SharedClock(source, resync_every=1.0, monotonic=ticks)
    ticks.now += 2.0
    late = await clock.now()
    source.instant = T0 - dt.timedelta(seconds=5)  # the source was stepped back
    ticks.now += 2.0
    assert await clock.now() == late


async def test_a_lost_source_counts_on_from_its_last_reading() -> None:
    source, ticks = Source(T0), Ticks()
    clock = SharedClock(source, resync_every=1.0, monotonic=ticks)
    await clock.now()
    source.failing = True
    ticks.now += 3.0
    assert await clock.now() == T0 + dt.timedelta(seconds=3)


async def test_a_shared_clock_that_was_never_read_raises_the_source_s_error() -> None:
    source = Source(T0)
    source.failing = True
    with pytest.raises(ServiceUnavailableError):
        await SharedClock(source, monotonic=Ticks()).now()
    source.failing = False
    assert await SharedClock(source, monotonic=Ticks()).now() == T0


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_database_and_redis_clocks_are_the_host_s_here(postgres_url: str) -> None:
    """On one machine the three clocks are one: a sanity check of both readers."""
    async for engine in empty_postgres(postgres_url):
        async for client, _ in redis_namespace():
            host = dt.datetime.now(dt.UTC)
            database = await sql.database_time(engine)
            in_redis = await redis.redis_time(client)
            assert abs(database - host) < dt.timedelta(seconds=1)
            assert abs(in_redis - host) < dt.timedelta(seconds=1)
            assert database.utcoffset() == in_redis.utcoffset() == dt.timedelta(0)


async def test_a_hung_source_costs_one_short_wait_a_second_not_every_request() -> None:
    ticks = Ticks()
    source = Source(T0, ticks)
    clock = SharedClock(source, resync_every=1.0, read_timeout=0.05, monotonic=ticks)
    await clock.now()
    source.hanging = True
    ticks.now += 1.5
    assert await clock.now() == T0 + dt.timedelta(seconds=1.5)  # after one 50 ms wait
    for _ in range(20):  # within the second: nobody asks the hung source again
        assert await clock.now() == T0 + dt.timedelta(seconds=1.5)
    assert source.reads == 2


async def test_a_source_that_never_answered_fails_fast_until_it_is_due_again() -> None:
    ticks = Ticks()
    source = Source(T0, ticks)
    source.hanging = True
    clock = SharedClock(source, resync_every=1.0, read_timeout=0.05, monotonic=ticks)
    for _ in range(5):
        with pytest.raises(ServiceUnavailableError):
            await clock.now()
    assert source.reads == 1
    source.hanging = False
    ticks.now += 1.0
    assert await clock.now() == T0


async def test_a_slow_reading_is_not_trusted_over_a_good_one() -> None:
    ticks = Ticks()
    source = Source(T0, ticks)
    clock = SharedClock(source, resync_every=1.0, max_round_trip=0.1, monotonic=ticks)
    assert await clock.now() == T0
    ticks.now += 1.0
    source.instant = T0 + dt.timedelta(seconds=1)
    source.takes = 4.0  # a 4 s round trip: its midpoint could be 2 s off
    assert await clock.now() == T0 + dt.timedelta(seconds=5)  # counted on the first
    source.takes = 0.0
    ticks.now += 1.0
    source.instant = T0 + dt.timedelta(seconds=6)
    assert await clock.now() == T0 + dt.timedelta(seconds=6)


async def test_readers_before_the_first_reading_wait_for_it() -> None:
    release = asyncio.Event()

    async def slow_first() -> dt.datetime:
        await release.wait()
        return T0

    clock = SharedClock(slow_first, monotonic=Ticks())
    readers = [asyncio.ensure_future(clock.now()) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*readers) == [T0] * 5
